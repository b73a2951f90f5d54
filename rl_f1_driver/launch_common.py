"""Launch arguments and actions shared by launch/*.launch.py: Gazebo, sim_node and rviz.

Imported by the launch files only, at launch time (the package is on PYTHONPATH in a sourced
workspace). It uses the launch and launch_ros Python APIs, never rclpy.
"""
import os
import sys

from launch.actions import DeclareLaunchArgument, ExecuteProcess, Shutdown
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution, PythonExpression
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

PACKAGE = 'rl_f1_driver'
# Our nodes get a fully specified name ('/' + name): launch_ros then writes the launch
# arguments under the node's own name instead of `/**`, so they override the node's section of
# the parameter file (in Humble a node-specific entry beats a wildcard whatever the order).
NAMESPACE = ''
# gzserver ignores SIGINT and SIGTERM: it runs under rl_f1_driver.process_guard, which sends
# SIGINT and SIGKILLs it this many seconds later. Launch's own SIGTERM comes later still.
GUARD_GRACE = 3.0
GUARD_MARGIN = 2.0   # s launch waits beyond the guard's own limits before its SIGTERM


def node(executable: str, parameters: list, required: bool = False, **kwargs) -> Node:
    """One of our nodes: parameters from `ros_config`, then `parameters` (they win).

    `required`: the launch ends when this node ends (the main node of a launch file), with
    the node's exit as the reason, instead of leaving the simulator running on its own.
    """
    if required:
        kwargs['on_exit'] = Shutdown(reason=f'{executable} ended')
    return Node(package=PACKAGE, executable=executable, name=executable, namespace=NAMESPACE,
                output='screen', emulate_tty=True,
                parameters=[LaunchConfiguration('ros_config'), *parameters], **kwargs)


def _share():
    return FindPackageShare(PACKAGE)


def _is(name, value):
    """Condition: launch argument `name` equals `value` (case-insensitive)."""
    return IfCondition(PythonExpression(
        ["'", LaunchConfiguration(name), "'.lower() == '", value, "'"]))


def _both(name, value, flag):
    """Condition: `name` equals `value` and the boolean argument `flag` is true."""
    return IfCondition(PythonExpression(
        ["'", LaunchConfiguration(name), "'.lower() == '", value, "' and '",
         LaunchConfiguration(flag), "'.lower() in ('true', '1')"]))


def string_param(name):
    """Node parameter from launch argument `name`, always a string."""
    # Without a type, launch parses an empty string as YAML null and the node gets no value.
    return ParameterValue(LaunchConfiguration(name), value_type=str)


def world_arguments(circuit_description):
    """`circuit` and `world` (by default the generated world of the circuit)."""
    circuit = LaunchConfiguration('circuit')
    return [
        DeclareLaunchArgument('circuit', default_value='simple',
                              description=circuit_description),
        DeclareLaunchArgument(
            'world',
            # Humble's PathJoinSubstitution takes one substitution (or text) per part: join
            # the folder, then append the extension (a list of substitutions concatenates).
            default_value=[PathJoinSubstitution([_share(), 'worlds', circuit]), '.world'],
            description='Gazebo world file (default: the generated world of `circuit`)'),
    ]


def verbose_argument():
    return DeclareLaunchArgument('verbose', default_value='false',
                                 description='verbose Gazebo output')


def simulation_arguments(circuit_description, gui_default, config_description,
                         stepping_default='realtime'):
    """The arguments of simulation_actions(), and `config` for the nodes."""
    return [
        *world_arguments(circuit_description),
        DeclareLaunchArgument(
            'simulator', default_value='gazebo', choices=['gazebo', 'embedded'],
            description='gazebo: gzserver with the world; embedded: sim_node, no Gazebo'),
        DeclareLaunchArgument('gui', default_value=gui_default,
                              description='start the gzclient GUI (Gazebo only)'),
        DeclareLaunchArgument('rviz', default_value='false',
                              description='start rviz2 with config/rl_f1_driver.rviz'),
        DeclareLaunchArgument('config', default_value='', description=config_description),
        DeclareLaunchArgument(
            'ros_config', default_value=PathJoinSubstitution([_share(), 'config', 'ros.yaml']),
            description='ROS parameter file with topic names and node settings'),
        DeclareLaunchArgument(
            'stepping', default_value=stepping_default, choices=['realtime', 'lockstep'],
            description='sim_node only: realtime (camera rate, for watching) or lockstep (one '
                        'control period per command, as fast as the nodes go)'),
        verbose_argument(),
    ]


def guarded(cmd: list, name: str, hold_while: tuple = (), hold_max: float = 0.0) -> list:
    """`cmd` run under rl_f1_driver.process_guard (see there): stopped for sure, however the
    launch ends. The guard runs on this launch's Python, which imports this package."""
    hold = [a for n in hold_while for a in ('--hold-while', n)]
    if hold:
        hold += ['--hold-max', f'{hold_max:g}']
    return [sys.executable, '-m', f'{PACKAGE}.process_guard', '--grace', f'{GUARD_GRACE:g}',
            '--name', name, *hold, '--', *cmd]


