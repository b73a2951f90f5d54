"""The learner's side: experience sampled from the replay service (`RaySource`, a
trainer.ExperienceSource), weights pushed back, and `run_learner` (`rl-f1 learner`, and the
learner of `rl-f1 train --actors N`)."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Callable, Optional

from ...config import Config
from ...errors import UserError
from . import replay
from .replay import STATS_FIELDS
from .watchdog import ReplayServerLost, ServerWatchdog

Log = Callable[[str], None]


class RaySource:
    """Experience from actors through the replay service (see trainer.ExperienceSource)."""

    def __init__(self, cfg: Config, replay_handle, log: Log,
                 actors_alive: Optional[Callable[[], bool]] = None,
                 stop_actors_on_interrupt: bool = False):
        self.cfg, self.replay, self.log = cfg, replay_handle, log
        self.dc = cfg.distributed
        self.envs: list = []
        # Set by run_training: True once Ctrl-C/SIGTERM arrived (waits end early then).
        self.should_stop: Callable[[], bool] = lambda: False
        # --actors N: False once every actor has ended for good.
        self.actors_alive = actors_alive
        # --actors N: an interrupted learner stops its actors too (they are its own); a
        # learner of separate actors leaves them waiting for its --resume.
        self.stop_actors_on_interrupt = stop_actors_on_interrupt
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
        self._pending = None           # the next sample, requested while training

    def specs(self) -> tuple:
        return replay.env_specs(self.cfg)

    def attach(self, agent, global_step, env_steps) -> None:
        import tensorflow as tf
        from tf_agents.specs import tensor_spec
        from tf_agents.utils import common
        self.agent, self.global_step, self.env_steps = agent, global_step, env_steps
        self.control = replay.control_variable()
        self.control.assign([0, self.session])
        if [(tuple(shape), dtype) for shape, dtype in self.replay.call('signature')] \
                != replay.leaf_specs(agent):
            raise UserError(f'{self.replay.what()} stores other steps than this learner '
                            'trains on: start it with the learner\'s config')
        self._data_spec = tensor_spec.from_spec(replay.replay_data_spec(agent))

        @common.function(autograph=True)
        def learn(leaves):
            experience = tf.nest.pack_sequence_as(self._data_spec, leaves)
            loss = tf.constant(0.0)
            lag = tf.constant(0.0, tf.float64)
            age = tf.constant(0.0, tf.float64)
            n = tf.shape(leaves[0])[0]
            for i in tf.range(n):
                traj = tf.nest.map_structure(lambda x: x[i], experience)
                # Gradient steps between the weights that chose these actions and now: the
                # freshest sample shows how far behind the actors drive (policy lag), the
                # mean how old the replayed data is.
                # (Clamped: after --resume against a kept replay, it may hold data from
                # weights newer than the restored checkpoint.)
                behind = tf.cast(tf.maximum(global_step - traj.policy_info['version'][:, 0], 0),
                                 tf.float64)
                lag += tf.reduce_min(behind)
                age += tf.reduce_mean(behind)
                loss = agent.train(traj._replace(policy_info=())).loss
            return loss, lag, age

        self._learn = learn

    def push(self) -> None:
        self.replay.call('push_weights', replay.weights_message(
            self.agent, self.global_step, self.env_steps, self.control))

    def checkpoint_items(self) -> dict:
        return {}

    def _info(self) -> dict:
        return self.replay.info()

    def _drain_stats(self) -> dict:
        """Take the actors' counters: the run's env steps are the checkpoint's plus what the
        actors drove for this session. Returns the replay's info."""
        for values in self.replay.call('take_stats'):
            row = dict(zip(STATS_FIELDS, [float(x) for x in values]))
            if int(row['session']) != self.session:
                continue   # counted for an earlier learner (before a restart)
            key = (int(row['actor']), int(row['incarnation']))
            if key not in self._actors and any(a == key[0] for a, _ in self._actors):
                self.log(f'learner: actor {key[0]} is back (a new process)')
            row['seen'] = time.perf_counter()
            self._actors[key] = row
        steps = self._base_steps + sum(int(a['env_steps']) for a in self._actors.values())
        self.env_steps.assign(max(steps, int(self.env_steps.numpy())))
        return self._info()

    def warm_up(self, resume: bool, log: Log) -> None:
        self._base_steps = int(self.env_steps.numpy())
        self.push()  # actors wait for these (a resumed learner serves its checkpoint's)
        min_size = self._info()['min_size']   # the replay's: it samples from then on
        log(f'learner: weights pushed to {self.replay.what()}; waiting for the actors to fill '
            f'the replay buffer to {min_size:,} sequences')
        t0 = last = time.perf_counter()
        while True:
            info = self._drain_stats()
            if info['size'] >= min_size or self.should_stop():
                break
            self._check_actors()
            if time.perf_counter() - last > 10:
                last = time.perf_counter()
                log(f'  replay {info["size"]:,}/{min_size:,} after {last - t0:.0f} s, '
                    f'{len(self._live_actors())} actor(s) reporting')
            # Bounded poll of the replay's size: it fills from other processes.
            threading.Event().wait(0.5)
        self._t0 = time.perf_counter()
        self._inserts0 = self._inserts_seen = info['inserts']
        self._samples0 = info['samples']

    def _check_actors(self) -> None:
        if self.actors_alive is not None and not self.actors_alive():
            raise UserError('every actor has ended (see their logs in RUN/distributed/): '
                            'nothing left to learn from')

    def _wait_for_experience(self) -> None:
        """No new experience: say so, and wait (bounded) for the actors to come back."""
        self._check_actors()
        now = time.perf_counter()
        if self._waiting_since is None:
            self._waiting_since = now - self.dc.sample_timeout
        self.log(f'learner: no new experience for {now - self._waiting_since:.0f} s; '
                 'waiting for actors (start or restart them: they rejoin)')
        stop = threading.Event()
        end = now + self.dc.sample_timeout
        while not self.should_stop() and time.perf_counter() < end:
            if self._drain_stats()['inserts'] > self._inserts_seen:
                return
            stop.wait(0.5)  # bounded poll of the replay: the data comes from other processes

    def _request(self, n: int):
        # At most 1 s inside the service per request: Ctrl-C and the actors' health are
        # looked at between requests.
        return self.replay.submit('sample', self.cfg.train.batch_size, n,
                                  min(1.0, self.dc.sample_timeout))

    def _sample(self, n: int):
        """n batches (fewer when the rate limiter allows fewer), or None after
        sample_timeout s without any."""
        t0 = time.perf_counter()
        while not self.should_stop():
            ref, self._pending = self._pending or self._request(n), None
            leaves = self.replay.result(ref, self.replay.timeout + 1.0)
            if leaves is not None:
                self._pending = self._request(n)   # fetched while this one trains
                return leaves
            if time.perf_counter() - t0 > self.dc.sample_timeout:
                return None
        return None

    def advance(self, target_env_steps: int) -> float:
        """Gradient steps in calls of push_period, each followed by a weight push, for at
        most learner_chunk steps or about 2 s (so Ctrl-C, logs, evaluations and checkpoints
        come on time with slow actors)."""
        chunk = self.dc.learner_chunk
        grads = 0
        t0 = time.perf_counter()
        while grads < chunk and not self.should_stop():
            if self.dc.samples_per_insert <= 0 and grads == 0:
                # No rate limiter: do not train on and on when nothing new arrives.
                if self._info()['inserts'] <= self._inserts_seen:
                    self._wait_for_experience()
                    return self._last_loss
            leaves = self._sample(min(self.dc.push_period, chunk - grads))
            if leaves is None:
                if not self.should_stop():
                    self._wait_for_experience()
                return self._last_loss
            self._waiting_since = None
            loss, lag, age = self._learn(leaves)
            n = int(leaves[0].shape[0])
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
        self._inserts_seen = max(self._inserts_seen, info['inserts'])
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
            'replay': self.replay.what(),
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
            info = self._info()
            wall = max(1e-9, time.perf_counter() - self._t0)
            out['distributed']['replay_inserts_per_s'] = round(
                (info['inserts'] - self._inserts0) / wall, 1)
            out['distributed']['replay_samples_per_s'] = round(
                (info['samples'] - self._samples0) / wall, 1)
        except ReplayServerLost:
            pass
        return out

    def finish(self, stopped: str) -> None:
        """Training is complete: tell the actors to stop (they see it at their next pull).
        An interrupted learner of separate actors says nothing: they wait for it to come back
        with --resume."""
        if stopped not in ('steps_done', 'lap_driven') and not self.stop_actors_on_interrupt:
            return
        try:
            self.control.assign([1, self.session])
            self.push()
        except Exception:  # noqa: BLE001 - the server may be gone: nothing to tell then
            pass

    def close(self) -> None:
        pass


