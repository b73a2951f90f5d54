"""rl-f1 train: run directory contents, report, resume, interruption, reproducibility, errors."""
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import yaml

from conftest import write_yaml
from rl_f1_driver.errors import ConfigError, UserError
from train_helpers import SHORT, run_training, short_config

REPORT_KEYS = {'time_to_first_lap_s', 'env_steps_to_first_lap', 'train_wall_s', 'env_steps',
               'steps_per_s', 'gradient_steps', 'gradient_steps_per_s', 'last_eval',
               'evaluations', 'stopped'}
EVAL_KEYS = {'completion', 'lap_time_s', 'mean_abs_deviation_m', 'max_abs_deviation_m',
             'mean_speed_mps', 'return', 'steps', 'laps_completed'}


def test_short_run_leaves_a_complete_run_directory(trained_run):
    out, report, _ = trained_run
    assert REPORT_KEYS <= set(report)
    assert EVAL_KEYS <= set(report['last_eval'])
    assert report == json.loads((out / 'report.json').read_text())
    assert report['env_steps'] >= SHORT['train.steps']
    assert report['stopped'] == 'steps_done'
    # One evaluation per interval, the last one at the end of training. (A chunk of training
    # can overshoot its target: an iteration collects one more batch step when an episode
    # resets, and resets are not counted as driving.)
    steps = [e['env_steps'] for e in report['evaluations']]
    assert len(steps) == 2 and 300 <= steps[0] < 600 <= steps[1] == report['env_steps']
    assert (out / 'policy' / 'saved_model.pb').is_file()
    meta = yaml.safe_load((out / 'policy' / 'rl_f1_driver.yaml').read_text())
    assert meta['config']['env']['observation'] == 'lines'
    assert meta['config']['actions'] == [list(a) for a in short_config().actions]
    assert any(p.name.endswith('.index') for p in (out / 'checkpoints').iterdir())
    assert yaml.safe_load((out / 'config.yaml').read_text())['train']['steps'] == 600
    for png in ('learning_curve.png', 'trajectory.png'):
        image = cv2.imread(str(out / png))
        assert image is not None and image.shape[0] > 200 and image.shape[1] > 200
    assert any(p.name.startswith('events.out.tfevents') for p in (out / 'tensorboard').iterdir())


def test_progress_lines_show_speed_epsilon_loss_and_evaluations(trained_run):
    _, _, lines = trained_run
    progress = [line for line in lines if 'env steps/s' in line]
    assert len(progress) >= 2
    assert all('eps ' in line and 'loss ' in line and 'return ' in line for line in progress)
    assert sum('eval @' in line for line in lines) == 2


def test_first_lap_fields_are_null_or_consistent(trained_run):
    _, report, _ = trained_run
    laps = [e for e in report['evaluations'] if e['laps_completed'] >= 1]
    if laps:
        assert report['env_steps_to_first_lap'] == laps[0]['env_steps']
        assert report['time_to_first_lap_s'] == laps[0]['wall_s']
    else:
        assert report['env_steps_to_first_lap'] is None
        assert report['time_to_first_lap_s'] is None


def test_same_seed_reproduces_the_run_and_another_seed_does_not(trained_run, tmp_path):
    _, report, _ = trained_run
    again, _ = run_training(tmp_path / 'again')
    returns = [e['return'] for e in report['evaluations']]
    assert [e['return'] for e in again['evaluations']] == returns
    assert again['gradient_steps'] == report['gradient_steps']
    other, _ = run_training(tmp_path / 'other', short_config(seed=7))
    assert [e['return'] for e in other['evaluations']] != returns


