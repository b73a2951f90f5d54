"""An actor (`rl-f1 actor`, an actor of `rl-f1 train --actors N`, train_node in its actor
role): drives its own environment with the learner's latest collect policy and sends the
experience to the replay service."""
from __future__ import annotations

import os
import threading
import time
from typing import Callable

import numpy as np

from ...config import Config
from . import replay
from .watchdog import ReplayServerLost, ServerWatchdog

Log = Callable[[str], None]


class _StopActor(Exception):
    """The learner has finished, or this actor was told to stop, while it waited."""


class _StepWriter:
    """A tf-agents observer: each step, tagged with the version of the weights that chose it
    and this actor, goes to the replay service in chunks of CHUNK steps (the service makes
    the n_step+1-step sequences). A chunk held by the rate limiter is offered again every
    second until taken, or until `should_stop` says stop."""
    CHUNK = 32

    def __init__(self, replay_handle, writer: tuple, actor: int,
                 should_stop: Callable[[], bool]):
        import tensorflow as tf
        self._flatten = tf.nest.flatten
        self.replay, self.writer, self.actor = replay_handle, writer, np.int32(actor)
        self.version = np.int64(0)
        self.should_stop = should_stop
        self._steps: list = []
        self._boundary: list = []

    def __call__(self, traj) -> None:
        tagged = traj._replace(policy_info={'version': self.version, 'actor': self.actor})
        self._steps.append([np.asarray(x) for x in self._flatten(tagged)])
        self._boundary.append(bool(traj.is_boundary()))
        if len(self._steps) >= self.CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self._steps:
            return
        leaves = [np.stack(parts) for parts in zip(*self._steps)]
        boundary = np.asarray(self._boundary, bool)
        while not self.replay.call('insert', self.writer, leaves, boundary, 1.0):
            if self.should_stop():
                raise _StopActor
        self._steps, self._boundary = [], []


def run_actor(cfg: Config, replay_handle, actor: int, env, stop_event: threading.Event,
              log: Log = print) -> dict:
    """Drive `env` with the learner's collect policy until the learner says stop, the event
    is set, or the replay is lost (ReplayServerLost). Returns this actor's counters."""
    with ServerWatchdog(replay_handle, f'actor {actor}', stop_event):
        try:
            return _drive_for_learner(cfg, replay_handle, actor, env, stop_event, log)
        except ReplayServerLost:
            raise
        except Exception:
            replay_handle.info()   # a lost replay: say so
            raise


def _drive_for_learner(cfg: Config, replay_handle, actor: int, env,
                       stop_event: threading.Event, log: Log) -> dict:
    import tensorflow as tf
    from tf_agents.metrics import py_metrics
    from tf_agents.policies import py_tf_eager_policy
    from tf_agents.train import actor as actor_lib

    dc = cfg.distributed
    tf.random.set_seed(cfg.seed + 7919 * (actor + 1))   # this actor's exploration
    # control: [stop, learner session], pulled with the weights.
    agent, _, global_step, env_steps, control = replay.spec_agent(cfg, env)

    t0 = last = time.perf_counter()
    message = None
    while message is None:
        message = replay_handle.call('pull_weights', -1)
        if message is not None:
            break
        if stop_event.is_set():
            return {'actor': actor, 'env_steps': 0, 'episodes': 0}
        if time.perf_counter() - last > 10:
            last = time.perf_counter()
            log(f'actor {actor}: waiting for the learner\'s weights ({last - t0:.0f} s)')
        stop_event.wait(0.5)  # bounded poll: the learner pushes from another process
    replay.apply_weights(message, agent, global_step, env_steps, control)

    def pull() -> None:
        replay.apply_weights(replay_handle.call('pull_weights', int(global_step.numpy())),
                             agent, global_step, env_steps, control)
        writer.version = np.int64(global_step.numpy())

    def should_stop() -> bool:
        if stop_event.is_set():
            return True
        pull()
        return bool(int(control.numpy()[0]))

    incarnation = int.from_bytes(os.urandom(4), 'little')
    writer = _StepWriter(replay_handle, (actor, incarnation), actor, should_stop)
    writer.version = np.int64(global_step.numpy())
    steps = py_metrics.EnvironmentSteps()
    episodes = py_metrics.NumberOfEpisodes()
    returns = _EpisodeSums()
    collect = actor_lib.Actor(
        env, py_tf_eager_policy.PyTFEagerPolicy(agent.collect_policy, use_tf_function=True),
        global_step, steps_per_run=dc.pull_period, observers=[writer, steps, episodes, returns])
    log(f'actor {actor}: driving on {cfg.track} for {replay_handle.what()} from learner step '
        f'{int(global_step.numpy()):,} (process {os.getpid()})')
    t_stats, steps_at_stats, t_run = time.perf_counter(), 0, time.perf_counter()
    # Counters at the start of the current learner session (a learner restarted with
    # --resume counts this actor's steps from then on: the checkpoint holds the earlier ones).
    session = int(control.numpy()[1])
    base = (0, 0, 0.0, 0.0)

    def send_stats() -> None:
        nonlocal t_stats, steps_at_stats, session, base
        now = time.perf_counter()
        totals = (steps.result(), episodes.result(), returns.return_sum, returns.length_sum)
        if int(control.numpy()[1]) != session:
            session, base = int(control.numpy()[1]), totals
        row = [actor, float(incarnation), session, *(t - b for t, b in zip(totals, base)),
               float(global_step.numpy()),
               (steps.result() - steps_at_stats) / max(1e-9, now - t_stats)]
        replay_handle.call('put_stats', [float(x) for x in row])
        t_stats, steps_at_stats = now, steps.result()

    next_stats = dc.stats_period
    try:
        while not stop_event.is_set():
            collect.run()
            writer.flush()
            pull()
            if steps.result() >= next_stats:
                send_stats()
                next_stats = steps.result() + dc.stats_period
            if int(control.numpy()[0]):
                log(f'actor {actor}: the learner has finished')
                break
        writer.flush()
        send_stats()
    except _StopActor:
        log(f'actor {actor}: stopping while held by the rate limiter'
            + (' (the learner has finished)' if int(control.numpy()[0]) else ''))
    wall = time.perf_counter() - t_run
    log(f'actor {actor}: {int(steps.result()):,} env steps, {int(episodes.result())} episodes '
        f'in {wall:.1f} s ({steps.result() / max(1e-9, wall):.0f} steps/s)')
    return {'actor': actor, 'env_steps': int(steps.result()),
            'episodes': int(episodes.result())}


class _EpisodeSums:
    """Sums of returns and lengths of finished episodes (the learner averages them)."""

    def __init__(self):
        self.return_sum = self.length_sum = 0.0
        self._ret = self._len = 0.0

    def __call__(self, traj) -> None:
        if not traj.is_boundary():
            self._ret += float(traj.reward)
            self._len += 1
        if traj.is_last():
            self.return_sum += self._ret
            self.length_sum += self._len
            self._ret = self._len = 0.0
