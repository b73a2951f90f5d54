"""The replay server process (`rl-f1 replay-server`): the tables of `replay`, served over gRPC
until SIGINT/SIGTERM."""
from __future__ import annotations

import socket
import threading
from typing import Callable, Optional

from ...config import Config
from ...errors import UserError
from .replay import EXPERIENCE, STATS, VARIABLES, make_tables, spec_agent


def free_port() -> int:
    """A TCP port free at the time of asking."""
    with socket.socket() as s:
        s.bind(('', 0))
        return s.getsockname()[1]


def no_checkpointer():
    """A Reverb checkpointer that is none at all.

    Given no checkpointer, reverb.Server makes a default one in a fresh folder of /tmp that
    nothing removes, and a folder of our own would outlive a server killed with SIGKILL. This
    server never checkpoints (the learner's run directory holds the checkpoints; the actors
    refill the replay), and Reverb's C++ server takes a null checkpointer as "none
    configured": nothing is written anywhere.
    """
    import reverb

    class NoCheckpointer(reverb.checkpointers.CheckpointerBase):
        def internal_checkpointer(self) -> None:
            return None

    return NoCheckpointer()


def serve(cfg: Config, stop_event: threading.Event, port: int = 0,
          log: Callable[[str], None] = print, port_file: Optional[str] = None) -> None:
    """Run the replay server until `stop_event` is set (by SIGINT/SIGTERM)."""
    import reverb
    agent, _, global_step, env_steps, stop = spec_agent(cfg)
    # A fixed port, chosen here when 0: Reverb's port=0 reports 0 back, not the real port.
    port = port or cfg.distributed.port or free_port()
    try:
        server = reverb.Server(make_tables(cfg, agent, global_step, env_steps, stop),
                               port=port, checkpointer=no_checkpointer())
    except Exception as exc:  # noqa: BLE001 - a port in use is a RuntimeError from gRPC
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise UserError(f'replay server: cannot listen on port {port} ({first})') from None
    log(f'replay server listening on port {server.port} (tables {EXPERIENCE}, {VARIABLES}, '
        f'{STATS}; capacity {cfg.train.replay_capacity:,}, '
        f'{cfg.distributed.samples_per_insert:g} samples per insert)')
    if port_file:
        from pathlib import Path

        from ..run_dir import write_atomic
        write_atomic(Path(port_file), f'{server.port}\n')
    try:
        while not stop_event.wait(1.0):  # the server works in its own threads
            pass
    finally:
        server.stop()
        log('replay server stopped')
