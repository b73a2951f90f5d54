"""The embedded simulator: kinematic car + inverse-perspective camera, no ROS, no Gazebo."""
from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

from ..config import CameraConfig, CarConfig, RandomizationConfig
from ..track import Circuit
from .camera import full_view
from .car import KinematicCar
from .interface import CameraView, Simulator
from .render import Palette, Renderer, TrackMap
from .types import Frame, Pose2D, Twist

_MAPS: dict = {}


def track_map(circuit: Circuit) -> TrackMap:
    """One map per circuit per process: parallel environments share it."""
    key = id(circuit)
    if key not in _MAPS:
        _MAPS[key] = (circuit, TrackMap(circuit))  # keep circuit alive so id() stays unique
    return _MAPS[key][1]


class EmbeddedSimulator(Simulator):
    def __init__(self, circuit: Circuit, camera: CameraConfig, car: CarConfig,
                 randomization: Optional[RandomizationConfig] = None, seed: int = 0):
        self.circuit = circuit
        self.camera = camera
        self.car = KinematicCar(car)
        self.randomization = randomization
        self._rng = np.random.default_rng(seed)
        # Noise of the frames rendered for humans (render_full): looking at a run (a recording,
        # a live view) must not change the frames, and so the driving, of the run itself.
        self._view_rng = np.random.default_rng([seed, 1])
        self.renderer = Renderer(track_map(circuit), camera, Palette())
        self._view = full_view(camera)
        self._time = 0.0
        self._noise_std = 0.0

    @property
    def control_period(self) -> float:
        return self.camera.control_period

    def request_view(self, view: Optional[CameraView]) -> None:
        self._view = view or full_view(self.camera)

    def reset(self, pose: Pose2D) -> Frame:
        self.car.reset(pose)
        self._randomize()
        return self._frame(self._view)

    def step(self, cmd: Twist) -> Frame:
        dt = self.control_period
        self.car.step(cmd, dt)
        self._time += dt
        return self._frame(self._view)

    def render_full(self) -> Frame:
        return self._frame(full_view(self.camera), self._view_rng)

    def _randomize(self) -> None:
        r = self.randomization
        if r is None or not r.enabled:
            return
        rng = self._rng
        light = float(rng.uniform(1.0 - r.light, 1.0 + r.light))
        width = self.circuit.line_width * float(rng.uniform(1.0 - r.line_width,
                                                            1.0 + r.line_width))
        hue_shift = float(rng.uniform(-r.line_hue, r.line_hue))
        hsv = cv2.cvtColor(np.array([[Palette.line]], np.uint8), cv2.COLOR_BGR2HSV)[0, 0]
        hsv = np.array([(int(hsv[0]) + int(round(hue_shift))) % 180, hsv[1], hsv[2]], np.uint8)
        line_bgr = tuple(int(v) for v in
                         cv2.cvtColor(hsv.reshape(1, 1, 3), cv2.COLOR_HSV2BGR)[0, 0])
        self.renderer.set_appearance(line_width=width, light=light, line_bgr=line_bgr)
        self._noise_std = r.noise_std

    def _frame(self, view: CameraView, rng: Optional[np.random.Generator] = None) -> Frame:
        image, fractions = self.renderer.render(self.car.pose, view)
        if self._noise_std > 0:
            noise = (rng or self._rng).normal(0.0, self._noise_std, image.shape)
            image = np.clip(image + noise, 0, 255).astype(np.uint8)
        return Frame(image=image, stamp=self._time, pose=self.car.pose, speed=self.car.v,
                     row_fractions=None if view.rows is None else fractions)
