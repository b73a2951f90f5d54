"""Environment hooks for the training monitor (overlay, path, episode stats). No rclpy."""
from __future__ import annotations

from typing import Any, Protocol


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
