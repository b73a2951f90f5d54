"""Actors and a learner over a Reverb replay server (tf-agents Actor-Learner).

- The learner is the in-process trainer's loop (`trainer.run_training`) with a
  `ReverbSource`: it samples the `experience` table, trains, pushes weights to the `variables`
  table every `distributed.push_period` gradient steps, evaluates, checkpoints and exports as
  `rl-f1 train` does.
- An actor (`run_actor`) builds the same agent, pulls the weights every
  `distributed.pull_period` env steps, and drives its own environment with the collect policy
  through a tf-agents `Actor`, writing n_step+1-step sequences tagged with the weights'
  version. It knows nothing of the backend behind its environment (embedded, ROS).
- `train_with_actors` (`rl-f1 train --actors N`) starts the replay server and N actors as
  child processes of the learner and stops them when it ends.

Faults: an actor that dies only lowers the data rate (the launcher restarts it; on other
machines restart it by hand, it rejoins). A learner restarted with --resume pushes its
checkpoint's weights again. When the replay server does not answer for
`distributed.server_timeout` seconds, actors and learner end with an error naming it.
"""
from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..config import Config, save_config
from ..errors import UserError
from . import replay
from .replay import EXPERIENCE, STATS, STATS_FIELDS, VARIABLES

Log = Callable[[str], None]


class ReplayServerLost(UserError):
    """The replay server stopped answering."""


def check_server(address: str, timeout: float):
    """The server's table info, or ReplayServerLost after `timeout` seconds."""
    import reverb
    try:
        return reverb.Client(address).server_info(timeout=max(1, math.ceil(timeout)))
    except Exception as exc:  # noqa: BLE001 - gRPC raises several types
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
        raise ReplayServerLost(
            f'replay server {address} did not answer within {timeout:g} s ({first}); '
            'is `rl-f1 replay-server` running there, and the port open?') from None


class ServerWatchdog:
    """Ends this process when the replay server stops answering.

    Reverb blocks without a timeout in places we cannot reach (a writer ending an episode, a
    dataset waiting for a sample), so a lost server would hang actors and learner forever. A
    thread asks the server for its tables every second; after `timeout` seconds without an
    answer it runs the `on_lost` callbacks (stop child processes), prints the error and exits
    the process with EXIT_SERVER_LOST.
    """

    def __init__(self, address: str, timeout: float, what: str,
                 stopping: Optional[threading.Event] = None):
        self.address, self.timeout, self.what = address, timeout, what
        self.stopping = stopping  # set: the process was told to stop; a lost server is no error
        self.on_lost: list = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name='replay-watchdog', daemon=True)

    def __enter__(self) -> 'ServerWatchdog':
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            try:
                check_server(self.address, self.timeout)
            except ReplayServerLost as exc:
                if self._stop.is_set():
                    return
                for callback in self.on_lost:
                    try:
                        callback()
                    except Exception:  # noqa: BLE001 - still exit
                        pass
                if self.stopping is not None and self.stopping.is_set():
                    print(f'{self.what}: stopped (the replay server is gone too)', flush=True)
                    os._exit(0)
                print(f'rl-f1: error: {exc} The {self.what} ends.', file=sys.stderr, flush=True)
                os._exit(EXIT_SERVER_LOST)


EXIT_SERVER_LOST = 3


# --- learner ---------------------------------------------------------------------------------

