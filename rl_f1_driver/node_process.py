"""Our nodes as plain processes, started as the launch files start them (no rclpy, no launch).

For where `ros2 launch` is not there (PyPI's ROS 2 wheels) and for tests and benchmarks that
need each node's process: the node's entry point (node_entry, as its console script) on a
given Python (the interpreter that has TensorFlow, as the console scripts use), the parameter
file (config/ros.yaml unless given),
then a second file with the node's own values, as launch writes the values it passes.
Overrides go in a file under the node's name, not `-p`: a node's own section of a parameter
file beats a -p given after it.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from .paths import config_dir

NODES = ('sim_node', 'train_node', 'drive_node')


def write_node_params(path: Path, node: str, values: Dict[str, Any]) -> Path:
    """`values` as node `node`'s section of a ROS parameter file (paths as strings)."""
    import yaml
    clean = {k: str(v) if isinstance(v, Path) else v for k, v in values.items()}
    Path(path).write_text(yaml.safe_dump({node: {'ros__parameters': clean}}))
    return Path(path)


def node_command(executable: str, params_file: Path, ros_config: Optional[Path] = None,
                 python: str = sys.executable) -> List[str]:
    """The command line of node `executable` with config/ros.yaml (or `ros_config`) and then
    `params_file` (write_node_params)."""
    if executable not in NODES:
        raise ValueError(f'node {executable!r}: expected one of {", ".join(NODES)}')
    ros_config = ros_config or config_dir() / 'ros.yaml'
    return [python, '-m', 'rl_f1_driver.node_entry', executable, '--ros-args',
            '--params-file', str(ros_config), '--params-file', str(params_file)]
