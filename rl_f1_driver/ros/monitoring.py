"""Hooks for the training monitor (overlay, path, episode stats, rviz numbers). No rclpy."""
from __future__ import annotations

import threading
from typing import Any, Callable, Dict, List, Optional, Protocol

from ..messages.markers import training_lines


class StepMonitor(Protocol):
    def on_reset(self, env: Any) -> None: ...

    def on_step(self, env: Any) -> None: ...


def monitored_env_class(base: type) -> type:
    """A subclass of the environment class `base` that reports every reset and step.

    Used instead of the trainer's on_step hook, which runs only between training chunks:
    the path would be sparse and an episode ending inside a chunk would go unreported.
    """
    class MonitoredEnv(base):
        def __init__(self, *args: Any, monitor: StepMonitor, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self._monitor = monitor

        def _reset(self):
            step = super()._reset()
            self._monitor.on_reset(self)
            return step

        def _step(self, action):
            step = super()._step(action)
            self._monitor.on_step(self)
            return step

    MonitoredEnv.__name__ = MonitoredEnv.__qualname__ = f'Monitored{base.__name__}'
    return MonitoredEnv


class TrainingNumbers:
    """The numbers of a training run for rviz, gathered from two sources.

    - the environment hooks (`on_reset`, `on_step`, as a StepMonitor): episode and return of
      the episode under way;
    - the trainer (`learn.trainer.train(monitor=...)`): `progress` gives epsilon and env
      steps/s at each log line; `evaluation` hands every evaluation drive an observer that
      keeps the lap fraction it drove (its end record's `completion`).

    The trainer and the executor thread both touch it: a lock keeps `lines` consistent.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.episode = 0
        self.episode_return: Optional[float] = None
        self.epsilon: Optional[float] = None
        self.steps_per_s: Optional[float] = None
        self.last_evaluation: Optional[float] = None

    # --- environment hooks ----------------------------------------------------------------

    def on_reset(self, env: Any) -> None:
        with self._lock:
            self.episode += 1
            self.episode_return = 0.0

    def on_step(self, env: Any) -> None:
        with self._lock:
            self.episode_return = float(env.stats.return_)

    # --- the trainer's monitor interface ---------------------------------------------------

    def wrap_env_factory(self, factory: Callable) -> Callable:
        return factory

    def progress(self, env_steps: int, *, loss: float, epsilon: float, average_return: float,
                 steps_per_s: float) -> None:
        with self._lock:
            self.epsilon, self.steps_per_s = float(epsilon), float(steps_per_s)

    def evaluation(self, env_steps: int) -> Callable[[Any], Any]:
        return lambda env: _EvaluationObserver(self)

    def close(self) -> None:
        pass

    def _evaluated(self, completion: float) -> None:
        with self._lock:
            self.last_evaluation = float(completion)

    def lines(self) -> List[str]:
        with self._lock:
            return training_lines(self.episode, self.episode_return, self.epsilon,
                                  self.steps_per_s, self.last_evaluation)


class _EvaluationObserver:
    """A recorder-shaped observer of one evaluation drive (learn.evaluation.evaluate): it
    asks for nothing while the car drives and keeps the completion of the drive's end."""

    def __init__(self, numbers: TrainingNumbers):
        self.numbers = numbers

    def start(self, frame: Any, full: Any = None) -> None:
        pass

    def due(self) -> bool:
        return False          # nothing to build per step: evaluate then only calls track()

    def track(self, frame: Any) -> None:
        pass

    def step(self, *args: Any, **kwargs: Any) -> None:
        pass

    def end(self, frame: Any, reason: str, records: Any = (), full: Any = None) -> None:
        completions: List[Dict[str, Any]] = [r for r in records if 'completion' in r]
        if completions:
            self.numbers._evaluated(completions[-1]['completion'])

    def close(self) -> None:
        pass
