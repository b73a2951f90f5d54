"""The tf-agents environment and its factory.

Loaded lazily (PEP 562): the pure parts of this package (observation, metrics, termination)
serve the PID driver and the ROS drive node, which must not pay for importing TensorFlow
(seconds, and over 400 MB of memory).
"""
from importlib import import_module
from typing import Any

__all__ = ['config_overrides', 'env_from_config', 'make_env', 'F1FollowLineEnv']
_WHERE = {'config_overrides': '.factory', 'env_from_config': '.factory',
          'make_env': '.factory', 'F1FollowLineEnv': '.follow_line_env'}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name], __name__), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
