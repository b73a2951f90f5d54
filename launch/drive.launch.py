"""Drive the car with an exported policy (or the PID baseline): Gazebo or sim_node, rviz.

    ros2 launch rl_f1_driver drive.launch.py policy_dir:=runs/gz1/policy
    ros2 launch rl_f1_driver drive.launch.py controller:=pid circuit:=hairpins rviz:=true
    ros2 launch rl_f1_driver drive.launch.py simulator:=embedded policy_dir:=runs/q/policy

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
            description='circuit to drive: worlds/<circuit>.world (simple, many_curves, '
                        'hairpins, long)'),
        DeclareLaunchArgument(
            'world', default_value=PathJoinSubstitution([share, 'worlds', [circuit, '.world']]),
            description='Gazebo world file (default: the generated world of `circuit`)'),
        DeclareLaunchArgument(
            'simulator', default_value='gazebo', choices=['gazebo', 'embedded'],
            description='gazebo: gzserver with the world; embedded: sim_node, no Gazebo'),
        DeclareLaunchArgument('gui', default_value='true',
                              description='start the gzclient GUI (Gazebo only)'),
        DeclareLaunchArgument('rviz', default_value='false',
                              description='start rviz2 with config/rl_f1_driver.rviz'),
        DeclareLaunchArgument(
            'policy_dir', default_value='',
            description='exported policy folder (needed for controller:=policy)'),
        DeclareLaunchArgument(
            'controller', default_value='policy', choices=['policy', 'pid'],
            description='policy: the trained DQN; pid: the baseline line follower'),
        DeclareLaunchArgument(
            'config', default_value='',
            description="config YAML ('' drives with the config saved with the policy; "
                        "pid: the defaults)"),
        DeclareLaunchArgument(
            'ros_config', default_value=PathJoinSubstitution([share, 'config', 'ros.yaml']),
            description='ROS parameter file with topic names and node settings'),
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
            package=PACKAGE, executable='drive_node', name='drive_node', output='screen',
            parameters=[ros_config, {
                'policy_dir': _string('policy_dir'),
                'controller': _string('controller'),
                'config_file': _string('config'),
                'use_sim_time': True,
            }]),
        Node(
            package='rviz2', executable='rviz2', name='rviz2', output='log',
            arguments=['-d', PathJoinSubstitution([share, 'config', 'rl_f1_driver.rviz'])],
            parameters=[{'use_sim_time': True}],
            condition=IfCondition(LaunchConfiguration('rviz'))),
    ])
