"""Typed, validated settings loaded from config/*.yaml."""
from .loader import build, load_config, read_yaml, save_config, to_dict, with_overrides
from .schema import (CameraConfig, CarConfig, Config, EnvConfig, PerceptionConfig, PidConfig,
                     RandomizationConfig, RewardConfig, TrainConfig)

__all__ = ['build', 'load_config', 'read_yaml', 'save_config', 'to_dict', 'with_overrides',
           'CameraConfig',
           'CarConfig', 'Config', 'EnvConfig', 'PerceptionConfig', 'PidConfig',
           'RandomizationConfig',
           'RewardConfig', 'TrainConfig']
