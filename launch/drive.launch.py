"""Drive the car with an exported policy (or the PID baseline): Gazebo or sim_node, rviz.

    ros2 launch rl_f1_driver drive.launch.py policy_dir:=runs/gz1/policy
    ros2 launch rl_f1_driver drive.launch.py controller:=pid circuit:=hairpins rviz:=true
    ros2 launch rl_f1_driver drive.launch.py simulator:=embedded policy_dir:=runs/q/policy

Topic names and node settings: config/ros.yaml (ros_config:=FILE for your own copy).
Shared arguments and actions: rl_f1_driver/launch_common.py.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument

from rl_f1_driver.launch_common import (node, simulation_actions, simulation_arguments,
                                        string_param)


def generate_launch_description():
    return LaunchDescription([
        *simulation_arguments(
            circuit_description='circuit to drive: worlds/<circuit>.world (`rl-f1 circuits` '
                                'lists them)',
            gui_default='true',
            config_description="config YAML ('' drives with the config saved with the "
                               "policy; pid: the defaults)"),
        DeclareLaunchArgument(
            'policy_dir', default_value='',
            description='exported policy folder (needed for controller:=policy)'),
        DeclareLaunchArgument(
            'controller', default_value='policy', choices=['policy', 'pid'],
            description='policy: the trained DQN; pid: the baseline line follower'),
        *simulation_actions(sim_required=True),
        # The main node: when it ends (or cannot start) the launch ends with it.
        node('drive_node', [{
            'track': string_param('circuit'),
            'policy_dir': string_param('policy_dir'),
            'controller': string_param('controller'),
            'config_file': string_param('config'),
            'use_sim_time': True,
        }], required=True),
    ])
