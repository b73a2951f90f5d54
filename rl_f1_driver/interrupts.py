"""Ctrl-C and SIGTERM, counted once however they arrive. No rclpy.

Under `ros2 launch` one Ctrl-C can reach a node twice: from the terminal (the whole foreground
process group) and forwarded by launch. A second signal means "stop now" to the trainer and to
sim_node, so a repeat within DUPLICATE_SIGNAL_S of the last one counted is the same Ctrl-C.
"""
from __future__ import annotations

import signal
import time

DUPLICATE_SIGNAL_S = 1.0


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
