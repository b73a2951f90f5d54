"""Actors and learner over a Reverb replay server, as separate processes on localhost.

Every process is a real `rl-f1` command (replay-server, learner, actor, train --actors); each
wait is bounded and polls a condition (a log line, a file, an exit code).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from ros_support import wait_for

pytest.importorskip('reverb')
ROOT = Path(__file__).resolve().parent.parent
# Fast and small: a lines policy on `simple`; the server is given up after 3 s of silence.
QUICK = ['--config', str(ROOT / 'config' / 'train.yaml'),
         '--set', 'train.initial_collect_steps=500', '--set', 'distributed.server_timeout=3']


# Scratch folders the distributed code once made in /tmp (actor configs, Reverb checkpointers):
# a SIGKILLed process left them behind. None may appear now.
SCRATCH_PREFIXES = ('rl_f1_actor_', 'rl_f1_reverb_')


# TensorFlow's autograph writes converted functions to temporary files that it removes at
# exit; a SIGKILLed process cannot. They are TensorFlow's, not ours.
TF_AUTOGRAPH_PREFIX = '__autograph_generated_file'


def _scratch_in(folder: str) -> set:
    return {name for name in os.listdir(folder) if name.startswith(SCRATCH_PREFIXES)}


@pytest.fixture(scope='module', autouse=True)
def nothing_left_in_tmp(tmp_path_factory):
    """Around this module (servers, learners and actors killed with SIGKILL among them):
    - no new scratch folder with our prefixes in the system's temporary folder (names are
      compared, not counts, so what other processes make there meanwhile does not matter);
    - every process of this module (this one and the ones it starts, through TMPDIR) gets a
      temporary folder of its own, which must be empty afterwards: nothing left under any
      name (TensorFlow's autograph files of killed processes aside)."""
    system_tmp = tempfile.gettempdir()
    before = _scratch_in(system_tmp)
    scratch = tmp_path_factory.mktemp('tmpdir')
    old_env, old_tempdir = os.environ.get('TMPDIR'), tempfile.tempdir
    os.environ['TMPDIR'] = tempfile.tempdir = str(scratch)
    try:
        yield
    finally:
        tempfile.tempdir = old_tempdir
        if old_env is None:
            os.environ.pop('TMPDIR', None)
        else:
            os.environ['TMPDIR'] = old_env
    left = sorted(_scratch_in(system_tmp) - before)
    assert left == [], f'left in {system_tmp}: {left}'
    left = sorted(p.name for p in scratch.iterdir() if not p.name.startswith(TF_AUTOGRAPH_PREFIX))
    assert left == [], f'left in the temporary folder of this module\'s processes: {left}'


def _env():
    return dict(os.environ, PYTHONUNBUFFERED='1', TF_CPP_MIN_LOG_LEVEL='2')


class Proc:
    """An `rl-f1` command in its own session, its output in a log file."""

    def __init__(self, tmp: Path, name: str, *args: str):
        self.name, self.log = name, tmp / f'{name}.log'
        with open(self.log, 'wb') as out:
            self.p = subprocess.Popen([sys.executable, '-m', 'rl_f1_driver.cli', *args],
                                      stdout=out, stderr=subprocess.STDOUT, env=_env(),
                                      start_new_session=True, cwd=tmp)

    def text(self) -> str:
        return self.log.read_text(errors='replace')

    def says(self, pattern: str) -> bool:
        return re.search(pattern, self.text()) is not None

    def wait_says(self, pattern: str, timeout: float) -> None:
        ok = wait_for(lambda: self.says(pattern) or self.p.poll() is not None, timeout,
                      period=0.2)
        assert ok and self.says(pattern), (
            f'{self.name}: no {pattern!r} within {timeout} s (exit {self.p.poll()}):\n'
            + self.text()[-3000:])

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.p.poll() is None:
            os.killpg(self.p.pid, sig)
            self.p.wait(timeout=30)


@pytest.fixture
def procs(tmp_path):
    started = []

    def start(name, *args):
        proc = Proc(tmp_path, name, *args)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()


def _env_steps(learner: Proc) -> int:
    steps = re.findall(r'step\s+([\d,]+)/', learner.text())
    return int(steps[-1].replace(',', '')) if steps else 0


def _leftovers(marker: str) -> list:
    """Processes whose command line mentions `marker` (a run directory)."""
    found = []
    for pid in os.listdir('/proc'):
        if pid.isdigit():
            try:
                cmd = Path(f'/proc/{pid}/cmdline').read_bytes().replace(b'\0', b' ').decode()
            except OSError:
                continue
            if marker in cmd and 'pytest' not in cmd:
                found.append(cmd)
    return found


def test_a_learner_with_two_actors_drives_a_first_lap(tmp_path):
    out = tmp_path / 'run'
    proc = subprocess.run(
        [sys.executable, '-m', 'rl_f1_driver.cli', 'train', *QUICK, '--actors', '2',
         '--out', str(out), '--set', 'train.min_steps=0', '--set', 'train.steps=30000'],
        capture_output=True, text=True, env=_env(), timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / 'report.json').read_text())
    assert report['stopped'] == 'lap_driven' and report['time_to_first_lap_s'] is not None
    assert report['last_eval']['laps_completed'] >= 1
    dist = report['distributed']
    assert set(dist['actors']) == {'0', '1'}
    assert all(a['env_steps'] > 0 for a in dist['actors'].values())
    # The run's env steps are the actors' (the learner counts what they report).
    assert sum(a['env_steps'] for a in dist['actors'].values()) <= report['env_steps'] + 1
    assert dist['replay_inserts_per_s'] > 0 and dist['replay_samples_per_s'] > 0
    assert dist['policy_lag_mean_gradient_steps'] >= 0
    assert dist['sample_age_mean_gradient_steps'] >= dist['policy_lag_mean_gradient_steps']
    assert (out / 'policy' / 'saved_model.pb').is_file()
    assert (out / 'distributed' / 'actor-0.log').is_file()
    assert 'actors, policy lag' in proc.stdout
    assert _leftovers(str(out)) == []   # server and actors stopped with the learner
    assert not (out / 'distributed' / 'tmp').exists()   # their TMPDIR went with them


