"""The `rl-f1` command line: circuits, bench env, one-line user errors with exit code 2."""
import json
import re
import subprocess
import sys

import pytest

from conftest import write_yaml
from rl_f1_driver import cli
from rl_f1_driver.track import builtin_names, load_circuit


def run(capsys, *argv):
    rc = cli.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc, out, err, *fragments):
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith('rl-f1: error: ')
    assert 'Traceback' not in err and 'Traceback' not in out
    for f in fragments:
        assert f in lines[0], lines[0]


def test_circuits_lists_every_builtin_with_its_length(capsys):
    rc, out, err = run(capsys, 'circuits')
    assert rc == 0 and err == ''
    lines = out.strip().splitlines()
    assert [line.split()[0] for line in lines] == builtin_names()
    for line in lines:
        name = line.split()[0]
        c = load_circuit(name)
        assert f'{c.length:.1f} m' in line
        assert f'road {c.road_width:4.1f} m' in line
        assert line.endswith(c.description)


def test_bench_env_prints_one_json_line(capsys):
    rc, out, err = run(capsys, 'bench', 'env', '--steps', '500')
    assert rc == 0
    lines = out.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result['steps'] == 500 and result['observation'] == 'lines'
    assert result['track'] == 'simple'
    assert result['steps_per_s'] > 0
    assert result['steps_per_s'] == pytest.approx(500 / result['wall_s'], rel=0.05)


def test_bench_env_both_observations(capsys):
    rc, out, _ = run(capsys, 'bench', 'env', '--steps', '50', '--obs', 'lines', '--obs',
                     'image')
    assert rc == 0
    results = [json.loads(line) for line in out.strip().splitlines()]
    assert [r['observation'] for r in results] == ['lines', 'image']


def test_bad_track_name_exits_2_with_one_line(capsys):
    rc, out, err = run(capsys, 'bench', 'env', '--steps', '10', '--track', 'monza')
    assert_one_line_error(rc, out, err, "'monza'", 'simple')
    assert out == ''


def test_bad_track_file_exits_2_naming_the_file(capsys, tmp_path):
    three = {'name': 'x', 'centerline': [[0, 0], [9, 0], [4, 6]]}
    path = write_yaml(tmp_path, 'three.yaml', three)
    rc, out, err = run(capsys, 'bench', 'env', '--steps', '10', '--track', str(path))
    assert_one_line_error(rc, out, err, str(path), 'at least 4')


def test_missing_track_file_exits_2(capsys, tmp_path):
    path = tmp_path / 'gone.yaml'
    rc, out, err = run(capsys, 'bench', 'env', '--steps', '10', '--track', str(path))
    assert_one_line_error(rc, out, err, str(path), 'not found')


def test_bad_config_file_exits_2_naming_file_and_key(capsys, tmp_path):
    path = write_yaml(tmp_path, 'c.yaml', {'reward': {'speed_weight': -1}})
    rc, out, err = run(capsys, 'bench', 'env', '--steps', '10', '--config', str(path))
    assert_one_line_error(rc, out, err, str(path), 'reward.speed_weight')


def test_usage_errors_exit_2(capsys):
    bad = ([], ['fly'], ['bench', 'env', '--obs', 'pixels'], ['bench', 'env', '--steps', 'x'])
    for argv in bad:
        with pytest.raises(SystemExit) as info:
            cli.main(argv)
        assert info.value.code == 2
        assert 'usage:' in capsys.readouterr().err


def test_python_dash_m_circuits():
    proc = subprocess.run([sys.executable, '-m', 'rl_f1_driver', 'circuits'],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert [line.split()[0] for line in proc.stdout.strip().splitlines()] == builtin_names()


def test_the_distributed_commands_do_not_import_the_main_cli():
    """rl_f1_driver.cli registers learn.distributed.cli; the way back (argument types, the
    training config) goes through cli_args, below both: no import cycle."""
    code = ('import sys, rl_f1_driver.learn.distributed.cli\n'
            'print("rl_f1_driver.cli" in sys.modules)')
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == 'False'


def test_argument_types_name_the_bound_they_enforce():
    import argparse

    from rl_f1_driver.cli_args import non_negative_int, port_number, positive_int
    assert non_negative_int('0') == 0 and non_negative_int('3') == 3
    assert positive_int('1') == 1 and port_number('0') == 0
    for parse, text, says in [(non_negative_int, '-1', '>= 0'), (non_negative_int, 'x', "'x'"),
                              (positive_int, '0', '>= 1'), (port_number, '70000', '0..65535')]:
        with pytest.raises(argparse.ArgumentTypeError, match=re.escape(says)):
            parse(text)
