"""Is the replay server there? One check, its error, and a watchdog thread that ends a process
(actor or learner) whose server stopped answering."""
from __future__ import annotations

import math
import os
import sys
import threading
from typing import Optional

from ...errors import UserError

# The exit code of a process whose replay server is lost (rl-f1's main returns it too).
EXIT_SERVER_LOST = 3


class ReplayServerLost(UserError):
    """The replay server stopped answering."""


def check_server(address: str, timeout: float):
    """The server's table info, or ReplayServerLost after `timeout` seconds."""
    import reverb
    try:
        return reverb.Client(address).server_info(timeout=max(1, math.ceil(timeout)))
    except Exception as exc:  # noqa: BLE001 - gRPC raises several types
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
        raise ReplayServerLost(
            f'replay server {address} did not answer within {timeout:g} s ({first}); '
            'is `rl-f1 replay-server` running there, and the port open?') from None


class ServerWatchdog:
    """Ends this process when the replay server stops answering.

    Reverb blocks without a timeout in places we cannot reach (a writer ending an episode, a
    dataset waiting for a sample), so a lost server would hang actors and learner forever. A
    thread asks the server for its tables every second; after `timeout` seconds without an
    answer it runs the `on_lost` callbacks (stop child processes), prints the error and exits
    the process with EXIT_SERVER_LOST.
    """

    def __init__(self, address: str, timeout: float, what: str,
                 stopping: Optional[threading.Event] = None):
        self.address, self.timeout, self.what = address, timeout, what
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
                check_server(self.address, self.timeout)
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
