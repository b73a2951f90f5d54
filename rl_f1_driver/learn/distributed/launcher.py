"""One command: `rl-f1 train --actors N` runs the learner here and, on Ray, the replay
service and N actors (Ray actors: on this machine with a local Ray, anywhere in a cluster
joined with --ray-address). Ray restarts an actor whose process dies; the learner stops
them all when it ends."""
from __future__ import annotations

import math
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Callable, Optional

from ...config import Config, save_config
from .learner import run_learner
from .ray_cluster import RayCluster
from .replay import service_settings, spec_agent
from .service import start_service

Log = Callable[[str], None]
# How often Ray brings back an actor whose process died (then it stays down).
MAX_RESTARTS = 3


class EnvActor:
    """One actor as a Ray actor: its environment on the embedded simulator of the config,
    its log in RUN/distributed/actor-I.log when it runs on the learner's machine (on another
    node: in Ray's worker log there)."""

    def __init__(self, cfg: Config, replay_name: str, address: str, index: int,
                 log_file: str):
        self.cfg, self.replay_name, self.address = cfg, replay_name, address
        self.index, self.log_file = index, log_file
        self.stop_event = threading.Event()

    def _log(self, text: str) -> None:
        try:
            with open(self.log_file, 'a', encoding='utf-8') as out:
                out.write(text + '\n')
        except OSError:
            print(text, flush=True)

    def run(self) -> dict:
        import socket

        import ray

        from ...env import env_from_config
        from .actor import run_actor
        from .service import Replay
        self._log(f'actor {self.index}: on Ray node {ray.get_runtime_context().get_node_id()[:12]}'
                  f' ({socket.gethostname()})')
        replay = Replay.find(self.replay_name, self.address,
                             self.cfg.distributed.server_timeout)
        env = env_from_config(self.cfg, seed_offset=self.index)
        try:
            return run_actor(self.cfg, replay, self.index, env, self.stop_event, log=self._log)
        finally:
            env.close()

    def stop(self) -> None:
        self.stop_event.set()


class _Fleet:
    """The N actors of one run and their `run` calls."""

    def __init__(self, cfg: Config, replay, actors: int, logs: Path, log: Log):
        import ray
        remote = ray.remote(EnvActor)
        self.handles, self.runs = [], []
        for i in range(actors):
            handle = remote.options(
                name=f'{replay.name}-actor-{i}', namespace='rl_f1_driver',
                max_concurrency=2,          # run, and stop meanwhile
                max_restarts=MAX_RESTARTS, max_task_retries=-1,   # run again after a restart
                num_cpus=cfg.distributed.actor_cpus,
            ).remote(cfg, replay.name, replay.address, i, str(logs / f'actor-{i}.log'))
            self.handles.append(handle)
            self.runs.append(handle.run.remote())
        log(f'{actors} actor(s) on Ray; their logs: {logs}/actor-*.log')

    def alive(self) -> bool:
        """False once every actor's run has ended for good (finished, or failed after its
        restarts)."""
        import ray
        done, _ = ray.wait(self.runs, num_returns=len(self.runs), timeout=0)
        return len(done) < len(self.runs)

    def stop(self, grace: float = 20.0) -> None:
        """Tell them to stop (they also see the learner's stop with their next pull), give
        them `grace` s to send their last data and statistics, then end their processes."""
        import ray
        done, running = ray.wait(self.runs, num_returns=len(self.runs), timeout=0)
        for handle, run in zip(self.handles, self.runs):
            if run in running:
                handle.stop.options(max_task_retries=0).remote()
        if running:
            ray.wait(running, num_returns=len(running), timeout=grace)
        # Their processes end with the Ray session (a local one), or here (a cluster's).
        for handle in self.handles:
            ray.kill(handle, no_restart=True)


def train_with_actors(cfg: Config, out_dir: Path, actors: int, *, resume: bool = False,
                      allow_config_change: bool = False, log: Log = print,
                      monitor=None, ray_address: Optional[str] = None) -> dict:
    """`rl-f1 train --actors N`: the learner here, the replay service and N actors on Ray."""
    out_dir = Path(out_dir)
    logs = out_dir / 'distributed'
    logs.mkdir(parents=True, exist_ok=True)
    save_config(cfg, logs / 'config.yaml')
    # The actors' temporary folder (TensorFlow's autograph files, anything a library makes
    # with tempfile) lives in the run, not in /tmp: removed when they have stopped, and at
    # the next start when the learner itself was killed before that.
    tmp = logs / 'tmp'
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for old in logs.glob('actor-*.log'):
        old.unlink()
    local_cpus = max(os.cpu_count() or 1, math.ceil(actors * cfg.distributed.actor_cpus))
    cluster = RayCluster(ray_address, out_dir, num_cpus=None if ray_address else local_cpus,
                         dashboard=cfg.distributed.dashboard, log=log,
                         worker_env={'TMPDIR': str(tmp.resolve()), 'TF_CPP_MIN_LOG_LEVEL': '2',
                                     'PYTHONUNBUFFERED': '1'})
    t0 = time.perf_counter()
    try:
        with cluster:
            log(f'Ray: {"local, on loopback" if cluster.local else "cluster"} at '
                f'{cluster.address} ({time.perf_counter() - t0:.1f} s); session folder '
                f'{cluster.folder or "on the cluster"}')
            name = f'replay-{os.getpid()}-{int(time.time())}'
            replay = start_service(cluster, name, **service_settings(cfg, spec_agent(cfg)[0]),
                                   timeout=cfg.distributed.server_timeout,
                                   description=f'rl-f1 train --actors {actors} ({out_dir})')
            fleet = _Fleet(cfg, replay, actors, logs, log)
            try:
                report = run_learner(cfg, out_dir, replay, resume=resume,
                                     allow_config_change=allow_config_change, log=log,
                                     monitor=monitor, actors_alive=fleet.alive,
                                     stop_actors_on_interrupt=True,
                                     resume_hint='rl-f1 train --actors N --resume')
            finally:
                fleet.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    dist = report['distributed']
    dist['actor_processes'] = actors
    dist['actor_restarts'] = {a: v['incarnations'] - 1 for a, v in dist['actors'].items()
                              if v['incarnations'] > 1}
    dist['ray'] = 'local' if cluster.local else cluster.address
    from ..run_dir import write_json
    write_json(out_dir / 'report.json', report)
    return report
