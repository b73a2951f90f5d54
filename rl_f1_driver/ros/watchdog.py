"""Stop the car when camera frames stop arriving. Pure timing logic, no rclpy."""
from __future__ import annotations

import time
from typing import Callable, Optional


class Watchdog:
    """Decides when to send a stop command.

    `feed()` on every frame. `due()`, called periodically (a timer), is True when no frame
    arrived for more than `timeout` seconds: on the first call after expiry, then again every
    `repeat` seconds while it stays expired (a stop message can be lost, and the drive plugin
    keeps the last command forever). Before the first frame it stays quiet unless
    `armed_at_start`, since a car that never got a command is not moving.
    """

    def __init__(self, timeout: float, repeat: float = 1.0, armed_at_start: bool = False,
                 clock: Callable[[], float] = time.monotonic):
        if timeout <= 0:
            raise ValueError(f'watchdog timeout must be > 0 s, got {timeout!r}')
        if repeat <= 0:
            raise ValueError(f'watchdog repeat must be > 0 s, got {repeat!r}')
        self.timeout = float(timeout)
        self.repeat = float(repeat)
        self._clock = clock
        self._last_feed: Optional[float] = clock() if armed_at_start else None
        self._last_stop: Optional[float] = None
        self.stops = 0

    def feed(self) -> None:
        self._last_feed = self._clock()
        self._last_stop = None

    @property
    def expired(self) -> bool:
        return (self._last_feed is not None
                and self._clock() - self._last_feed > self.timeout)

    def silence(self) -> Optional[float]:
        """Seconds since the last frame (None before the first)."""
        return None if self._last_feed is None else self._clock() - self._last_feed

    def due(self) -> bool:
        if not self.expired:
            return False
        now = self._clock()
        if self._last_stop is None or now - self._last_stop >= self.repeat:
            self._last_stop = now
            self.stops += 1
            return True
        return False
