"""Entry points of the three nodes (console scripts sim_node, train_node, drive_node, and
`python -m rl_f1_driver.node_entry NODE --ros-args ...`).

A node module imports rclpy and its message packages at the top; where one is missing (PyPI's
ROS 2 wheels without `make ros-wheels`' interface packages, an install without gazebo_msgs)
the node ends with one line naming the package and how to get it, instead of a traceback.
"""
from __future__ import annotations

import importlib
import sys
from typing import Callable, List, Optional

from .node_process import NODES

# Where a missing ROS package comes from, for the one line a node prints without it: rclpy
# means no ROS 2 at all; any other package comes from apt (or the wheels and ros_wheels/).
_HOW_TO_GET_ROS = ('source a ROS 2 install (Humble: /opt/ros/humble/setup.bash), or `make '
                   'ros-wheels` for ROS 2 from PyPI in .venv')


def missing_package_line(node: str, exc: ModuleNotFoundError) -> str:
    """One line: which ROS package `node` lacks and how to get it."""
    package = (exc.name or str(exc)).split('.')[0]
    how = (_HOW_TO_GET_ROS if package == 'rclpy' else
           f'apt-get install ros-$ROS_DISTRO-{package.replace("_", "-")}, or `make ros-wheels`')
    return f'{node}: the ROS 2 package {package} is not installed ({exc}): {how}'


def run(node: str, args: Optional[List[str]] = None) -> int:
    """Import node `node`'s module and run its main, or print the missing package's line."""
    try:
        module = importlib.import_module(f'{__package__}.ros.{node}')
    except ModuleNotFoundError as exc:
        if not (exc.name or '').startswith(__package__):
            print(missing_package_line(node, exc), file=sys.stderr)
            return 2
        raise
    main: Callable[[Optional[list]], int] = module.main
    return main(args)


def sim_node() -> int:
    return run('sim_node')


def train_node() -> int:
    return run('train_node')


def drive_node() -> int:
    return run('drive_node')


def _dispatch(argv: List[str]) -> int:
    if len(argv) < 2 or argv[1] not in NODES:
        print(f'usage: python -m {__package__}.node_entry {{{",".join(NODES)}}} '
              '[--ros-args ...]', file=sys.stderr)
        return 2
    node = argv.pop(1)   # the node's own argv, as its console script would have it
    return run(node)


if __name__ == '__main__':
    sys.exit(_dispatch(sys.argv))
