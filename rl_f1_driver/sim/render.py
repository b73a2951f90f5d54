"""Camera images of a circuit by inverse perspective: no polygons are drawn per frame.

A `TrackMap` holds, once per circuit, the distance from every cell of a top-down grid to the
painted line, stored as a uint8 index. Rendering a frame moves the precomputed ground point of
each pixel into the map (two `cv2.addWeighted`), samples the index there (`cv2.remap`), and
colours it through a lookup table. Whether a pixel shows line, road, kerb or grass is a
threshold on that distance, so line-width randomisation only rebuilds a 256-entry table.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from ..config import CameraConfig
from ..track import Circuit
from .camera import GroundRays, ground_rays
from .interface import CameraView
from .types import Pose2D

# Distance index: 1 cm steps up to 1 m (line edges placed to 1 cm), then 5 cm steps to 8.75 m.
FINE_STEP, FINE_LIMIT, COARSE_STEP = 0.01, 1.0, 0.05
FAR = 255
MAX_MAP_CELLS = 16_000_000
KERB_WIDTH = 0.25  # m, white band at the road edge


def distance_to_index(d: np.ndarray) -> np.ndarray:
    fine = d / FINE_STEP
    coarse = FINE_LIMIT / FINE_STEP + (d - FINE_LIMIT) / COARSE_STEP
    return np.clip(np.rint(np.where(d < FINE_LIMIT, fine, coarse)), 0, FAR).astype(np.uint8)


def index_to_distance(i: np.ndarray) -> np.ndarray:
    i = np.asarray(i, dtype=np.float64)
    n_fine = FINE_LIMIT / FINE_STEP
    return np.where(i <= n_fine, i * FINE_STEP, FINE_LIMIT + (i - n_fine) * COARSE_STEP)


@dataclass(frozen=True)
class Palette:
    """BGR colours, like the Gazebo world: grey asphalt, white kerbs, grass, red line."""
    line: tuple = (30, 30, 200)
    road: tuple = (95, 95, 95)
    kerb: tuple = (225, 225, 225)
    ground: tuple = (70, 125, 80)
    sky: tuple = (235, 206, 170)


class TrackMap:
    """Top-down grid of distance-to-line indices for one circuit (built once, shared)."""

    def __init__(self, circuit: Circuit, resolution: Optional[float] = None):
        self.circuit = circuit
        x0, y0, x1, y1 = circuit.bounds(margin=circuit.road_width / 2 + 6.0)
        res = resolution or max(0.04, math.sqrt((x1 - x0) * (y1 - y0) / MAX_MAP_CELLS))
        self.res, self.x0, self.y0 = res, x0, y0
        w = int(math.ceil((x1 - x0) / res)) + 1
        h = int(math.ceil((y1 - y0) / res)) + 1
        # Distance transform to the rasterised line: good to about a cell, enough for the road
        # edge. Near the line (where 1 cm matters) distances are recomputed exactly.
        seed = np.full((h, w), 255, np.uint8)
        pts = np.round((circuit.points - (x0, y0)) / res * 16).astype(np.int32)
        cv2.polylines(seed, [pts], isClosed=True, color=0, thickness=1, shift=4)
        dist, labels = cv2.distanceTransformWithLabels(
            seed, cv2.DIST_L2, cv2.DIST_MASK_PRECISE, labelType=cv2.DIST_LABEL_PIXEL)
        dist *= res
        rows, cols = np.nonzero(dist < FINE_LIMIT + 2 * res)
        dist[rows, cols] = _exact_distance(circuit, x0 + cols * res, y0 + rows * res)
        self.index = distance_to_index(dist)
        del labels

    def world_to_cell(self, x: float, y: float) -> tuple[float, float]:
        return (x - self.x0) / self.res, (y - self.y0) / self.res


def _exact_distance(circuit: Circuit, wx: np.ndarray, wy: np.ndarray) -> np.ndarray:
    """Distance from each point to the closed polyline, via its nearest samples."""
    pts = circuit.points
    n = len(pts)
    out = np.empty(len(wx), np.float32)
    # Nearest sample by a coarse-to-fine search: a grid of every 10th sample first.
    coarse = pts[::10]
    chunk = 20_000
    for a in range(0, len(wx), chunk):
        px, py = wx[a:a + chunk], wy[a:a + chunk]
        d2 = (px[:, None] - coarse[None, :, 0]) ** 2 + (py[:, None] - coarse[None, :, 1]) ** 2
        base = np.argmin(d2, axis=1) * 10
        offs = np.arange(-12, 13)
        cand = (base[:, None] + offs[None, :]) % n
        best = np.full(len(px), np.inf)
        for k in range(cand.shape[1]):
            i = cand[:, k]
            j = (i + 1) % n
            ax, ay = pts[i, 0], pts[i, 1]
            bx, by = pts[j, 0], pts[j, 1]
            ex, ey = bx - ax, by - ay
            t = np.clip(((px - ax) * ex + (py - ay) * ey) / (ex * ex + ey * ey), 0.0, 1.0)
            dd = (px - ax - t * ex) ** 2 + (py - ay - t * ey) ** 2
            np.minimum(best, dd, out=best)
        out[a:a + chunk] = np.sqrt(best)
    return out


class Renderer:
    """Renders the views a consumer asks for, from one circuit and one camera."""

    def __init__(self, track_map: TrackMap, camera: CameraConfig, palette: Palette = Palette()):
        self.map = track_map
        self.camera = camera
        self.palette = palette
        self._rays: dict[CameraView, tuple[GroundRays, np.ndarray, np.ndarray]] = {}
        self.set_appearance()

    def set_appearance(self, line_width: Optional[float] = None, light: float = 1.0,
                       line_bgr: Optional[tuple] = None) -> None:
        """Rebuild the colour table (per episode under domain randomisation)."""
        c = self.map.circuit
        lw = c.line_width if line_width is None else line_width
        d = index_to_distance(np.arange(256))
        p = self.palette
        colours = np.empty((256, 3), np.float64)
        colours[:] = p.ground
        half_road = c.road_width / 2.0
        colours[d <= half_road] = p.kerb
        colours[d <= half_road - KERB_WIDTH] = p.road
        colours[d <= lw / 2.0] = line_bgr or p.line
        colours[FAR] = p.ground
        self._lut = np.clip(colours * light, 0, 255).astype(np.uint8).reshape(256, 1, 3)
        self._sky = np.clip(np.array(p.sky, np.float64) * light, 0, 255).astype(np.uint8)

    def _prepared(self, view: CameraView):
        cached = self._rays.get(view)
        if cached is None:
            rays = ground_rays(self.camera, view)
            inv = 1.0 / self.map.res
            cached = (rays, rays.gx * inv, rays.gy * inv)
            self._rays[view] = cached
        return cached

    def render(self, pose: Pose2D, view: CameraView) -> tuple[np.ndarray, np.ndarray]:
        """BGR image of the rows in `view` seen from `pose`, and those rows' fractions."""
        rays, ax, ay = self._prepared(view)
        c, s = math.cos(pose.yaw), math.sin(pose.yaw)
        cx, cy = self.map.world_to_cell(pose.x, pose.y)
        # Map cell = car cell + R(yaw) * ground point, one fused multiply-add per axis.
        mx = cv2.addWeighted(ax, c, ay, -s, cx)
        my = cv2.addWeighted(ax, s, ay, c, cy)
        idx = cv2.remap(self.map.index, mx, my, cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_CONSTANT, borderValue=FAR)
        ground = cv2.LUT(cv2.merge((idx, idx, idx)), self._lut)
        n_rows = len(rays.row_fractions)
        g = rays.ground_rows
        if len(g) == n_rows:
            return ground, rays.row_fractions
        image = np.empty((n_rows, view.width, 3), np.uint8)
        image[:] = self._sky
        if len(g):
            image[g[0]:g[-1] + 1] = ground
        return image, rays.row_fractions
