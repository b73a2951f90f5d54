"""The replay service: one Ray actor that holds the replay buffer (replay_store), the learner's
latest weights and the actors' statistics; and `Replay`, the handle every process uses to
reach it, with the timeouts that turn a lost service into ReplayServerLost.

Blocking calls (an insert held by the rate limiter, a sample waiting for data) wait inside the
service on a condition, at most `timeout` seconds, so callers can look at Ctrl-C or a stop
between calls; the service runs them on threads of its own (a threaded Ray actor), so one
waiting call does not hold up the others.
"""
from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, Iterator, List, Optional, Sequence

import numpy as np

from .replay_store import LeafSpec, RateLimiter, ReplayStore
from .watchdog import ReplayServerLost

NAMESPACE = 'rl_f1_driver'
# Threads of the service: every actor may wait in an insert, the learner in a sample, and the
# watchdogs ask for info meanwhile.
MAX_CONCURRENCY = 64


class ReplayService:
    """What the Ray actor runs (plain class: tests use it without Ray)."""

    def __init__(self, leaves: Sequence[LeafSpec], capacity: int, length: int,
                 samples_per_insert: float, min_size: int, error_buffer: float, seed: int,
                 description: str = ''):
        limiter = RateLimiter(samples_per_insert, min_size, error_buffer)
        self.store = ReplayStore(leaves, capacity, length, limiter, seed)
        self.description = description
        self.cond = threading.Condition()
        self.weights: Optional[dict] = None
        self.stats: List[list] = []

    def signature(self) -> list:
        return self.store.leaves

    # --- experience -------------------------------------------------------------------------
    def insert(self, writer: Any, leaves: List[np.ndarray], boundary: np.ndarray,
               timeout: float) -> bool:
        """Add a writer's steps once the rate limiter lets one more item in (waiting at most
        `timeout` s). False: still held, nothing added (send the same chunk again)."""
        with self.cond:
            if not self.cond.wait_for(lambda: self.store.limiter.can_insert(self.store.size),
                                      timeout):
                return False
            self.store.add(writer, leaves, np.asarray(boundary, bool))
            self.cond.notify_all()
            return True

    def sample(self, batch_size: int, batches: int, timeout: float) -> Optional[list]:
        """Up to `batches` batches (leaves shaped (k, batch_size, length, ...)) once the rate
        limiter allows one, waiting at most `timeout` s; None if it did not."""
        with self.cond:
            out = None

            def ready() -> bool:
                nonlocal out
                out = self.store.sample(batch_size, batches)
                return out is not None
            self.cond.wait_for(ready, timeout)
            if out is not None:
                self.cond.notify_all()   # samples taken: held inserts may go on
            return out

    # --- weights and statistics ---------------------------------------------------------------
    def push_weights(self, weights: dict) -> None:
        with self.cond:
            self.weights = weights

    def pull_weights(self, known_version: int = -1) -> Optional[dict]:
        """The latest weights; without the arrays when they are still `known_version`'s."""
        with self.cond:
            w = self.weights
            if w is None:
                return None
            if w['version'] == known_version:
                return {k: v for k, v in w.items() if k != 'variables'}
            return w

    def put_stats(self, row: list) -> None:
        with self.cond:
            self.stats.append(row)

    def take_stats(self) -> List[list]:
        with self.cond:
            rows, self.stats = self.stats, []
            return rows

    def info(self) -> dict:
        with self.cond:
            return dict(self.store.info(), has_weights=self.weights is not None,
                        description=self.description)


def start_service(cluster, name: str, leaves: Sequence[LeafSpec], *, capacity: int,
                  length: int, samples_per_insert: float, min_size: int,
                  error_buffer: float, seed: int, timeout: float,
                  description: str = '') -> 'Replay':
    """Create the named replay actor on this process's node (the learner samples it: the
    data stays on this machine) and return its handle, whose calls wait at most `timeout`
    s. It lives as long as this process."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
    remote = ray.remote(ReplayService)
    try:
        ray.get_actor(name, namespace=NAMESPACE)
    except ValueError:
        pass
    else:
        from ...errors import UserError
        raise UserError(f'a replay named {name!r} already runs on the Ray cluster at '
                        f'{cluster.address}: give this one another --replay name')
    actor = remote.options(
        name=name, namespace=NAMESPACE, max_concurrency=MAX_CONCURRENCY, num_cpus=0,
        scheduling_strategy=NodeAffinitySchedulingStrategy(
            ray.get_runtime_context().get_node_id(), soft=False),
    ).remote(list(leaves), capacity, length, samples_per_insert, min_size, error_buffer, seed,
             description)
    replay = Replay(actor, name, cluster.address, timeout=timeout)
    replay.info(timeout=120.0)   # the actor is up (the first call waits for its process)
    return replay


class Replay:
    """A process's handle on the replay service: every call bounded by `timeout`; a service
    that does not answer, or is gone, raises ReplayServerLost naming it."""

    def __init__(self, actor, name: str, address: str, timeout: float):
        self.actor, self.name, self.address, self.timeout = actor, name, address, timeout

    @classmethod
    def find(cls, name: str, address: str, timeout: float) -> 'Replay':
        """The replay service `name` on the cluster this process has joined."""
        import ray
        t0 = time.perf_counter()
        try:
            actor = ray.get_actor(name, namespace=NAMESPACE)
        except ValueError:
            raise ReplayServerLost(
                f'no replay named {name!r} on the Ray cluster at {address}: start '
                f'`rl-f1 replay-server --ray-address {address} --replay {name}` first, or give '
                'the name it printed') from None
        replay = cls(actor, name, address, timeout)
        replay.info(max(1.0, timeout - (time.perf_counter() - t0)))
        return replay

    def what(self) -> str:
        return f'replay {self.name!r} on the Ray cluster at {self.address}'

    def call(self, method: str, *args, timeout: Optional[float] = None):
        """`method`'s result, waited for at most `timeout` s (default: the handle's)."""
        return self.result(self.submit(method, *args),
                           self.timeout if timeout is None else timeout)

    def submit(self, method: str, *args):
        """An asynchronous call: its ObjectRef (see `result`)."""
        return getattr(self.actor, method).remote(*args)

    def result(self, ref, timeout: float):
        import ray
        from ray import exceptions as rex
        try:
            return ray.get(ref, timeout=timeout)
        except rex.GetTimeoutError:
            raise ReplayServerLost(f'{self.what()} did not answer within {timeout:g} s; is its '
                                   '`rl-f1 replay-server` (or learner) still running?') from None
        except (rex.RayActorError, rex.RaySystemError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
            raise ReplayServerLost(f'{self.what()} is gone ({first})') from None

    def info(self, timeout: Optional[float] = None) -> dict:
        return self.call('info', timeout=timeout)


@contextlib.contextmanager
def joined_replay(address: str, name: str, timeout: float) -> Iterator[Replay]:
    """This process on the Ray cluster at `address`, and the replay service `name` there
    (rl-f1 learner and actor, train_node's actor role)."""
    from .ray_cluster import RayCluster
    with RayCluster(address, None, log=lambda s: print(s, flush=True)) as cluster:
        yield Replay.find(name, cluster.address, timeout)
