"""Actors on the ROS graph feed a learner elsewhere through the replay service on Ray
(here: the local Ray of `rl-f1 replay-server`, on loopback, separate processes): what
`train.launch.py simulator:=embedded role:=actor` starts (a lock-step sim_node and
train_node as an actor, processes on their own ROS domain: the nodes fixture,
ros_support.start_node), and `rl-f1 actor --backend ros` beside a running sim_node."""
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ros_support import fresh_domain_id, require_nodes, ros_env, stop_process, wait_for

require_nodes()
pytest.importorskip('ray')

QUICK = {'track': 'simple', 'seed': 0, 'env': {'observation': 'lines'},
         'train': {'steps': 10_000_000, 'initial_collect_steps': 300, 'log_interval': 200,
                   'eval_interval': 10_000_000, 'fc_layers': [16], 'stop_on_lap': False},
         'distributed': {'server_timeout': 5.0, 'learner_chunk': 25, 'pull_period': 100}}


def _rl_f1(tmp: Path, name: str, *args: str, env=None) -> tuple:
    log = tmp / f'{name}.log'
    with open(log, 'wb') as out:
        proc = subprocess.Popen([sys.executable, '-m', 'rl_f1_driver.cli', *args],
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                cwd=tmp, env=env or dict(os.environ, PYTHONUNBUFFERED='1',
                                                         TF_CPP_MIN_LOG_LEVEL='2'))
    return proc, log


def test_a_launched_ros_actor_feeds_a_learner(tmp_path, nodes):
    config = tmp_path / 'quick.yaml'
    config.write_text(yaml.safe_dump(QUICK))
    address_file = tmp_path / 'replay-address'
    server, server_log = _rl_f1(tmp_path, 'server', 'replay-server', '--config', str(config),
                                '--address-file', str(address_file))
    learner = None
    others: list = []
    ros_nodes: list = []
    try:
        assert wait_for(lambda: address_file.is_file() or server.poll() is not None, 180,
                        period=0.2), server_log.read_text()
        address, name = address_file.read_text().split()
        assert address.startswith('127.0.0.1:') and name == 'replay'
        ray = ['--ray-address', address, '--replay', name]
        learner, learner_log = _rl_f1(tmp_path, 'learner', 'learner', '--config', str(config),
                                      *ray, '--out', str(tmp_path / 'run'))
        sim, sim_log, domain = nodes('sim_node', {
            'track': 'simple', 'config_file': config, 'stepping': 'lockstep'})
        proc, log, _ = nodes('train_node', {
            'track': 'simple', 'config_file': config, 'run_dir': tmp_path / 'unused',
            'resume': False, 'role': 'actor', 'ray_address': address, 'replay': name,
            'actor_id': 3,
            'use_sim_time': True}, domain)
        ros_nodes += [proc, sim]
        # The actor drives sim_node's car through the ROS topics with the learner's weights...
        assert log.wait_for('actor 3: driving on simple', 240), log.tail() + sim_log.tail()
        # ... and the learner learns from it: progress lines naming one actor.
        assert wait_for(lambda: re.search(r'step\s+[\d,]+/.*\| 1 actors',
                                          learner_log.read_text()) is not None
                        or learner.poll() is not None, 300, period=0.5), \
            learner_log.read_text()[-3000:] + log.tail()
        assert learner.poll() is None
        assert not (tmp_path / 'unused').exists()   # an actor writes no run directory

        # A second machine's graph: sim_node already running (as `ros2 run rl_f1_driver
        # sim_node` with stepping lockstep), `rl-f1 actor --backend ros` on its domain.
        sim, _, domain = nodes('sim_node', {'stepping': 'lockstep'}, fresh_domain_id())
        ros_nodes.append(sim)
        actor, actor_log = _rl_f1(tmp_path, 'ros-actor', 'actor', '--config', str(config),
                                  *ray, '--id', '4', '--backend', 'ros',
                                  env=ros_env(domain))
        others.append(actor)
        assert wait_for(lambda: 'actor 4: driving on simple' in actor_log.read_text()
                        or actor.poll() is not None, 240, period=0.5), actor_log.read_text()
        assert wait_for(lambda: re.search(r'\| 2 actors', learner_log.read_text()) is not None,
                        300, period=0.5), learner_log.read_text()[-3000:]
    finally:
        # Ctrl-C to the actors, then to the simulators they drove (a sim_node still commanded
        # waits for its actor: drain_timeout), while the server is up; then the rest.
        for p in (*others, *ros_nodes):
            stop_process(p)
        for p in (*others, learner, server):
            if p is not None and p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(30)
