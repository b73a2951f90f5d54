"""Camera frame -> observation, shared by the environment and the deployed driver.

Keeping this in one place means a policy sees exactly the same numbers when it drives (ROS node,
`rl-f1 drive`) as when it was trained.
"""
from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Optional

import numpy as np

from ..config import Config
from ..perception import LineDetector, LineReading
from ..sim.camera import region_view, rows_view
from ..sim.interface import CameraView

if TYPE_CHECKING:
    from tf_agents.specs import array_spec


class ObservationBuilder:
    def __init__(self, config: Config):
        self.config = config
        self.detector = LineDetector(config.perception)
        self.mode = config.env.observation
        actions = np.asarray(config.actions, np.float64)
        self.v_max = float(actions[:, 0].max())
        self.w_max = float(max(1e-6, np.abs(actions[:, 1]).max()))
        k = len(config.perception.rows)
        self._last_errors = np.zeros(k, np.float32)
        self._prev = np.zeros(2, np.float32)
        self._masks: deque = deque(maxlen=config.env.stack)
        self.reading: Optional[LineReading] = None

    def spec(self) -> 'array_spec.BoundedArraySpec':
        # tf-agents only here: drivers that only build observations need no TensorFlow.
        from tf_agents.specs import array_spec
        e, p = self.config.env, self.config.perception
        if self.mode == 'lines':
            n = len(p.rows) + (2 if e.prev_action else 0)
            return array_spec.BoundedArraySpec((n,), np.float32, -1.0, 1.0, name='observation')
        # Masks are 0..255. The bounds are arrays of shape (1,) (broadcast over the image),
        # not scalars: tf-agents samples a uint8 spec (QNetwork.create_variables, through
        # tensor_spec.sample_bounded_spec) with the exclusive upper bound `maximum + 1`,
        # which for a scalar (0-d uint8) maximum of 255 wraps to 0 under numpy 2's promotion
        # rules ("Need minval < maxval"); an array's is read as a Python int first (256).
        # The same bounds: equal (==) to the scalar spec, the same check_array.
        return array_spec.BoundedArraySpec((p.mask_height, p.mask_width, e.stack), np.uint8,
                                           np.zeros(1, np.uint8), np.full(1, 255, np.uint8),
                                           name='observation')

    def view(self) -> CameraView:
        """The part of the camera image this observation needs (a rendering hint)."""
        c, p = self.config.camera, self.config.perception
        if self.mode == 'lines':
            return rows_view(c, p.rows)
        # Twice the mask width, so area-downsampling keeps thin far-away line segments.
        return region_view(c, p.mask_top, 2 * p.mask_width)

    def reset(self) -> None:
        self._last_errors[:] = 0.0
        self._prev[:] = 0.0
        self._masks.clear()
        self.reading = None

    def note_command(self, v: float, w: float) -> None:
        """Record the command just sent (part of the next `lines` observation)."""
        self._prev[0] = v / self.v_max
        self._prev[1] = w / self.w_max

    @property
    def previous_command(self) -> tuple[float, float]:
        return float(self._prev[0]) * self.v_max, float(self._prev[1]) * self.w_max

    def build(self, image: np.ndarray, row_fractions: Optional[np.ndarray] = None
              ) -> np.ndarray:
        self.reading = reading = self.detector.detect(image, row_fractions)
        if self.mode == 'lines':
            # A lost row reads as the edge on the side the line was last seen.
            errs = np.where(reading.found, reading.errors,
                            np.where(self._last_errors < 0, -1.0, 1.0)).astype(np.float32)
            self._last_errors = errs
            if self.config.env.prev_action:
                return np.concatenate([errs, self._prev])
            return errs
        mask = self.detector.mask_observation(image, row_fractions)
        while len(self._masks) < self.config.env.stack - 1:
            self._masks.append(mask)
        self._masks.append(mask)
        return np.stack(self._masks, axis=-1)
