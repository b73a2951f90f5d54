"""ROS message <-> plain data conversions, without rclpy.

Every function works on any object with the fields of the ROS message (rclpy messages,
rosbags messages, simple namespaces), so the logic is tested here against the real Humble
message definitions without a ROS installation.
"""
from __future__ import annotations

import array
import math
from dataclasses import dataclass
from typing import Any, Optional, Tuple

import numpy as np

from ..sim.types import Pose2D, Twist

# encoding -> (channels, index order that turns the pixel into B, G, R)
_ENCODINGS = {
    'bgr8': (3, (0, 1, 2)),
    'rgb8': (3, (2, 1, 0)),
    'bgra8': (4, (0, 1, 2)),
    'rgba8': (4, (2, 1, 0)),
    'mono8': (1, (0, 0, 0)),
    '8uc1': (1, (0, 0, 0)),
    '8uc3': (3, (0, 1, 2)),   # OpenCV's default order is BGR
}


class ImageConversionError(ValueError):
    """An Image message that cannot be turned into a BGR array (encoding, sizes, data)."""


def supported_encodings() -> Tuple[str, ...]:
    return tuple(sorted(_ENCODINGS))


def image_to_bgr(msg: Any) -> np.ndarray:
    """sensor_msgs/Image (8 bit per channel) -> (height, width, 3) uint8 BGR, C-contiguous.

    Honours `step` (row length in bytes), which may exceed width * channels when rows are
    padded; the padding is dropped.
    """
    enc = str(msg.encoding).lower()
    if enc not in _ENCODINGS:
        raise ImageConversionError(
            f'image encoding {msg.encoding!r} is not supported: expected one of '
            f'{", ".join(supported_encodings())} (set the Gazebo camera <format> to R8G8B8)')
    channels, order = _ENCODINGS[enc]
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    if h <= 0 or w <= 0:
        raise ImageConversionError(f'image has no pixels: {w}x{h}')
    row_bytes = w * channels
    if step < row_bytes:
        raise ImageConversionError(
            f'image step {step} is less than width * channels = {w} * {channels} = {row_bytes}')
    data = msg.data
    if isinstance(data, (bytes, bytearray, memoryview, array.array)):
        buf = np.frombuffer(data, dtype=np.uint8)
    else:
        buf = np.asarray(data, dtype=np.uint8).reshape(-1)
    if buf.size < step * h:
        raise ImageConversionError(
            f'image data has {buf.size} bytes, expected step * height = {step} * {h} = '
            f'{step * h}')
    rows = buf[:step * h].reshape(h, step)[:, :row_bytes].reshape(h, w, channels)
    if channels == 1:
        return np.ascontiguousarray(np.repeat(rows, 3, axis=2))
    if order == (0, 1, 2) and channels == 3:
        return np.ascontiguousarray(rows)
    return np.ascontiguousarray(rows[:, :, list(order)])


@dataclass(frozen=True)
class ImageFields:
    """The fields of a sensor_msgs/Image holding a BGR array."""
    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: bytes


def bgr_to_image_fields(bgr: np.ndarray, encoding: str = 'bgr8') -> ImageFields:
    """(H, W, 3) uint8 BGR -> Image fields, unpadded, in `encoding` (bgr8, rgb8 or mono8)."""
    if bgr.dtype != np.uint8 or bgr.ndim != 3 or bgr.shape[2] != 3:
        raise ImageConversionError(
            f'expected an (H, W, 3) uint8 BGR array, got {bgr.dtype} {bgr.shape}')
    h, w = bgr.shape[:2]
    if encoding == 'bgr8':
        pixels = bgr
    elif encoding == 'rgb8':
        pixels = bgr[:, :, ::-1]
    elif encoding == 'mono8':
        # ITU-R 601 luma, as cv2.cvtColor(BGR2GRAY) computes it.
        pixels = np.rint(bgr @ np.array([0.114, 0.587, 0.299])).astype(np.uint8)[..., None]
    else:
        raise ImageConversionError(f'cannot write encoding {encoding!r}: use bgr8, rgb8 or mono8')
    channels = pixels.shape[2]
    return ImageFields(height=h, width=w, encoding=encoding, is_bigendian=0,
                       step=w * channels, data=np.ascontiguousarray(pixels).tobytes())


def fill_image_msg(msg: Any, bgr: np.ndarray, encoding: str = 'bgr8') -> Any:
    """Write a BGR array into an rclpy sensor_msgs/Image (header left to the caller).

    rclpy stores uint8[] as array('B'); building it from bytes is one copy, where assigning
    a list would check every byte in Python.
    """
    f = bgr_to_image_fields(bgr, encoding)
    msg.height, msg.width, msg.encoding = f.height, f.width, f.encoding
    msg.is_bigendian, msg.step = f.is_bigendian, f.step
    msg.data = array.array('B', f.data)
    return msg


# --- Twist -----------------------------------------------------------------------------------