class ReverbSource:
    """Experience from actors through the replay server (see trainer.ExperienceSource)."""

    def __init__(self, cfg: Config, address: str, log: Log,
                 actors_alive: Optional[Callable[[], bool]] = None):
        self.cfg, self.address, self.log = cfg, replay.parse_address(address), log
        self.dc = cfg.distributed
        self.envs: list = []
        # Set by run_training: True once Ctrl-C/SIGTERM arrived (waits end early then).
        self.should_stop: Callable[[], bool] = lambda: False
        # --actors N: False once every actor process has ended for good.
        self.actors_alive = actors_alive
        # This learner session's number: actors count their steps per session, so steps
        # counted in a checkpoint are not counted again after --resume.
        self.session = int.from_bytes(os.urandom(4), 'little') >> 1
        self._actors: dict = {}          # (actor, incarnation) -> latest stats row
        self._lag_sum, self._age_sum, self._lag_n = 0.0, 0.0, 0
        self._window_lag_sum, self._window_n = 0.0, 0     # since the last progress line
        self._window_totals = (0.0, 0.0, 0.0)            # episodes, returns, lengths then
        self._window_metrics = (0.0, 0.0)
        self._last_loss = 0.0
        self._t0 = time.perf_counter()
        self._base_steps = 0
        self._waiting_since: Optional[float] = None
        self._inserts_seen = self._inserts0 = self._samples0 = 0

    def specs(self) -> tuple:
        return replay.env_specs(self.cfg)

    def attach(self, agent, global_step, env_steps) -> None:
        import reverb
        import tensorflow as tf
        from tf_agents.experimental.distributed import reverb_variable_container as rvc
        from tf_agents.replay_buffers import reverb_replay_buffer
        from tf_agents.utils import common
        tc = self.cfg.train
        self.global_step, self.env_steps = global_step, env_steps
        self.control = replay.control_variable()
        self.control.assign([0, self.session])
        self.client = reverb.Client(self.address)
        self.replay = reverb_replay_buffer.ReverbReplayBuffer(
            replay.replay_data_spec(agent), EXPERIENCE, sequence_length=tc.n_step + 1,
            server_address=self.address,
            # Measured here: 4 parallel streams with 64 samples in flight sample ~25% faster
            # than the defaults (Reverb samples item by item over gRPC).
            max_cycle_length=4, dataset_buffer_size=64,
            rate_limiter_timeout_ms=int(self.dc.sample_timeout * 1000))
        self.container = rvc.ReverbVariableContainer(self.address, table_names=[VARIABLES])
        self.weights = replay.variables_nest(agent, global_step, env_steps, self.control)
        self._iterator = None

        @common.function(autograph=True)
        def learn(iterator, n):
            loss = tf.constant(0.0)
            lag = tf.constant(0.0, tf.float64)
            age = tf.constant(0.0, tf.float64)
            for _ in tf.range(n):
                traj, _ = next(iterator)
                # Gradient steps between the weights that chose these actions and now: the
                # freshest sample shows how far behind the actors drive (policy lag), the
                # mean how old the replayed data is.
                # (Clamped: after --resume against a kept server, the replay may hold data
                # from weights newer than the restored checkpoint.)
                behind = tf.cast(tf.maximum(global_step - traj.policy_info['version'][:, 0], 0),
                                 tf.float64)
                lag += tf.reduce_min(behind)
                age += tf.reduce_mean(behind)
                loss = agent.train(traj._replace(policy_info=())).loss
            return loss, lag, age

        self._learn = learn

    def _dataset_iterator(self):
        if self._iterator is None:
            ds = self.replay.as_dataset(sample_batch_size=self.cfg.train.batch_size,
                                        num_steps=self.cfg.train.n_step + 1)
            self._iterator = iter(ds.prefetch(2))
        return self._iterator

    def push(self) -> None:
        self.container.push(self.weights)

    def checkpoint_items(self) -> dict:
        return {}

    def _info(self):
        return check_server(self.address, self.dc.server_timeout)

    def _drain_stats(self):
        """Take the actors' counters from the queue: the run's env steps are the checkpoint's
        plus what the actors drove for this session. Returns the server's table info."""
        info = self._info()
        n = info[STATS].current_size
        if n:
            for sample in self.client.sample(STATS, num_samples=n):
                row = dict(zip(STATS_FIELDS, np.asarray(sample[0].data[0], np.float64).tolist()))
                if int(row['session']) != self.session:
                    continue   # counted for an earlier learner (before a restart)
                row['seen'] = time.perf_counter()
                self._actors[(int(row['actor']), int(row['incarnation']))] = row
        steps = self._base_steps + sum(int(a['env_steps']) for a in self._actors.values())
        self.env_steps.assign(max(steps, int(self.env_steps.numpy())))
        return info

    def warm_up(self, resume: bool, log: Log) -> None:
        self._base_steps = int(self.env_steps.numpy())
        self.push()  # actors wait for these (a resumed learner serves its checkpoint's)
        min_size = max(self.cfg.train.batch_size, self.cfg.train.initial_collect_steps)
        log(f'learner: weights pushed to {self.address}; waiting for the actors to fill the '
            f'replay buffer to {min_size:,} steps')
        t0 = last = time.perf_counter()
        while True:
            info = self._drain_stats()
            size = info[EXPERIENCE].current_size
            if size >= min_size or self.should_stop():
                break
            self._check_actors()
            if time.perf_counter() - last > 10:
                last = time.perf_counter()
                log(f'  replay {size:,}/{min_size:,} steps after {last - t0:.0f} s, '
                    f'{len(self._live_actors())} actor(s) reporting')
            # Bounded poll of the server's table size: the table fills from other processes.
            threading.Event().wait(0.5)
        self._t0 = time.perf_counter()
        self._inserts0 = info[EXPERIENCE].rate_limiter_info.insert_stats.completed
        self._samples0 = info[EXPERIENCE].rate_limiter_info.sample_stats.completed
        self._inserts_seen = self._inserts0

    def _check_actors(self) -> None:
        if self.actors_alive is not None and not self.actors_alive():
            raise UserError('every actor process has ended (see their logs in '
                            'RUN/distributed/): nothing left to learn from')

    def _wait_for_experience(self) -> None:
        """No new experience: say so, and wait (bounded) for the actors to come back."""
        self._iterator = None
        self._check_actors()
        now = time.perf_counter()
        if self._waiting_since is None:
            self._waiting_since = now - self.dc.sample_timeout
        self.log(f'learner: no new experience for {now - self._waiting_since:.0f} s; '
                 'waiting for actors (start or restart them: they rejoin)')
        stop = threading.Event()
        end = now + self.dc.sample_timeout
        while not self.should_stop() and time.perf_counter() < end:
            if self._drain_stats()[EXPERIENCE].rate_limiter_info.insert_stats.completed \
                    > self._inserts_seen:
                return
            stop.wait(0.5)  # bounded poll of the server: the data comes from other processes

    def advance(self, target_env_steps: int) -> float:
        """Gradient steps in calls of push_period, each followed by a weight push, for at
        most learner_chunk steps or about 2 s (so Ctrl-C, logs, evaluations and checkpoints
        come on time with slow actors)."""
        import tensorflow as tf
        chunk = self.dc.learner_chunk
        grads = 0
        t0 = time.perf_counter()
        while grads < chunk and not self.should_stop():
            if self.dc.samples_per_insert <= 0 and grads == 0:
                # No rate limiter: do not train on and on when nothing new arrives.
                inserts = self._info()[EXPERIENCE].rate_limiter_info.insert_stats.completed
                if inserts <= self._inserts_seen:
                    self._wait_for_experience()
                    return self._last_loss
            n = min(self.dc.push_period, chunk - grads)
            try:
                loss, lag, age = self._learn(self._dataset_iterator(), tf.constant(n))
            except tf.errors.OpError as exc:
                # No sample within sample_timeout (OutOfRange/DeadlineExceeded): the actors
                # are gone or slow, the rate limiter holds the learner back. Or the server
                # is gone: _info() raises ReplayServerLost then.
                self._info()
                if not isinstance(exc, (tf.errors.DeadlineExceededError,
                                        tf.errors.OutOfRangeError,
                                        tf.errors.UnavailableError,
                                        tf.errors.CancelledError)):
                    raise
                self._wait_for_experience()
                return self._last_loss
            self._waiting_since = None
            grads += n
            self._lag_sum += float(lag.numpy())
            self._age_sum += float(age.numpy())
            self._lag_n += n
            self._window_lag_sum += float(lag.numpy())
            self._window_n += n
            self._last_loss = float(loss.numpy())
            self.push()
            if time.perf_counter() - t0 > 2.0:
                break
        info = self._drain_stats()
        self._inserts_seen = max(self._inserts_seen,
                                 info[EXPERIENCE].rate_limiter_info.insert_stats.completed)
        return self._last_loss

    def _live_actors(self) -> dict:
        """Latest row per actor id, among those that reported in the last minute."""
        now = time.perf_counter()
        live: dict = {}
        for (actor, _), row in self._actors.items():
            if now - row['seen'] < 60 and (actor not in live or row['seen'] > live[actor]['seen']):
                live[actor] = row
        return live

    def training_metrics(self) -> tuple:
        """Average return and length of the episodes the actors finished since the last call
        (the last values while none did), and the run's episode count."""
        rows = list(self._actors.values())
        totals = (sum(r['episodes'] for r in rows), sum(r['return_sum'] for r in rows),
                  sum(r['length_sum'] for r in rows))
        n = totals[0] - self._window_totals[0]
        if n > 0:
            self._window_metrics = ((totals[1] - self._window_totals[1]) / n,
                                    (totals[2] - self._window_totals[2]) / n)
            self._window_totals = totals
        return (*self._window_metrics, int(totals[0]))

    def policy_lag(self) -> Optional[float]:
        return self._lag_sum / self._lag_n if self._lag_n else None

    def progress_text(self) -> str:
        text = f' | {len(self._live_actors())} actors'
        if self._window_n:
            text += f', policy lag {self._window_lag_sum / self._window_n:.0f}'
            self._window_lag_sum, self._window_n = 0.0, 0
        return text

    def after_evaluation(self) -> None:
        pass

    def failure(self) -> Optional[BaseException]:
        return None

    def report(self) -> dict:
        out = {'distributed': {
            'replay_server': self.address,
            'samples_per_insert': self.dc.samples_per_insert,
            # Freshest sample of a batch: how far behind the learner the actors' weights are.
            'policy_lag_mean_gradient_steps': (round(self.policy_lag(), 2)
                                               if self._lag_n else None),
            # Every sample: how old the replayed experience is.
            'sample_age_mean_gradient_steps': (round(self._age_sum / self._lag_n, 2)
                                               if self._lag_n else None),
            'actors': {},
        }}
        per: dict = {}
        for (actor, _), row in self._actors.items():
            a = per.setdefault(str(actor), {'env_steps': 0, 'episodes': 0, 'incarnations': 0})
            a['env_steps'] += int(row['env_steps'])
            a['episodes'] += int(row['episodes'])
            a['incarnations'] += 1
        out['distributed']['actors'] = per
        try:
            info = self._info()[EXPERIENCE].rate_limiter_info
            wall = max(1e-9, time.perf_counter() - self._t0)
            out['distributed']['replay_inserts_per_s'] = round(
                (info.insert_stats.completed - self._inserts0) / wall, 1)
            out['distributed']['replay_samples_per_s'] = round(
                (info.sample_stats.completed - self._samples0) / wall, 1)
        except ReplayServerLost:
            pass
        return out

    def finish(self, stopped: str) -> None:
        """Training is complete: tell the actors to stop (they see it at their next pull).
        An interrupted learner says nothing: its actors wait for it to come back with
        --resume."""
        if stopped not in ('steps_done', 'lap_driven'):
            return
        try:
            self.control.assign([1, self.session])
            self._info()
            self.push()
        except Exception:  # noqa: BLE001 - the server may be gone: nothing to tell then
            pass

    def close(self) -> None:
        pass


