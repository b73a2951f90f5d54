"""DDS that stays on this machine: the environment a ROS 2 process needs for it (no rclpy).

Default Fast DDS binds every network interface and discovers by multicast, and
ROS_LOCALHOST_ONLY / ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST still leave sockets on other
addresses; the profiles in config/dds/ put every socket on 127.0.0.1 (and shared memory).
The tests, the benchmarks and .ci/run start every ROS process with `loopback_env()`; a user
can export the same variables (docs/ros2-and-gazebo.md).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Mapping, Optional

from .paths import config_dir

# Distributions whose Fast DDS (2.x) reads only FASTRTPS_DEFAULT_PROFILES_FILE; Fast DDS 3
# (Kilted on) reads FASTDDS_DEFAULT_PROFILES_FILE and warns that the old name is deprecated.
_FAST_DDS_2 = {'humble', 'iron', 'jazzy'}


def profile_paths() -> Dict[str, Path]:
    """{'fastdds': ..., 'cyclonedds': ...}: the loopback-only DDS configuration files."""
    folder = config_dir() / 'dds'
    return {'fastdds': folder / 'fastdds_loopback.xml',
            'cyclonedds': folder / 'cyclonedds_loopback.xml'}


def loopback_env(domain_id: Optional[int] = None,
                 environ: Mapping[str, str] = os.environ) -> Dict[str, str]:
    """The variables that keep a ROS 2 process's DDS on loopback (and on `domain_id`).

    Both middlewares get their file, so RMW_IMPLEMENTATION may be either. ROS_LOCALHOST_ONLY
    is left unset: Humble's rmw_fastrtps would then add a UDP transport of its own over the
    profile's.
    """
    paths = profile_paths()
    env = {'FASTDDS_DEFAULT_PROFILES_FILE': str(paths['fastdds']),
           'CYCLONEDDS_URI': paths['cyclonedds'].as_uri()}
    if environ.get('ROS_DISTRO', '').lower() in _FAST_DDS_2:
        env['FASTRTPS_DEFAULT_PROFILES_FILE'] = str(paths['fastdds'])
    if domain_id is not None:
        if not 0 <= int(domain_id) <= 232:
            raise ValueError(f'ROS_DOMAIN_ID {domain_id}: expected 0 to 232')
        env['ROS_DOMAIN_ID'] = str(int(domain_id))
    return env
