"""Where things stand in 3-D, shared by every view of the run: one source of truth.

Heights of the road, kerbs and red line above the ground plane, the height of the car's
origin, and the car's body (boxes and wheels, placed from the camera mount so it never shows in
the camera image). The Gazebo world generator builds the world and the car model from these;
the rviz markers, recordings and sim_node's odometry place the same shapes at the same
heights. Depends on the config only, so every layer above may use it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

from .config import CameraConfig

# Layers 2 mm apart: clear of depth-buffer fighting, and small next to the camera height.
ROAD_TOP = 0.010      # m above the ground plane; the car stands on the road
KERB_TOP = 0.012
LINE_TOP = 0.014
CAR_Z = ROAD_TOP      # height of the car's origin (its wheels touch the road)

BODY = (120, 40, 20)        # BGR dark blue: never red, so perception cannot mistake the car
WING = (60, 60, 60)
TYRE = (25, 25, 25)
HELMET = (0, 200, 255)


@dataclass(frozen=True)
class Part:
    name: str
    size: Tuple[float, float, float]      # x, y, z extent (m)
    centre: Tuple[float, float, float]    # in the car frame: x forward, y left, z up
    bgr: Tuple[int, int, int]


def body_parts(front: float) -> List[Part]:
    """Boxes of the car body; `front` is the x of the foremost point (just behind the camera)."""
    def box(name, x0, x1, width, z0, z1, bgr, y=0.0):
        return Part(name, (x1 - x0, width, z1 - z0), ((x0 + x1) / 2, y, (z0 + z1) / 2), bgr)
    f = front
    return [
        box('front_wing', f - 0.30, f, 1.60, 0.05, 0.10, WING),
        box('nose', f - 0.90, f, 0.30, 0.10, 0.25, BODY),
        box('monocoque', f - 3.00, f - 0.90, 0.70, 0.10, 0.45, BODY),
        box('sidepods', f - 2.60, f - 1.30, 1.30, 0.10, 0.40, BODY),
        box('engine_cover', f - 2.60, f - 1.60, 0.35, 0.45, 0.75, BODY),
        box('rear_wing', f - 3.70, f - 3.35, 1.00, 0.80, 0.85, WING),
        box('rear_wing_left_plate', f - 3.75, f - 3.30, 0.03, 0.40, 0.90, WING, 0.5),
        box('rear_wing_right_plate', f - 3.75, f - 3.30, 0.03, 0.40, 0.90, WING, -0.5),
    ]


def wheels(front: float) -> List[Tuple[str, float, float, float, float]]:
    """(name, x, y, radius, width) of the four wheels."""
    return [('wheel_front_left', front - 0.55, 0.75, 0.33, 0.35),
            ('wheel_front_right', front - 0.55, -0.75, 0.33, 0.35),
            ('wheel_rear_left', front - 3.25, 0.72, 0.35, 0.40),
            ('wheel_rear_right', front - 3.25, -0.72, 0.35, 0.40)]


def car_front(camera: CameraConfig) -> float:
    """Foremost x of the body: 5 cm behind the camera."""
    return camera.mount_forward - 0.05


def camera_mount(camera: CameraConfig) -> Tuple[float, float, float, float, float, float]:
    """Pose of the camera in the car frame, (x, y, z, roll, pitch, yaw): the Gazebo sensor's
    <pose> and the base_link -> camera_link transform the nodes publish for rviz. A positive
    pitch tilts the camera down (ROS and SDF both turn +x towards -z about +y).

    `mount_height` is the camera's height above the ground plane (z = 0), where the embedded
    renderer puts it too (sim/camera.py: the red line, painted LINE_TOP above that plane, is
    mount_height - LINE_TOP below the camera); the car's origin stands CAR_Z above the plane,
    so the mount is that much lower in the car frame. Real Gazebo frames confirm the height:
    the line's width on the bottom row gives the camera 0.485 m above the paint."""
    return (float(camera.mount_forward), 0.0, float(camera.mount_height) - CAR_Z, 0.0,
            float(camera.pitch), 0.0)
