"""Train the DQN on the simulated car: Gazebo (or the embedded sim_node), train_node, rviz.

    ros2 launch rl_f1_driver train.launch.py circuit:=simple
    ros2 launch rl_f1_driver train.launch.py gui:=true rviz:=true run_dir:=runs/gz1
    ros2 launch rl_f1_driver train.launch.py simulator:=embedded config:=config/train.yaml
    ros2 launch rl_f1_driver train.launch.py role:=actor ray_address:=head-host:6379 actor_id:=1

Topic names and node settings: config/ros.yaml (ros_config:=FILE for your own copy).
Shared arguments and actions: rl_f1_driver/launch_common.py.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.parameter_descriptions import ParameterValue

from rl_f1_driver.launch_common import (node, simulation_actions, simulation_arguments,
                                        string_param)

STOP_TIMEOUT = 180   # s after Ctrl-C before SIGTERM: an evaluation lap each way, in real time


def generate_launch_description():
    return LaunchDescription([
        *simulation_arguments(
            circuit_description='circuit to train on: the Gazebo world '
                                'worlds/<circuit>.world and the track of the trainer '
                                '(`rl-f1 circuits` lists them)',
            gui_default='false',
            config_description="training config YAML over config/defaults.yaml ('' for "
                               "defaults)",
            stepping_default='lockstep'),
        DeclareLaunchArgument('run_dir', default_value='runs/gazebo',
                              description='output folder of the training run'),
        DeclareLaunchArgument('resume', default_value='false',
                              description='continue the run in run_dir from its checkpoint'),
        DeclareLaunchArgument('role', default_value='train', choices=['train', 'actor'],
                              description='train: the whole DQN here; actor: drive this '
                                          "simulator for a learner on another machine "
                                          '(rl-f1 learner) through the replay service on '
                                          'Ray'),
        DeclareLaunchArgument('ray_address', default_value='',
                              description='role actor: the Ray cluster, HOST:PORT of its '
                                          'head (`ray start --head` prints it)'),
        DeclareLaunchArgument('replay', default_value='replay',
                              description='role actor: the replay service\'s name there '
                                          '(rl-f1 replay-server --replay)'),
        DeclareLaunchArgument('actor_id', default_value='0',
                              description='role actor: its number (seeds its episodes, '
                                          'tags its data)'),
        # Ctrl-C: train_node finishes its chunk, evaluates, checkpoints and exports before it
        # exits, and sim_node serves it meanwhile: both get time before SIGTERM.
        *simulation_actions(stop_timeout=STOP_TIMEOUT + 10),
        # The main node: when training ends (or fails) the launch ends with it.
        node('train_node', [{
            'track': string_param('circuit'),
            'config_file': string_param('config'),
            'run_dir': string_param('run_dir'),
            'resume': ParameterValue(LaunchConfiguration('resume'), value_type=bool),
            'role': string_param('role'),
            'ray_address': string_param('ray_address'),
            'replay': string_param('replay'),
            'actor_id': ParameterValue(LaunchConfiguration('actor_id'), value_type=int),
            'use_sim_time': True,
        }], required=True, sigterm_timeout=str(STOP_TIMEOUT)),
    ])
