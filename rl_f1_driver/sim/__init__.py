"""Simulator backends behind one interface, and the embedded one."""
from .interface import CameraView, Simulator
from .types import ZERO_TWIST, Frame, Pose2D, Twist

__all__ = ['CameraView', 'Simulator', 'ZERO_TWIST', 'Frame', 'Pose2D', 'Twist']
