"""The one small interface every simulator backend (embedded, Gazebo, ROS sim node) provides.

The environment, trainer and driver only ever talk to this.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Optional, Tuple

from .types import Frame, Pose2D, Twist


@dataclass(frozen=True)
class CameraView:
    """What part of the camera image the consumer needs.

    A backend that renders (embedded) draws only these pixels; one that receives whole images
    (Gazebo) ignores the request, and perception reads the rows it needs from the full frame.
    `width` x `height` is the full image of a camera with the configured field of view; `rows`
    are fractions of that height, or None for every row.
    """
    width: int
    height: int
    rows: Optional[Tuple[float, ...]] = None


class SimulatorLost(RuntimeError):
    """The backend cannot go on (a simulator process that stopped answering)."""


class Simulator(abc.ABC):
    """Reset the car, apply a Twist for one control period, return the next camera frame.

    A backend that loses its simulator raises from reset/step and keeps the exception in
    `failure`: the trainer, which calls the environment from inside a TensorFlow graph (where
    the exception arrives wrapped), finds the cause there, saves its checkpoint and re-raises it.
    """

    failure: Optional[BaseException] = None

    @property
    @abc.abstractmethod
    def control_period(self) -> float:
        """Seconds of simulation between two frames."""

    @abc.abstractmethod
    def reset(self, pose: Pose2D) -> Frame:
        """Place the car at rest at `pose`; return the first frame taken there."""

    @abc.abstractmethod
    def step(self, cmd: Twist) -> Frame:
        """Apply `cmd` and return the first frame stamped after it took effect."""

    def request_view(self, view: Optional[CameraView]) -> None:
        """Hint: the consumer only needs this part of the image. Backends may ignore it."""

    def render_full(self) -> Optional[Frame]:
        """A full-resolution frame for humans (video, rviz), where the backend can make one."""
        return None

    def close(self) -> None:
        """Release processes, connections and windows."""

    def __enter__(self) -> 'Simulator':
        return self

    def __exit__(self, *exc) -> None:
        self.close()
