"""`rl-f1 worlds`: write (or check) the Gazebo worlds, one per built-in circuit."""
from __future__ import annotations

import argparse
import sys

from ..errors import UserError


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `worlds` subcommand to the `rl-f1` parser's subparsers."""
    p = subparsers.add_parser(
        'worlds', help='generate the Gazebo worlds from the circuits and the camera config',
        description='Write one Gazebo Classic 11 world per built-in circuit, made from the '
                    'circuit YAML, the camera section of the config and the topic names of '
                    'config/ros.yaml, and its road, kerb and line meshes under '
                    'models/rl_f1_driver_<circuit>/. With --check, write nothing and fail if '
                    'any committed world or mesh differs from what the generator makes, is '
                    'missing, or is stale.')
    p.add_argument('--out', default=None,
                   help='output folder (default: worlds/ of the package data folder)')
    p.add_argument('--check', action='store_true',
                   help='exit 1 when a world or mesh in --out is missing, out of date or stale')
    p.add_argument('--config', help='config YAML layered over config/defaults.yaml '
                                    '(its camera section goes into the worlds)')
    p.add_argument('--ros-config', help='ROS parameter file with the topic names '
                                        '(default: config/ros.yaml)')
    p.add_argument('--circuit', action='append',
                   help='only this circuit (repeatable; default: all built-in circuits)')
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..paths import worlds_dir
    from .world import WorldNames, write_worlds
    cfg = load_config(*([args.config] if args.config else []))
    names = WorldNames.from_ros_params(args.ros_config)
    out = args.out or worlds_dir()
    try:
        paths, problems = write_worlds(out, cfg.camera, names, args.circuit, check=args.check)
    except OSError as exc:
        raise UserError(f'cannot write worlds to {out}: {exc}') from None
    if args.check:
        if problems:
            for line in problems:
                print(f'rl-f1 worlds: {line}', file=sys.stderr)
            print('rl-f1 worlds: run `rl-f1 worlds` to regenerate', file=sys.stderr)
            return 1
        print(f'{len(paths)} world(s) up to date in {out}')
        return 0
    for path in paths:
        print(path)
    return 0


def main(argv=None) -> int:
    """Standalone entry (python -m rl_f1_driver.gazebo.cli) until rl-f1 wires `worlds` in."""
    parser = argparse.ArgumentParser(prog='rl-f1')
    register(parser.add_subparsers(dest='command', required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f'rl-f1: error: {exc}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
