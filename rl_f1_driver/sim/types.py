"""Plain data passed between simulator, environment and driver (no ROS types here)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass(frozen=True)
class Pose2D:
    x: float
    y: float
    yaw: float


@dataclass(frozen=True)
class Twist:
    """The drive command, as in geometry_msgs/Twist: linear.x (m/s) and angular.z (rad/s)."""
    linear_x: float
    angular_z: float


ZERO_TWIST = Twist(0.0, 0.0)


@dataclass
class Frame:
    """One camera image and what is known about the moment it was taken.

    `row_fractions` says which rows of the full camera image `image` holds (row centre / height);
    None means the whole image. A backend may render only what the consumer asked for.
    """
    image: np.ndarray                    # BGR uint8, (rows, width, 3)
    stamp: float                         # simulation time, s
    pose: Optional[Pose2D] = None        # ground truth, where the backend knows it
    speed: Optional[float] = None        # ground-truth forward speed, m/s
    row_fractions: Optional[np.ndarray] = None

    def fractions(self) -> np.ndarray:
        if self.row_fractions is not None:
            return self.row_fractions
        h = self.image.shape[0]
        return (np.arange(h) + 0.5) / h
