"""The interface packages ros_wheels/ builds for PyPI's ROS 2 wheels (tf2_msgs, gazebo_msgs):
the same types as the real packages, and an install that fails in one clear line.

Type hashes (RIHS01, what Iron and later match publishers and subscribers on) are compared
with rosbags' computation from the real definitions: tf2_msgs from rosbags' own store of the
released messages, gazebo_msgs from gazebo_ros_pkgs' documented fields written out below. A
message serialised by rclpy is read back with rosbags' Humble definitions: the same bytes as
Humble's packages. Where a sourced ROS 2 brings its own packages the hash checks skip.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ROOT / 'ros_wheels' / 'install.sh'

# gazebo_ros_pkgs' gazebo_msgs (ros2 branch), field for field, as its documentation gives them.
GAZEBO = {
    'gazebo_msgs/msg/EntityState': 'string name\ngeometry_msgs/Pose pose\n'
                                   'geometry_msgs/Twist twist\nstring reference_frame\n',
    'gazebo_msgs/msg/ModelStates': 'string[] name\ngeometry_msgs/Pose[] pose\n'
                                   'geometry_msgs/Twist[] twist\n',
}


def _built_hash(type_name: str) -> str:
    """The RIHS01 hash rosidl wrote for `type_name` when ros_wheels built it into this venv."""
    pkg, kind, name = type_name.split('/')
    path = Path(sys.prefix) / 'share' / pkg / kind / f'{name}.json'
    if not path.is_file():
        from ros_support import REQUIRED
        if REQUIRED and not os.environ.get('ROS_DISTRO'):
            pytest.fail(f'{path} missing: ros_wheels/install.sh has not built {pkg}')
        pytest.skip(f'{pkg} is not the ros_wheels build here ({path} missing)')
    data = json.loads(path.read_text())
    return data['type_hashes'][0]['hash_string']


def _store():
    from rosbags.typesys import Stores, get_typestore, get_types_from_msg
    store = get_typestore(Stores.LATEST)
    for type_name, text in GAZEBO.items():
        store.register(get_types_from_msg(text, type_name))
    return store


@pytest.mark.parametrize('type_name', ['tf2_msgs/msg/TFMessage', *GAZEBO])
def test_built_types_hash_like_the_real_packages(type_name):
    assert _built_hash(type_name) == _store().hash_rihs01(type_name)


def test_model_states_from_rclpy_read_back_with_humble_definitions():
    from ros_support import require_ros
    require_ros('gazebo_msgs.msg')
    from gazebo_msgs.msg import ModelStates
    from geometry_msgs.msg import Pose, Twist
    from rclpy.serialization import serialize_message
    from rosbags.typesys import Stores, get_typestore, get_types_from_msg
    pose = Pose()
    pose.position.x, pose.orientation.z, pose.orientation.w = 7.0, 0.6, 0.8
    twist = Twist()
    twist.linear.y = 3.0
    raw = serialize_message(ModelStates(name=['ground', 'f1_car'], pose=[Pose(), pose],
                                        twist=[Twist(), twist]))
    humble = get_typestore(Stores.ROS2_HUMBLE)
    humble.register(get_types_from_msg(GAZEBO['gazebo_msgs/msg/ModelStates'],
                                       'gazebo_msgs/msg/ModelStates'))
    back = humble.deserialize_cdr(raw, 'gazebo_msgs/msg/ModelStates')
    assert back.name == ['ground', 'f1_car']
    assert (back.pose[1].position.x, back.pose[1].orientation.z) == (7.0, 0.6)
    assert back.twist[1].linear.y == 3.0


def test_set_entity_state_service_has_gazebos_fields():
    from ros_support import require_ros
    require_ros('gazebo_msgs.srv')
    from gazebo_msgs.srv import SetEntityState
    assert SetEntityState.Request.get_fields_and_field_types() == {
        'state': 'gazebo_msgs/EntityState'}
    assert SetEntityState.Response.get_fields_and_field_types() == {'success': 'boolean'}


def _fake_tools(tmp_path, pip_error=None, cmake_fails=False):
    """A venv whose python and cmake fail as asked (no network, nothing installed)."""
    venv = tmp_path / 'venv'
    (venv / 'bin').mkdir(parents=True)
    python = venv / 'bin' / 'python'
    error = f'echo "{pip_error}" >&2; exit 1' if pip_error else 'exit 0'
    python.write_text(f'#!/bin/sh\nif [ "$2" = pip ]; then {error}; fi\nexit 0\n')
    python.chmod(0o755)
    tools = tmp_path / 'tools'
    tools.mkdir()
    if cmake_fails:
        cmake = tools / 'cmake'
        cmake.write_text('#!/bin/sh\necho "CMake Error: broken" >&2\nexit 1\n')
        cmake.chmod(0o755)
    env = dict(os.environ, PATH=f'{tools}{os.pathsep}{os.environ["PATH"]}')
    return venv, env


def _install(venv, env):
    done = subprocess.run(['bash', str(INSTALL), str(venv)], capture_output=True, text=True,
                          env=env, timeout=60)
    return done.returncode, done.stderr.strip().splitlines()


def test_install_that_pip_cannot_do_fails_in_one_line_naming_the_package(tmp_path):
    venv, env = _fake_tools(
        tmp_path, pip_error='ERROR: No matching distribution found for ros-rclpy==9.1.2')
    status, errors = _install(venv, env)
    assert status == 1
    assert errors == [f'ros_wheels/install.sh: pip could not install the ROS 2 wheels of '
                      f'requirements-ros.txt: ERROR: No matching distribution found for '
                      f'ros-rclpy==9.1.2 (log: {venv}/ros-build/pip.log)']


def test_interface_build_that_fails_names_the_package_and_its_log(tmp_path):
    venv, env = _fake_tools(tmp_path, cmake_fails=True)
    status, errors = _install(venv, env)
    assert status == 1
    assert errors == ['ros_wheels/install.sh: cmake could not configure the ROS 2 interface '
                      f'package tf2_msgs (log: {venv}/ros-build/tf2_msgs.log)']
    assert 'CMake Error: broken' in (venv / 'ros-build' / 'tf2_msgs.log').read_text()