def twist_from_msg(msg: Any) -> Twist:
    """geometry_msgs/Twist -> Twist (the car uses linear.x and angular.z only)."""
    return Twist(float(msg.linear.x), float(msg.angular.z))


def fill_twist_msg(msg: Any, twist: Twist) -> Any:
    """Write a Twist into a geometry_msgs/Twist; the unused components are zeroed."""
    msg.linear.x, msg.linear.y, msg.linear.z = float(twist.linear_x), 0.0, 0.0
    msg.angular.x, msg.angular.y, msg.angular.z = 0.0, 0.0, float(twist.angular_z)
    return msg


def twist_fields(twist: Twist) -> dict:
    """Twist as nested plain fields {'linear': {x, y, z}, 'angular': {x, y, z}}."""
    return {'linear': {'x': float(twist.linear_x), 'y': 0.0, 'z': 0.0},
            'angular': {'x': 0.0, 'y': 0.0, 'z': float(twist.angular_z)}}


def clip_twist(twist: Twist, max_linear: float, max_angular: float) -> Twist:
    return Twist(min(max(twist.linear_x, -max_linear), max_linear),
                 min(max(twist.angular_z, -max_angular), max_angular))


# --- time ------------------------------------------------------------------------------------

def stamp_to_seconds(stamp: Any) -> float:
    """builtin_interfaces/Time -> seconds."""
    return int(stamp.sec) + int(stamp.nanosec) * 1e-9


def seconds_to_stamp(t: float) -> Tuple[int, int]:
    """Seconds -> (sec, nanosec) with 0 <= nanosec < 1e9, also for negative times."""
    total = int(round(t * 1e9))
    sec, nanosec = divmod(total, 1_000_000_000)
    return int(sec), int(nanosec)


def fill_stamp(stamp: Any, t: float) -> Any:
    stamp.sec, stamp.nanosec = seconds_to_stamp(t)
    return stamp


# --- poses -----------------------------------------------------------------------------------

def yaw_from_quaternion(x: float, y: float, z: float, w: float) -> float:
    """Heading (rotation about z) of a quaternion, in (-pi, pi]."""
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def quaternion_from_yaw(yaw: float) -> Tuple[float, float, float, float]:
    """(x, y, z, w) of a pure rotation about z."""
    return 0.0, 0.0, math.sin(yaw / 2.0), math.cos(yaw / 2.0)


def quaternion_from_rpy(roll: float, pitch: float, yaw: float
                        ) -> Tuple[float, float, float, float]:
    """(x, y, z, w) of fixed-axis roll about x, then pitch about y, then yaw about z (ROS's
    and SDF's <pose> convention)."""
    cr, sr = math.cos(roll / 2.0), math.sin(roll / 2.0)
    cp, sp = math.cos(pitch / 2.0), math.sin(pitch / 2.0)
    cy, sy = math.cos(yaw / 2.0), math.sin(yaw / 2.0)
    return (sr * cp * cy - cr * sp * sy, cr * sp * cy + sr * cp * sy,
            cr * cp * sy - sr * sp * cy, cr * cp * cy + sr * sp * sy)


def pose2d_from_pose(pose: Any) -> Pose2D:
    """geometry_msgs/Pose -> Pose2D (x, y, yaw)."""
    q = pose.orientation
    return Pose2D(float(pose.position.x), float(pose.position.y),
                  yaw_from_quaternion(q.x, q.y, q.z, q.w))


def fill_pose_msg(pose: Any, p: Pose2D, z: float = 0.0) -> Any:
    """Write a Pose2D into a geometry_msgs/Pose at height z."""
    pose.position.x, pose.position.y, pose.position.z = float(p.x), float(p.y), float(z)
    q = quaternion_from_yaw(p.yaw)
    pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w = q
    return pose


def forward_speed(yaw: float, vx: float, vy: float) -> float:
    """World-frame velocity projected on the car's heading (negative when reversing)."""
    return vx * math.cos(yaw) + vy * math.sin(yaw)


def odometry_state(msg: Any) -> Tuple[float, Pose2D, float]:
    """nav_msgs/Odometry -> (stamp s, pose, forward speed m/s).

    The planar-move plugin writes the model's world pose, and its twist in the car frame, so
    twist.linear.x is the forward speed.
    """
    return (stamp_to_seconds(msg.header.stamp), pose2d_from_pose(msg.pose.pose),
            float(msg.twist.twist.linear.x))


def model_state(msg: Any, name: str) -> Optional[Tuple[Pose2D, float]]:
    """gazebo_msgs/ModelStates -> (pose, forward speed) of model `name`, None if absent.

    ModelStates has no header: the caller pairs it with the time it arrived.
    """
    try:
        i = list(msg.name).index(name)
    except ValueError:
        return None
    pose = pose2d_from_pose(msg.pose[i])
    lin = msg.twist[i].linear
    return pose, forward_speed(pose.yaw, float(lin.x), float(lin.y))
