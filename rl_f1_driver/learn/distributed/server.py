"""The replay server process (`rl-f1 replay-server`): the replay service (service.py) as a
named actor on a Ray cluster, kept until SIGINT/SIGTERM. Without --ray-address it starts a
local Ray (loopback only) that learner and actors on this machine join with the address it
prints."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, Optional

from ...config import Config
from .ray_cluster import RayCluster
from .replay import service_settings, spec_agent
from .service import start_service


def serve(cfg: Config, stop_event: threading.Event, *, name: str = 'replay',
          ray_address: Optional[str] = None, folder: Optional[Path] = None,
          log: Callable[[str], None] = print, address_file: Optional[str] = None) -> None:
    """Run the replay service until `stop_event` is set (by SIGINT/SIGTERM). A local Ray keeps
    its session folder in `folder` (default: the working directory)/distributed/ray."""
    agent = spec_agent(cfg)[0]
    settings = service_settings(cfg, agent)
    with RayCluster(ray_address, folder, log=log, dashboard=cfg.distributed.dashboard) \
            as cluster:
        replay = start_service(cluster, name, **settings,
                               timeout=cfg.distributed.server_timeout,
                               description=f'rl-f1 replay-server ({cfg.track})')
        log(f'replay {name!r} on the Ray cluster at {cluster.address} (capacity '
            f'{cfg.train.replay_capacity:,}, {cfg.distributed.samples_per_insert:g} samples '
            'per insert); learner and actors: --ray-address '
            f'{cluster.address} --replay {name}')
        if address_file:
            from ..run_dir import write_atomic
            write_atomic(Path(address_file), f'{cluster.address} {name}\n')
        try:
            while not stop_event.wait(1.0):   # the service works in its own process
                pass
        finally:
            del replay
            log('replay server stopped')