def run_learner(cfg: Config, out_dir: Path, replay_handle, *, resume: bool = False,
                allow_config_change: bool = False, log: Log = print,
                monitor=None, on_server_lost: Optional[Callable[[], None]] = None,
                actors_alive: Optional[Callable[[], bool]] = None,
                stop_actors_on_interrupt: bool = False,
                resume_hint: str = 'restart the replay server, then the learner with '
                                   '--resume') -> dict:
    """The learner: trains from the replay service `replay_handle` into `out_dir`. Evaluates
    on the embedded simulator (the same circuit, run_training's default environments),
    whatever backend the actors drive."""
    from ..trainer import run_training
    ckpt = Path(out_dir) / 'checkpoints'
    watchdog = ServerWatchdog(replay_handle,
                              f'learner (its last checkpoint is in {ckpt}: {resume_hint})')
    if on_server_lost is not None:
        watchdog.on_lost.append(on_server_lost)
    with watchdog:
        try:
            return run_training(cfg, out_dir,
                                lambda: RaySource(cfg, replay_handle, log, actors_alive,
                                                  stop_actors_on_interrupt),
                                resume=resume, allow_config_change=allow_config_change, log=log,
                                monitor=monitor)
        except ReplayServerLost:
            raise
        except Exception:
            # Any call (a weight push, a sample, the statistics) may be the first to meet a
            # lost replay, with an error of its own: say what happened instead.
            replay_handle.info()
            raise
