"""Greedy-policy evaluation on the training circuit: lap %, lap time, deviation, speed."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..env import F1FollowLineEnv

# Observations of several environments (stacked on axis 0) -> their action indices.
BatchActFn = Callable[[np.ndarray], np.ndarray]


def evaluate(envs: Sequence[F1FollowLineEnv], act: BatchActFn, laps: int = 1) -> list[dict]:
    """Drive one episode in each env, side by side, until `laps` laps, a crash, a lost line
    or the step limit; one policy call per step serves all of them (TensorFlow's per-call
    overhead, not the network, dominates a small policy).

    Returns each env's episode summary plus `path`: [(x, y, speed)] of the drive.
    """
    steps = []
    for env in envs:
        env.record_path = True
        steps.append(env.reset())
    active = list(range(len(envs)))
    while active:
        actions = act(np.stack([steps[i].observation for i in active]))
        still = []
        for i, a in zip(active, actions):
            env = envs[i]
            steps[i] = env.step(np.int32(a))
            if env.stats.laps >= laps:
                env.stats.end_reason = 'laps_done'
            elif not steps[i].is_last():
                still.append(i)
        active = still
    results = []
    for env in envs:
        summary = env.episode_summary()
        summary['path'] = env.stats.path
        results.append(summary)
    return results
