"""Speed figures printed as JSON (the `rl-f1 bench` commands and bench/ scripts)."""
from __future__ import annotations

import time
from typing import Any, Optional

import numpy as np


def bench_env(observation: str = 'lines', steps: int = 20000, track: str = 'simple',
              seed: int = 0, config: Optional[str] = None) -> dict[str, Any]:
    """Environment steps per second with uniformly random actions, resets included."""
    from .env import make_env
    env = make_env(track=track, observation=observation, seed=seed, config=config)
    env.reset()
    actions = np.random.default_rng(seed).integers(
        0, env.action_spec().maximum + 1, steps).astype(np.int32)
    episodes = 0
    t0 = time.perf_counter()
    for a in actions:
        if env.step(a).is_last():
            episodes += 1
    wall = time.perf_counter() - t0
    return {'bench': 'env', 'observation': observation, 'track': track, 'steps': steps,
            'episodes': episodes, 'wall_s': round(wall, 3),
            'steps_per_s': round(steps / wall, 1)}
