"""The nodes' entry points: a missing ROS 2 package is one line naming it, not a traceback."""
import subprocess
import sys

from rl_f1_driver.node_entry import missing_package_line
from rl_f1_driver.node_process import node_command


def _run_entry(tmp_path, *args):
    # A stand-in gazebo_msgs that is not there: sim_node imports it before anything else.
    (tmp_path / 'gazebo_msgs.py').write_text(
        "raise ModuleNotFoundError(\"No module named 'gazebo_msgs'\", name='gazebo_msgs')\n")
    return subprocess.run([sys.executable, '-m', 'rl_f1_driver.node_entry', *args],
                          capture_output=True, text=True, timeout=120,
                          env={'PYTHONPATH': str(tmp_path), 'PATH': '/usr/bin:/bin'})


def test_node_without_gazebo_msgs_ends_with_one_line_naming_it(tmp_path):
    done = _run_entry(tmp_path, 'sim_node', '--ros-args')
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "sim_node: the ROS 2 package gazebo_msgs is not installed (No module named "
        "'gazebo_msgs'): apt-get install ros-$ROS_DISTRO-gazebo-msgs, or `make ros-wheels`"]


def test_unknown_node_gets_the_usage(tmp_path):
    done = _run_entry(tmp_path, 'fly_node')
    assert done.returncode == 2
    assert 'usage: python -m rl_f1_driver.node_entry {sim_node,train_node,drive_node}' \
        in done.stderr


def test_missing_rclpy_says_how_to_get_ros():
    line = missing_package_line('drive_node', ModuleNotFoundError("No module named 'rclpy'",
                                                                  name='rclpy'))
    assert line.startswith("drive_node: the ROS 2 package rclpy is not installed")
    assert '/opt/ros/humble/setup.bash' in line and 'make ros-wheels' in line


def test_node_command_starts_the_entry_point_with_both_parameter_files(tmp_path):
    cmd = node_command('train_node', tmp_path / 'p.yaml', python='py')
    assert cmd[:4] == ['py', '-m', 'rl_f1_driver.node_entry', 'train_node']
    assert cmd[4:] == ['--ros-args', '--params-file', cmd[6], '--params-file',
                       str(tmp_path / 'p.yaml')]
    assert cmd[6].endswith('config/ros.yaml')
