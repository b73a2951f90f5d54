"""`rl-f1 replay-server`, `rl-f1 learner`, `rl-f1 actor`: training across processes and
machines on a Ray cluster, each command its own process (ROS actors among them).

All three read the same config (the learner's run config, copied to every machine), so they
derive the same network, specs and replay. See docs/scale-out.md.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from ...cli_args import non_negative_int, train_config

if TYPE_CHECKING:
    from ...config import Config


class _Signals:
    """SIGINT/SIGTERM set an event: the loops end at their next check, cleanly."""

    def __init__(self):
        self.event = threading.Event()

    def __enter__(self) -> threading.Event:
        self._old = {sig: signal.signal(sig, lambda *_: self.event.set())
                     for sig in (signal.SIGINT, signal.SIGTERM)}
        return self.event

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _cmd_replay_server(args: argparse.Namespace) -> int:
    from .replay import ray_address, replay_name
    from .server import serve
    name = replay_name(args.replay)
    address = ray_address(args.ray_address) if args.ray_address else None
    cfg = train_config(args)
    with _Signals() as stop:
        serve(cfg, stop, name=name, ray_address=address,
              folder=Path(args.folder) if args.folder else None,
              address_file=args.address_file, log=lambda s: print(s, flush=True))
    return 0


def _cmd_learner(args: argparse.Namespace) -> int:
    import time

    from .learner import run_learner
    from .replay import ray_address, replay_name
    from .service import joined_replay
    address, name = ray_address(args.ray_address), replay_name(args.replay)
    cfg = train_config(args)
    out = Path(args.out) if args.out else Path('runs') / (
        f'{Path(cfg.track).stem}-{cfg.env.observation}-s{cfg.seed}-learner-'
        + time.strftime('%Y%m%d-%H%M%S'))
    # The replay is found before the run directory is made.
    with joined_replay(address, name, cfg.distributed.server_timeout) as replay:
        report = run_learner(cfg, out, replay, resume=args.resume,
                             allow_config_change=args.allow_config_change,
                             log=lambda s: print(s, flush=True))
    return 130 if report['stopped'] == 'interrupted' else 0


def _cmd_actor(args: argparse.Namespace) -> int:
    from ...env import env_from_config
    from .actor import run_actor
    from .replay import ray_address, replay_name
    from .service import joined_replay
    address, name = ray_address(args.ray_address), replay_name(args.replay)
    cfg = train_config(args)
    if args.backend == 'ros':
        return _ros_actor(args, cfg, address, name)
    with joined_replay(address, name, cfg.distributed.server_timeout) as replay:
        env = env_from_config(cfg, seed_offset=args.id)
        try:
            with _Signals() as stop:
                run_actor(cfg, replay, args.id, env, stop, log=lambda s: print(s, flush=True))
        finally:
            env.close()
    return 0


def _ros_actor(args: argparse.Namespace, cfg, address: str, name: str) -> int:
    """train_node in its actor role, with the installed config/ros.yaml: the camera and
    cmd_vel topics and the reset services of the ROS graph (Gazebo or sim_node)."""
    from ...config import ros_params
    from ...errors import UserError
    try:
        from ...ros import train_node
    except ImportError as exc:
        raise UserError(f'--backend ros needs ROS 2 Humble sourced ({exc.name} not found): '
                        '. /opt/ros/humble/setup.bash, then the workspace') from None
    with config_without_a_file(cfg) as cfg_file:
        # Node-specific overrides (train_node:NAME:=VALUE): a plain -p applies to all nodes
        # and loses to the params file's own train_node section.
        values = {'role': 'actor', 'ray_address': address, 'replay': name,
                  'actor_id': args.id,
                  'config_file': cfg_file, 'track': cfg.track, 'use_sim_time': 'true'}
        ros_args = ['--ros-args', '--params-file', str(ros_params.default_file())]
        for key, value in values.items():
            ros_args += ['-p', f'train_node:{key}:={value}']
        return train_node.main(ros_args)


@contextlib.contextmanager
def config_without_a_file(cfg: Config) -> Iterator[str]:
    """`cfg` as YAML behind a path this process can read (train_node in-process reads its
    config from a file), but with no name on any file system: a memory file, gone with the
    process however it ends. A folder in /tmp would outlive an actor killed with SIGKILL."""
    from ...config import save_config
    fd = os.memfd_create('rl_f1_actor_config')   # Linux, as ROS 2 Humble
    try:
        path = f'/proc/self/fd/{fd}'
        save_config(cfg, path)
        yield path
    finally:
        os.close(fd)


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument('--config', help='the run config (the same file on every machine; '
                                    '`rl-f1 train --actors` writes RUN/distributed/config.yaml)')
    p.add_argument('--set', action='append', metavar='KEY=VALUE',
                   help='override a config key (repeatable), e.g. '
                        '--set distributed.samples_per_insert=8')


def _add_ray_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument('--ray-address', required=required, metavar='HOST:PORT',
                   help='the Ray cluster: its head\'s address (`ray start --head` or '
                        '`rl-f1 replay-server` print it), or auto'
                        + ('' if required else ' (default: start a local Ray, loopback only)'))
    p.add_argument('--replay', default='replay', metavar='NAME',
                   help='the replay service\'s name on the cluster (default: replay)')


def register(sub) -> None:
    s = sub.add_parser('replay-server', help='run the replay service of a distributed '
                                             'training on Ray (experience, weights, actor '
                                             'statistics)')
    _add_config_args(s)
    _add_ray_args(s, required=False)
    s.add_argument('--folder', help='a local Ray keeps its session folder in '
                                    'FOLDER/distributed/ray (default: the working folder)')
    s.add_argument('--address-file', help='write "RAY_ADDRESS NAME" here once serving')
    s.set_defaults(func=_cmd_replay_server)

    learner = sub.add_parser('learner', help='train from a replay service filled by actors: '
                                             'evaluations, checkpoints, policy, report')
    _add_config_args(learner)
    _add_ray_args(learner)
    learner.add_argument('--out', help='run directory (default: runs/TRACK-OBS-sSEED-learner-'
                                       'TIME)')
    learner.add_argument('--resume', action='store_true',
                         help='continue the run in --out from its last checkpoint (and serve '
                              'its weights to the actors)')
    learner.add_argument('--allow-config-change', action='store_true')
    learner.set_defaults(func=_cmd_learner)

    a = sub.add_parser('actor', help='drive a simulator with the learner\'s latest policy and '
                                     'send the experience to the replay service')
    _add_config_args(a)
    _add_ray_args(a)
    a.add_argument('--id', type=non_negative_int, default=0,
                   help='actor number: seeds its environment, tags its data')
    a.add_argument('--backend', choices=['embedded', 'ros'], default='embedded',
                   help='embedded simulator, or the ROS 2 graph (Gazebo or sim_node, with '
                        'the topics of config/ros.yaml; source ROS first)')
    a.set_defaults(func=_cmd_actor)
