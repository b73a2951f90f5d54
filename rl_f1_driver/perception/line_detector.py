"""Find the red line in a camera image: per-row line centres and downsampled masks.

Works on any BGR image: a Gazebo frame, a full embedded render, or an embedded render of just
the rows asked for (`row_fractions` says which rows an image holds). Resolution-independent:
rows are fractions of the height, centres are normalised to [-1, 1].
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from ..config import PerceptionConfig
from ..sim.camera import row_fraction


@dataclass
class LineReading:
    errors: np.ndarray    # (K,) float32: line centre vs image centre, -1 left edge .. +1 right
    found: np.ndarray     # (K,) bool: the line was seen on that row
    columns: np.ndarray   # (K,) float32: line centre in pixels (NaN when lost)
    width: int            # image width the columns refer to

    @property
    def lost(self) -> bool:
        return not bool(self.found.any())


class LineDetector:
    def __init__(self, cfg: PerceptionConfig):
        self.cfg = cfg
        self._lo1 = np.array([0, cfg.sat_min, cfg.val_min], np.uint8)
        self._hi1 = np.array([cfg.hue_low_max, 255, 255], np.uint8)
        self._lo2 = np.array([cfg.hue_high_min, cfg.sat_min, cfg.val_min], np.uint8)
        self._hi2 = np.array([179, 255, 255], np.uint8)
        self._row_cache: dict = {}

    def red_mask(self, bgr: np.ndarray) -> np.ndarray:
        """255 where a pixel is red. Red hue wraps around 0, so two hue bands are OR-ed."""
        hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
        return cv2.bitwise_or(cv2.inRange(hsv, self._lo1, self._hi1),
                              cv2.inRange(hsv, self._lo2, self._hi2))

    def row_indices(self, height: int, row_fractions: Optional[np.ndarray]) -> np.ndarray:
        """Which image rows hold the configured perception rows."""
        key = (height, None if row_fractions is None else row_fractions.tobytes())
        idx = self._row_cache.get(key)
        if idx is None:
            if row_fractions is None:
                idx = np.array([min(height - 1, int(f * height)) for f in self.cfg.rows])
            else:
                idx = np.array([int(np.argmin(np.abs(row_fractions - row_fraction(10**6, f))))
                                for f in self.cfg.rows])
            self._row_cache[key] = idx
        return idx

    def detect(self, bgr: np.ndarray, row_fractions: Optional[np.ndarray] = None
               ) -> LineReading:
        idx = self.row_indices(bgr.shape[0], row_fractions)
        mask = self.red_mask(np.ascontiguousarray(bgr[idx]))
        width = bgr.shape[1]
        k = len(idx)
        errors = np.zeros(k, np.float32)
        found = np.zeros(k, bool)
        columns = np.full(k, np.nan, np.float32)
        half = width / 2.0
        min_px = self.cfg.min_pixels
        for r in range(k):
            cols = mask[r].nonzero()[0]
            if len(cols) < min_px:
                continue
            centre = _widest_run_centre(cols)
            columns[r] = centre
            errors[r] = (centre - half) / half
            found[r] = True
        return LineReading(errors=errors, found=found, columns=columns, width=width)

    def mask_observation(self, bgr: np.ndarray, row_fractions: Optional[np.ndarray] = None
                         ) -> np.ndarray:
        """Line mask of the image below `mask_top`, area-downsampled to the mask size (uint8)."""
        fr = row_fractions if row_fractions is not None else (
            (np.arange(bgr.shape[0]) + 0.5) / bgr.shape[0])
        first = int(np.searchsorted(fr, self.cfg.mask_top))
        mask = self.red_mask(np.ascontiguousarray(bgr[first:]))
        return cv2.resize(mask, (self.cfg.mask_width, self.cfg.mask_height),
                          interpolation=cv2.INTER_AREA)


def _widest_run_centre(cols: np.ndarray) -> float:
    """Centre (pixel units, pixel centres at i + 0.5) of the widest run of red pixels.

    Another part of the circuit can show up far away on the same row; the line under the car is
    the widest run there.
    """
    if cols[-1] - cols[0] + 1 == len(cols):
        return (cols[0] + cols[-1] + 1) / 2.0
    breaks = np.flatnonzero(np.diff(cols) > 1)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [len(cols) - 1]))
    best = int(np.argmax(ends - starts))
    return (cols[starts[best]] + cols[ends[best]] + 1) / 2.0
