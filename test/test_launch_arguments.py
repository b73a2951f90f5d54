"""Every launch argument reaches the running nodes, and a launch ends with its main node.

`ros2 launch rl_f1_driver ...` of the installed package (colcon), as a user types it; the
nodes' parameters are read back from the running nodes through their parameter services. In
ROS 2 Humble a node's section of a parameter file beats launch arguments passed as wildcard
parameters, which once made `run_dir:=`, `policy_dir:=` and friends silently ineffective.
Gazebo-only arguments (world, gui, verbose) and rviz cannot run here; --show-args covers them
(test_ros_install.py).
"""
import subprocess
from pathlib import Path

import pytest
import yaml

from ros_support import Probe, require_installed_package, ros_config_with, wait_for

SHARE = require_installed_package()

QUICK = {'track': 'simple', 'seed': 0,
         'train': {'steps': 400, 'initial_collect_steps': 100, 'eval_interval': 200,
                   'eval_max_steps': 50, 'fc_layers': [8]}}


def _custom_ros_config(tmp_path: Path) -> Path:
    """The shipped ros.yaml with node-section values changed."""
    return ros_config_with(tmp_path, train_node={'frame_timeout': 7.5},
                           sim_node={'start': 0.25}, drive_node={'frame_timeout': 0.75})


def test_train_launch_arguments_reach_train_node_and_sim_node(tmp_path, launches):
    config = tmp_path / 'quick.yaml'
    config.write_text(yaml.safe_dump(QUICK))
    run_dir = tmp_path / 'my_run'
    proc, log, domain = launches('train.launch.py', {
        'simulator': 'embedded', 'circuit': 'hairpins', 'config': config,
        'run_dir': run_dir, 'resume': 'false', 'stepping': 'realtime',
        'ros_config': _custom_ros_config(tmp_path)})
    probe = Probe(domain)
    try:
        train = probe.parameters('/train_node', ['track', 'config_file', 'run_dir', 'resume',
                                                 'frame_timeout'])
        sim = probe.parameters('/sim_node', ['track', 'config_file', 'stepping', 'start'])
    finally:
        probe.close()
    assert train == {'track': 'hairpins', 'config_file': str(config), 'run_dir': str(run_dir),
                     'resume': False, 'frame_timeout': 7.5}, log.text()[-3000:]
    assert sim == {'track': 'hairpins', 'config_file': str(config), 'stepping': 'realtime',
                   'start': 0.25}
    # And the effect: the run directory named on the command line is the one written.
    assert wait_for(lambda: (run_dir / 'config.yaml').is_file(), 60), log.text()[-3000:]
    assert yaml.safe_load((run_dir / 'config.yaml').read_text())['track'] == 'hairpins'


def test_drive_launch_arguments_reach_drive_node_and_sim_node(tmp_path, launches):
    proc, log, domain = launches('drive.launch.py', {
        'simulator': 'embedded', 'circuit': 'many_curves', 'controller': 'pid',
        'policy_dir': tmp_path / 'unused', 'stepping': 'lockstep',
        'ros_config': _custom_ros_config(tmp_path)})
    probe = Probe(domain)
    try:
        drive = probe.parameters('/drive_node', ['controller', 'policy_dir', 'track',
                                                 'config_file', 'frame_timeout'])
        sim = probe.parameters('/sim_node', ['track', 'stepping'])
    finally:
        probe.close()
    assert drive == {'controller': 'pid', 'policy_dir': str(tmp_path / 'unused'),
                     'track': 'many_curves', 'config_file': '', 'frame_timeout': 0.75}, \
        log.text()[-3000:]
    assert sim == {'track': 'many_curves', 'stepping': 'lockstep'}


def test_drive_launch_ends_when_drive_node_cannot_start(tmp_path, launches):
    missing = tmp_path / 'no_such_policy'
    proc, log, _ = launches('drive.launch.py', {'simulator': 'embedded',
                                                'policy_dir': missing})
    try:
        proc.wait(120)
    except subprocess.TimeoutExpired:
        pytest.fail('the launch kept running after drive_node failed:\n'
                    + log.text()[-3000:])
    text = log.text()
    assert str(missing) in text          # drive_node says which folder is wrong
    # The launch says why it ends, and stops the simulator.
    assert 'process[drive_node-2] was required: shutting down launched system' in text
    assert 'process[sim_node-1]' in text and 'process has finished cleanly' in text


def test_train_launch_resume_of_an_empty_run_dir_is_refused_and_the_launch_ends(
        tmp_path, launches):
    empty = tmp_path / 'nothing_here'
    proc, log, _ = launches('train.launch.py', {'simulator': 'embedded', 'run_dir': empty,
                                                'resume': 'true'})
    try:
        proc.wait(120)
    except subprocess.TimeoutExpired:
        pytest.fail('the launch kept running after train_node failed:\n'
                    + log.text()[-3000:])
    text = log.text()
    assert 'resume' in text and str(empty) in text
    assert 'process[train_node-2] was required: shutting down launched system' in text
