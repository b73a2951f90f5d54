"""Waiting for simulator data by simulation stamp, with bounded waits. No rclpy.

ROS callbacks run on an executor thread and `offer` what arrives; the thread stepping the
environment calls `wait_after(t)` for the first item stamped later than `t` (the moment an
action was sent or the car was placed). Waits are bounded in wall-clock time, because a
stalled simulator also stops its clock: a camera that stops publishing (a known Gazebo problem
after resets) becomes a `LinkTimeout` naming the topic, never a silent hang.
"""
from __future__ import annotations

import bisect
import threading
import time
from typing import Callable, Generic, List, Optional, Tuple, TypeVar

from ..sim.interface import SimulatorLost

T = TypeVar('T')


class LinkError(SimulatorLost):
    """The simulator link cannot go on (a refused request, a wrong model name)."""


class LinkTimeout(LinkError, TimeoutError):
    """The simulator did not answer in time: no frame, no service, or a failed call."""


class LinkStopped(LinkError):
    """Ctrl-C or SIGTERM ended a wait that no answer had come to yet (a normal end)."""


STOP_POLL_S = 0.2   # s between looks at `should_stop` while waiting


class FrameGate(Generic[T]):
    """Holds the latest stamped item; lets one thread wait for an item newer than a time.

    `what` names the source (e.g. the camera topic) in timeout messages.
    `time_reset_jump`: an item that arrives during a wait stamped more than this many seconds
    *before* the awaited time means the simulation clock was reset (Gazebo's
    /reset_simulation); it is accepted instead of every later frame being called stale.
    """

    def __init__(self, what: str, time_reset_jump: float = 1.0,
                 clock: Callable[[], float] = time.monotonic):
        self.what = what
        self.time_reset_jump = time_reset_jump
        self._clock = clock
        self._cond = threading.Condition()
        self._item: Optional[T] = None
        self._stamp: Optional[float] = None
        self._count = 0
        self._clock_resets = 0

    def offer(self, item: T, stamp: float) -> None:
        """Called for every arriving item (any thread)."""
        with self._cond:
            if (self._stamp is not None
                    and stamp < self._stamp - self.time_reset_jump):
                self._clock_resets += 1
            self._item, self._stamp = item, float(stamp)
            self._count += 1
            self._cond.notify_all()

    @property
    def latest_stamp(self) -> Optional[float]:
        with self._cond:
            return self._stamp

    @property
    def count(self) -> int:
        """Items offered so far (a camera that stopped publishing stops counting)."""
        with self._cond:
            return self._count

    @property
    def clock_resets(self) -> int:
        with self._cond:
            return self._clock_resets

    def latest(self) -> Optional[Tuple[T, float]]:
        with self._cond:
            return None if self._item is None else (self._item, self._stamp)

    def wait_after(self, after: Optional[float], timeout: float,
                   accept: Optional[Callable[[T, float], bool]] = None,
                   should_stop: Optional[Callable[[], bool]] = None) -> Tuple[T, float]:
        """First item stamped later than `after` (any item when None) for which `accept` holds.

        Raises LinkTimeout after `timeout` wall-clock seconds, saying what was last received;
        LinkStopped as soon as `should_stop()` holds (looked at every STOP_POLL_S).
        """
        deadline = self._clock() + timeout
        with self._cond:
            start_count = self._count
            while True:
                if self._item is not None and self._fresh(after, start_count) and (
                        accept is None or accept(self._item, self._stamp)):
                    return self._item, self._stamp
                if should_stop is not None and should_stop():
                    raise LinkStopped(f'stopped (Ctrl-C or SIGTERM) while waiting for a '
                                      f'{self.what}')
                remaining = deadline - self._clock()
                if remaining <= 0:
                    raise LinkTimeout(self._timeout_message(after, timeout, start_count))
                self._cond.wait(remaining if should_stop is None
                                else min(remaining, STOP_POLL_S))

    def _fresh(self, after: Optional[float], start_count: int) -> bool:
        if after is None or self._stamp > after:
            return True
        # After a clock reset every new stamp is "older" than `after`: take one that arrived
        # during this wait (an old item from before it may just be a camera that stopped).
        return self._count > start_count and self._stamp < after - self.time_reset_jump

    def _timeout_message(self, after: Optional[float], timeout: float, start_count: int) -> str:
        got = self._count - start_count
        if self._stamp is None:
            seen = 'nothing was ever received'
        elif got == 0:
            seen = (f'nothing arrived during the wait (last item stamped {self._stamp:.3f} s); '
                    'the publisher stopped or the simulation is paused')
        else:
            seen = (f'{got} item(s) arrived, the newest stamped {self._stamp:.3f} s, '
                    'none accepted (stale or rejected)')
        when = '' if after is None else f' stamped after {after:.3f} s'
        return f'no {self.what}{when} within {timeout:g} s: {seen}'


