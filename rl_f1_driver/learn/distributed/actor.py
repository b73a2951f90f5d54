"""An actor (`rl-f1 actor`, train_node in its actor role): drives its own environment with
the learner's latest collect policy and writes the experience to the replay server."""
from __future__ import annotations

import os
import threading
import time
from typing import Callable

import numpy as np

from ...config import Config
from . import replay
from .replay import EXPERIENCE, STATS, VARIABLES
from .watchdog import ReplayServerLost, ServerWatchdog, check_server

Log = Callable[[str], None]


def _observer_class(reverb_utils):
    """tf-agents' ReverbAddTrajectoryObserver, except that ending an episode does not block.

    The base class ends each episode with the writer's end_episode() without a timeout: held
    by the rate limiter there, an actor could not notice a stop. Here it returns at once (the
    writer resets its buffers and sends the pending items all the same), and the periodic
    flush with a timeout (_TaggedObserver) does the waiting. Same writes otherwise: no padding
    at episode ends, as the base class's default. Uses the base class's attributes
    (tf-agents 0.19.0, pinned).
    """
    import reverb

    class Observer(reverb_utils.ReverbAddTrajectoryObserver):
        def reset(self, write_cached_steps: bool = True) -> None:
            if (write_cached_steps and self._last_trajectory is not None
                    and self._sequence_lengths_reached()):
                self._write_cached_steps()
            self._cached_steps = 0
            self._last_trajectory = None
            if self._writer is None:
                self.open()
                return
            try:
                self._writer.end_episode(timeout_ms=0)
            except reverb.errors.DeadlineExceededError:
                pass   # items still pending: sent in the background, flushed later

    return Observer


class _StopActor(Exception):
    """The learner has finished, or this actor was told to stop, while it waited."""


class _TaggedObserver:
    """Writes each step to the replay server with the version of the weights that chose it,
    and waits for the server's confirmation every FLUSH_EVERY steps.

    The rate limiter holds inserts back while the learner is behind: items then pile up
    unconfirmed (Reverb warns past ~50). Flushing often keeps that bounded, and flushing with
    a timeout lets a held actor look, once a second, whether it should stop.
    """
    FLUSH_EVERY = 32

    def __init__(self, observer, actor: int, should_stop: Callable[[], bool]):
        self.observer, self.actor, self.version = observer, np.int32(actor), np.int64(0)
        self.should_stop = should_stop
        self._n = 0

    def __call__(self, traj) -> None:
        self.observer(traj._replace(policy_info={'version': self.version,
                                                 'actor': self.actor}))
        self._n += 1
        if self._n % self.FLUSH_EVERY == 0:
            self.flush()

    def flush(self) -> None:
        import reverb
        # The observer's own flush() has no timeout; its writer's has.
        writer = self.observer._get_writer()
        while True:
            try:
                writer.flush(timeout_ms=1000)
                return
            except reverb.errors.DeadlineExceededError:
                if self.should_stop():
                    raise _StopActor from None


def run_actor(cfg: Config, address: str, actor: int, env, stop_event: threading.Event,
              log: Log = print) -> dict:
    """Drive `env` with the learner's collect policy until the learner says stop, the event
    is set, or the server is lost (ReplayServerLost). Returns this actor's counters."""
    address = replay.parse_address(address)
    dc = cfg.distributed
    check_server(address, dc.server_timeout)
    with ServerWatchdog(address, dc.server_timeout, f'actor {actor}', stop_event):
        try:
            return _drive_for_learner(cfg, address, actor, env, stop_event, log)
        except ReplayServerLost:
            raise
        except Exception:
            check_server(address, dc.server_timeout)   # a lost server: say so
            raise


def _drive_for_learner(cfg: Config, address: str, actor: int, env,
                       stop_event: threading.Event, log: Log) -> dict:
    import reverb
    import tensorflow as tf
    from tf_agents.experimental.distributed import reverb_variable_container as rvc
    from tf_agents.metrics import py_metrics
    from tf_agents.policies import py_tf_eager_policy
    from tf_agents.replay_buffers import reverb_utils
    from tf_agents.train import actor as actor_lib

    dc, tc = cfg.distributed, cfg.train
    tf.random.set_seed(cfg.seed + 7919 * (actor + 1))   # this actor's exploration
    # control: [stop, learner session], pulled with the weights.
    agent, _, global_step, env_steps, control = replay.spec_agent(cfg, env)
    weights = replay.variables_nest(agent, global_step, env_steps, control)

    t0 = last = time.perf_counter()
    while check_server(address, dc.server_timeout)[VARIABLES].current_size == 0:
        if stop_event.is_set():
            return {'actor': actor, 'env_steps': 0, 'episodes': 0}
        if time.perf_counter() - last > 10:
            last = time.perf_counter()
            log(f'actor {actor}: waiting for the learner\'s weights ({last - t0:.0f} s)')
        stop_event.wait(0.5)  # bounded poll: the learner pushes from another process
    container = rvc.ReverbVariableContainer(address, table_names=[VARIABLES])
    container.update(weights)

    client = reverb.Client(address)
    observer = _observer_class(reverb_utils)(
        client, EXPERIENCE, sequence_length=tc.n_step + 1, stride_length=1)

    def should_stop() -> bool:
        if stop_event.is_set():
            return True
        check_server(address, dc.server_timeout)
        container.update(weights)   # the variables table is not rate-limited
        tagged.version = np.int64(global_step.numpy())
        return bool(int(control.numpy()[0]))

    tagged = _TaggedObserver(observer, actor, should_stop)
    tagged.version = np.int64(global_step.numpy())
    steps = py_metrics.EnvironmentSteps()
    episodes = py_metrics.NumberOfEpisodes()
    returns = _EpisodeSums()
    collect = actor_lib.Actor(
        env, py_tf_eager_policy.PyTFEagerPolicy(agent.collect_policy, use_tf_function=True),
        global_step, steps_per_run=dc.pull_period, observers=[tagged, steps, episodes, returns])
    incarnation = float(int.from_bytes(os.urandom(4), 'little'))
    log(f'actor {actor}: driving on {cfg.track} for {address} from learner step '
        f'{int(global_step.numpy()):,}')
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
        row = [actor, incarnation, session, *(t - b for t, b in zip(totals, base)),
               float(global_step.numpy()),
               (steps.result() - steps_at_stats) / max(1e-9, now - t_stats)]
        client.insert(np.asarray(row, np.float64), priorities={STATS: 1.0})
        t_stats, steps_at_stats = now, steps.result()

    next_stats = dc.stats_period
    clean = True
    try:
        while not stop_event.is_set():
            collect.run()
            tagged.flush()
            check_server(address, dc.server_timeout)  # before a pull that could block
            container.update(weights)
            tagged.version = np.int64(global_step.numpy())
            if steps.result() >= next_stats:
                send_stats()
                next_stats = steps.result() + dc.stats_period
            if int(control.numpy()[0]):
                log(f'actor {actor}: the learner has finished')
                break
        send_stats()
    except _StopActor:
        clean = False  # items still held by the rate limiter: nothing more to send
        log(f'actor {actor}: stopping while held by the rate limiter'
            + (' (the learner has finished)' if int(control.numpy()[0]) else ''))
    except Exception:  # noqa: BLE001 - a gRPC error from writer or client
        clean = False
        try:
            check_server(address, dc.server_timeout)
        except ReplayServerLost as lost:
            raise lost from None
        raise
    except BaseException:   # KeyboardInterrupt (a ROS node): no blocking close either
        clean = False
        raise
    finally:
        if clean:
            observer.close()
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
