"""Typed, validated settings loaded from config/*.yaml."""
from .loader import build, load_config, read_yaml, save_config, to_dict
from .schema import (CameraConfig, CarConfig, Config, EnvConfig, PerceptionConfig,
                     RandomizationConfig, RewardConfig, TrainConfig)

__all__ = ['build', 'load_config', 'read_yaml', 'save_config', 'to_dict', 'CameraConfig',
           'CarConfig', 'Config', 'EnvConfig', 'PerceptionConfig', 'RandomizationConfig',
           'RewardConfig', 'TrainConfig']
