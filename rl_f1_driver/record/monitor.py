"""The trainer's window: live view of training and evaluation drives, recorded evaluations.

`train(..., monitor=TrainMonitor(...))` calls three small hooks:

- `wrap_env_factory(factory)`: training environment 0 is streamed to the live view (camera,
  overlay, cmd_vel, odometry, TF, path, circuit, speed/deviation/reward, episode statistics),
  each topic only while a client subscribes to it and at a rate a viewer can use;
- `evaluation(env_steps)`: a DriveRecorder per evaluation drive, into the live view and/or
  one MCAP file per drive in the `--record-evals` folder
  (`eval-<env steps>-<direction>.mcap`);
- `progress(...)`: at each progress log line, the plots of loss, epsilon, average return and
  environment steps/s.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, List, Optional

from ..config import Config
from ..sim.types import Twist
from .messages import FLOAT32, Messages
from .recorder import DriveRecorder
from .topics import Topics

PROGRESS_SIGNALS = ('loss', 'epsilon', 'return', 'env_steps_per_s')
# Wall seconds between live messages of training environment 0 and of evaluation drives: a
# view of the learning car that costs training little (a full frame and its overlay take
# ~12 ms, so they are the budget). Recorded evaluations still get every message in their file.
TRAINING_PERIODS = {'image': 1.0, 'path': 2.0, 'other': 0.2}
EVALUATION_PERIODS = {'image': 0.2, 'path': 1.0, 'other': 0.05}


class TrainMonitor:
    def __init__(self, cfg: Config, *, live: Any = None, record_evals: Optional[Path] = None,
                 compressed: bool = False, messages: Optional[Messages] = None):
        from ..scene import car_front
        from ..track import load_circuit
        self.cfg = cfg
        self.live = live
        self.record_evals = Path(record_evals) if record_evals is not None else None
        if self.record_evals is not None:
            prepare_folder(self.record_evals, '--record-evals')
        self.compressed = compressed
        self.messages = messages or Messages()
        self.topics = Topics.load('train_node')
        self.circuit = load_circuit(cfg.track)
        self.car_front = car_front(cfg.camera)
        self.recorded: List[Path] = []
        self._open: List[DriveRecorder] = []
        self._t0 = time.monotonic()
        if live is not None:
            for signal in PROGRESS_SIGNALS:
                live.declare(self.topics.telemetry(signal), FLOAT32)

    # --- hooks ----------------------------------------------------------------------------

    def wrap_env_factory(self, factory: Callable[[Config, int], Any]) -> Callable:
        if self.live is None:
            return factory

        def build(cfg: Config, index: int) -> Any:
            env = factory(cfg, index)
            if index == 0:
                self._watch(env)
            return env
        return build

    def evaluation(self, env_steps: int) -> Callable[[Any], Optional[DriveRecorder]]:
        """A function giving each evaluation environment its recorder (None: nothing)."""
        self._open = [r for r in self._open if not r.closed]

        def recorder(env: Any) -> Optional[DriveRecorder]:
            from .mcap_sink import McapSink
            direction = env.config.env.direction
            sinks: List[Any] = [self.live] if self.live is not None else []
            if self.record_evals is not None:
                path = self.record_evals / f'eval-{env_steps:09d}-{direction}.mcap'
                sinks.append(McapSink(path, self.messages))
                self.recorded.append(path)
            if not sinks:
                return None
            rec = DriveRecorder(sinks, self.topics, self.messages, self.circuit,
                                detector=env.detector, compressed=self.compressed,
                                car_front=self.car_front, shared=[self.live],
                                label=f'eval @ {env_steps:,} ({direction})', close_at_end=True,
                                live_periods=EVALUATION_PERIODS)
            self._open.append(rec)
            return rec
        return recorder

    def progress(self, env_steps: int, *, loss: float, epsilon: float, average_return: float,
                 steps_per_s: float) -> None:
        if self.live is None:
            return
        t = time.monotonic() - self._t0
        for signal, value in (('loss', loss), ('epsilon', epsilon), ('return', average_return),
                              ('env_steps_per_s', steps_per_s)):
            topic = self.topics.telemetry(signal)
            if self.live.wants(topic):
                self.live.write(self.messages.float32(topic, value, t))

    def close(self) -> None:
        for rec in self._open:
            rec.close()
        self._open = []
        if self.live is not None:
            self.live.close()

    # --- training environment 0, live ----------------------------------------------------

    def _watch(self, env: Any) -> None:
        """Hook env's _reset and _step (tf-agents calls them from reset() and step())."""
        rec = DriveRecorder([self.live], self.topics, self.messages, self.circuit,
                            detector=env.detector, compressed=self.compressed,
                            car_front=self.car_front, shared=[self.live], label='training',
                            live_periods=TRAINING_PERIODS)
        reset, step = env._reset, env._step
        actions = env.actions
        episode = [0]

        def _reset():
            time_step = reset()
            episode[0] += 1
            rec.start(env.last_frame)
            return time_step

        def _step(action):
            time_step = step(action)
            frame = env.last_frame
            if not env.stats.end_reason and not rec.due():
                rec.track(frame)     # most steps: nothing is due for the viewer
                return time_step
            a = int(action)
            lateral = env.get_info().get('lateral')
            rec.step(frame, Twist(float(actions[a, 0]), float(actions[a, 1])),
                     env.last_reading, full=env.sim.render_full,
                     deviation=None if lateral is None else float(lateral),
                     reward=float(time_step.reward),
                     text=f'episode {episode[0]}  step {env.stats.steps}  '
                          f'return {env.stats.return_:.1f}')
            if env.stats.end_reason:
                # The same record train_node publishes on its statistics topic.
                rec.end(frame, env.stats.end_reason, [{
                    'episode': episode[0], 'stamp': frame.stamp,
                    'start_fraction': env.start_fraction, **env.episode_summary()}])
            return time_step

        env._reset, env._step = _reset, _step


def prepare_folder(path: Path, option: str) -> None:
    """Create the output folder of `option`, or fail with a one-line error."""
    from ..errors import UserError
    if path.exists() and not path.is_dir():
        raise UserError(f'{option} {path}: is a file; give a folder (one MCAP file per '
                        'evaluation drive goes there)')
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f'{option} {path}: cannot create the folder ({exc.strerror})') from None