def test_actor_and_learner_faults(tmp_path, procs):
    """An actor killed: the learner goes on; restarted, it rejoins. The learner killed and
    restarted with --resume: it serves its checkpoint's weights and goes on. The server
    killed: actors and learner end with a clear error, within the server timeout."""
    port_file = tmp_path / 'port'
    server = procs('server', 'replay-server', *QUICK, '--port-file', str(port_file))
    assert wait_for(lambda: port_file.is_file() or server.p.poll() is not None, 180,
                    period=0.2), server.text()
    address = f'localhost:{port_file.read_text().strip()}'
    run = tmp_path / 'learner-run'
    learner_args = ['learner', *QUICK, '--replay', address, '--out', str(run),
                    '--set', 'train.checkpoint_interval=1000', '--set', 'train.steps=10000000',
                    '--set', 'train.eval_interval=10000000', '--set', 'train.log_interval=500',
                    '--set', 'distributed.learner_chunk=50']
    learner = procs('learner', *learner_args)
    actors = [procs(f'actor{i}', 'actor', *QUICK, '--replay', address, '--id', str(i))
              for i in (0, 1)]
    learner.wait_says(r'\| 2 actors', 300)

    # An actor dies: the learner keeps learning from the other one.
    actors[0].kill()
    at_kill = _env_steps(learner)
    assert wait_for(lambda: _env_steps(learner) > at_kill + 2000, 240, period=0.5), \
        learner.text()[-2000:]
    assert learner.p.poll() is None
    # Restarted, it rejoins: it pulls the learner's current weights and sends data.
    again = procs('actor0-again', 'actor', *QUICK, '--replay', address, '--id', '0')
    again.wait_says(r'actor 0: driving on simple .* from learner step [1-9]', 180)

    # The learner dies after a checkpoint; restarted with --resume it carries on from it.
    assert wait_for(lambda: (run / 'checkpoints' / 'checkpoint').is_file(), 240, period=0.5)
    learner.kill()
    resumed = procs('learner-resumed', *learner_args, '--resume')
    resumed.wait_says(r'resumed from .* at env step [1-9]', 240)
    checkpoint_steps = int(re.search(r'at env step ([\d,]+)', resumed.text()).group(1)
                           .replace(',', ''))
    assert wait_for(lambda: _env_steps(resumed) > checkpoint_steps + 1000, 240, period=0.5), \
        resumed.text()[-2000:]
    # Counted once: the actors that outlived the first learner count their steps again from
    # the new session, so the run's count goes on from the checkpoint's, no jump.
    first = re.findall(r'step\s+([\d,]+)/', resumed.text())[0]
    assert int(first.replace(',', '')) < checkpoint_steps + 3000, resumed.text()[-2000:]

    # The replay server dies: everyone ends with an error naming it, no hang.
    server.kill()
    for proc in (resumed, actors[1], again):
        assert wait_for(lambda: proc.p.poll() is not None, 60, period=0.2), \
            f'{proc.name} still running 60 s after the server died:\n{proc.text()[-2000:]}'
        assert proc.p.returncode != 0
        assert f'replay server {address} did not answer' in proc.text(), proc.text()[-2000:]


def test_bad_replay_addresses_are_clear_errors(tmp_path):
    def rl_f1(*args):
        return subprocess.run([sys.executable, '-m', 'rl_f1_driver.cli', *args],
                              capture_output=True, text=True, env=_env(), timeout=300,
                              cwd=tmp_path)

    bad = rl_f1('actor', '--replay', 'no-port-here')
    assert bad.returncode == 2 and "expected HOST:PORT" in bad.stderr
    # Nothing listens on port 1: refused within the server timeout, the run dir untouched.
    nobody = rl_f1('learner', *QUICK, '--set', 'distributed.server_timeout=1',
                   '--replay', 'localhost:1', '--out', str(tmp_path / 'run'))
    assert nobody.returncode == 3, nobody.stderr   # a lost server, not bad input
    assert 'replay server localhost:1 did not answer within 1 s' in nobody.stderr
    assert not (tmp_path / 'run').exists()


