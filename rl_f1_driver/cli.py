"""`rl-f1`: train, drive, benchmark and generate worlds, with no ROS needed.

Errors in user input (config, circuit, policy dir) are printed as one line and exit code 2.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Optional, Sequence

from .errors import UserError


def _quiet_tensorflow() -> None:
    # TensorFlow's C++ start-up chatter hides our progress lines; warnings and errors still show.
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')


def _cmd_bench(args: argparse.Namespace) -> int:
    from . import benchmarks
    if args.what == 'env':
        for obs in args.obs:
            print(json.dumps(benchmarks.bench_env(obs, args.steps, args.track, args.seed,
                                                  args.config)), flush=True)
        return 0
    raise UserError(f'unknown benchmark {args.what!r}')


def _cmd_circuits(args: argparse.Namespace) -> int:
    from .track import builtin_names, load_circuit
    for name in builtin_names():
        c = load_circuit(name)
        print(f'{name:14s} {c.length:7.1f} m  road {c.road_width:.1f} m  line {c.line_width:.2f} m'
              f'  min radius {1.0 / max(1e-9, abs(c.curvature()).max()):5.1f} m')
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='rl-f1', description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest='command', required=True)

    b = sub.add_parser('bench', help='print speed figures as JSON')
    b.add_argument('what', choices=['env'], help='env: environment steps/s')
    b.add_argument('--obs', choices=['lines', 'image'], action='append',
                   help='observation mode (repeat for both; default lines)')
    b.add_argument('--steps', type=int, default=20000)
    b.add_argument('--track', default='simple')
    b.add_argument('--seed', type=int, default=0)
    b.add_argument('--config', help='config YAML layered over config/defaults.yaml')
    b.set_defaults(func=_cmd_bench)

    c = sub.add_parser('circuits', help='list the built-in circuits')
    c.set_defaults(func=_cmd_circuits)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    _quiet_tensorflow()
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, 'obs', 0) is None:
        args.obs = ['lines']
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f'rl-f1: error: {exc}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print('rl-f1: interrupted', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
