"""Pinhole camera on the car: where each pixel's ray meets the ground.

Intrinsics come from `CameraConfig` (the same numbers go into the Gazebo camera sensor): square
pixels, principal point in the image centre, focal length from the horizontal field of view.
The camera has no roll, so the depth of the ground seen by a pixel depends only on its row,
and sky / beyond-clip pixels are whole rows. The ground the camera looks at is the painted line's
plane: `eye_height` above it, as in the Gazebo world.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ..config import CameraConfig
from ..errors import ConfigError
from ..scene import LINE_TOP
from .interface import CameraView


def eye_height(camera: CameraConfig) -> float:
    """Height of the camera above the painted red line, m.

    `mount_height` is measured from the ground plane (z = 0 of the Gazebo world, where the
    camera is mount_height high); the world paints the line LINE_TOP above that plane, so the
    camera is that much closer to the line than mount_height. 14 mm of 0.5 m is a 2.9 % scale
    on every lateral offset and on the row where each depth is seen (5 px on a far row
    where the line runs across the image).
    """
    height = camera.mount_height - LINE_TOP
    if height <= 0:   # the camera under the paint would see no ground at all: say why
        raise ConfigError(f'camera.mount_height {camera.mount_height:g}: must be above the '
                          f'painted line, {LINE_TOP:g} m over the ground plane')
    return height


def full_view(camera: CameraConfig) -> CameraView:
    return CameraView(camera.width, camera.height, None)


def rows_view(camera: CameraConfig, fractions: Sequence[float]) -> CameraView:
    """Only the image rows that perception reads, at full width."""
    return CameraView(camera.width, camera.height, tuple(row_fraction(camera.height, f)
                                                         for f in fractions))


def region_view(camera: CameraConfig, top: float, width: int) -> CameraView:
    """The rows below `top` (a fraction) of a camera with the same field of view at `width`."""
    height = max(2, int(round(width * camera.height / camera.width)))
    first = int(top * height)
    return CameraView(width, height, tuple((i + 0.5) / height for i in range(first, height)))


def row_index(height: int, fraction: float) -> int:
    """Image row holding a given fraction of the height (the rule perception uses too)."""
    return min(height - 1, max(0, int(fraction * height)))


def row_fraction(height: int, fraction: float) -> float:
    """Centre of that row as a fraction of the height."""
    return (row_index(height, fraction) + 0.5) / height


@dataclass
class GroundRays:
    """Per-pixel ground points, in the car frame (x forward, y left), for one view."""
    view: CameraView
    row_fractions: np.ndarray   # (R,) fraction of each output row
    ground_rows: np.ndarray     # (G,) indices of output rows that see the ground (contiguous)
    gx: np.ndarray              # (G, W) float32, m
    gy: np.ndarray              # (G, W) float32, m
    depth: np.ndarray           # (G,) distance along the optical axis, m


def ground_rays(camera: CameraConfig, view: Optional[CameraView] = None) -> GroundRays:
    view = view or full_view(camera)
    w, h = view.width, view.height
    f = w / (2.0 * math.tan(camera.hfov / 2.0))
    fr = (np.asarray(view.rows, dtype=np.float64) if view.rows is not None
          else (np.arange(h) + 0.5) / h)
    # Optical frame: X right, Y down, Z forward. Pixel centres at (i + 0.5).
    xs = ((np.arange(w) + 0.5) - w / 2.0) / f
    ys = (fr * h - h / 2.0) / f
    cp, sp = math.cos(camera.pitch), math.sin(camera.pitch)
    # Ray = Z * forward_axis + (-X) * left + (-Y) * up_axis, with the camera pitched down.
    dz = -sp - ys * cp            # vertical component of each row's ray (Z component 1)
    dxf = cp - ys * sp            # forward component
    with np.errstate(divide='ignore'):
        t = np.where(dz < 0, eye_height(camera) / -dz, np.inf)  # depth along the optical axis
    sees_ground = (t >= camera.clip_near) & (t <= camera.clip_far)
    ground = np.flatnonzero(sees_ground)
    tg = t[ground][:, None]
    gx = (camera.mount_forward + tg * dxf[ground][:, None]) * np.ones((1, w))
    gy = tg * (-xs[None, :])
    return GroundRays(view=view, row_fractions=fr, ground_rows=ground,
                      gx=gx.astype(np.float32), gy=gy.astype(np.float32), depth=t[ground])


def project_ground_point(camera: CameraConfig, x_fwd: float, y_left: float
                         ) -> Optional[tuple[float, float]]:
    """Pixel (u, v) of a ground point given in the car frame, or None when not in view."""
    f = camera.fx
    cp, sp = math.cos(camera.pitch), math.sin(camera.pitch)
    px, pz = x_fwd - camera.mount_forward, -eye_height(camera)
    depth = px * cp - pz * sp                      # along the optical axis
    if depth < camera.clip_near or depth > camera.clip_far:
        return None
    down = -(px * sp + pz * cp)                    # along the optical Y (down) axis
    u = camera.width / 2.0 - f * y_left / depth
    v = camera.height / 2.0 + f * down / depth
    if 0 <= u < camera.width and 0 <= v < camera.height:
        return u, v
    return None
