"""Actors and learner over the replay service on Ray, as separate processes on localhost.

Every process is a real `rl-f1` command (replay-server, learner, actor, train --actors) or a
`ray start` head on loopback; each wait is bounded and polls a condition (a log line, a file,
an exit code).
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from ros_support import loopback_violations, wait_for

pytest.importorskip('ray')
ROOT = Path(__file__).resolve().parent.parent
# Fast and small: a lines policy on `simple`; the server is given up after 3 s of silence.
QUICK = ['--config', str(ROOT / 'config' / 'train.yaml'),
         '--set', 'train.initial_collect_steps=500', '--set', 'distributed.server_timeout=3']


# Scratch folders the distributed code once made in /tmp (actor configs, Reverb checkpointers)
# and Ray's default session folder: a SIGKILLed process left them behind. None may appear now.
SCRATCH_PREFIXES = ('rl_f1_actor_', 'rl_f1_reverb_', 'ray')


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
    """An `rl-f1` command (or a whole command line: `argv` starting with the Python) in its
    own session, its output in a log file."""

    def __init__(self, tmp: Path, name: str, *args: str, env=None):
        self.name, self.log = name, tmp / f'{name}.log'
        argv = list(args) if args[0] == sys.executable else [
            sys.executable, '-m', 'rl_f1_driver.cli', *args]
        with open(self.log, 'wb') as out:
            self.p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                      env=dict(env or _env(), PYTHONUNBUFFERED='1'),
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

    def start(name, *args, env=None):
        proc = Proc(tmp_path, name, *args, env=env)
        started.append(proc)
        return proc

    yield start
    for proc in reversed(started):   # a Ray head last
        proc.kill()


def _env_steps(learner: Proc) -> int:
    steps = re.findall(r'step\s+([\d,]+)/', learner.text())
    return int(steps[-1].replace(',', '')) if steps else 0


def _ray_link(run: Path) -> Path:
    """The short link a local Ray of run directory `run` is given (ray_cluster.short_link)."""
    import hashlib

    from rl_f1_driver.learn.distributed.ray_cluster import LINKS
    folder = (run / 'distributed' / 'ray').resolve()
    return LINKS / hashlib.sha1(str(folder).encode()).hexdigest()[:10]


def _processes_of(run: Path) -> list:
    """Processes (not this test's) whose command line or environment names the run
    directory or its Ray link: the learner, Ray's own processes and the actors' workers."""
    markers = [str(run).encode(), str(_ray_link(run)).encode()]
    found = []
    for pid in os.listdir('/proc'):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmd = Path(f'/proc/{pid}/cmdline').read_bytes().replace(b'\0', b' ')
            env = Path(f'/proc/{pid}/environ').read_bytes()
        except OSError:
            continue
        if b'pytest' not in cmd and any(m in cmd or m in env for m in markers):
            found.append((int(pid), cmd.decode(errors='replace')[:200]))
    return found


def _descendants(pid: int) -> list:
    from rl_f1_driver.learn.distributed.ray_reaper import descendants
    return list(descendants(pid))


def _actor_pid(log: Path, nth: int = 1) -> int:
    pids = re.findall(r'driving on .* \(process (\d+)\)', log.read_text(errors='replace'))
    return int(pids[nth - 1]) if len(pids) >= nth else 0


def _ran_and_left_nothing(run: Path) -> None:
    assert _processes_of(run) == []            # Ray and the actors stopped with the learner
    assert not (run / 'distributed' / 'tmp').exists()   # their TMPDIR went with them
    # Ray's session folder is in the run; its link in ~/.rl_f1_driver is gone.
    assert list((run / 'distributed' / 'ray').glob('session_*/logs'))
    assert not _ray_link(run).is_symlink()


def test_a_learner_with_two_actors_drives_a_first_lap(tmp_path):
    """`rl-f1 train --actors 2` on a local Ray: a first lap, the report, every socket of every
    process (learner, Ray, actors) on loopback, nothing left behind."""
    out = tmp_path / 'run'
    train = Proc(tmp_path, 'train', 'train', *QUICK, '--actors', '2', '--out', str(out),
                 '--set', 'train.min_steps=0', '--set', 'train.steps=30000')
    try:
        train.wait_says(r'actors, policy lag', 300)
        family = [train.p.pid, *_descendants(train.p.pid)]
        assert len(family) >= 5, family         # learner, GCS, raylet, replay, 2 actors...
        bad = {pid: v for pid in family if (v := _violations(pid))}
        assert bad == {}, f'sockets beyond loopback: {bad}'
        assert wait_for(lambda: train.p.poll() is not None, 600, period=0.5), train.text()[-3000:]
    finally:
        train.kill()
    assert train.p.returncode == 0, train.text()[-3000:]
    report = json.loads((out / 'report.json').read_text())
    assert report['stopped'] == 'lap_driven' and report['time_to_first_lap_s'] is not None
    assert report['last_eval']['laps_completed'] >= 1
    dist = report['distributed']
    assert set(dist['actors']) == {'0', '1'} and dist['ray'] == 'local'
    assert all(a['env_steps'] > 0 for a in dist['actors'].values())
    # The run's env steps are the actors' (the learner counts what they report).
    assert sum(a['env_steps'] for a in dist['actors'].values()) <= report['env_steps'] + 1
    assert dist['replay_inserts_per_s'] > 0 and dist['replay_samples_per_s'] > 0
    assert dist['policy_lag_mean_gradient_steps'] >= 0
    assert dist['sample_age_mean_gradient_steps'] >= dist['policy_lag_mean_gradient_steps']
    assert (out / 'policy' / 'saved_model.pb').is_file()
    assert re.search(r'actor 0: [\d,]+ env steps',
                     (out / 'distributed' / 'actor-0.log').read_text())
    _ran_and_left_nothing(out)


def _violations(pid: int) -> list:
    try:
        return loopback_violations(pid)
    except OSError:
        return []       # ended meanwhile


def test_killed_actor_comes_back_and_ctrl_c_ends_it_all(tmp_path, procs):
    """An actor's process killed: Ray starts it again, it rejoins, the learner goes on. Then
    Ctrl-C reaches the learner: it checkpoints, evaluates and exports, its actors end by
    themselves (their closing line), Ray stops, nothing is left."""
    out = tmp_path / 'run'
    train = procs('train', 'train', *QUICK, '--actors', '2', '--out', str(out),
                  '--set', 'train.stop_on_lap=false', '--set', 'train.log_interval=500')
    train.wait_says(r'step\s+[\d,]+/.*\| 2 actors', 300)
    log0 = out / 'distributed' / 'actor-0.log'
    victim = _actor_pid(log0)
    assert victim and victim in _descendants(train.p.pid)
    os.kill(victim, signal.SIGKILL)
    at_kill = _env_steps(train)
    assert wait_for(lambda: _actor_pid(log0, 2) != 0, 180, period=0.5), log0.read_text()
    assert _actor_pid(log0, 2) != victim
    train.wait_says(r'learner: actor 0 is back', 120)
    assert wait_for(lambda: _env_steps(train) > at_kill + 1000, 240, period=0.5), \
        train.text()[-2000:]
    os.kill(train.p.pid, signal.SIGINT)   # the terminal's Ctrl-C
    assert wait_for(lambda: train.p.poll() is not None, 180, period=0.2), train.text()[-2000:]
    assert train.p.returncode == 130, train.text()[-2000:]
    assert 'Traceback' not in train.text()
    report = json.loads((out / 'report.json').read_text())
    assert report['stopped'] == 'interrupted'
    assert report['distributed']['actor_restarts'] == {'0': 1}
    assert report['distributed']['actors']['0']['incarnations'] == 2
    assert (out / 'policy' / 'saved_model.pb').is_file()
    assert (out / 'checkpoints' / 'checkpoint').is_file()
    for i in (0, 1):   # ended by themselves, not killed
        assert re.search(r'actor %d: [\d,]+ env steps, \d+ episodes' % i,
                         (out / 'distributed' / f'actor-{i}.log').read_text())
    _ran_and_left_nothing(out)


def test_a_killed_train_with_actors_leaves_nothing_and_resumes(tmp_path, procs):
    """`rl-f1 train --actors 1` SIGKILLed (no clean-up at all): Ray's processes, the replay and
    the actor go with it, its Ray link is removed; `--resume` goes on from the checkpoint."""
    out = tmp_path / 'run'
    args = ['train', *QUICK, '--actors', '1', '--out', str(out),
            '--set', 'train.stop_on_lap=false', '--set', 'train.checkpoint_interval=1000',
            '--set', 'train.log_interval=500']
    first = procs('first', *args)
    assert wait_for(lambda: (out / 'checkpoints' / 'checkpoint').is_file()
                    or first.p.poll() is not None, 300, period=0.5), first.text()[-2000:]
    family = _descendants(first.p.pid)
    assert len(family) >= 4, family
    os.kill(first.p.pid, signal.SIGKILL)     # the learner alone, not its process group
    first.p.wait(timeout=30)
    assert wait_for(lambda: not [pid for pid in family if Path(f'/proc/{pid}').exists()],
                    60, period=0.2), [Path(f'/proc/{pid}/cmdline').read_bytes()[:80]
                                      for pid in family if Path(f'/proc/{pid}').exists()]
    assert wait_for(lambda: not _ray_link(out).is_symlink(), 30, period=0.2)
    resumed = procs('resumed', *args, '--resume')
    resumed.wait_says(r'resumed from .* at env step [1-9]', 300)
    at = int(re.search(r'at env step ([\d,]+)', resumed.text()).group(1).replace(',', ''))
    assert wait_for(lambda: _env_steps(resumed) > at + 500, 240, period=0.5), \
        resumed.text()[-2000:]
    os.kill(resumed.p.pid, signal.SIGINT)
    assert wait_for(lambda: resumed.p.poll() is not None, 180, period=0.2), \
        resumed.text()[-2000:]
    assert resumed.p.returncode == 130, resumed.text()[-2000:]
    _ran_and_left_nothing(out)


@pytest.fixture
def ray_head(tmp_path, procs):
    """A Ray head on loopback (`ray start --head --block`), its session folder in tmp_path;
    its address. Killed (its process group) at the end."""
    from rl_f1_driver.learn.distributed.ray_cluster import free_port, node_command
    port = free_port()
    argv, env = node_command(tmp_path / 'head' / 'distributed' / 'ray', head_port=port)
    head = procs('ray-head', *argv, env=env)
    assert wait_for(lambda: _listening(port) or head.p.poll() is not None, 120, period=0.2), \
        head.text()
    yield f'127.0.0.1:{port}'


def _listening(port: int) -> bool:
    import socket
    try:
        socket.create_connection(('127.0.0.1', port), timeout=1).close()
        return True
    except OSError:
        return False


def test_actor_and_learner_faults(tmp_path, procs, ray_head):
    """Separate commands on one Ray cluster. An actor killed: the learner goes on; restarted,
    it rejoins. The learner killed and restarted with --resume: it serves its checkpoint's
    weights and goes on; the replay outlived both. The replay server killed: actors and
    learner end with a clear error, within the server timeout."""
    address_file = tmp_path / 'replay-address'
    ray = ['--ray-address', ray_head, '--replay', 'faults']
    server = procs('server', 'replay-server', *QUICK, *ray, '--address-file', str(address_file))
    assert wait_for(lambda: address_file.is_file() or server.p.poll() is not None, 180,
                    period=0.2), server.text()
    assert address_file.read_text().split() == [ray_head, 'faults']
    run = tmp_path / 'learner-run'
    learner_args = ['learner', *QUICK, *ray, '--out', str(run),
                    '--set', 'train.checkpoint_interval=1000', '--set', 'train.steps=10000000',
                    '--set', 'train.eval_interval=10000000', '--set', 'train.log_interval=500',
                    '--set', 'distributed.learner_chunk=50']
    learner = procs('learner', *learner_args)
    actors = [procs(f'actor{i}', 'actor', *QUICK, *ray, '--id', str(i)) for i in (0, 1)]
    learner.wait_says(r'\| 2 actors', 300)

    # An actor dies: the learner keeps learning from the other one.
    actors[0].kill()
    at_kill = _env_steps(learner)
    assert wait_for(lambda: _env_steps(learner) > at_kill + 2000, 240, period=0.5), \
        learner.text()[-2000:]
    assert learner.p.poll() is None
    # Restarted, it rejoins: it pulls the learner's current weights and sends data.
    again = procs('actor0-again', 'actor', *QUICK, *ray, '--id', '0')
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

    # The replay server dies: everyone ends with an error naming the replay, no hang.
    server.kill()
    for proc in (resumed, actors[1], again):
        assert wait_for(lambda: proc.p.poll() is not None, 60, period=0.2), \
            f'{proc.name} still running 60 s after the server died:\n{proc.text()[-2000:]}'
        assert proc.p.returncode != 0
        assert f"replay 'faults' on the Ray cluster at {ray_head}" in proc.text(), \
            proc.text()[-2000:]


def test_bad_addresses_and_auth_are_clear_errors(tmp_path):
    def rl_f1(*args, **env):
        return subprocess.run([sys.executable, '-m', 'rl_f1_driver.cli', *args],
                              capture_output=True, text=True, env=dict(_env(), **env),
                              timeout=300, cwd=tmp_path)

    bad = rl_f1('actor', '--ray-address', 'no-port-here')
    assert bad.returncode == 2 and 'expected HOST:PORT' in bad.stderr
    bad = rl_f1('actor', '--ray-address', 'localhost:6379', '--replay', 'a name')
    assert bad.returncode == 2 and "--replay 'a name'" in bad.stderr
    # Nothing listens on port 1: at once, one line, the run dir untouched.
    nobody = rl_f1('learner', *QUICK, '--ray-address', '127.0.0.1:1', '--out',
                   str(tmp_path / 'run'))
    assert nobody.returncode == 2, nobody.stderr
    assert 'no Ray cluster at 127.0.0.1:1' in nobody.stderr
    assert len(nobody.stderr.strip().splitlines()) == 1, nobody.stderr
    assert not (tmp_path / 'run').exists()
    # Token authentication stays on.
    off = rl_f1('train', *QUICK, '--actors', '1', '--out', str(tmp_path / 'run'),
                RAY_AUTH_MODE='disabled')
    assert off.returncode == 2 and 'RAY_AUTH_MODE=disabled' in off.stderr, off.stderr
    assert not (tmp_path / 'run' / 'report.json').exists()


def test_a_replay_from_another_config_is_refused(tmp_path, procs, ray_head):
    """A learner whose config stores other steps than the replay's (another observation)
    says so in one line instead of training on garbage; a wrong token cannot join."""
    address_file = tmp_path / 'replay-address'
    ray = ['--ray-address', ray_head, '--replay', 'lines']
    server = procs('server', 'replay-server', *QUICK, *ray, '--address-file', str(address_file))
    assert wait_for(lambda: address_file.is_file() or server.p.poll() is not None, 180,
                    period=0.2), server.text()
    other = subprocess.run(
        [sys.executable, '-m', 'rl_f1_driver.cli', 'learner', *QUICK, *ray,
         '--set', 'env.observation=image', '--out', str(tmp_path / 'run')],
        capture_output=True, text=True, env=_env(), timeout=300, cwd=tmp_path)
    assert other.returncode == 2, other.stdout[-2000:] + other.stderr[-2000:]
    assert "stores other steps than this learner trains on" in other.stderr
    intruder = subprocess.run(
        [sys.executable, '-m', 'rl_f1_driver.cli', 'actor', *QUICK, *ray],
        capture_output=True, text=True, env=dict(_env(), RAY_AUTH_TOKEN='not-the-token'),
        timeout=300, cwd=tmp_path)
    assert intruder.returncode != 0
    assert 'driving on' not in intruder.stdout


def test_the_replay_follows_the_config():
    from rl_f1_driver.config import load_config
    from rl_f1_driver.learn.distributed import replay
    from rl_f1_driver.learn.distributed.service import ReplayService
    cfg = load_config(overrides={'distributed.samples_per_insert': 4.0,
                                 'train.replay_capacity': 5000, 'train.n_step': 2})
    agent = replay.spec_agent(cfg)[0]
    settings = replay.service_settings(cfg, agent)
    service = ReplayService(**settings)
    info = service.info()
    assert info['capacity'] == 5000 and info['samples_per_insert'] == 4.0
    assert info['min_size'] == cfg.train.initial_collect_steps
    # n_step 2: sequences of 3 steps; each step carries its weights' version and actor.
    assert settings['length'] == 3
    leaves = replay.leaf_specs(agent)
    assert ((), 'int64') in leaves and ((), 'int32') in leaves
    obs = agent.collect_data_spec.observation
    assert (tuple(obs.shape), obs.dtype.name) in leaves


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
