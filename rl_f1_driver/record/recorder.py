"""DriveRecorder: turns a drive (frames, commands, perception) into ROS 2 messages for sinks.

Used by `rl-f1 drive` (drive.runner.drive) and by the trainer's evaluation drives
(learn.evaluation.evaluate), with any mix of sinks: an MCAP file (McapSink) and the live
Foxglove server (FoxgloveSink). Each message is built only when a sink wants its topic: the
overlay (the costliest) and the camera image only for a file or a subscribed viewer.

Per control step, stamped with the simulation time of the frame the command was computed
from: camera (or its JPEG), overlay, cmd_vel, odometry, TF odom -> base_link, telemetry
(speed, deviation, reward); the driven path every PATH_PERIOD simulated seconds and at the end;
the circuit (road edges, red line, car) once per episode; statistics records when due.
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

from ..scene import CAR_Z
from ..perception import draw_overlay
from ..messages.path_trace import PathTrace
from ..sim.types import Frame, Twist
from ..track import Circuit
from . import messages as M
from .topics import Topics

PATH_PERIOD = 0.5          # simulated s between recorded paths
FullFrame = Callable[[], Optional[Frame]]


class DriveRecorder:
    def __init__(self, sinks: Sequence[Any], topics: Topics, messages: M.Messages,
                 circuit: Circuit, *, detector: Any = None, compressed: bool = False,
                 car_front: Optional[float] = None, lap_stats: Optional[Circuit] = None,
                 label: str = '', shared: Sequence[Any] = (), close_at_end: bool = False,
                 live_periods: Optional[Dict[str, float]] = None):
        """`lap_stats`: the circuit to measure laps on from the poses, as drive_node does
        (then `stats` gets its per-lap and per-episode records); None: the caller passes its
        records to `end`. `detector` draws the overlay (None: no overlay). `close` leaves the
        `shared` sinks open (a live server serving several drives); `close_at_end`: close
        after the first `end` (one file per evaluation drive). `live_periods`: wall seconds
        between two messages sent to a live sink, per kind (image, path, other; default
        foxglove_sink.LIVE_PERIODS); files get every message."""
        self.sinks = list(sinks)
        self._shared = [id(s) for s in shared]
        self.close_at_end = close_at_end
        self.closed = False
        self.topics = topics
        self.messages = messages
        self.circuit = circuit
        self.detector = detector
        self.compressed = compressed
        self.car_front = car_front
        self.label = label
        self.trace = PathTrace(topics.path_max_points, topics.path_min_spacing)
        self._laps = None
        if lap_stats is not None:
            from ..drive.lap_stats import LapStats
            self._laps = LapStats(lap_stats)
        self._path_stamp = -float('inf')
        self._last: Optional[Frame] = None
        self.steps = 0
        self.episodes = 0
        t = topics
        self.camera_topic = t.compressed(t.camera) if compressed else t.camera
        self.overlay_topic = t.compressed(t.overlay) if compressed else t.overlay
        image = M.COMPRESSED_IMAGE if compressed else M.IMAGE
        declared = [(self.camera_topic, image), (self.overlay_topic, image),
                    (t.cmd_vel, M.TWIST), (t.odom, M.ODOMETRY), (t.tf, M.TF), (t.path, M.PATH),
                    (t.circuit, M.MARKERS), (t.stats, M.STRING)]
        declared += [(t.telemetry(s), M.FLOAT32) for s in ('speed', 'deviation', 'reward')]
        for sink in self.sinks:
            if hasattr(sink, 'declare'):
                for topic, msgtype in declared:
                    sink.declare(topic, msgtype, latched=topic == t.circuit)
        from .foxglove_sink import LIVE_PERIODS
        periods = {**LIVE_PERIODS, **(live_periods or {})}
        # Circuit and statistics are rare and each one matters: never held back.
        self._period = {self.camera_topic: periods['image'],
                        self.overlay_topic: periods['image'], t.path: periods['path'],
                        t.circuit: 0.0, t.stats: 0.0}
        self._default_period = periods['other']
        self._sent: Dict[str, float] = {}
        # Only live sinks: nothing is due before the shortest period has passed, so most
        # steps of a fast run cost one clock reading (`due`).
        self._live_only = all(getattr(s, 'live', False) for s in self.sinks)
        self._gate = min(p for p in periods.values() if p > 0)
        self._next_due = -math.inf
        self._stamped: Dict[float, Any] = {}   # path poses as messages, built once each

    # --- what the drivers call ------------------------------------------------------------

    def start(self, frame: Frame, full: Optional[FullFrame] = None) -> None:
        """An episode starts at `frame` (after a reset): the circuit; the frame itself goes
        out with its command (`step`) or as the last one (`end`)."""
        self.episodes += 1
        self.trace.clear()
        self._stamped = {}
        self._path_stamp = -float('inf')
        if self.episodes == 1:   # latched: once per recording, and once for live viewers
            self._emit(self.topics.circuit, lambda: self.messages.circuit(
                self.topics.circuit, self.circuit, frame.stamp, self.topics.odom_frame,
                self.topics.base_frame, self.car_front))
        self._last = None

    def due(self) -> bool:
        """Whether a `step` now would send anything (always, with a file among the sinks);
        a caller may skip building its arguments, and call `track` instead, when not."""
        if not self._live_only:
            return True
        now = time.monotonic()
        if now < self._next_due:
            return False
        self._next_due = now + self._gate
        return True

    def track(self, frame: Frame) -> None:
        """A step that sends nothing: its pose still joins the driven path."""
        if frame.pose is not None:
            self.trace.add(frame.stamp, frame.pose)

    def step(self, frame: Frame, command: Twist, reading: Any = None, *,
             full: Optional[FullFrame] = None, deviation: Optional[float] = None,
             reward: Optional[float] = None, text: str = '') -> None:
        """`command` was computed from `frame` (with perception `reading`); `full()` renders
        the whole camera image of this moment when `frame` holds only some rows."""
        self.steps += 1
        self._frame(frame, full, command, reading, text)
        t = frame.stamp
        cmd_vel = self.topics.cmd_vel
        self._emit(cmd_vel, lambda: self.messages.twist(cmd_vel, command, t))
        for signal, value in (('deviation', deviation), ('reward', reward)):
            if value is not None:
                topic = self.topics.telemetry(signal)
                self._emit(topic, lambda: self.messages.float32(topic, value, t))

    def end(self, frame: Frame, reason: str, records: Iterable[Dict[str, Any]] = (),
            full: Optional[FullFrame] = None) -> None:
        """The drive ended at `frame` for `reason`: its last frame, path and statistics."""
        self._frame(frame, full, None, None, '')
        self._path(frame.stamp, force=True)
        out: List[Dict[str, Any]] = list(records)
        if self._laps is not None:
            last = self._laps.finish(reason)
            if last is not None:
                out.append(last)
        for record in out:
            self.stats(record, frame.stamp)
        if self.close_at_end:
            self.close()

    def stats(self, record: Dict[str, Any], t: float) -> None:
        self._emit(self.topics.stats, lambda: self.messages.string(self.topics.stats, record, t))

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for sink in self.sinks:
            if id(sink) not in self._shared:
                sink.close()

    # --- internals ------------------------------------------------------------------------

    def _wanted(self, topic: str) -> List[Any]:
        out = []
        for sink in self.sinks:
            if not sink.wants(topic):
                continue
            if getattr(sink, 'live', False):
                now = time.monotonic()
                if now - self._sent.get(topic, -math.inf) < self._period.get(
                        topic, self._default_period):
                    continue
                self._sent[topic] = now
            out.append(sink)
        return out

    def _emit(self, topic: str, build: Callable[[], M.Message]) -> None:
        sinks = self._wanted(topic)
        if sinks:
            msg = build()
            for sink in sinks:
                sink.write(msg)

    def _frame(self, frame: Frame, full: Optional[FullFrame], command: Optional[Twist],
               reading: Any, text: str) -> None:
        if frame is self._last:
            return   # already sent
        self._last = frame
        t, tp, m = frame.stamp, self.topics, self.messages
        cam_sinks = self._wanted(self.camera_topic)
        overlay_sinks = self._wanted(self.overlay_topic) if self.detector is not None else []
        if cam_sinks or overlay_sinks:
            image = frame.image if frame.row_fractions is None else None
            if image is None and full is not None:
                whole = full()
                image = whole.image if whole is not None else None
            if image is not None:
                encode = m.compressed_image if self.compressed else m.image
                if cam_sinks:
                    msg = encode(self.camera_topic, image, t, tp.camera_frame)
                    for sink in cam_sinks:
                        sink.write(msg)
                if overlay_sinks:
                    cmd = None if command is None else (command.linear_x, command.angular_z)
                    drawn = draw_overlay(image, self.detector, reading, cmd,
                                         text=' '.join(x for x in (self.label, text) if x))
                    msg = encode(self.overlay_topic, drawn, t, tp.camera_frame)
                    for sink in overlay_sinks:
                        sink.write(msg)
        if frame.pose is None:
            return
        w = 0.0 if command is None else command.angular_z
        self._emit(tp.odom, lambda: m.odometry(tp.odom, frame, tp.odom_frame, tp.base_frame,
                                               angular_z=w, z=CAR_Z))
        self._emit(tp.tf, lambda: m.transform(tp.tf, frame.pose, t, tp.odom_frame,
                                              tp.base_frame, z=CAR_Z))
        speed = tp.telemetry('speed')
        self._emit(speed, lambda: m.float32(speed, float(frame.speed or 0.0), t))
        self.trace.add(t, frame.pose)
        if self._laps is not None:
            for record in self._laps.update(t, frame.pose):
                self.stats(record, t)
        self._path(t)

    def _path(self, t: float, force: bool = False) -> None:
        if not len(self.trace) or (not force and t - self._path_stamp < PATH_PERIOD):
            return
        self._path_stamp = t
        tp = self.topics
        self._emit(tp.path, lambda: self.messages.path(tp.path, self._path_poses(), t,
                                                       tp.odom_frame))

    def _path_poses(self) -> List[Any]:
        """The trace's poses as PoseStamped messages; each is built once."""
        built, odom = self._stamped, self.topics.odom_frame
        poses = [built.get(s) or self.messages.pose_stamped(s, p, odom, CAR_Z)
                 for s, p in self.trace.poses()]
        self._stamped = {ps_t: ps for (ps_t, _), ps in zip(self.trace.poses(), poses)}
        return poses
