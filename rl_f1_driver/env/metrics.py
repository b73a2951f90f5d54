"""Episode figures from ground truth: lap completion, lap times, deviation, speed.

Shared by the environment (training, evaluation) and `rl-f1 drive`, so every report uses the
same definitions (BehaviorMetrics-style: lap %, lap seconds, mean |deviation|, mean speed).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..sim.types import Frame
from ..track import TrackState


@dataclass
class EpisodeStats:
    lap_length: float = 0.0
    steps: int = 0
    laps: int = 0
    progress_m: float = 0.0
    lap_times: list = field(default_factory=list)
    abs_lateral_sum: float = 0.0
    max_abs_lateral: float = 0.0
    tracked_steps: int = 0
    distance_m: float = 0.0
    return_: float = 0.0
    start_stamp: float = 0.0
    last_lap_stamp: float = 0.0
    span_s: float = 0.0
    end_reason: str = ''
    path: Optional[list] = None       # [(x, y, speed)] when recording

    def record(self, frame: Frame, st: Optional[TrackState], dt: float) -> None:
        """Account for one step that produced `frame` (`st`: where that frame's pose is)."""
        self.steps += 1
        self.span_s = frame.stamp - self.start_stamp
        if st is None:
            return
        self.tracked_steps += 1
        self.progress_m = st.progress
        lat = abs(st.lateral)
        self.abs_lateral_sum += lat
        self.max_abs_lateral = max(self.max_abs_lateral, lat)
        self.distance_m += abs(frame.speed or 0.0) * dt
        if st.lap_completed:
            self.laps = st.laps
            self.lap_times.append(frame.stamp - self.last_lap_stamp)
            self.last_lap_stamp = frame.stamp
        if self.path is not None and frame.pose is not None:
            self.path.append((frame.pose.x, frame.pose.y, float(frame.speed or 0.0)))

    def summary(self) -> dict:
        n = max(1, self.tracked_steps)
        completion = (min(1.0, max(0.0, self.progress_m) / self.lap_length)
                      if self.lap_length else None)
        return {
            'steps': self.steps,
            'laps_completed': self.laps,
            'completion': 1.0 if self.laps else completion,
            'lap_time_s': self.lap_times[0] if self.lap_times else None,
            'lap_times_s': list(self.lap_times),
            'mean_abs_deviation_m': self.abs_lateral_sum / n,
            'max_abs_deviation_m': self.max_abs_lateral,
            'mean_speed_mps': self.distance_m / self.span_s if self.span_s > 0 else 0.0,
            'return': self.return_,
            'end_reason': self.end_reason,
        }
