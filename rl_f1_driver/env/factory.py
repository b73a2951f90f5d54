"""make_env: the environment on the embedded simulator, from config and keyword overrides."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Optional, Union

from ..config import Config, load_config, with_overrides
from ..config.schema import SECTIONS, EnvConfig
from ..errors import ConfigError
from ..sim.embedded import EmbeddedSimulator
from ..track import load_circuit
from .follow_line_env import F1FollowLineEnv

_ENV_KEYS = {f.name for f in dataclasses.fields(EnvConfig)}


def config_overrides(**overrides: Any) -> dict:
    """Keyword overrides to dotted config keys.

    Accepts top-level keys (`track`, `seed`, `actions`), fields of the `env` section
    (`observation`, `max_steps`, ...), whole sections as dicts (`reward={...}`) and dotted keys
    passed as `**{'reward.speed_weight': 0.5}`.
    """
    out: dict = {}
    for key, value in overrides.items():
        if '.' in key or key in ('track', 'seed', 'actions'):
            out[key] = value
        elif key in _ENV_KEYS:
            out[f'env.{key}'] = value
        elif key in SECTIONS and isinstance(value, dict):
            out.update({f'{key}.{k}': v for k, v in value.items()})
        elif key == 'randomize':
            out['randomization.enabled'] = bool(value)
        else:
            raise ConfigError(f'make_env: unknown setting {key!r}: use a field of env '
                              f'({", ".join(sorted(_ENV_KEYS))}), a section dict '
                              f'({", ".join(SECTIONS)}) or a dotted key like reward.speed_weight')
    return out


def make_env(track: Optional[str] = None, observation: Optional[str] = None,
             seed: Optional[int] = None, config: Union[None, str, Path, Config] = None,
             **overrides: Any) -> F1FollowLineEnv:
    """F1FollowLineEnv on the embedded simulator.

    `config` is a Config or a YAML file layered over config/defaults.yaml; `track`,
    `observation`, `seed` and `overrides` take precedence over it.
    """
    extra = config_overrides(**overrides)
    if track is not None:
        extra['track'] = str(track)
    if observation is not None:
        extra['env.observation'] = observation
    if seed is not None:
        extra['seed'] = seed
    if isinstance(config, Config):
        cfg = with_overrides(config, extra) if extra else config
    else:
        cfg = load_config(*([config] if config else []), overrides=extra)
    return env_from_config(cfg)


def stream_seeds(seed: int, index: int) -> tuple[int, int]:
    """Independent (simulator, environment) seeds for environment `index` (any integer)."""
    import numpy as np
    stream = index if index >= 0 else 2**31 - index  # evaluation envs use negative indices
    a, b = np.random.SeedSequence([seed, stream]).generate_state(2)
    return int(a), int(b)


def env_from_config(cfg: Config, seed_offset: int = 0) -> F1FollowLineEnv:
    """Environment `seed_offset` of a run: every random source derives from cfg.seed."""
    circuit = load_circuit(cfg.track)
    sim_seed, env_seed = stream_seeds(cfg.seed, seed_offset)
    sim = EmbeddedSimulator(circuit, cfg.camera, cfg.car, cfg.randomization, seed=sim_seed)
    return F1FollowLineEnv(sim, cfg, circuit, seed=env_seed)
