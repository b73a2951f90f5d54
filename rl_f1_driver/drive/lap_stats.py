"""Lap and episode statistics from a stream of ground-truth poses (drive_node, no rclpy).

The ROS drive node only sees odometry: (simulation time, world pose) messages. This module
turns them into the same figures training and `rl-f1 drive` report (env.metrics.EpisodeStats
on the track.TrackTracker's progress), one record per completed lap and one per episode. An
episode ends when the car is teleported (a reset: the pose jumps or time runs backwards) and
when driving stops.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional

import numpy as np

from ..config import Config, load_config
from ..env.metrics import EpisodeStats
from ..errors import UserError
from ..sim.types import Frame, Pose2D
from ..track import Circuit, TrackState, TrackTracker, load_circuit

# A jump this much longer than the car could have driven since the previous pose is a
# teleport (a reset), not driving. The car is limited to car.max_linear_speed (10 m/s by
# default); FASTEST_MPS leaves room for configs with faster cars and for timing jitter. After a
# silence longer than MAX_GAP_S (lost odometry) the progress in between is unknown anyway,
# so there a jump of JUMP_M alone ends the episode.
JUMP_M = 5.0
FASTEST_MPS = 20.0
MAX_GAP_S = 1.0
# EpisodeStats.record reads stamp, pose and speed of a Frame; odometry has no image.
_NO_IMAGE = np.zeros((0, 0, 3), np.uint8)


def drive_circuit(track: str, config: Optional[Config], source: str = 'track') -> Circuit:
    """The circuit driven: `track` (a name or YAML path) when set, else the config's track
    (no config: the defaults'). A bad value is a UserError naming `source` and the value."""
    if track.strip():
        name, where = track.strip(), source
    else:
        cfg = config if config is not None else load_config()
        name, where = cfg.track, f'{source} (empty, so the config\'s track)'
    try:
        return load_circuit(name)
    except UserError as exc:
        raise UserError(f'{where} = {name!r}: {exc}') from None


class _Direction:
    """Progress along the circuit driven one way, with the episode's and the lap's figures."""

    def __init__(self, name: str, circuit: Circuit):
        self.name = name
        self.circuit = circuit
        self.tracker = TrackTracker(circuit)
        self.episode = EpisodeStats()
        self.lap = EpisodeStats()
        self.state: Optional[TrackState] = None     # at the latest pose

    def start(self, frame: Frame) -> None:
        st = self.tracker.reset(frame.pose.x, frame.pose.y, frame.pose.yaw)
        self.state = st
        self.episode = self._stats(frame.stamp)
        self.lap = self._stats(frame.stamp)
        self.episode.record(frame, st, 0.0)
        self.lap.record(frame, st, 0.0)

    def record(self, frame: Frame, dt: float) -> TrackState:
        p = frame.pose
        st = self.tracker.update(p.x, p.y, p.yaw)
        self.state = st
        self.episode.record(frame, st, dt)
        self.lap.record(frame, st, dt)
        return st

    def next_lap(self, stamp: float) -> None:
        """The lap just completed was reported: the next one is measured from here."""
        self.lap = self._stats(stamp)

    def _stats(self, stamp: float) -> EpisodeStats:
        return EpisodeStats(lap_length=self.circuit.length, start_stamp=stamp,
                            last_lap_stamp=stamp)


class LapStats:
    """Feed every odometry pose to update(); it returns the lap and episode records due.

    Both driving directions are tracked from the first pose of an episode (a loop driven
    backwards is another circuit, as in the environment): a lap counts in whichever direction
    the car completes it, and episode records report the direction that made more progress.
    """

    def __init__(self, circuit: Circuit, jump_m: float = JUMP_M,
                 fastest_mps: float = FASTEST_MPS):
        self.circuit = circuit
        self.jump_m = jump_m
        self.fastest_mps = fastest_mps
        self._dirs = [_Direction('forward', circuit), _Direction('reverse', circuit.reversed())]
        self.episodes = 0       # episodes started
        self.laps = 0           # laps completed, all episodes
        self.samples = 0        # poses received in the current episode
        self._last: Optional[Frame] = None

    @property
    def active(self) -> bool:
        """An episode has started and not been summarised yet."""
        return self._last is not None

    def update(self, stamp: float, pose: Pose2D) -> List[Dict[str, Any]]:
        """Account for the car at `pose` at simulation time `stamp`; records now due, oldest
        first: an 'episode' record when this pose starts a new episode after a reset, a 'lap'
        record for each lap this pose completes."""
        out: List[Dict[str, Any]] = []
        last = self._last
        if last is not None:
            dt = stamp - last.stamp
            moved = math.hypot(pose.x - last.pose.x, pose.y - last.pose.y)
            allowed = self.jump_m + (self.fastest_mps * dt if dt <= MAX_GAP_S else 0.0)
            if dt < 0.0 or moved > allowed:
                out.append(self._episode_record('reset'))
                last = None
        if last is None:
            self._start(Frame(image=_NO_IMAGE, stamp=stamp, pose=pose, speed=0.0))
            return out
        # Ground-truth speed from the displacement: the distance driven then does not depend
        # on how (or whether) the odometry source fills its twist.
        speed = moved / dt if dt > 0.0 else 0.0
        frame = Frame(image=_NO_IMAGE, stamp=stamp, pose=pose, speed=speed)
        self._last = frame
        self.samples += 1
        for d in self._dirs:
            if d.record(frame, dt).lap_completed:
                out.append(self._lap_record(d, stamp))
        return out

    def live(self) -> Dict[str, Optional[float]]:
        """The figures of the moment, for a display (rviz's numbers): `lap_fraction` of the
        lap under way (0..1), `speed` (m/s, from the displacement), `deviation` (m, + left of
        the line) and `lap_time` (s since the lap began), all of the direction that made more
        progress; None each before the episode's first pose."""
        last = self._last
        if last is None:
            return {'lap_fraction': None, 'speed': None, 'deviation': None, 'lap_time': None}
        d = self._leading()
        length = self.circuit.length
        progress = max(0.0, d.tracker.progress)
        fraction = min(1.0, max(0.0, (progress - d.tracker.laps * length) / length))
        return {'lap_fraction': fraction,
                'speed': float(last.speed or 0.0),
                'deviation': None if d.state is None else float(d.state.lateral),
                'lap_time': last.stamp - d.lap.start_stamp}

    def finish(self, reason: str = 'shutdown') -> Optional[Dict[str, Any]]:
        """The record of the episode under way (None if none), which then ends."""
        if self._last is None:
            return None
        record = self._episode_record(reason)
        self._last = None
        return record

    def _start(self, frame: Frame) -> None:
        self.episodes += 1
        self.samples = 1
        self._last = frame
        for d in self._dirs:
            d.start(frame)

    def _leading(self) -> _Direction:
        return max(self._dirs, key=lambda d: d.tracker.progress)

    def _lap_record(self, d: _Direction, stamp: float) -> Dict[str, Any]:
        s = d.lap.summary()
        self.laps += 1
        record = {'event': 'lap', 'episode': self.episodes, 'lap': d.lap.laps,
                  'direction': d.name, 'completion': 1.0, 'lap_time_s': s['lap_time_s'],
                  'mean_abs_deviation_m': s['mean_abs_deviation_m'],
                  'max_abs_deviation_m': s['max_abs_deviation_m'],
                  'mean_speed_mps': s['mean_speed_mps'], 'distance_m': d.lap.distance_m,
                  'track': self.circuit.name, 'stamp': stamp}
        d.next_lap(stamp)
        return record

    def _episode_record(self, reason: str) -> Dict[str, Any]:
        d = self._leading()
        s = d.episode.summary()
        return {'event': 'episode', 'episode': self.episodes, 'end_reason': reason,
                'direction': d.name, 'completion': s['completion'],
                'laps': s['laps_completed'], 'lap_times_s': s['lap_times_s'],
                'progress_m': d.tracker.progress, 'distance_m': d.episode.distance_m,
                'duration_s': d.episode.span_s,
                'mean_abs_deviation_m': s['mean_abs_deviation_m'],
                'max_abs_deviation_m': s['max_abs_deviation_m'],
                'mean_speed_mps': s['mean_speed_mps'], 'samples': self.samples,
                'track': self.circuit.name, 'stamp': self._last.stamp}
