"""Is the replay service there? Its error, and a watchdog thread that ends a process (actor or
learner) whose replay service stopped answering."""
from __future__ import annotations

import os
import sys
import threading
from typing import Optional

from ...errors import UserError

# The exit code of a process whose replay server is lost (rl-f1's main returns it too).
EXIT_SERVER_LOST = 3


class ReplayServerLost(UserError):
    """The replay service stopped answering, or is gone."""


class ServerWatchdog:
    """Ends this process when the replay service stops answering.

    The calls of actors and learner are bounded, but TensorFlow or a simulator may hold a
    process elsewhere (a tf.function that samples, a ROS wait): a thread asks the service
    for its info every second; when it does not answer within its timeout, or is gone, the
    thread runs the `on_lost` callbacks, prints the error and exits the process with
    EXIT_SERVER_LOST.
    """

    def __init__(self, replay, what: str, stopping: Optional[threading.Event] = None):
        self.replay, self.what = replay, what
        self.stopping = stopping  # set: the process was told to stop; a lost server is no error
        self.on_lost: list = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name='replay-watchdog', daemon=True)

    def __enter__(self) -> 'ServerWatchdog':
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.replay.info()
            except ReplayServerLost as exc:
                if self._stop.is_set():
                    return
                for callback in self.on_lost:
                    try:
                        callback()
                    except Exception:  # noqa: BLE001 - still exit
                        pass
                if self.stopping is not None and self.stopping.is_set():
                    print(f'{self.what}: stopped (the replay server is gone too)', flush=True)
                    os._exit(0)
                print(f'rl-f1: error: {exc} The {self.what} ends.', file=sys.stderr, flush=True)
                os._exit(EXIT_SERVER_LOST)
