"""rl-f1 drive: the exported policy and the PID baseline on the embedded simulator."""
import json
import shutil

import cv2
import pytest
import yaml

from rl_f1_driver import cli
from rl_f1_driver.config import load_config
from rl_f1_driver.drive.controller import PidController, load_controller
from rl_f1_driver.drive.runner import drive
from rl_f1_driver.errors import UserError
from rl_f1_driver.track import load_circuit

DRIVE_KEYS = {'laps_completed', 'completion', 'lap_time_s', 'mean_abs_deviation_m',
              'max_abs_deviation_m', 'mean_speed_mps', 'steps'}


def test_drive_report_has_the_documented_fields(trained_run, tmp_path, capsys):
    out, _, _ = trained_run
    report_path = tmp_path / 'drive.json'
    rc = cli.main(['drive', '--policy', str(out / 'policy'), '--report', str(report_path),
                   '--plot', str(tmp_path / 'path.png')])
    assert rc == 0, capsys.readouterr().err
    report = json.loads(report_path.read_text())
    assert DRIVE_KEYS <= set(report)
    assert 0.0 <= report['completion'] <= 1.0 and report['steps'] > 0
    assert report['track'] == 'simple' and report['controller'] == 'policy'
    # The PID baseline on the same circuit, for comparison.
    assert DRIVE_KEYS <= set(report['pid_baseline'])
    assert report['pid_baseline']['laps_completed'] == 1
    assert cv2.imread(str(tmp_path / 'path.png')) is not None


def test_driving_the_export_replays_the_trainers_last_evaluation(trained_run):
    """Same observations (rows-only render in training, full frames here) give same driving."""
    out, report, _ = trained_run
    last = report['last_eval']
    controller = load_controller(out / 'policy')
    result = drive(controller, load_circuit('simple'), laps=1, max_steps=last['steps'],
                   video=None)
    for key in ('steps', 'completion', 'mean_abs_deviation_m', 'max_abs_deviation_m'):
        assert result[key] == pytest.approx(last[key], abs=1e-9), key


def test_video_has_one_overlaid_frame_per_step(trained_run, tmp_path):
    out, _, _ = trained_run
    video = tmp_path / 'drive.avi'
    controller = load_controller(out / 'policy')
    result = drive(controller, load_circuit('simple'), laps=1, max_steps=40, video=video)
    cap = cv2.VideoCapture(str(video))
    frames = 0
    ok, frame = cap.read()
    while ok:
        frames += 1
        assert frame.shape == (480, 640, 3)
        ok, frame = cap.read()
    assert frames == result['steps']


@pytest.mark.parametrize('direction', ['forward', 'reverse'])
def test_pid_baseline_laps_every_builtin_circuit_both_ways_on_the_road(direction):
    from rl_f1_driver.track import builtin_names
    cfg = load_config()
    for name in builtin_names():
        circuit = load_circuit(name)
        result = drive(PidController(cfg), circuit, laps=1, direction=direction)
        assert result['laps_completed'] == 1, (name, direction, result['end_reason'])
        assert result['direction'] == direction
        assert result['max_abs_deviation_m'] < circuit.road_width / 2


def test_reverse_drives_the_loop_the_other_way():
    import math
    cfg = load_config()
    circuit = load_circuit('simple')
    fwd = drive(PidController(cfg), circuit, laps=1, max_steps=40)
    rev = drive(PidController(cfg), circuit, laps=1, max_steps=40, direction='reverse')
    # Same start point, opposite headings: after 2 s the cars are far apart.
    (fx, fy), (rx, ry) = fwd['path'][-1][:2], rev['path'][-1][:2]
    assert math.hypot(fx - rx, fy - ry) > 10.0
    assert fwd['completion'] > 0.02 and rev['completion'] > 0.02
    with pytest.raises(ValueError, match='direction'):
        drive(PidController(cfg), circuit, direction='backwards')


def test_bench_drive_prints_latency_percentiles(trained_run, capsys):
    out, _, _ = trained_run
    assert cli.main(['bench', 'drive', '--policy', str(out / 'policy'), '--frames', '50']) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures['frame'] == '640x480' and figures['frames'] == 50
    assert 0 < figures['p50_ms'] <= figures['p99_ms'] <= figures['max_ms']


@pytest.fixture
def policy_copy(trained_run, tmp_path):
    out, _, _ = trained_run
    copy = tmp_path / 'policy'
    shutil.copytree(out / 'policy', copy)
    return copy


def test_missing_or_wrong_policy_dirs_get_clear_errors(trained_run, tmp_path, policy_copy):
    out, _, _ = trained_run
    with pytest.raises(UserError, match='policy directory not found'):
        load_controller(tmp_path / 'nope')
    (tmp_path / 'file').write_text('x')
    with pytest.raises(UserError, match='not a directory'):
        load_controller(tmp_path / 'file')
    with pytest.raises(UserError, match='this is a run directory'):
        load_controller(out)
    (policy_copy / 'saved_model.pb').unlink()
    with pytest.raises(UserError, match='missing saved_model.pb'):
        load_controller(policy_copy)
    with pytest.raises(UserError, match='needs a policy directory'):
        load_controller(None)


def test_corrupt_saved_model_is_a_user_error(policy_copy):
    (policy_copy / 'saved_model.pb').write_bytes(b'not a protobuf at all')
    with pytest.raises(UserError, match='cannot load the SavedModel'):
        load_controller(policy_copy)


def test_corrupt_description_is_a_user_error(policy_copy):
    (policy_copy / 'rl_f1_driver.yaml').write_text('config: [unclosed')
    with pytest.raises(UserError, match='corrupt policy description'):
        load_controller(policy_copy)


def test_description_of_another_observation_mode_is_detected(policy_copy):
    meta_path = policy_copy / 'rl_f1_driver.yaml'
    meta = yaml.safe_load(meta_path.read_text())
    meta['config']['env']['observation'] = 'image'
    meta_path.write_text(yaml.safe_dump(meta))
    with pytest.raises(UserError, match='mixes files of different policies'):
        load_controller(policy_copy)


def test_policy_refuses_a_config_with_another_action_set(trained_run):
    out, _, _ = trained_run
    other = load_config(overrides={'actions': [[3.0, 0.0], [2.0, 1.0], [2.0, -1.0]]})
    with pytest.raises(UserError, match='another observation / action set.*actions'):
        load_controller(out / 'policy', other)


def test_drive_cli_errors_are_one_line(tmp_path, capsys):
    rc = cli.main(['drive', '--policy', str(tmp_path / 'nope')])
    err = capsys.readouterr().err
    assert rc == 2 and err.count('\n') == 1 and 'policy directory not found' in err