def run_learner(cfg: Config, out_dir: Path, address: str, *, resume: bool = False,
                allow_config_change: bool = False, log: Log = print,
                monitor=None, on_server_lost: Optional[Callable[[], None]] = None,
                actors_alive: Optional[Callable[[], bool]] = None,
                resume_hint: str = 'restart the replay server, then the learner with '
                                   '--resume') -> dict:
    """The learner: trains from the replay server at `address` into `out_dir`. Evaluates on
    the embedded simulator (the same circuit, run_training's default environments), whatever
    backend the actors drive."""
    from .trainer import run_training
    address = replay.parse_address(address)
    check_server(address, cfg.distributed.server_timeout)  # before the run directory
    ckpt = Path(out_dir) / 'checkpoints'
    watchdog = ServerWatchdog(address, cfg.distributed.server_timeout,
                              f'learner (its last checkpoint is in {ckpt}: {resume_hint})')
    if on_server_lost is not None:
        watchdog.on_lost.append(on_server_lost)
    with watchdog:
        try:
            return run_training(cfg, out_dir,
                                lambda: ReverbSource(cfg, address, log, actors_alive),
                                resume=resume, allow_config_change=allow_config_change, log=log,
                                monitor=monitor)
        except ReplayServerLost:
            raise
        except Exception:
            # Any Reverb call (a weight push, a sample, the stats queue) may be the first to
            # meet a lost server, with an error of its own: say what happened instead.
            check_server(address, cfg.distributed.server_timeout)
            raise


