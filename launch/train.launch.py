"""Train the DQN on the simulated car: Gazebo (or the embedded sim_node), train_node, rviz.

    ros2 launch rl_f1_driver train.launch.py circuit:=simple
    ros2 launch rl_f1_driver train.launch.py gui:=true rviz:=true run_dir:=runs/gz1
    ros2 launch rl_f1_driver train.launch.py simulator:=embedded config:=config/train.yaml

Topic names and node settings: config/ros.yaml (ros_config:=FILE for your own copy).
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.conditions import IfCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution, PythonExpression
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

PACKAGE = 'rl_f1_driver'


def _is(name, value):
    """Condition: launch argument `name` equals `value` (case-insensitive)."""
    return IfCondition(PythonExpression(
        ["'", LaunchConfiguration(name), "'.lower() == '", value, "'"]))


def _both(name, value, flag):
    """Condition: `name` equals `value` and the boolean argument `flag` is true."""
    return IfCondition(PythonExpression(
        ["'", LaunchConfiguration(name), "'.lower() == '", value, "' and '",
         LaunchConfiguration(flag), "'.lower() in ('true', '1')"]))


def _string(name):
    # Without a type, launch parses an empty string as YAML null and the node gets no value.
    return ParameterValue(LaunchConfiguration(name), value_type=str)


def generate_launch_description():
    share = FindPackageShare(PACKAGE)
    gazebo_launch = PathJoinSubstitution([FindPackageShare('gazebo_ros'), 'launch'])
    circuit = LaunchConfiguration('circuit')
    ros_config = LaunchConfiguration('ros_config')
    return LaunchDescription([
        DeclareLaunchArgument(
            'circuit', default_value='simple',
            description='circuit to train on: the Gazebo world worlds/<circuit>.world and the '
                        'track of the trainer (simple, many_curves, hairpins, long)'),
        DeclareLaunchArgument(
            'world', default_value=PathJoinSubstitution([share, 'worlds', [circuit, '.world']]),
            description='Gazebo world file (default: the generated world of `circuit`)'),
        DeclareLaunchArgument(
            'simulator', default_value='gazebo', choices=['gazebo', 'embedded'],
            description='gazebo: gzserver with the world; embedded: sim_node, no Gazebo'),
        DeclareLaunchArgument('gui', default_value='false',
                              description='start the gzclient GUI (Gazebo only)'),
        DeclareLaunchArgument('rviz', default_value='false',
                              description='start rviz2 with config/rl_f1_driver.rviz'),
        DeclareLaunchArgument(
            'config', default_value='',
            description="training config YAML over config/defaults.yaml ('' for defaults)"),
        DeclareLaunchArgument(
            'ros_config', default_value=PathJoinSubstitution([share, 'config', 'ros.yaml']),
            description='ROS parameter file with topic names and node settings'),
        DeclareLaunchArgument('run_dir', default_value='runs/gazebo',
                              description='output folder of the training run'),
        DeclareLaunchArgument('resume', default_value='false',
                              description='continue the run in run_dir from its checkpoint'),
        DeclareLaunchArgument('verbose', default_value='false',
                              description='verbose Gazebo output'),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(PathJoinSubstitution([gazebo_launch,
                                                                'gzserver.launch.py'])),
            launch_arguments={
                'world': LaunchConfiguration('world'),
                'params_file': PathJoinSubstitution([share, 'config', 'gazebo.yaml']),
                'verbose': LaunchConfiguration('verbose'),
                'server_required': 'true',
            }.items(),
            condition=_is('simulator', 'gazebo')),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(PathJoinSubstitution([gazebo_launch,
                                                                'gzclient.launch.py'])),
            condition=_both('simulator', 'gazebo', 'gui')),
        Node(
            package=PACKAGE, executable='sim_node', name='sim_node', output='screen',
            parameters=[ros_config, {'track': _string('circuit'),
                                     'config_file': _string('config')}],
            condition=_is('simulator', 'embedded')),
        Node(
            package=PACKAGE, executable='train_node', name='train_node', output='screen',
            parameters=[ros_config, {
                'track': _string('circuit'),
                'config_file': _string('config'),
                'run_dir': _string('run_dir'),
                'resume': ParameterValue(LaunchConfiguration('resume'), value_type=bool),
                'use_sim_time': True,
            }]),
        Node(
            package='rviz2', executable='rviz2', name='rviz2', output='log',
            arguments=['-d', PathJoinSubstitution([share, 'config', 'rl_f1_driver.rviz'])],
            parameters=[{'use_sim_time': True}],
            condition=IfCondition(LaunchConfiguration('rviz'))),
    ])
