"""F1FollowLineEnv: a tf-agents PyEnvironment over any `Simulator` backend.

camera frame -> LineDetector -> observation -> (policy) -> action index -> Twist -> simulator.
The reward and termination use only what the camera sees, so they are the same on Gazebo;
ground truth (progress, deviation, laps), where the backend knows it, goes into `get_info()`.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
from tf_agents.environments import py_environment
from tf_agents.specs import array_spec
from tf_agents.trajectories import time_step as ts

from ..config import Config
from ..perception import LineReading
from ..sim import Frame, Pose2D, Simulator, Twist
from ..track import Circuit, TrackTracker
from .metrics import EpisodeStats
from .observation import ObservationBuilder
from .termination import Termination

# ts.transition() and friends run typing-protocol isinstance checks that cost more than a whole
# embedded simulator step; these build the same TimeStep directly.
_FIRST = np.asarray(ts.StepType.FIRST, np.int32)
_MID = np.asarray(ts.StepType.MID, np.int32)
_LAST = np.asarray(ts.StepType.LAST, np.int32)
_ONE = np.asarray(1.0, np.float32)
_ZERO = np.asarray(0.0, np.float32)


class _NumpyTimeStep(ts.TimeStep):
    """A ts.TimeStep whose is_first / is_mid / is_last skip `tf.is_tensor`.

    tf.is_tensor on a numpy array ends in isinstance() against TensorFlow's runtime_checkable
    `IsTensorLike` Protocol, which Python 3.11 answers by walking the protocol's MRO on every
    call: ~15% of an environment step for the `step(a).is_last()` every driver loop makes.
    Same fields and same class name, so tf.nest treats it as a TimeStep.
    """
    __slots__ = ()

    def is_first(self):
        if isinstance(self.step_type, np.ndarray):
            return np.equal(self.step_type, ts.StepType.FIRST)
        return super().is_first()

    def is_mid(self):
        if isinstance(self.step_type, np.ndarray):
            return np.equal(self.step_type, ts.StepType.MID)
        return super().is_mid()

    def is_last(self):
        if isinstance(self.step_type, np.ndarray):
            return np.equal(self.step_type, ts.StepType.LAST)
        return super().is_last()


_NumpyTimeStep.__name__ = 'TimeStep'  # pickle finds it by __qualname__


def _time_step(step_type: np.ndarray, reward: float, discount: np.ndarray,
               obs: np.ndarray) -> ts.TimeStep:
    return _NumpyTimeStep(step_type, np.asarray(reward, np.float32), discount, obs)


class F1FollowLineEnv(py_environment.PyEnvironment):
    def __init__(self, simulator: Simulator, config: Config, circuit: Optional[Circuit] = None,
                 seed: Optional[int] = None):
        super().__init__(handle_auto_reset=True)
        self.sim = simulator
        self.config = config
        self.circuit = circuit
        self.observer = ObservationBuilder(config)
        self.detector = self.observer.detector
        self.actions = np.asarray(config.actions, np.float32)
        self._rng = np.random.default_rng(config.seed if seed is None else seed)
        # One tracker per driving direction: a loop driven backwards is another circuit.
        self._trackers = ({+1: TrackTracker(circuit), -1: TrackTracker(circuit.reversed())}
                          if circuit is not None else {})
        self._tracker: Optional[TrackTracker] = self._trackers.get(+1)
        self.direction = +1
        self._termination = Termination(config, circuit)
        self._obs_spec = self.observer.spec()
        self.sim.request_view(self.observer.view())
        self._action_spec = array_spec.BoundedArraySpec(
            (), np.int32, 0, len(self.actions) - 1, name='action')
        self._steps = 0
        self._frame: Optional[Frame] = None
        self._reading: Optional[LineReading] = None
        self._info: dict = {}
        self.stats = EpisodeStats()
        self.record_path = False  # keep the driven path in stats (evaluation, plots)
        self._tracking = False
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
        self.observer.reset()
        self._termination.reset()
        self._steps = 0
        self.stats = EpisodeStats(
            lap_length=self.circuit.length if self.circuit is not None else 0.0,
            start_stamp=frame.stamp, last_lap_stamp=frame.stamp,
            path=[] if self.record_path else None)
        self._tracking = False
        self._info = {}
        self._start_tracking(frame)
        obs = self._observe(frame)
        return _time_step(_FIRST, 0.0, _ONE, obs)

    def _step(self, action) -> ts.TimeStep:
        a = int(action)
        v, w = float(self.actions[a, 0]), float(self.actions[a, 1])
        ob = self.observer
        w_before = ob.previous_command[1]
        # The observation after this step carries the command being executed: with
        # acceleration limits it says how the car is still moving.
        ob.note_command(v, w)
        frame = self.sim.step(Twist(v, w))
        self._steps += 1
        obs = self._observe(frame)
        reading = self._reading
        r = self.config.reward
        found = reading.found.tolist()
        centre = sum(1.0 - abs(e) for e, f in zip(reading.errors.tolist(), found) if f)
        centre /= len(found)
        reward = (r.centre_weight * centre + r.speed_weight * v / ob.v_max
                  - r.zigzag_weight * abs(w - w_before) / ob.w_max)
        st = self._track(frame)
        reason = self._termination.check(reading, st)
        if reason:
            reward -= r.lost_penalty
        self.stats.return_ += reward
        if reason:
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
        e = self.config.env
        frac = float(self._rng.random()) if e.start == 'random' else float(e.start)
        if e.direction == 'random':
            self.direction = 1 if self._rng.random() < 0.5 else -1
        else:
            self.direction = 1 if e.direction == 'forward' else -1
        self._tracker = self._trackers[self.direction]
        self.start_fraction = frac
        x, y, yaw = self._tracker.circuit.pose_at(frac)
        rz = self.config.randomization
        if rz.enabled:
            off = float(self._rng.uniform(-rz.start_offset, rz.start_offset))
            x -= off * math.sin(yaw)
            y += off * math.cos(yaw)
            yaw += float(self._rng.uniform(-rz.start_heading, rz.start_heading))
        return Pose2D(x, y, yaw)

    def _observe(self, frame: Frame) -> np.ndarray:
        self._frame = frame
        obs = self.observer.build(frame.image, frame.row_fractions)
        self._reading = self.observer.reading
        return obs

    def _start_tracking(self, frame: Frame) -> None:
        """Ground truth starts with the first frame of the episode that has a pose (a Gazebo
        reset frame may have none); until then nothing from the last episode carries over."""
        if self._tracker is not None and frame.pose is not None:
            near = (self.start_fraction * self._tracker.circuit.length
                    if self.start_fraction is not None else None)
            st = self._tracker.reset(frame.pose.x, frame.pose.y, frame.pose.yaw, near_s=near)
            self._info = self._make_info(st, frame)
            self._tracking = True

    def _track(self, frame: Frame):
        st = None
        if not self._tracking:
            self._start_tracking(frame)
        elif frame.pose is not None:
            p = frame.pose
            st = self._tracker.update(p.x, p.y, p.yaw)
            self._info = self._make_info(st, frame)
        self.stats.record(frame, st, self.sim.control_period)
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
        return self.stats.summary()

    def close(self) -> None:
        self.sim.close()