def gazebo_environment() -> dict:
    """GAZEBO_MODEL/PLUGIN/RESOURCE_PATH as gazebo_ros's launch files set them: the paths the
    installed packages export (our worlds/models among them), then the user's."""
    try:
        from scripts import GazeboRosPaths   # gazebo_ros's helper, where it is installed
        paths = list(GazeboRosPaths.get_paths())
    except Exception:  # noqa: BLE001 - no gazebo_ros: only the user's paths
        paths = ['', '', '']
    env = {}
    for key, value in zip(('GAZEBO_MODEL_PATH', 'GAZEBO_PLUGIN_PATH', 'GAZEBO_RESOURCE_PATH'),
                          paths):
        joined = os.pathsep.join(p for p in (value, os.environ.get(key, '')) if p)
        if joined:
            env[key] = joined
    return env


def _flag(name: str, option: str):
    """`option` when the boolean launch argument `name` is true, else '' (the guard drops it)."""
    return PythonExpression(["'", option, "' if '", LaunchConfiguration(name),
                             "'.lower() in ('true', '1') else ''"])


def gazebo_actions(server_condition=None, client_condition=None, hold_while: tuple = (),
                   hold_max: float = 0.0):
    """gzserver with `world`, our config/gazebo.yaml (clock rate) and `verbose`; gzclient.

    The command line of gazebo_ros's gzserver.launch.py with its defaults (the init, factory
    and force_system plugins, the params file between --ros-args and --), but run under our
    process guard: gzserver ignores SIGINT and SIGTERM, and ros2 launch that gets SIGTERM
    leaves its processes behind. When gzserver ends the launch ends (server_required).
    `hold_while`: node executables that still need the simulator after Ctrl-C (the trainer
    evaluates and exports), kept at most `hold_max` s.
    """
    server = ['gzserver', LaunchConfiguration('world'), _flag('verbose', '--verbose'),
              '-s', 'libgazebo_ros_init.so', '-s', 'libgazebo_ros_factory.so',
              '-s', 'libgazebo_ros_force_system.so',
              '--ros-args', '--params-file',
              PathJoinSubstitution([_share(), 'config', 'gazebo.yaml']), '--']
    env = gazebo_environment()
    # Launch's SIGTERM (and SIGKILL 2 s later) only if the guard itself hangs.
    server_wait = hold_max + GUARD_GRACE + GUARD_MARGIN
    return [
        ExecuteProcess(
            cmd=guarded(server, 'gzserver', hold_while, hold_max), name='gzserver',
            output='both', additional_env=env, on_exit=Shutdown(reason='gzserver ended'),
            sigterm_timeout=f'{server_wait:g}', sigkill_timeout='2',
            condition=server_condition),
        ExecuteProcess(
            cmd=guarded(['gzclient', _flag('verbose', '--verbose')], 'gzclient'),
            name='gzclient', output='screen', additional_env=env,
            sigterm_timeout=f'{GUARD_GRACE + GUARD_MARGIN:g}', sigkill_timeout='2',
            condition=client_condition),
    ]


def simulation_actions(sim_required=False, stop_timeout=None):
    """Gazebo (simulator:=gazebo) or sim_node (simulator:=embedded), and rviz (rviz:=true).

    `sim_required`: the launch ends when sim_node ends (driving: nothing left to drive).
    Training leaves it to train_node, which then saves its checkpoint and names what stopped.
    `stop_timeout`: seconds sim_node may take to stop after Ctrl-C before SIGTERM (it serves
    the trainer's last steps and evaluation first; see sim_node's drain_timeout).
    """
    extra = {} if stop_timeout is None else {'sigterm_timeout': str(stop_timeout)}
    # The trainer needs Gazebo for its last steps after Ctrl-C as it needs sim_node.
    hold = {} if stop_timeout is None else {'hold_while': ('train_node',),
                                            'hold_max': float(stop_timeout)}
    return [
        *gazebo_actions(server_condition=_is('simulator', 'gazebo'),
                        client_condition=_both('simulator', 'gazebo', 'gui'), **hold),
        node('sim_node', [{'track': string_param('circuit'),
                           'config_file': string_param('config'),
                           'stepping': string_param('stepping')}],
             required=sim_required, condition=_is('simulator', 'embedded'), **extra),
        Node(
            package='rviz2', executable='rviz2', name='rviz2', output='log',
            arguments=['-d', PathJoinSubstitution([_share(), 'config', 'rl_f1_driver.rviz'])],
            parameters=[{'use_sim_time': True}],
            condition=IfCondition(LaunchConfiguration('rviz'))),
    ]
