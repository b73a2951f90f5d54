"""F1FollowLineEnv: a tf-agents PyEnvironment over any `Simulator` backend.

camera frame -> LineDetector -> observation -> (policy) -> action index -> Twist -> simulator.
The reward and termination use only what the camera sees, so they are the same on Gazebo;
ground truth (progress, deviation, laps), where the backend knows it, goes into `get_info()`.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from tf_agents.environments import py_environment
from tf_agents.specs import array_spec
from tf_agents.trajectories import time_step as ts

from ..config import Config
from ..perception import LineDetector, LineReading
from ..sim import Frame, Pose2D, Simulator, Twist
from ..sim.camera import region_view, rows_view
from ..track import Circuit, TrackTracker

WRONG_WAY_M = 5.0  # ends an episode driven this far backwards along the line (ground truth)

# ts.transition() and friends run typing-protocol isinstance checks that cost more than a whole
# embedded simulator step; these build the same TimeStep directly.
_FIRST = np.asarray(ts.StepType.FIRST, np.int32)
_MID = np.asarray(ts.StepType.MID, np.int32)
_LAST = np.asarray(ts.StepType.LAST, np.int32)
_ONE = np.asarray(1.0, np.float32)
_ZERO = np.asarray(0.0, np.float32)


def _time_step(step_type: np.ndarray, reward: float, discount: np.ndarray,
               obs: np.ndarray) -> ts.TimeStep:
    return ts.TimeStep(step_type, np.asarray(reward, np.float32), discount, obs)


@dataclass
class EpisodeStats:
    """Per-episode figures from ground truth (embedded simulator, Gazebo model states)."""
    steps: int = 0
    laps: int = 0
    progress_m: float = 0.0
    lap_times: list = field(default_factory=list)
    abs_lateral_sum: float = 0.0
    max_abs_lateral: float = 0.0
    distance_m: float = 0.0
    return_: float = 0.0
    start_stamp: float = 0.0
    last_lap_stamp: float = 0.0
    span_s: float = 0.0
    end_reason: str = ''

    def summary(self, lap_length: float) -> dict:
        n = max(1, self.steps)
        return {
            'steps': self.steps,
            'laps_completed': self.laps,
            'completion': min(1.0, self.progress_m / lap_length) if lap_length else 0.0,
            'lap_time_s': self.lap_times[0] if self.lap_times else None,
            'lap_times_s': list(self.lap_times),
            'mean_abs_deviation_m': self.abs_lateral_sum / n,
            'max_abs_deviation_m': self.max_abs_lateral,
            'mean_speed_mps': self.distance_m / self.span_s if self.span_s > 0 else 0.0,
            'return': self.return_,
            'end_reason': self.end_reason,
        }


class F1FollowLineEnv(py_environment.PyEnvironment):
    def __init__(self, simulator: Simulator, config: Config, circuit: Optional[Circuit] = None,
                 seed: Optional[int] = None):
        super().__init__(handle_auto_reset=True)
        self.sim = simulator
        self.config = config
        self.circuit = circuit
        self.detector = LineDetector(config.perception)
        self.actions = np.asarray(config.actions, np.float32)
        self._v_max = float(self.actions[:, 0].max())
        self._w_max = float(max(1e-6, np.abs(self.actions[:, 1]).max()))
        self._rng = np.random.default_rng(config.seed if seed is None else seed)
        self._tracker = TrackTracker(circuit) if circuit is not None else None
        e = config.env
        self._mode = e.observation
        k = len(config.perception.rows)
        if self._mode == 'lines':
            n = k + (2 if e.prev_action else 0)
            self._obs_spec = array_spec.BoundedArraySpec((n,), np.float32, -1.0, 1.0,
                                                         name='observation')
            self.sim.request_view(rows_view(config.camera, config.perception.rows))
        else:
            p = config.perception
            self._obs_spec = array_spec.BoundedArraySpec(
                (p.mask_height, p.mask_width, e.stack), np.uint8, 0, 255, name='observation')
            # Render at twice the mask width so the area-downsampled mask keeps thin lines.
            self.sim.request_view(region_view(config.camera, p.mask_top, 2 * p.mask_width))
        self._action_spec = array_spec.BoundedArraySpec(
            (), np.int32, 0, len(self.actions) - 1, name='action')
        self._last_errors = np.zeros(k, np.float32)
        self._masks: deque = deque(maxlen=e.stack)
        self._prev = np.zeros(2, np.float32)
        self._lost_count = 0
        self._steps = 0
        self._frame: Optional[Frame] = None
        self._reading: Optional[LineReading] = None
        self._info: dict = {}
        self.stats = EpisodeStats()
        self.start_fraction: Optional[float] = None

    # --- tf-agents API ---------------------------------------------------------------------

    def action_spec(self) -> array_spec.BoundedArraySpec:
        return self._action_spec

    def observation_spec(self) -> array_spec.BoundedArraySpec:
        return self._obs_spec

    def get_info(self) -> dict:
        return self._info

    def should_reset(self, current_time_step: ts.TimeStep) -> bool:
        # Same rule as the base class without its tf.is_tensor check: our steps are numpy.
        return int(current_time_step.step_type) == int(_LAST)

    def _reset(self) -> ts.TimeStep:
        pose = self._start_pose()
        frame = self.sim.reset(pose)
        self._prev[:] = 0.0
        self._lost_count = 0
        self._steps = 0
        self._last_errors[:] = 0.0
        self._masks.clear()
        self.stats = EpisodeStats(start_stamp=frame.stamp, last_lap_stamp=frame.stamp)
        if self._tracker is not None and frame.pose is not None:
            st = self._tracker.reset(frame.pose.x, frame.pose.y, frame.pose.yaw)
            self._info = self._make_info(st, frame)
        obs = self._observe(frame)
        return _time_step(_FIRST, 0.0, _ONE, obs)

    def _step(self, action) -> ts.TimeStep:
        a = int(action)
        v, w = float(self.actions[a, 0]), float(self.actions[a, 1])
        frame = self.sim.step(Twist(v, w))
        self._steps += 1
        obs = self._observe(frame)
        reading = self._reading
        r = self.config.reward
        found = reading.found.tolist()
        centre = sum(1.0 - abs(e) for e, f in zip(reading.errors.tolist(), found) if f)
        centre /= len(found)
        reward = (r.centre_weight * centre + r.speed_weight * v / self._v_max
                  - r.zigzag_weight * abs(w - self._prev[1] * self._w_max) / self._w_max)
        self._prev[0], self._prev[1] = v / self._v_max, w / self._w_max
        self._lost_count = self._lost_count + 1 if reading.lost else 0
        terminate = self._lost_count >= self.config.env.lost_frames
        reason = 'line_lost' if terminate else ''
        if terminate:
            reward -= r.lost_penalty
        st = self._track(frame)
        if st is not None and st.progress < -WRONG_WAY_M and not terminate:
            terminate, reason = True, 'wrong_way'
            reward -= r.lost_penalty
        self.stats.return_ += reward
        if terminate:
            self.stats.end_reason = reason
            return _time_step(_LAST, reward, _ZERO, obs)
        if self._steps >= self.config.env.max_steps:
            self.stats.end_reason = 'max_steps'
            return _time_step(_LAST, reward, _ONE, obs)
        return _time_step(_MID, reward, _ONE, obs)

    # --- internals -------------------------------------------------------------------------

    def _start_pose(self) -> Pose2D:
        if self.circuit is None:
            return Pose2D(0.0, 0.0, 0.0)
        start = self.config.env.start
        frac = float(self._rng.random()) if start == 'random' else float(start)
        self.start_fraction = frac
        x, y, yaw = self.circuit.pose_at(frac)
        rz = self.config.randomization
        if rz.enabled:
            off = float(self._rng.uniform(-rz.start_offset, rz.start_offset))
            x -= off * math.sin(yaw)
            y += off * math.cos(yaw)
            yaw += float(self._rng.uniform(-rz.start_heading, rz.start_heading))
        return Pose2D(x, y, yaw)

    def _observe(self, frame: Frame) -> np.ndarray:
        self._frame = frame
        self._reading = reading = self.detector.detect(frame.image, frame.row_fractions)
        if self._mode == 'lines':
            errs = np.where(reading.found, reading.errors,
                            np.where(self._last_errors < 0, -1.0, 1.0)).astype(np.float32)
            self._last_errors = np.where(reading.found, reading.errors, errs).astype(np.float32)
            if self.config.env.prev_action:
                return np.concatenate([errs, self._prev]).astype(np.float32)
            return errs
        mask = self.detector.mask_observation(frame.image, frame.row_fractions)
        if not self._masks:
            for _ in range(self.config.env.stack):
                self._masks.append(mask)
        else:
            self._masks.append(mask)
        return np.stack(self._masks, axis=-1)

    def _track(self, frame: Frame):
        if self._tracker is None or frame.pose is None:
            return None
        p = frame.pose
        st = self._tracker.update(p.x, p.y, p.yaw)
        s = self.stats
        s.steps = self._steps
        s.progress_m = st.progress
        lat = abs(st.lateral)
        s.abs_lateral_sum += lat
        s.max_abs_lateral = max(s.max_abs_lateral, lat)
        s.distance_m += abs(frame.speed or 0.0) * self.sim.control_period
        s.span_s = frame.stamp - s.start_stamp
        if st.lap_completed:
            s.laps = st.laps
            s.lap_times.append(frame.stamp - s.last_lap_stamp)
            s.last_lap_stamp = frame.stamp
        self._info = self._make_info(st, frame)
        return st

    def _make_info(self, st, frame: Frame) -> dict:
        length = self.circuit.length
        return {'lap_completed': np.bool_(st.lap_completed), 'laps': np.int32(st.laps),
                'progress': np.float32(st.progress / length), 'lateral': np.float32(st.lateral),
                'heading_error': np.float32(st.heading_error),
                'speed': np.float32(frame.speed or 0.0)}

    # --- for drivers, videos and rviz ------------------------------------------------------

    @property
    def last_frame(self) -> Optional[Frame]:
        return self._frame

    @property
    def last_reading(self) -> Optional[LineReading]:
        return self._reading

    def episode_summary(self) -> dict:
        return self.stats.summary(self.circuit.length if self.circuit is not None else 0.0)

    def close(self) -> None:
        self.sim.close()
