"""The driven path for rviz: spaced poses, bounded length. No rclpy."""
from __future__ import annotations

import math
from collections import deque
from typing import Deque, List, Tuple

from ..sim.types import Pose2D


class PathTrace:
    """Poses at least `min_spacing` metres apart, the newest `max_points` of them."""

    def __init__(self, max_points: int = 5000, min_spacing: float = 0.2):
        if max_points < 2:
            raise ValueError('max_points must be >= 2')
        self.min_spacing = float(min_spacing)
        self._poses: Deque[Tuple[float, Pose2D]] = deque(maxlen=max_points)

    def clear(self) -> None:
        self._poses.clear()

    def add(self, stamp: float, pose: Pose2D) -> bool:
        """Record a pose; False when it is too close to the previous one to matter."""
        if self._poses:
            last = self._poses[-1][1]
            if math.hypot(pose.x - last.x, pose.y - last.y) < self.min_spacing:
                return False
        self._poses.append((float(stamp), pose))
        return True

    def poses(self) -> List[Tuple[float, Pose2D]]:
        return list(self._poses)

    def __len__(self) -> int:
        return len(self._poses)
