"""When a drive ends: the same rules in training, evaluation and `rl-f1 drive`."""
from __future__ import annotations

import math
from typing import Optional

from ..config import Config
from ..perception import LineReading
from ..track import Circuit, TrackState

WRONG_WAY_M = 5.0  # driven this far backwards along the line is not following it
SLOWEST_LAP_MPS = 1.0  # step budgets allow laps at this average speed


def lap_step_budget(lap_length: float, laps: int, dt: float) -> int:
    """Control steps for `laps` laps at an average of SLOWEST_LAP_MPS: generous, but bounded."""
    return int(math.ceil(laps * lap_length / SLOWEST_LAP_MPS / dt)) + 100


class Termination:
    """Camera rule: the line lost in every row for `env.lost_frames` frames in a row.

    Ground-truth rules, where the backend knows the pose: off the road (a crash, when
    `env.end_off_road`) and driving the wrong way.
    """

    def __init__(self, config: Config, circuit: Optional[Circuit]):
        self.lost_frames = config.env.lost_frames
        self.end_off_road = config.env.end_off_road
        self.half_road = circuit.road_width / 2.0 if circuit is not None else math.inf
        self._lost = 0

    def reset(self) -> None:
        self._lost = 0

    def check(self, reading: LineReading, st: Optional[TrackState]) -> str:
        """'' to go on, else the reason: line_lost, off_road or wrong_way."""
        self._lost = self._lost + 1 if reading.lost else 0
        if self._lost >= self.lost_frames:
            return 'line_lost'
        if st is not None:
            if self.end_off_road and abs(st.lateral) > self.half_road:
                return 'off_road'
            if st.progress < -WRONG_WAY_M:
                return 'wrong_way'
        return ''
