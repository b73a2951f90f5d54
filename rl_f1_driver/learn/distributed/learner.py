"""The learner's side: experience sampled from the replay server (`ReverbSource`, a
trainer.ExperienceSource), weights pushed back, and `run_learner` (`rl-f1 learner`)."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ...config import Config
from ...errors import UserError
from . import replay
from .replay import EXPERIENCE, STATS, STATS_FIELDS, VARIABLES
from .watchdog import ReplayServerLost, ServerWatchdog, check_server

Log = Callable[[str], None]


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
    from ..trainer import run_training
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
