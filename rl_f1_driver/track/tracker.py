"""Where the car is relative to the line: progress, lateral offset, heading error, laps.

Runs every control step, so the update is plain-Python scalar maths with a local search from
the previous nearest sample (numpy per-call overhead would dominate on such small work).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .circuit import Circuit


@dataclass
class TrackState:
    s: float                 # arc length of the nearest point on the line, m, in [0, length)
    lateral: float           # signed distance from the line, m, positive = left of the line
    heading_error: float     # car yaw minus line direction, rad, in (-pi, pi]
    progress: float          # distance driven along the line since reset, m (backwards < 0)
    laps: int                # full laps completed since reset
    lap_completed: bool      # a lap was completed on this update


def wrap_angle(a: float) -> float:
    return math.atan2(math.sin(a), math.cos(a))


class TrackTracker:
    def __init__(self, circuit: Circuit):
        self.circuit = circuit
        self._xs = circuit.points[:, 0].tolist()
        self._ys = circuit.points[:, 1].tolist()
        self._tx = circuit.tangents[:, 0].tolist()
        self._ty = circuit.tangents[:, 1].tolist()
        self._n = len(self._xs)
        self._ds = circuit.spacing
        self._i = 0
        self._s = 0.0
        self.progress = 0.0
        self.laps = 0

    def nearest_index(self, x: float, y: float) -> int:
        d2 = (self.circuit.points[:, 0] - x) ** 2 + (self.circuit.points[:, 1] - y) ** 2
        return int(np.argmin(d2))

    def reset(self, x: float, y: float, yaw: float = 0.0,
              near_s: Optional[float] = None) -> TrackState:
        """Start tracking at (x, y). `near_s`: arc length the car is known to be near (the
        start pose it was put at); the search then starts there instead of scanning the whole
        line, which on a 5 km circuit costs more than a hundred steps' tracking."""
        if near_s is None:
            self._i = self.nearest_index(x, y)
        else:
            # Accepted only on the road: roads never overlap, so a climb that ended on another
            # stretch of the line (a wrong hint) is more than half a road width away.
            self._i = int(round(near_s / self._ds)) % self._n
            if not self._climb(x, y, (self.circuit.road_width / 2.0) ** 2):
                self._i = self.nearest_index(x, y)
        self._s = self._project(x, y)[0]
        self.progress = 0.0
        self.laps = 0
        return self._state(x, y, yaw, lap_completed=False)

    def update(self, x: float, y: float, yaw: float = 0.0) -> TrackState:
        # The car moves less than a metre per step: a few hill-climb iterations. A far jump
        # (teleport) falls back to the global search.
        if not self._climb(x, y):
            self._i = self.nearest_index(x, y)
        s, _ = self._project(x, y)
        length = self.circuit.length
        delta = (s - self._s + length / 2.0) % length - length / 2.0
        self._s = s
        self.progress += delta
        laps = int(math.floor(self.progress / length + 1e-9))
        completed = laps > self.laps
        self.laps = max(self.laps, laps)
        return self._state(x, y, yaw, lap_completed=completed)

    def _climb(self, x: float, y: float, limit2: Optional[float] = None) -> bool:
        """Hill-climb along the line from sample i to the nearest one; False when that one is
        farther than sqrt(limit2) (default: 5 road widths): the climb may have stopped at a
        wrong local minimum."""
        xs, ys, n = self._xs, self._ys, self._n
        i = self._i
        best = (xs[i] - x) ** 2 + (ys[i] - y) ** 2
        for direction in (1, -1):
            while True:
                j = (i + direction) % n
                dj = (xs[j] - x) ** 2 + (ys[j] - y) ** 2
                if dj >= best:
                    break
                i, best = j, dj
        self._i = i
        return best <= (25.0 * self.circuit.road_width ** 2 if limit2 is None else limit2)

    def _project(self, x: float, y: float) -> tuple[float, float]:
        """Arc length and signed offset of (x, y) projected onto the line near sample i."""
        i = self._i
        tx, ty = self._tx[i], self._ty[i]
        dx, dy = x - self._xs[i], y - self._ys[i]
        along = dx * tx + dy * ty
        lateral = tx * dy - ty * dx
        s = (self.circuit.s[i] + along) % self.circuit.length
        return float(s), lateral

    def _state(self, x: float, y: float, yaw: float, lap_completed: bool) -> TrackState:
        s, lateral = self._project(x, y)
        i = self._i
        heading = wrap_angle(yaw - math.atan2(self._ty[i], self._tx[i]))
        return TrackState(s=s, lateral=lateral, heading_error=heading, progress=self.progress,
                          laps=self.laps, lap_completed=lap_completed)