class StampedBuffer(Generic[T]):
    """The last `maxlen` stamped values (e.g. ground-truth poses), looked up by stamp."""

    def __init__(self, maxlen: int = 200):
        if maxlen < 1:
            raise ValueError('maxlen must be >= 1')
        self.maxlen = maxlen
        # A condition, not just a lock: wait_nearest() sleeps until a value arrives.
        self._lock = threading.Condition()
        self._stamps: List[float] = []
        self._values: List[T] = []

    def add(self, stamp: float, value: T) -> None:
        with self._lock:
            if self._stamps and stamp < self._stamps[-1]:
                # The clock went backwards (simulation reset): older history is meaningless.
                self._stamps.clear()
                self._values.clear()
            self._stamps.append(float(stamp))
            self._values.append(value)
            if len(self._stamps) > self.maxlen:
                del self._stamps[0], self._values[0]
            self._lock.notify_all()

    def clear(self) -> None:
        with self._lock:
            self._stamps.clear()
            self._values.clear()

    def latest(self) -> Optional[Tuple[float, T]]:
        with self._lock:
            return (self._stamps[-1], self._values[-1]) if self._stamps else None

    def nearest(self, stamp: float, tolerance: float) -> Optional[T]:
        """The value stamped closest to `stamp`, if within `tolerance` seconds."""
        with self._lock:
            return self._nearest(stamp, tolerance)

    def wait_nearest(self, stamp: float, tolerance: float, timeout: float,
                     settle: Optional[float] = None, exact: float = 1e-3,
                     clock: Callable[[], float] = time.monotonic) -> Optional[T]:
        """The value matching a frame stamped `stamp`: the nearest within `tolerance`, waiting
        for it (two streams at their own rates: a frame may arrive before its odometry).

        Returns at once when a value stamped within `exact` of `stamp`, or one stamped after
        it, is there (nothing nearer can come: stamps only grow). Else waits: a value within
        `tolerance` but not yet bracketing `stamp` is taken after `settle` wall seconds
        (default `tolerance`; a paused simulation sends nothing newer); with no value within
        `tolerance` it waits up to `timeout`. None when none came, or when values stamped
        past `stamp + tolerance` show that this instant was skipped.
        """
        settle = tolerance if settle is None else settle
        start = clock()
        with self._lock:
            while True:
                best = self._nearest(stamp, tolerance, with_stamp=True)
                newest = self._stamps[-1] if self._stamps else None
                if best is not None and (abs(best[0] - stamp) <= exact or newest >= stamp):
                    return best[1]
                if best is None and newest is not None and newest > stamp + tolerance:
                    return None   # the stream went past this instant without a match
                waited = clock() - start
                limit = settle if best is not None else timeout
                if waited >= limit:
                    return None if best is None else best[1]
                self._lock.wait(limit - waited)

    def _nearest(self, stamp: float, tolerance: float, with_stamp: bool = False):
        """Nearest (stamp, value) or value within `tolerance`; the caller holds the lock."""
        if not self._stamps:
            return None
        i = bisect.bisect_left(self._stamps, stamp)
        best = None
        for j in (i - 1, i):
            if 0 <= j < len(self._stamps):
                d = abs(self._stamps[j] - stamp)
                if d <= tolerance and (best is None or d < best[0]):
                    best = (d, j)
        if best is None:
            return None
        j = best[1]
        return (self._stamps[j], self._values[j]) if with_stamp else self._values[j]


class MonotonicStamps:
    """Simulator time -> published time that never runs backwards: when the simulator's
    time goes back (a reset that restarts its clock), an offset keeps the published time
    where it was, and it runs on from there. Gazebo's set_entity_state keeps its clock too."""

    def __init__(self):
        self.offset = 0.0
        self._last_raw: Optional[float] = None

    def __call__(self, t: float) -> float:
        if self._last_raw is not None and t < self._last_raw:
            self.offset += self._last_raw - t
        self._last_raw = t
        return t + self.offset


def wait_future(future, timeout: float, what: str) -> object:
    """Result of an rclpy Future completed by an executor on another thread, bounded.

    Duck-typed on `add_done_callback`, `done`, `result` and `exception`, so it is tested
    without rclpy.
    """
    event = threading.Event()
    future.add_done_callback(lambda _f: event.set())
    if not event.wait(timeout) and not future.done():
        cancel = getattr(future, 'cancel', None)
        if cancel is not None:
            cancel()
        raise LinkTimeout(f'{what}: no response within {timeout:g} s')
    exc = future.exception()
    if exc is not None:
        raise LinkTimeout(f'{what}: call failed: {exc}')
    return future.result()
