"""Run directories trained before the move to TensorFlow 2.21: they drive and resume here.

test/fixtures/tf215_run is a real run directory (policy, checkpoint, report, state; the plots
and TensorBoard logs left out) of the quick start stopped at its first lap, trained with
TensorFlow 2.15.1, tensorflow-probability 0.23.0 and tf-agents 0.19.0 on Python 3.11.7,
numpy 1.26.4, from commit 703012c (the stack of that commit's requirements.txt, less
dm-reverb):

    rl-f1 train --config config/train.yaml --set train.min_steps=0 --out RUN

It lapped `simple` at env step 8,005 (gradient step 1,447): report.json holds that last
evaluation, which the policy and the checkpoint must reproduce under today's stack. Runs of
that time recorded no versions; their exported SavedModel names the TensorFlow that wrote it.
"""
import json
import shutil
from pathlib import Path

import pytest
import yaml

from rl_f1_driver import cli
from rl_f1_driver.config import load_config
from rl_f1_driver.drive.controller import load_controller
from rl_f1_driver.drive.runner import drive
from rl_f1_driver.learn.run_dir import (checkpoint_versions, restore_failure,
                                        saved_model_tensorflow_version, stack_versions)
from rl_f1_driver.track import load_circuit

OLD_RUN = Path(__file__).resolve().parent / 'fixtures' / 'tf215_run'
OLD_TF = '2.15.1'
LAP_KEYS = ('steps', 'completion', 'lap_time_s', 'mean_abs_deviation_m',
            'max_abs_deviation_m')


@pytest.fixture(scope='module')
def old_report():
    return json.loads((OLD_RUN / 'report.json').read_text())


@pytest.fixture
def old_run(tmp_path):
    """A copy: resuming writes into the run directory."""
    run = tmp_path / 'old_run'
    shutil.copytree(OLD_RUN, run)
    return run


def test_the_fixture_was_written_by_tensorflow_2_15():
    assert saved_model_tensorflow_version(OLD_RUN / 'policy') == OLD_TF
    assert 'versions' not in json.loads((OLD_RUN / 'train_state.json').read_text())
    assert checkpoint_versions(OLD_RUN, {}) == {'tensorflow': OLD_TF}


@pytest.mark.parametrize('runtime', ['tensorflow', 'numpy'])
def test_a_tf215_policy_drives_its_lap_again(old_report, runtime):
    """The SavedModel TensorFlow 2.15 exported (and its numpy export) drives the lap its
    last evaluation drove, step for step."""
    last = old_report['last_eval']
    controller = load_controller(OLD_RUN / 'policy', runtime=runtime)
    result = drive(controller, load_circuit('simple'), laps=1, max_steps=last['steps'] + 50,
                   video=None)
    assert result['laps_completed'] == 1
    for key in LAP_KEYS:
        assert result[key] == pytest.approx(last[key], abs=1e-9), key


def test_rl_f1_drive_drives_a_tf215_policy(tmp_path, capsys, old_report):
    report_path = tmp_path / 'drive.json'
    rc = cli.main(['drive', '--policy', str(OLD_RUN / 'policy'), '--runtime', 'tensorflow',
                   '--no-baseline', '--report', str(report_path)])
    assert rc == 0, capsys.readouterr().err
    report = json.loads(report_path.read_text())
    assert report['completion'] == 1.0
    assert report['lap_time_s'] == pytest.approx(old_report['last_eval']['lap_time_s'])


def test_a_tf215_checkpoint_resumes_where_it_stopped(old_run, old_report):
    """Resumed with no step left to train, the run restores the TensorFlow 2.15 checkpoint,
    evaluates and exports: the step counters and the lap are the checkpoint's own."""
    from rl_f1_driver.learn.trainer import train
    settings = yaml.safe_load((old_run / 'config.yaml').read_text())
    settings['train']['steps'] = 8005   # its env steps: nothing left to train
    cfg = load_config(overrides=settings)
    lines = []
    report = train(cfg, old_run, resume=True, log=lines.append)
    assert any(line.startswith(f'resumed from {old_run / "checkpoints" / "ckpt-1447"} at env '
                               'step 8,005, gradient step 1,447') for line in lines), lines
    assert report['gradient_steps'] == 1447 and report['env_steps'] == 8005
    for key in LAP_KEYS:
        assert report['last_eval'][key] == pytest.approx(old_report['last_eval'][key],
                                                         abs=1e-9), key
    # From now on the run records the stack it was resumed with, and the new export is
    # TensorFlow's of today.
    now = stack_versions()
    state = json.loads((old_run / 'train_state.json').read_text())
    assert state['versions'] == report['versions'] == now
    meta = yaml.safe_load((old_run / 'policy' / 'rl_f1_driver.yaml').read_text())
    assert meta['versions'] == now
    assert saved_model_tensorflow_version(old_run / 'policy') == now['tensorflow']
    assert checkpoint_versions(old_run, state) == now


def test_a_checkpoint_that_cannot_be_restored_names_both_stacks_in_one_line(old_run, capsys):
    """The TensorFlow 2.15 checkpoint into another network (--allow-config-change): restoring
    fails, and the one line names the TensorFlow that wrote it and this one."""
    rc = cli.main(['train', '--config', str(old_run / 'config.yaml'), '--out', str(old_run),
                   '--resume', '--allow-config-change', '--set', 'train.fc_layers=[16]'])
    err = capsys.readouterr().err
    assert rc != 0
    assert err.count('\n') == 1, err
    now = stack_versions()
    assert err.startswith(f'rl-f1: error: {old_run / "checkpoints"}: cannot restore this '
                          'checkpoint (')
    assert f'it was written by TensorFlow {OLD_TF}; this is TensorFlow {now["tensorflow"]}' \
        f' / tf-agents {now["tf_agents"]} (Python {now["python"]})' in err
    assert f'Resume it with TensorFlow {OLD_TF} (its stack), or train into a new --out.' in err
    assert 'Traceback' not in err


def test_restore_failure_names_versions_only_where_they_differ():
    old = {'python': '3.11.7', 'tensorflow': '2.15.1', 'tf_agents': '0.19.0'}
    new = {'python': '3.12.1', 'tensorflow': '2.21.0', 'tf_agents': '0.19.0'}
    line = restore_failure(Path('run/checkpoints'), 'Shapes (8, 64) and (8, 16) are '
                           'incompatible\nmore detail', old, new)
    assert line == ('run/checkpoints: cannot restore this checkpoint (Shapes (8, 64) and '
                    '(8, 16) are incompatible): it was written by TensorFlow 2.15.1 / '
                    'tf-agents 0.19.0 (Python 3.11.7); this is TensorFlow 2.21.0 / tf-agents '
                    '0.19.0 (Python 3.12.1). Resume it with TensorFlow 2.15.1 (its stack), or '
                    'train into a new --out.')
    # Same TensorFlow and tf-agents (another Python alone does not explain it), or unknown:
    # the network or observation differs.
    for written_by in (dict(new, python='3.10.13'), None):
        line = restore_failure(Path('run/checkpoints'), 'Shapes differ', written_by, new)
        assert 'written by' not in line and 'network or observation differs' in line
