"""Topic names and frame ids of recordings and the live view, from config/ros.yaml.

The `/**` section names the topics every ROS node shares (camera, cmd_vel, odometry, overlay,
path, circuit, telemetry) and the TF frames; the statistics topic is the node's own:
drive_node's for `rl-f1 drive`, train_node's for training. So a recording made here and one
made with `ros2 bag record` on the ROS pipeline carry the same names.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Union

from ..errors import ConfigError

DEFAULT_PORT = 8765          # Foxglove's default WebSocket port
# TF is not configurable in ROS either: tf2 broadcasters publish on /tf.
TF_TOPIC = '/tf'
# Signals under telemetry_namespace (std_msgs/Float32 each, for plots).
SIGNALS = ('speed', 'deviation', 'reward', 'return', 'loss', 'epsilon', 'env_steps_per_s')


@dataclass(frozen=True)
class Topics:
    camera: str
    overlay: str
    cmd_vel: str
    odom: str
    path: str
    circuit: str
    stats: str
    telemetry_namespace: str
    odom_frame: str
    base_frame: str
    camera_frame: str
    path_max_points: int
    path_min_spacing: float
    tf: str = TF_TOPIC

    def telemetry(self, signal: str) -> str:
        if signal not in SIGNALS:
            raise ValueError(f'unknown telemetry signal {signal!r} (known: {", ".join(SIGNALS)})')
        return f'{self.telemetry_namespace.rstrip("/")}/{signal}'

    @staticmethod
    def compressed(topic: str) -> str:
        """image_transport's name for the JPEG stream of an image topic."""
        return f'{topic}/compressed'

    @classmethod
    def load(cls, node: str = 'drive_node', path: Union[str, Path, None] = None) -> 'Topics':
        """The names in the ROS parameter file (default: config/ros.yaml); the statistics topic
        and the path settings are `node`'s (drive_node or train_node)."""
        from ..config.ros_params import WILDCARD, check_file, node_defaults
        shared = check_file(path).get(WILDCARD, {})
        needed = ('camera_topic', 'overlay_topic', 'cmd_vel_topic', 'odom_topic', 'path_topic',
                  'circuit_topic', 'telemetry_namespace', 'odom_frame', 'base_frame',
                  'camera_frame')
        missing = [k for k in needed if k not in shared]
        if missing:
            raise ConfigError(f'{path or "config/ros.yaml"}: {WILDCARD}: missing parameter(s) '
                              f'{", ".join(missing)} (recordings and the live view need them)')
        own = node_defaults(node, path)
        return cls(camera=shared['camera_topic'], overlay=shared['overlay_topic'],
                   cmd_vel=shared['cmd_vel_topic'], odom=shared['odom_topic'],
                   path=shared['path_topic'], circuit=shared['circuit_topic'],
                   stats=own['stats_topic'], telemetry_namespace=shared['telemetry_namespace'],
                   odom_frame=shared['odom_frame'], base_frame=shared['base_frame'],
                   camera_frame=shared['camera_frame'],
                   path_max_points=own['path_max_points'],
                   path_min_spacing=own['path_min_spacing'])
