"""Which ROS 2 this Python would use, found without importing rclpy: for the test run's
header and the benchmarks' JSON (`describe()`), so every figure names its distribution."""
from __future__ import annotations

import os
import re
from importlib import metadata
from pathlib import Path
from typing import Dict, Optional

# rclpy's major version per distribution (its package.xml): the wheels set no ROS_DISTRO.
_DISTRO_OF_RCLPY = {3: 'humble', 4: 'iron', 7: 'jazzy', 9: 'kilted', 10: 'rolling'}


def _sourced_rclpy_version() -> Optional[str]:
    """rclpy's version from the package.xml of a sourced install (AMENT_PREFIX_PATH)."""
    for prefix in filter(None, os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep)):
        manifest = Path(prefix) / 'share' / 'rclpy' / 'package.xml'
        if manifest.is_file():
            found = re.search(r'<version>([^<]+)</version>', manifest.read_text())
            if found:
                return found.group(1).strip()
    return None


def describe() -> Dict[str, Optional[str]]:
    """{'distro', 'rclpy', 'source', 'rmw'}: source is 'pypi-wheels' (ros-rclpy installed in
    this Python), 'sourced' (a ROS 2 install's setup script), or None (no ROS 2)."""
    try:
        version: Optional[str] = metadata.version('ros-rclpy')
        source: Optional[str] = 'pypi-wheels'
    except metadata.PackageNotFoundError:
        version = _sourced_rclpy_version()
        source = 'sourced' if version else None
    distro = os.environ.get('ROS_DISTRO') if source == 'sourced' else None
    if distro is None and version:
        distro = _DISTRO_OF_RCLPY.get(int(version.split('.')[0]))
    rmw = os.environ.get('RMW_IMPLEMENTATION') or ('rmw_fastrtps_cpp' if source else None)
    return {'distro': distro, 'rclpy': version, 'source': source, 'rmw': rmw}


def summary() -> str:
    """One line: 'ROS 2 kilted (rclpy 9.1.2, pypi-wheels, rmw_fastrtps_cpp)' or 'no ROS 2'."""
    info = describe()
    if not info['source']:
        return 'no ROS 2 (rclpy not installed, no ROS 2 sourced)'
    return (f"ROS 2 {info['distro'] or 'unknown distribution'} (rclpy {info['rclpy']}, "
            f"{info['source']}, {info['rmw']})")