# --- actor -----------------------------------------------------------------------------------

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


# --- one machine, one command ----------------------------------------------------------------

class _Children:
    """The replay server and actor processes of `rl-f1 train --actors N`.

    They run in their own sessions, so a Ctrl-C in the terminal reaches the learner only: it
    stops them in order (actors first, then the server) after its last checkpoint.
    """

    def __init__(self, out_dir: Path, cfg_file: Path, log: Log):
        self.out_dir, self.cfg_file, self.log = out_dir, cfg_file, log
        self.logs = out_dir / 'distributed'
        self.logs.mkdir(parents=True, exist_ok=True)
        self.server: Optional[subprocess.Popen] = None
        self.actors: dict = {}
        self.restarts: dict = {}
        self.max_restarts = 3
        self.stopping = threading.Event()
        self.lock = threading.Lock()   # spawning vs stopping

    def _spawn(self, args: list, log_name: str) -> subprocess.Popen:
        out = open(self.logs / log_name, 'ab')
        try:
            return subprocess.Popen([sys.executable, '-m', 'rl_f1_driver.cli', *args],
                                    stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True, preexec_fn=_die_with_parent)
        finally:
            out.close()

    def start_server(self, port: int, timeout: float = 120.0) -> str:
        port_file = self.logs / 'replay.port'
        port_file.unlink(missing_ok=True)
        self.server = self._spawn(['replay-server', '--config', str(self.cfg_file),
                                   '--port', str(port), '--port-file', str(port_file)],
                                  'replay-server.log')
        t0 = time.perf_counter()
        while not port_file.is_file():
            if self.server.poll() is not None:
                tail = (self.logs / 'replay-server.log').read_text(errors='replace')
                raise UserError('the replay server did not start: '
                                + (tail.strip().splitlines() or ['no output'])[-1])
            if time.perf_counter() - t0 > timeout:
                raise UserError(f'the replay server did not start within {timeout:.0f} s '
                                f'(see {self.logs / "replay-server.log"})')
            self.stopping.wait(0.2)  # bounded poll for the port file
        return f'localhost:{int(port_file.read_text().strip())}'

    def start_actor(self, i: int, address: str) -> None:
        with self.lock:
            if self.stopping.is_set():
                return
            self.actors[i] = self._spawn(['actor', '--config', str(self.cfg_file), '--replay',
                                          address, '--id', str(i)], f'actor-{i}.log')

    def any_actor_alive(self) -> bool:
        """False once every actor has ended and none will be restarted."""
        with self.lock:
            return any(p.poll() is None or (p.returncode != 0
                                            and self.restarts.get(i, 0) < self.max_restarts)
                       for i, p in self.actors.items())

    def watch(self, address: str) -> None:
        """Restart actors that fail (a thread): the learner goes on with the others. One
        that ended by itself (exit 0: the learner has finished) is not restarted."""
        def loop() -> None:
            while not self.stopping.wait(1.0):
                for i, proc in list(self.actors.items()):
                    code = proc.poll()
                    if code is None or code == 0 or self.stopping.is_set():
                        continue
                    n = self.restarts.get(i, 0)
                    if n >= self.max_restarts:
                        continue
                    self.restarts[i] = n + 1
                    self.log(f'actor {i} ended (exit code {code}); restarting it '
                             f'({n + 1}/{self.max_restarts}, log '
                             f'{self.logs / f"actor-{i}.log"})')
                    self.start_actor(i, address)
        threading.Thread(target=loop, name='actor-watch', daemon=True).start()

    def kill(self) -> None:
        """At once (the learner is about to exit without its usual clean-up)."""
        self.stopping.set()
        for proc in [*self.actors.values(), self.server]:
            if proc is not None and proc.poll() is None:
                proc.kill()

    def stop(self, grace: float = 20.0) -> None:
        """Actors first (SIGTERM: they stop at their next step, or within a second when the
        rate limiter holds them), then the server; SIGKILL what is left after `grace`."""
        with self.lock:
            self.stopping.set()
            actors = [p for p in self.actors.values() if p.poll() is None]
        for proc in actors:
            proc.send_signal(signal.SIGTERM)
        deadline = time.perf_counter() + grace
        try:
            for proc in actors:
                proc.wait(timeout=max(0.1, min(5.0, deadline - time.perf_counter())))
        except subprocess.TimeoutExpired:
            pass  # one is blocked in Reverb (ending an episode): stopping the server frees it
        if self.server is not None:
            if self.server.poll() is None:
                self.server.send_signal(signal.SIGTERM)
            _wait_or_kill(self.server, deadline)
        for proc in actors:
            _wait_or_kill(proc, deadline)


