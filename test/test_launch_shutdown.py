"""Ending a Gazebo launch leaves nothing behind, with a gzserver that ignores SIGINT/SIGTERM.

A fake `gzserver` first on PATH stands in for Gazebo: like the real one with gazebo_ros it
ignores SIGINT and SIGTERM. The real launch files start it through rl_f1_driver.process_guard.
Whatever ends the launch (Ctrl-C, SIGTERM to `ros2 launch`, the main node ending, gzserver
dying), every process of the launch's session must be gone within the 10 s budget.
Needs ROS 2 (launch) and the colcon-installed package; skips without them.
"""
import json
import os
import re
import signal
import stat
import time

import pytest

from ros_support import require_installed_package, wait_for

SHARE = require_installed_package()

BUDGET = 10.0
START_TIMEOUT = 60.0

FAKE_GZSERVER = '''#!/usr/bin/env python3
import json, os, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
with open(os.environ['RL_F1_FAKE_GZSERVER_LOG'], 'a') as f:
    f.write(json.dumps({'pid': os.getpid(), 'argv': sys.argv}) + '\\n')
while True:
    time.sleep(1)
'''


def _session(sid: int) -> list:
    """Living processes of session `sid` (ros2_launch starts each launch in its own)."""
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat') as f:
                text = f.read()
        except OSError:
            continue
        fields = text[text.rfind(')') + 2:].split()
        if fields[0] != 'Z' and int(fields[3]) == sid:
            found.append(int(entry))
    return found


@pytest.fixture
def fake_gazebo(tmp_path, monkeypatch):
    folder = tmp_path / 'bin'
    folder.mkdir()
    exe = folder / 'gzserver'
    exe.write_text(FAKE_GZSERVER)
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / 'gzserver.jsonl'
    monkeypatch.setenv('PATH', f'{folder}{os.pathsep}{os.environ["PATH"]}')
    monkeypatch.setenv('RL_F1_FAKE_GZSERVER_LOG', str(log))

    def started() -> dict:
        assert wait_for(log.exists, START_TIMEOUT), 'the fake gzserver was never started'
        return json.loads(log.read_text().splitlines()[0])
    return started


def _all_gone(proc, took_from: float, what: str, log) -> float:
    assert wait_for(lambda: proc.poll() is not None and not _session(proc.pid), BUDGET), (
        f'{what}: left behind {_session(proc.pid)}\n' + log.tail())
    took = time.monotonic() - took_from
    print(f'{what}: launch and every process gone {took:.2f} s later')
    return took


def _required_ended(name: str, text: str) -> bool:
    """What launch says when a process with on_exit=Shutdown ends (the Shutdown's reason
    itself is never logged in Humble)."""
    return re.search(rf'process\[{name}-\d+\] was required: shutting down launched system',
                     text) is not None


def test_gzserver_gets_gazebo_ros_plugins_and_the_world(fake_gazebo, launches):
    proc, log, _ = launches('world.launch.py', {'gui': 'false', 'circuit': 'simple'})
    argv = fake_gazebo()['argv']
    assert argv[1].endswith('simple.world')
    for plugin in ('libgazebo_ros_init.so', 'libgazebo_ros_factory.so'):
        assert argv[argv.index(plugin) - 1] == '-s'
    assert argv[argv.index('--params-file') + 1].endswith('gazebo.yaml')
    assert '' not in argv


@pytest.mark.parametrize('how', ['ctrl-c', 'sigterm-to-launch', 'gzserver-dies'])
def test_world_launch_ends_and_leaves_nothing(fake_gazebo, launches, how):
    proc, log, _ = launches('world.launch.py', {'gui': 'false'})
    gz = fake_gazebo()['pid']
    assert log.wait_for('process started with pid', START_TIMEOUT), log.tail()
    t0 = time.monotonic()
    if how == 'ctrl-c':
        os.killpg(proc.pid, signal.SIGINT)      # what a terminal's Ctrl-C does
    elif how == 'sigterm-to-launch':
        proc.send_signal(signal.SIGTERM)        # `kill <pid of ros2 launch>`
    else:
        os.kill(gz, signal.SIGKILL)             # Gazebo crashed
    _all_gone(proc, t0, how, log)
    if how == 'gzserver-dies':
        # Humble's launch logs neither a Shutdown's reason nor more than this about it.
        assert _required_ended('gzserver', log.text()), log.tail()


def test_drive_launch_ends_when_the_main_node_ends(fake_gazebo, launches):
    proc, log, _ = launches('drive.launch.py', {'gui': 'false', 'controller': 'pid'})
    fake_gazebo()
    drive = log.pid('drive_node', START_TIMEOUT)
    assert log.wait_for('driving from', START_TIMEOUT), log.tail()
    t0 = time.monotonic()
    os.kill(drive, signal.SIGINT)     # the main node ends (here: asked to)
    _all_gone(proc, t0, 'drive_node ended', log)
    assert _required_ended('drive_node', log.text()), log.tail()


def test_train_launch_ctrl_c_without_a_simulator_reply_ends_within_the_trainers_time(
        fake_gazebo, launches, tmp_path):
    """The fake gzserver sends no frames: train_node waits for its first one; Ctrl-C then
    ends train_node at once, and the guard stops holding Gazebo for it."""
    proc, log, _ = launches('train.launch.py', {'run_dir': tmp_path / 'run'})
    fake_gazebo()
    log.pid('train_node', START_TIMEOUT)
    assert log.wait_for('training on', START_TIMEOUT), log.tail()
    t0 = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    _all_gone(proc, t0, 'train.launch.py Ctrl-C', log)
