"""Ctrl-C and SIGTERM, counted once however they arrive. No rclpy.

Under `ros2 launch` one Ctrl-C can reach a node twice: from the terminal (the whole foreground
process group) and forwarded by launch. A second signal means "stop now" to the trainer and to
sim_node, so a repeat within DUPLICATE_SIGNAL_S of the last one counted is the same Ctrl-C.
"""
from __future__ import annotations

import signal
import threading
import time

DUPLICATE_SIGNAL_S = 1.0

# Set by the first interrupt the trainer takes: a wait that cannot end well any more (the
# simulator never sent its first frame) gives up instead of holding the process for its
# full timeout. Waits for a simulator that does answer go on: the run still evaluates and
# exports after Ctrl-C.
_STOP_REQUESTED = threading.Event()


def request_stop() -> None:
    _STOP_REQUESTED.set()


def stop_requested() -> bool:
    return _STOP_REQUESTED.is_set()


def clear_stop_request() -> None:
    """The run that took the interrupt is over: a later one in this process starts afresh."""
    _STOP_REQUESTED.clear()


class InterruptCounter:
    """How many distinct interrupts (SIGINT/SIGTERM) arrived."""

    def __init__(self):
        self.count = 0
        self._last = -float('inf')

    def record(self) -> bool:
        """Account for one signal; True when it is a new interrupt, not a repeat."""
        now = time.monotonic()
        if now - self._last < DUPLICATE_SIGNAL_S:
            return False
        self._last = now
        self.count += 1
        return True

    def install(self) -> 'InterruptCounter':
        """Count SIGINT and SIGTERM instead of raising (main thread only): for a loop that
        must not be interrupted in the middle of a callback, and checks `count` between them."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda _signum, _frame: self.record())
        return self