def test_resume_continues_the_step_counter_and_history(trained_run, tmp_path):
    out, report, _ = trained_run
    copy = tmp_path / 'resumed'
    shutil.copytree(out, copy)
    more, lines = run_training(copy, short_config(**{'train.steps': 900}), resume=True)
    assert any(line.startswith('resumed from') and f'{report["env_steps"]:,}' in line
               for line in lines)
    assert more['env_steps'] >= 900
    # The replay buffer is not checkpointed, so resuming refills it with random steps, which
    # are not progress: the counter goes on from the checkpoint, and each iteration trains
    # once on at least collect_steps_per_iteration new env steps (one more batch step at most,
    # when an episode resets).
    assert any(line.startswith('refilling the replay buffer') for line in lines)
    t = short_config().train
    iterations = more['gradient_steps'] - report['gradient_steps']
    collected = more['env_steps'] - report['env_steps']
    assert iterations > 0
    assert (t.collect_steps_per_iteration * iterations <= collected
            <= (t.collect_steps_per_iteration + t.num_envs) * iterations)
    steps = [e['env_steps'] for e in more['evaluations']]
    assert steps[:2] == [e['env_steps'] for e in report['evaluations']]
    assert steps == sorted(steps) and steps[-1] >= 900


def test_a_run_directory_belongs_to_its_config(trained_run, tmp_path):
    out, _, _ = trained_run
    copy = tmp_path / 'run'
    shutil.copytree(out, copy)
    with pytest.raises(UserError, match=r'train\.gamma.*--allow-config-change'):
        run_training(copy, short_config(**{'train.gamma': 0.5}))
    with pytest.raises(UserError, match='--resume'):
        run_training(copy)
    with pytest.raises(UserError, match='nothing to resume'):
        run_training(tmp_path / 'empty', resume=True)
    # Nothing in the refused directory was touched.
    assert yaml.safe_load((copy / 'config.yaml').read_text())['train']['gamma'] != 0.5


def test_collect_steps_must_fill_every_environment(tmp_path):
    cfg = short_config(**{'train.num_envs': 4, 'train.collect_steps_per_iteration': 6})
    with pytest.raises(ConfigError, match='multiple of train.num_envs'):
        run_training(tmp_path / 'x', cfg)


def test_bad_train_config_is_one_line_error(tmp_path, capsys):
    from rl_f1_driver import cli
    bad = write_yaml(tmp_path, 'bad.yaml', {'train': {'gamma': 2}})
    rc = cli.main(['train', '--config', str(bad), '--out', str(tmp_path / 'o')])
    err = capsys.readouterr().err
    assert rc == 2 and f'{bad}: train.gamma' in err and 'Traceback' not in err
    rc = cli.main(['train', '--set', 'train.gamma', '--out', str(tmp_path / 'o')])
    assert rc == 2 and 'KEY=VALUE' in capsys.readouterr().err
    assert not (tmp_path / 'o').exists()


def _wait_for_line(proc, needle, limit=400):
    seen = []
    for _ in range(limit):
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return seen
    raise AssertionError(f'{needle!r} never printed:\n' + ''.join(seen))


