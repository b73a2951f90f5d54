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
from typing import Dict, Mapping, MutableMapping, Optional

from .paths import config_dir

# Variables that make rmw set up discovery and transports of its own over the profile's:
# with ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST, Kilted's rmw_fastrtps opened sockets on 0.0.0.0
# and on the machine's address beside the profile's (seen here); Humble's ROS_LOCALHOST_ONLY
# adds a UDP transport. A process confined here runs without them.
CONFLICTING = ('ROS_LOCALHOST_ONLY', 'ROS_AUTOMATIC_DISCOVERY_RANGE', 'ROS_STATIC_PEERS')

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
    """The variables that keep a ROS 2 process's DDS on loopback (and on `domain_id`), to
    set in an environment without the CONFLICTING ones (loopback_environ, confine_process).

    Both middlewares get their file, so RMW_IMPLEMENTATION may be either.
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


def loopback_environ(domain_id: Optional[int] = None,
                     environ: Mapping[str, str] = os.environ) -> Dict[str, str]:
    """A copy of `environ` for a child process whose DDS stays on loopback: the CONFLICTING
    variables left out, loopback_env's set."""
    env = {k: v for k, v in environ.items() if k not in CONFLICTING}
    env.update(loopback_env(domain_id, environ))
    return env


def confine_process(domain_id: Optional[int] = None,
                    environ: MutableMapping[str, str] = os.environ) -> None:
    """This process (before rclpy starts) and every child it starts: DDS on loopback."""
    for name in CONFLICTING:
        environ.pop(name, None)
    environ.update(loopback_env(domain_id, environ))
