"""Look at a circuit in Gazebo: gzserver with the generated world, and the gzclient GUI.

    ros2 launch rl_f1_driver world.launch.py circuit:=hairpins

Shared arguments and actions: rl_f1_driver/launch_common.py.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration

from rl_f1_driver.launch_common import gazebo_actions, verbose_argument, world_arguments


def generate_launch_description():
    return LaunchDescription([
        *world_arguments(circuit_description='built-in circuit (worlds/<circuit>.world): '
                                             '`rl-f1 circuits` lists them'),
        DeclareLaunchArgument('gui', default_value='true',
                              description='start the gzclient GUI'),
        verbose_argument(),
        *gazebo_actions(client_condition=IfCondition(LaunchConfiguration('gui'))),
    ])
