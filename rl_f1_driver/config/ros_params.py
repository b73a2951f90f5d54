"""Node parameters: the ROS parameter file config/ros.yaml, loaded and checked without rclpy.

config/ros.yaml (format `node_name: ros__parameters: {...}`, plus a shared `/**` section) is
the one source of every node's defaults: the nodes declare their parameters with the values
found there, the launch files pass the same file (or the user's) to the nodes, and the world
generator writes the shared topic names into the Gazebo worlds. A key the spec below does not
know, a missing key or a wrong type is an error naming the file, node and key.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple, Union

from .loader import read_yaml
from ..errors import ConfigError
from ..paths import config_dir

WILDCARD = '/**'
ROS_PARAMETERS = 'ros__parameters'
_NAME = re.compile(r'^~?/?[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$')


@dataclass(frozen=True)
class Param:
    kind: type                      # str, bool, int or float
    doc: str
    choices: Optional[Tuple[str, ...]] = None
    lo: Optional[float] = None
    hi: Optional[float] = None
    name: bool = False              # a ROS topic, service or namespace name
    frame: bool = False             # a TF frame id

    def expected(self) -> str:
        if self.choices:
            return f'one of {", ".join(self.choices)}'
        if self.name:
            return 'a ROS name like /f1/camera/image_raw'
        if self.frame:
            return 'a TF frame id (letters, digits, _ and /, no leading /)'
        what = {str: 'a string', bool: 'true or false', int: 'an integer',
                float: 'a number (written with a decimal point, e.g. 5.0)'}[self.kind]
        if self.lo is not None and self.hi is not None:
            return f'{what} in [{self.lo}, {self.hi}]'
        if self.lo is not None:
            return f'{what} >= {self.lo}'
        return what

    def check(self, value: Any) -> bool:
        if self.kind is bool:
            return isinstance(value, bool)
        if self.kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif self.kind is float:
            # A ROS parameter declared as double rejects an integer: insist on 5.0, not 5.
            ok = isinstance(value, float) and math.isfinite(value)
        else:
            ok = isinstance(value, str)
            if ok and self.choices:
                return value in self.choices
            if ok and self.name:
                return bool(_NAME.match(value))
            if ok and self.frame:
                return bool(re.match(r'^[A-Za-z_][A-Za-z0-9_/]*$', value))
            return ok
        if not ok:
            return False
        return ((self.lo is None or value >= self.lo)
                and (self.hi is None or value <= self.hi))


def _topic(doc: str) -> Param:
    return Param(str, doc, name=True)


# Keys several nodes share (and the world generator reads): the `/**` section.
SHARED: Dict[str, Param] = {
    'car_model': Param(str, 'Gazebo model name of the car', name=True),
    'car_namespace': _topic('ROS namespace of the car plugins in the Gazebo world'),
    'camera_topic': _topic('sensor_msgs/Image from the car camera'),
    'cmd_vel_topic': _topic('geometry_msgs/Twist commands to the car'),
    'odom_topic': _topic('nav_msgs/Odometry of the car (world pose: ground truth)'),
    'overlay_topic': _topic('sensor_msgs/Image: perception overlay'),
    'path_topic': _topic('nav_msgs/Path: the driven path'),
    'circuit_topic': _topic('visualization_msgs/MarkerArray, latched: road edges, red line, '
                            'start line and the car (rviz, recordings, live view)'),
    'numbers_topic': _topic('visualization_msgs/MarkerArray: the numbers of the run as text '
                            'over the car in rviz (lap %, speed, ...; training: episode, '
                            'return, ...)'),
    'telemetry_namespace': _topic('std_msgs/Float32 signals under it for plots: speed, '
                                  'deviation, reward, loss, epsilon (rl-f1 recordings and '
                                  'live view)'),
    'model_states_topic': _topic('gazebo_msgs/ModelStates from libgazebo_ros_state.so'),
    'set_entity_state_service': _topic('gazebo_msgs/srv/SetEntityState: place the car'),
    'reset_world_service': _topic('std_srvs/srv/Empty: fallback reset of model poses'),
    'pause_service': _topic('std_srvs/srv/Empty: pause physics'),
    'unpause_service': _topic('std_srvs/srv/Empty: unpause physics'),
    'odom_frame': Param(str, 'fixed frame of odometry and paths', frame=True),
    'base_frame': Param(str, 'frame of the car', frame=True),
    'camera_frame': Param(str, 'frame_id of camera images', frame=True),
}

_LINK = {
    'startup_timeout': Param(float, 'wall seconds to wait for the first frame and services',
                             lo=0.1),
    'frame_timeout': Param(float, 'wall seconds to wait for a frame after an action', lo=0.01),
    'service_timeout': Param(float, 'wall seconds to wait for a service response', lo=0.01),
    'reset_retries': Param(int, 'extra attempts when a reset gets no fresh frame', lo=0, hi=100),
    'reset_skip_frames': Param(int, 'frames dropped after a reset (may show the old scene)',
                               lo=0, hi=100),
    'reset_pose_tolerance': Param(float, 'm: a frame after a reset is accepted when the '
                                  'ground truth is this close to the requested pose', lo=0.0),
    'pause_physics': Param(bool, 'pause physics between steps (deterministic step length)'),
    'ground_truth': Param(str, 'source of Frame.pose and speed', choices=('odom',
                                                                          'model_states')),
    'ground_truth_tolerance': Param(float, 's: max stamp distance between a frame and its '
                                    'ground-truth pose', lo=0.0),
}

_MONITOR = {
    'publish_overlay': Param(bool, 'publish the perception overlay image'),
    'overlay_every': Param(int, 'publish the overlay for every n-th frame', lo=1, hi=1000),
    'path_max_points': Param(int, 'poses kept in the published path', lo=2, hi=1_000_000),
    'path_min_spacing': Param(float, 'm between recorded path poses', lo=0.0),
}

_CONFIG = {
    'config_file': Param(str, "config YAML layered over config/defaults.yaml ('' for none)"),
    'track': Param(str, "circuit name or YAML path ('' takes `track` from the config)"),
}

NODES: Dict[str, Dict[str, Param]] = {
    'train_node': {
        **{k: SHARED[k] for k in ('car_model', 'camera_topic', 'cmd_vel_topic', 'odom_topic',
                                  'overlay_topic', 'path_topic', 'model_states_topic',
                                  'set_entity_state_service', 'reset_world_service',
                                  'pause_service', 'unpause_service', 'odom_frame',
                                  'base_frame', 'camera_frame', 'circuit_topic',
                                  'numbers_topic')},
        **_CONFIG, **_LINK, **_MONITOR,
        'run_dir': Param(str, 'output folder of the training run'),
        'resume': Param(bool, 'continue the run in run_dir from its last checkpoint'),
        'allow_config_change': Param(bool, 'resume even if the config differs'),
        'stats_topic': _topic('std_msgs/String: JSON statistics of each finished episode'),
        'role': Param(str, 'train: the whole DQN here; actor: drive for a learner through '
                           'the replay service `replay` on Ray', choices=('train', 'actor')),
        'ray_address': Param(str, "actor: the Ray cluster, HOST:PORT of its head ('' for "
                                  "none)"),
        'replay': Param(str, 'actor: the replay service\'s name on that cluster'),
        'actor_id': Param(int, 'actor: its number (seeds its episodes, tags its data)', lo=0),
    },
    'drive_node': {
        **{k: SHARED[k] for k in ('camera_topic', 'cmd_vel_topic', 'odom_topic',
                                  'overlay_topic', 'path_topic', 'odom_frame', 'base_frame',
                                  'camera_frame', 'circuit_topic', 'numbers_topic')},
        **_MONITOR,
        'config_file': _CONFIG['config_file'],
        'policy_dir': Param(str, 'exported policy folder (controller: policy)'),
        'controller': Param(str, 'policy: the trained DQN; pid: the baseline controller',
                            choices=('policy', 'pid')),
        'frame_timeout': Param(float, 'watchdog: stop the car when no frame arrived for this '
                               'many wall seconds', lo=0.01),
        'watchdog_period': Param(float, 'seconds between watchdog checks', lo=0.005),
        'stop_repeat': Param(float, 'seconds between repeated stop commands while stopped',
                             lo=0.01),
        'use_cv_bridge': Param(bool, 'convert images with cv_bridge when it is installed'),
        'track': Param(str, "circuit driven, for the lap statistics (name or YAML path; '' "
                            "takes `track` from the config)"),
        'stats_topic': _topic('std_msgs/String: JSON statistics of each lap and episode'),
    },
    'sim_node': {
        **{k: SHARED[k] for k in ('car_model', 'camera_topic', 'cmd_vel_topic', 'odom_topic',
                                  'set_entity_state_service', 'reset_world_service',
                                  'pause_service', 'unpause_service', 'odom_frame',
                                  'base_frame', 'camera_frame')},
        **_CONFIG,
        'start': Param(float, 'lap fraction of the start pose (also /reset_world)', lo=0.0,
                       hi=1.0),
        'stepping': Param(str, 'realtime: a timer steps the car (real_time_factor); '
                               'lockstep: each cmd_vel message advances one control period',
                          choices=('realtime', 'lockstep')),
        'real_time_factor': Param(float, 'simulated seconds per wall second (realtime)',
                                  lo=0.01, hi=100.0),
        'idle_republish': Param(float, 'lockstep: wall seconds without a command after which '
                                'the latest frame is sent again (start-up, lost frames)',
                                lo=0.01),
        'publish_clock': Param(bool, 'publish /clock (simulation time) like Gazebo'),
        'drain_timeout': Param(float, 'after Ctrl-C, keep serving at most this many wall '
                               'seconds while a node still publishes cmd_vel (the trainer '
                               'finishing)', lo=0.0),
    },
}


def default_file() -> Path:
    return config_dir() / 'ros.yaml'


def load_param_file(path: Union[str, Path]) -> Dict[str, Dict[str, Any]]:
    """{node name or '/**': {parameter: value}} from a ROS 2 parameter file, checked."""
    data = read_yaml(path, 'ROS parameter')
    if not isinstance(data, Mapping):
        raise ConfigError(f'{path}: expected a mapping of node names to '
                          f'{{{ROS_PARAMETERS}: ...}}, got {type(data).__name__}')
    out: Dict[str, Dict[str, Any]] = {}
    for node, section in data.items():
        if not isinstance(section, Mapping) or set(section) != {ROS_PARAMETERS}:
            raise ConfigError(f'{path}: {node}: expected exactly one key {ROS_PARAMETERS!r} '
                              f'holding the parameters, got {section!r}')
        values = section[ROS_PARAMETERS] or {}
        if not isinstance(values, Mapping):
            raise ConfigError(f'{path}: {node}.{ROS_PARAMETERS}: expected a mapping, '
                              f'got {values!r}')
        out[str(node)] = dict(values)
    return out


def check_file(path: Union[str, Path, None] = None) -> Dict[str, Dict[str, Any]]:
    """Check every section of a parameter file against the specs; return its sections.

    Sections for nodes we do not know (e.g. gazebo's) are left alone.
    """
    path = Path(path) if path is not None else default_file()
    sections = load_param_file(path)
    for section, spec in {WILDCARD: SHARED, **NODES}.items():
        for key, value in sections.get(section, {}).items():
            if key == 'use_sim_time':
                continue
            if key not in spec:
                raise ConfigError(f'{path}: {section}: unknown parameter {key!r} (known: '
                                  f'{", ".join(sorted(spec))})')
            _check_value(spec[key], value, f'{path}: {section}.{ROS_PARAMETERS}.{key}')
    return sections


def node_defaults(node: str, path: Union[str, Path, None] = None) -> Dict[str, Any]:
    """Every parameter of `node` with its value from the file (shared section, then own)."""
    if node not in NODES:
        raise ConfigError(f'unknown node {node!r} (known: {", ".join(sorted(NODES))})')
    path = Path(path) if path is not None else default_file()
    sections = check_file(path)
    spec = NODES[node]
    values = {k: v for k, v in sections.get(WILDCARD, {}).items() if k in spec}
    values.update({k: v for k, v in sections.get(node, {}).items() if k != 'use_sim_time'})
    missing = sorted(set(spec) - set(values))
    if missing:
        raise ConfigError(f'{path}: {node}: missing parameter(s) {", ".join(missing)} '
                          f'(this file holds every default; add them to {node} or {WILDCARD})')
    return {k: values[k] for k in spec}


def validate(node: str, values: Mapping[str, Any], source: str) -> Dict[str, Any]:
    """Check values a node received (from ROS); the error names `source` and the key."""
    spec = NODES[node]
    out = {}
    for key, p in spec.items():
        if key not in values:
            raise ConfigError(f'{source}: {node}: missing parameter {key!r}')
        _check_value(p, values[key], f'{source}: {node}.{key}')
        out[key] = values[key]
    return out


def _check_value(p: Param, value: Any, where: str) -> None:
    if not p.check(value):
        raise ConfigError(f'{where}: expected {p.expected()}, got {value!r}')


def declare_node_parameters(node: Any, name: str,
                            path: Union[str, Path, None] = None) -> Dict[str, Any]:
    """Declare `name`'s parameters on an rclpy node with the file's defaults; return values.

    Overrides from launch (`parameters=[...]`) or `--ros-args -p` replace the defaults at
    declaration. Duck-typed on declare_parameter / get_parameter so it is tested without ROS.
    """
    defaults = node_defaults(name, path)
    for key, value in defaults.items():
        node.declare_parameter(key, value)
    values = {key: node.get_parameter(key).value for key in defaults}
    return validate(name, values, 'ROS parameters')


def split_config_files(config_file: str) -> Tuple[str, ...]:
    """The `config_file` parameter as load_config arguments ('' means defaults only)."""
    return (config_file.strip(),) if config_file.strip() else ()


@dataclass(frozen=True)
class LinkSettings:
    """What the Gazebo link needs from a node's parameters (train_node)."""
    car_model: str
    camera_topic: str
    cmd_vel_topic: str
    odom_topic: str
    model_states_topic: str
    set_entity_state_service: str
    reset_world_service: str
    pause_service: str
    unpause_service: str
    startup_timeout: float
    frame_timeout: float
    service_timeout: float
    reset_retries: int
    reset_skip_frames: int
    reset_pose_tolerance: float
    pause_physics: bool
    ground_truth: str
    ground_truth_tolerance: float

    @classmethod
    def from_params(cls, values: Mapping[str, Any]) -> 'LinkSettings':
        return cls(**{k: values[k] for k in cls.__dataclass_fields__})
