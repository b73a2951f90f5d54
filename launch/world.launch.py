"""Look at a circuit in Gazebo: gzserver with the generated world, and the gzclient GUI.

    ros2 launch rl_f1_driver world.launch.py circuit:=hairpins
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.conditions import IfCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare

PACKAGE = 'rl_f1_driver'


def generate_launch_description():
    share = FindPackageShare(PACKAGE)
    gazebo_launch = PathJoinSubstitution([FindPackageShare('gazebo_ros'), 'launch'])
    circuit = LaunchConfiguration('circuit')
    return LaunchDescription([
        DeclareLaunchArgument(
            'circuit', default_value='simple',
            description='built-in circuit (worlds/<circuit>.world): simple, many_curves, '
                        'hairpins, long'),
        DeclareLaunchArgument(
            'world', default_value=PathJoinSubstitution([share, 'worlds', [circuit, '.world']]),
            description='Gazebo world file (default: the generated world of `circuit`)'),
        DeclareLaunchArgument('gui', default_value='true',
                              description='start the gzclient GUI'),
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
            }.items()),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(PathJoinSubstitution([gazebo_launch,
                                                                'gzclient.launch.py'])),
            condition=IfCondition(LaunchConfiguration('gui'))),
    ])
