"""Greedy-policy evaluation on the training circuit: lap %, lap time, deviation, speed."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..env import F1FollowLineEnv

ActFn = Callable[[np.ndarray], int]


def evaluate(env: F1FollowLineEnv, act: ActFn, laps: int = 1) -> dict:
    """Drive one episode from the env's start until `laps` laps, the line is lost or time is up.

    Returns the episode summary plus `path`: [(x, y, speed)] of the drive.
    """
    env.record_path = True
    step = env.reset()
    while not step.is_last():
        step = env.step(np.int32(act(step.observation)))
        if env.stats.laps >= laps:
            env.stats.end_reason = 'laps_done'
            break
    summary = env.episode_summary()
    summary['path'] = env.stats.path
    return summary
