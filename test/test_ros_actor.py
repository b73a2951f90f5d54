"""Actors on the ROS graph feed a learner elsewhere through the replay server (here:
localhost, separate processes): `train.launch.py role:=actor` (a simulator and an actor on
their own ROS domain), and `rl-f1 actor --backend ros` beside a running sim_node."""
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ros_support import fresh_domain_id, require_installed_package, ros_env, wait_for

SHARE = require_installed_package()
pytest.importorskip('reverb')

QUICK = {'track': 'simple', 'seed': 0, 'env': {'observation': 'lines'},
         'train': {'steps': 10_000_000, 'initial_collect_steps': 300, 'log_interval': 200,
                   'eval_interval': 10_000_000, 'fc_layers': [16], 'stop_on_lap': False},
         'distributed': {'server_timeout': 5.0, 'learner_chunk': 25, 'pull_period': 100}}


def _rl_f1(tmp: Path, name: str, *args: str, cmd=None, env=None) -> tuple:
    log = tmp / f'{name}.log'
    with open(log, 'wb') as out:
        proc = subprocess.Popen(cmd or [sys.executable, '-m', 'rl_f1_driver.cli', *args],
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                cwd=tmp, env=env or dict(os.environ, PYTHONUNBUFFERED='1',
                                                         TF_CPP_MIN_LOG_LEVEL='2'))
    return proc, log


def test_a_launched_ros_actor_feeds_a_learner(tmp_path, launches):
    config = tmp_path / 'quick.yaml'
    config.write_text(yaml.safe_dump(QUICK))
    port_file = tmp_path / 'port'
    server, server_log = _rl_f1(tmp_path, 'server', 'replay-server', '--config', str(config),
                                '--port-file', str(port_file))
    learner = None
    others: list = []
    try:
        assert wait_for(lambda: port_file.is_file() or server.poll() is not None, 180,
                        period=0.2), server_log.read_text()
        address = f'localhost:{port_file.read_text().strip()}'
        learner, learner_log = _rl_f1(tmp_path, 'learner', 'learner', '--config', str(config),
                                      '--replay', address, '--out', str(tmp_path / 'run'))
        proc, log, _ = launches('train.launch.py', {
            'simulator': 'embedded', 'config': config, 'role': 'actor', 'replay': address,
            'actor_id': '3', 'run_dir': tmp_path / 'unused'})
        # The actor drives sim_node's car through the ROS topics with the learner's weights...
        assert log.wait_for('actor 3: driving on simple', 240), log.tail()
        # ... and the learner learns from it: progress lines naming one actor.
        assert wait_for(lambda: re.search(r'step\s+[\d,]+/.*\| 1 actors',
                                          learner_log.read_text()) is not None
                        or learner.poll() is not None, 300, period=0.5), \
            learner_log.read_text()[-3000:] + log.tail()
        assert learner.poll() is None
        assert not (tmp_path / 'unused').exists()   # an actor writes no run directory

        # A second machine's graph: sim_node already running, `rl-f1 actor --backend ros`.
        env = ros_env(fresh_domain_id())
        sim, _ = _rl_f1(tmp_path, 'sim', env=env, cmd=[
            'ros2', 'run', 'rl_f1_driver', 'sim_node', '--ros-args', '--params-file',
            str(SHARE / 'config' / 'ros.yaml'), '-p', 'sim_node:stepping:=lockstep'])
        actor, actor_log = _rl_f1(tmp_path, 'ros-actor', 'actor', '--config', str(config),
                                  '--replay', address, '--id', '4', '--backend', 'ros', env=env)
        others += [sim, actor]
        assert wait_for(lambda: 'actor 4: driving on simple' in actor_log.read_text()
                        or actor.poll() is not None, 240, period=0.5), actor_log.read_text()
        assert wait_for(lambda: re.search(r'\| 2 actors', learner_log.read_text()) is not None,
                        300, period=0.5), learner_log.read_text()[-3000:]
    finally:
        for p in (*others, learner, server):
            if p is not None and p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(30)
