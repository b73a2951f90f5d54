"""Drive laps on the embedded simulator with any controller; report and video."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Optional, Protocol

import numpy as np

from ..config import Config
from ..env.metrics import EpisodeStats
from ..env.termination import Termination, lap_step_budget
from ..perception import draw_overlay
from ..sim.embedded import EmbeddedSimulator
from ..sim.types import ZERO_TWIST, Pose2D
from ..track import Circuit, TrackTracker
from .controller import Controller


class StepRecorder(Protocol):
    """What a drive tells its recorder (record.DriveRecorder is one): declared here, so this
    layer does not import the recording layer above it."""

    def start(self, frame: Any) -> None: ...

    def step(self, frame: Any, command: Any, reading: Any = None, **kwargs: Any) -> None: ...

    def end(self, frame: Any, reason: str) -> None: ...


DIRECTIONS = ('forward', 'reverse')


def drive(controller: Controller, circuit: Circuit, laps: int = 1, seed: int = 0,
          start: float = 0.0, video: Optional[Path] = None, max_steps: Optional[int] = None,
          config: Optional[Config] = None,
          progress: Optional[Callable[[str], None]] = None,
          direction: str = 'forward', recorder: Optional[StepRecorder] = None,
          pace: Optional[float] = None) -> dict:
    """Drive from `start` (lap fraction) until `laps` laps, a crash, a lost line or time-out.

    `direction`: forward (the circuit file's order) or reverse (the same loop the other way,
    from the same start point). `recorder` (record.DriveRecorder) gets every step: an MCAP
    recording, the live view. `pace`: at most this many simulated seconds per wall second
    (1.0: real time, for a live view); None: as fast as it goes.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f'direction: expected one of {", ".join(DIRECTIONS)}, got '
                         f'{direction!r}')
    cfg = config or controller.config
    # The simulator renders the circuit as it is; laps, progress and the start pose follow
    # the route driven (a loop driven backwards is another circuit for lap counting).
    route = circuit if direction == 'forward' else circuit.reversed()
    sim = EmbeddedSimulator(circuit, cfg.camera, cfg.car, cfg.randomization, seed=seed)
    dt = sim.control_period
    max_steps = max_steps or lap_step_budget(circuit.length, laps, dt)
    writer = _VideoWriter(video, cfg.camera.rate_hz) if video else None
    # Full frames only for a video or a recorder (the camera topic); else the rows it reads.
    sim.request_view(None if writer or recorder is not None else controller.view())
    tracker = TrackTracker(route)
    rules = Termination(cfg, route)
    x, y, yaw = route.pose_at(start)
    frame = sim.reset(Pose2D(x, y, yaw))
    controller.reset()
    st = tracker.reset(frame.pose.x, frame.pose.y, frame.pose.yaw)
    if recorder is not None:
        recorder.start(frame)
    stats = EpisodeStats(lap_length=circuit.length, start_stamp=frame.stamp,
                         last_lap_stamp=frame.stamp, path=[])
    t0 = time.perf_counter()
    next_report = 5.0
    try:
        while True:
            cmd = controller.command(frame.image, frame.row_fractions, dt)
            if writer or recorder is not None:
                text = (f'{circuit.name} ({direction})  lap {stats.laps + 1}/{laps}  '
                        f'{100 * max(0.0, stats.progress_m) / circuit.length:5.1f}%  '
                        f't {frame.stamp:6.2f} s')
                if recorder is not None:
                    recorder.step(frame, cmd, controller.last_reading, deviation=st.lateral,
                                  text=text)
                if writer:
                    writer.write(draw_overlay(
                        frame.image, controller.detector, controller.last_reading,
                        (cmd.linear_x, cmd.angular_z), text=text))
            if pace:
                ahead = (frame.stamp - stats.start_stamp) / pace - (time.perf_counter() - t0)
                if ahead > 0:
                    time.sleep(ahead)
            frame = sim.step(cmd)
            st = tracker.update(frame.pose.x, frame.pose.y, frame.pose.yaw)
            stats.record(frame, st, dt)
            reason = rules.check(controller.last_reading, st) if controller.last_reading else ''
            if stats.laps >= laps:
                reason = 'laps_done'
            elif not reason and stats.steps >= max_steps:
                reason = 'max_steps'
            if reason:
                stats.end_reason = reason
                break
            if progress and time.perf_counter() - t0 > next_report:
                next_report += 5.0
                progress(f'  {stats.steps:,} steps, lap {stats.laps + 1}, '
                         f'{100 * max(0.0, stats.progress_m) / circuit.length:.0f}% of a lap')
        sim.step(ZERO_TWIST)
        if recorder is not None:
            recorder.end(frame, stats.end_reason)
    finally:
        if writer:
            writer.close()
        sim.close()
    summary = stats.summary()
    del summary['return']  # no reward here: driving is judged by laps, time and deviation
    summary['completion'] = (1.0 if stats.laps >= 1
                             else min(1.0, max(0.0, stats.progress_m) / circuit.length))
    summary['direction'] = direction
    summary['path'] = stats.path
    summary['wall_s'] = round(time.perf_counter() - t0, 3)
    return summary


class _VideoWriter:
    def __init__(self, path: Path, fps: float):
        import cv2
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._cv2 = cv2
        self._fps = fps
        self._writer = None

    def write(self, image: np.ndarray) -> None:
        if self._writer is None:
            h, w = image.shape[:2]
            fourcc = self._cv2.VideoWriter_fourcc(*('mp4v' if self.path.suffix == '.mp4'
                                                    else 'MJPG'))
            self._writer = self._cv2.VideoWriter(str(self.path), fourcc, self._fps, (w, h))
            if not self._writer.isOpened():
                from ..errors import UserError
                raise UserError(f'{self.path}: cannot write video (use .mp4 or .avi)')
        self._writer.write(image)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
