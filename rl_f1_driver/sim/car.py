"""Kinematic car driven by the Twist Gazebo's drive plugins take, with acceleration limits."""
from __future__ import annotations

import math

from ..config import CarConfig
from .types import Pose2D, Twist


class KinematicCar:
    def __init__(self, cfg: CarConfig):
        self.cfg = cfg
        self.x = self.y = self.yaw = 0.0
        self.v = self.w = 0.0

    def reset(self, pose: Pose2D) -> None:
        self.x, self.y, self.yaw = pose.x, pose.y, pose.yaw
        self.v = self.w = 0.0

    @property
    def pose(self) -> Pose2D:
        return Pose2D(self.x, self.y, self.yaw)

    def step(self, cmd: Twist, dt: float) -> None:
        c = self.cfg
        v_cmd = min(max(cmd.linear_x, -c.max_linear_speed), c.max_linear_speed)
        w_cmd = min(max(cmd.angular_z, -c.max_angular_speed), c.max_angular_speed)
        dv = c.max_linear_accel * dt
        dw = c.max_angular_accel * dt
        v = self.v + min(max(v_cmd - self.v, -dv), dv)
        w = self.w + min(max(w_cmd - self.w, -dw), dw)
        # Integrate with the mean of old and new rates over the step, along an exact arc.
        vm, wm = 0.5 * (self.v + v), 0.5 * (self.w + w)
        if abs(wm) < 1e-9:
            self.x += vm * dt * math.cos(self.yaw)
            self.y += vm * dt * math.sin(self.yaw)
        else:
            yaw1 = self.yaw + wm * dt
            r = vm / wm
            self.x += r * (math.sin(yaw1) - math.sin(self.yaw))
            self.y -= r * (math.cos(yaw1) - math.cos(self.yaw))
            self.yaw = math.atan2(math.sin(yaw1), math.cos(yaw1))
        self.v, self.w = v, w
