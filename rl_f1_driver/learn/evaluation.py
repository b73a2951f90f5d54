"""Greedy-policy evaluation on the training circuit: lap %, lap time, deviation, speed."""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from ..env import F1FollowLineEnv
from ..sim.types import Twist

# Observations of several environments (stacked on axis 0) -> their action indices.
BatchActFn = Callable[[np.ndarray], np.ndarray]
# record.DriveRecorder per env (None: not recorded), or a function env -> recorder.
Recorders = Union[Sequence[Optional[Any]], Callable[[F1FollowLineEnv], Optional[Any]]]


def evaluate(envs: Sequence[F1FollowLineEnv], act: BatchActFn, laps: int = 1,
             recorders: Optional[Recorders] = None) -> list[dict]:
    """Drive one episode in each env, side by side, until `laps` laps, a crash, a lost line
    or the step limit; one policy call per step serves all of them (TensorFlow's per-call
    overhead, not the network, dominates a small policy).

    Returns each env's episode summary plus `path`: [(x, y, speed)] of the drive.
    `recorders` (record.DriveRecorder, one per env or a function of the env) get every step
    of their env's drive: a recording, the live view.
    """
    steps = []
    for env in envs:
        env.record_path = True
        steps.append(env.reset())
    recs = ([None] * len(envs) if recorders is None
            else [recorders(env) for env in envs] if callable(recorders) else list(recorders))
    for env, rec in zip(envs, recs):
        if rec is not None:
            rec.start(env.last_frame)
    active = list(range(len(envs)))
    while active:
        actions = act(np.stack([steps[i].observation for i in active]))
        still = []
        for i, a in zip(active, actions):
            env, rec = envs[i], recs[i]
            if rec is not None and not rec.due():
                rec.track(env.last_frame)   # a live view only, and nothing due yet
            elif rec is not None:
                # Before the step: the simulator still shows this frame for a full render.
                lateral = env.get_info().get('lateral')
                v, w = env.actions[int(a)]
                rec.step(env.last_frame, Twist(float(v), float(w)), env.last_reading,
                         full=env.sim.render_full, reward=float(steps[i].reward),
                         deviation=None if lateral is None else float(lateral),
                         text=f'step {env.stats.steps}  return {env.stats.return_:.1f}')
            steps[i] = env.step(np.int32(a))
            if env.stats.laps >= laps:
                env.stats.end_reason = 'laps_done'
            elif not steps[i].is_last():
                still.append(i)
                continue
            if rec is not None:
                # The same record train_node publishes on its statistics topic.
                rec.end(env.last_frame, env.stats.end_reason,
                        [{'episode': 1, 'stamp': env.last_frame.stamp, 'evaluation': True,
                          'start_fraction': env.start_fraction, **env.episode_summary()}],
                        full=env.sim.render_full)
        active = still
    results = []
    for env in envs:
        summary = env.episode_summary()
        summary['path'] = env.stats.path
        results.append(summary)
    return results