def _interrupt_training(cfg, out, after_line):
    """Run `rl-f1 train` in a subprocess, send SIGINT once it prints `after_line` (output, not
    time, is the synchronisation), and return (exit code, the rest of its output)."""
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    proc = subprocess.Popen([sys.executable, '-m', 'rl_f1_driver', 'train', '--config',
                             str(cfg), '--out', str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    try:
        _wait_for_line(proc, after_line)
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, rest


def test_sigint_saves_a_checkpoint_that_resumes(tmp_path):
    cfg = write_yaml(tmp_path, 'cfg.yaml', {
        'train': {'steps': 200000, 'initial_collect_steps': 200, 'log_interval': 100,
                  'eval_interval': 100000, 'checkpoint_interval': 100000,
                  'fc_layers': [16], 'stop_on_lap': False}})
    out = tmp_path / 'run'
    rc, rest = _interrupt_training(cfg, out, 'env steps/s')  # training is under way
    assert rc == 130, rest
    assert 'interrupted: checkpoint saved' in rest
    report = json.loads((out / 'report.json').read_text())
    assert report['stopped'] == 'interrupted' and report['env_steps'] < 200000
    assert (out / 'policy' / 'saved_model.pb').is_file()
    from rl_f1_driver.config import load_config
    resumed_cfg = load_config(cfg, overrides={'train.steps': report['env_steps'] + 100})
    more, lines = run_training(out, resumed_cfg, resume=True)
    assert any(line.startswith('resumed from') for line in lines)
    assert more['env_steps'] >= report['env_steps'] + 100
    assert more['gradient_steps'] > report['gradient_steps']


def test_image_observation_trains_a_convolutional_network(tmp_path):
    cfg = short_config(**{'env.observation': 'image', 'train.steps': 200,
                          'train.eval_interval': 200, 'train.conv_layers': [[4, 5, 4]]})
    report, _ = run_training(tmp_path / 'img', cfg)
    assert report['observation'] == 'image' and report['env_steps'] >= 200
    meta = yaml.safe_load((tmp_path / 'img' / 'policy' / 'rl_f1_driver.yaml').read_text())
    assert meta['config']['env']['observation'] == 'image'
    assert Path(tmp_path / 'img' / 'trajectory.png').is_file()


def _always_lapping_evaluation(monkeypatch):
    """Evaluations that report a full lap both ways, so only the stop rule decides."""
    import rl_f1_driver.learn.evaluation as evaluation

    def evaluate(envs, act, laps=1, recorders=None):
        return [{'steps': 10, 'laps_completed': 1, 'completion': 1.0, 'lap_time_s': 1.0,
                 'lap_times_s': [1.0], 'mean_abs_deviation_m': 0.0, 'max_abs_deviation_m': 0.0,
                 'mean_speed_mps': 1.0, 'return': 1.0, 'end_reason': 'test', 'path': []}
                for _ in envs]

    monkeypatch.setattr(evaluation, 'evaluate', evaluate)


def test_early_stop_waits_for_a_lap_and_for_min_steps(monkeypatch, tmp_path):
    _always_lapping_evaluation(monkeypatch)
    extra = {'train.stop_on_lap': True, 'train.eval_interval': 100, 'train.steps': 2000}
    report, _ = run_training(tmp_path / 'a', short_config(**extra))
    # The first evaluation (after the 200 warm-up steps) laps: stop there.
    assert report['stopped'] == 'lap_driven'
    assert [e['env_steps'] for e in report['evaluations']] == [report['env_steps']]
    assert report['env_steps'] < 400
    report, _ = run_training(tmp_path / 'b', short_config(**extra, **{'train.min_steps': 700}))
    assert report['stopped'] == 'lap_driven'
    assert 700 <= report['env_steps'] < 900
    assert len(report['evaluations']) >= 4
    assert report['env_steps_to_first_lap'] == report['evaluations'][0]['env_steps']


def test_sigint_during_warm_up_still_exports_a_policy(tmp_path):
    cfg = write_yaml(tmp_path, 'cfg.yaml', {'train': {'steps': 200000, 'fc_layers': [16],
                                                      'initial_collect_steps': 2000}})
    out = tmp_path / 'run'
    # The random warm-up is under way; the graphs are not traced yet.
    rc, rest = _interrupt_training(cfg, out, 'collecting')
    assert rc == 130, rest
    report = json.loads((out / 'report.json').read_text())
    assert report['stopped'] == 'interrupted' and report['gradient_steps'] == 0
    assert (out / 'policy' / 'saved_model.pb').is_file()


def test_reusing_a_directory_with_another_config_starts_afresh(trained_run, tmp_path):
    out, report, _ = trained_run
    copy = tmp_path / 'run'
    shutil.copytree(out, copy)
    fresh, lines = run_training(copy, short_config(**{'train.gamma': 0.9}),
                                allow_config_change=True)
    # Nothing of the old run was restored: the counter and history start from zero.
    assert [e['env_steps'] for e in fresh['evaluations']][0] < 600
    assert fresh['gradient_steps'] <= report['gradient_steps']
    assert any('moved to' in line for line in lines)
    assert len(list(copy.glob('checkpoints.replaced-*'))) == 1
    # A network of another shape cannot be resumed: a clear error, not a TensorFlow one.
    with pytest.raises(UserError, match='cannot restore this checkpoint'):
        run_training(copy, short_config(**{'train.gamma': 0.9, 'train.fc_layers': [8]}),
                     resume=True, allow_config_change=True)


def test_evaluation_has_time_for_a_lap_of_a_long_circuit():
    from rl_f1_driver.learn.trainer import evaluation_config
    from rl_f1_driver.track import load_circuit
    cfg = short_config(track='long')
    ev = evaluation_config(cfg)
    dt = cfg.camera.control_period
    assert ev.env.max_steps * dt * 1.0 >= load_circuit('long').length  # a lap at 1 m/s
    assert ev.env.start == 0.0 and not ev.randomization.enabled


def test_invalid_yaml_in_set_is_a_one_line_error(tmp_path, capsys):
    from rl_f1_driver import cli
    rc = cli.main(['train', '--set', 'train.fc_layers=[1', '--out', str(tmp_path / 'o')])
    err = capsys.readouterr().err
    assert rc == 2 and 'not valid YAML' in err and 'Traceback' not in err


def test_run_files_are_readable_like_any_other_file(tmp_path):
    from rl_f1_driver.learn.run_dir import write_json
    umask = os.umask(0o022)
    try:
        write_json(tmp_path / 'r.json', {'a': 1})
        assert (tmp_path / 'r.json').stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(umask)


class _LosingSimulator:
    """Wraps a real backend; after `fail_after` steps it stops answering, like a ROS
    simulator whose camera went silent (GazeboLink raises LinkTimeout and keeps it)."""

    def __init__(self, sim, fail_after):
        self.sim, self.fail_after, self.steps = sim, fail_after, 0
        self.failure = None

    def __getattr__(self, name):
        return getattr(self.sim, name)

    def reset(self, pose):
        return self.sim.reset(pose)

    def step(self, cmd):
        self.steps += 1
        if self.steps > self.fail_after:
            from rl_f1_driver.sim.interface import SimulatorLost
            self.failure = SimulatorLost('no camera image on /test/camera within 0.1 s')
            raise self.failure
        return self.sim.step(cmd)


def test_a_lost_simulator_ends_training_with_its_error_and_a_resumable_checkpoint(tmp_path):
    from rl_f1_driver.env import env_from_config
    from rl_f1_driver.sim.interface import SimulatorLost

    def factory(cfg, index):
        env = env_from_config(cfg, seed_offset=index)
        if index == 0:
            env.sim = _LosingSimulator(env.sim, fail_after=450)
        return env

    out = tmp_path / 'lost'
    lines = []
    cfg = short_config(**{'train.num_envs': 1, 'train.collect_steps_per_iteration': 1})
    from rl_f1_driver.learn.trainer import train
    with pytest.raises(SimulatorLost, match='/test/camera'):
        train(cfg, out, env_factory=factory, log=lines.append)
    state = json.loads((out / 'train_state.json').read_text())
    assert state['stopped'].startswith('simulator_lost: no camera image on /test/camera')
    assert 200 <= state['env_steps'] <= 460   # saved where it stopped, not at the end
    assert any('checkpoint and policy saved' in line and '--resume' in line for line in lines)
    assert (out / 'policy' / 'saved_model.pb').is_file()
    # The checkpoint restores: a resumed run starts from the saved counters.
    report, more = run_training(out, cfg, resume=True)
    assert any(line.startswith('resumed from') and f'{state["env_steps"]:,}' in line
               for line in more)
    assert report['env_steps'] >= cfg.train.steps