def test_replay_tables_follow_the_config():
    import reverb

    from rl_f1_driver.config import load_config
    from rl_f1_driver.learn.distributed import replay
    from rl_f1_driver.learn.distributed.server import free_port, no_checkpointer
    cfg = load_config(overrides={'distributed.samples_per_insert': 4.0,
                                 'train.replay_capacity': 5000, 'train.n_step': 2})
    agent, _, step, env_steps, stop = replay.spec_agent(cfg)
    server = reverb.Server(replay.make_tables(cfg, agent, step, env_steps, stop),
                           port=free_port(), checkpointer=no_checkpointer())
    try:
        info = reverb.Client(f'localhost:{server.port}').server_info(timeout=10)
        table = info[replay.EXPERIENCE]
        assert table.max_size == 5000
        assert table.rate_limiter_info.samples_per_insert == 4.0
        assert table.rate_limiter_info.min_size_to_sample == cfg.train.initial_collect_steps
        # n_step 2: sequences of 3 steps, each carrying its weights' version and actor.
        assert table.signature.observation.shape[0] == 3
        assert set(table.signature.policy_info) == {'version', 'actor'}
        assert info[replay.VARIABLES].max_size == 1
    finally:
        server.stop()


def test_ctrl_c_ends_train_with_actors_cleanly(tmp_path, procs):
    """Ctrl-C reaches the learner only (the children run in sessions of their own): it
    checkpoints, evaluates and exports, then stops its actors and server."""
    out = tmp_path / 'run'
    train = procs('train', 'train', *QUICK, '--actors', '1', '--out', str(out),
                  '--set', 'train.stop_on_lap=false', '--set', 'train.log_interval=500')
    train.wait_says(r'step\s+[\d,]+/.*\| 1 actors', 300)
    os.kill(train.p.pid, signal.SIGINT)   # the terminal's Ctrl-C: the foreground group
    assert wait_for(lambda: train.p.poll() is not None, 120, period=0.2), train.text()[-2000:]
    assert train.p.returncode == 130, train.text()[-2000:]
    report = json.loads((out / 'report.json').read_text())
    assert report['stopped'] == 'interrupted'
    assert report['distributed']['actors']['0']['env_steps'] > 0
    assert (out / 'policy' / 'saved_model.pb').is_file()
    assert (out / 'checkpoints' / 'checkpoint').is_file()
    assert _leftovers(str(out)) == []
    assert not (out / 'distributed' / 'tmp').exists()
    # The actor ended by itself (its closing line), not by SIGKILL.
    assert re.search(r'actor 0: [\d,]+ env steps, \d+ episodes',
                     (out / 'distributed' / 'actor-0.log').read_text())


def test_the_replay_server_makes_no_scratch_folder(tmp_path, monkeypatch):
    """Reverb's default checkpointer takes a mkdtemp folder that nothing removes; the server
    runs with none, so a killed server leaves nothing either."""
    from rl_f1_driver.config import load_config
    from rl_f1_driver.learn.distributed.server import serve
    from rl_f1_driver.learn.distributed.watchdog import check_server
    made = []
    real_mkdtemp = tempfile.mkdtemp

    def mkdtemp(*args, **kwargs):
        made.append(real_mkdtemp(*args, **kwargs))
        return made[-1]
    monkeypatch.setattr(tempfile, 'mkdtemp', mkdtemp)
    stop, port_file, failed = threading.Event(), tmp_path / 'port', []

    def run():
        try:
            serve(load_config(), stop, port_file=str(port_file), log=lambda s: None)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            failed.append(exc)
    server = threading.Thread(target=run, daemon=True)
    server.start()
    try:
        assert wait_for(lambda: port_file.is_file() or failed, 120, period=0.1), 'no port file'
        assert not failed, failed
        address = f'localhost:{port_file.read_text().strip()}'
        assert 'experience' in check_server(address, 10)
    finally:
        stop.set()
        server.join(timeout=30)
        for folder in made:
            shutil.rmtree(folder, ignore_errors=True)
    assert not server.is_alive() and not failed, failed
    assert made == []


def test_the_ros_actor_config_has_no_file_name():
    """rl-f1 actor --backend ros hands train_node its config through a memory file: readable
    at the path while the actor runs, on no file system, gone with the process."""
    from rl_f1_driver.config import load_config
    from rl_f1_driver.learn.distributed.cli import config_without_a_file
    cfg = load_config(overrides={'seed': 7, 'train.gamma': 0.9})
    with config_without_a_file(cfg) as path:
        assert load_config(path) == cfg
        assert os.readlink(path).startswith('/memfd:')   # no directory holds it
    assert not Path(path).exists()
