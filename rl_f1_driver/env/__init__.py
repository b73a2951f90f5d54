"""The tf-agents environment and its factory."""
from .factory import config_overrides, env_from_config, make_env
from .follow_line_env import F1FollowLineEnv

__all__ = ['config_overrides', 'env_from_config', 'make_env', 'F1FollowLineEnv']