def _prctl():
    import ctypes
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):   # not Linux
        return None


# Resolved here, not in the child: between fork and exec nothing may import or take locks.
_PRCTL = _prctl()


def _die_with_parent() -> None:
    """In a child, before exec: SIGTERM it when the launching process dies (Linux), so a
    learner killed without its clean-up (SIGKILL, out of memory) leaves no server or actors
    behind."""
    if _PRCTL is not None:
        _PRCTL(1, int(signal.SIGTERM))   # PR_SET_PDEATHSIG


def _wait_or_kill(proc: subprocess.Popen, deadline: float) -> None:
    try:
        proc.wait(timeout=max(0.1, deadline - time.perf_counter()))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def train_with_actors(cfg: Config, out_dir: Path, actors: int, *, resume: bool = False,
                      allow_config_change: bool = False, log: Log = print,
                      monitor=None) -> dict:
    """`rl-f1 train --actors N`: replay server, N actor processes and the learner here."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    children = _Children(out_dir, out_dir / 'distributed' / 'config.yaml', log)
    save_config(cfg, children.cfg_file)
    log(f'starting a replay server and {actors} actor process(es); their logs: '
        f'{children.logs}')
    try:
        address = children.start_server(cfg.distributed.port)
        for i in range(actors):
            children.start_actor(i, address)
        children.watch(address)
        report = run_learner(cfg, out_dir, address, resume=resume,
                             allow_config_change=allow_config_change, log=log,
                             monitor=monitor, on_server_lost=children.kill,
                             actors_alive=children.any_actor_alive,
                             resume_hint='rl-f1 train --actors N --resume')
    finally:
        try:
            children.stop()
        except BaseException:   # another Ctrl-C while stopping: no process may outlive us
            children.kill()
            raise
    report['distributed']['actor_processes'] = actors
    report['distributed']['actor_restarts'] = dict(children.restarts)
    from .run_dir import write_json
    write_json(out_dir / 'report.json', report)
    return report
