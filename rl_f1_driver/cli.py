"""`rl-f1`: train, drive, benchmark and generate worlds, with no ROS needed.

Errors in user input (config, circuit, policy dir) are printed as one line and exit code 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Optional, Sequence

from .errors import UserError


def _cmd_bench(args: argparse.Namespace) -> int:
    from . import benchmarks
    if args.what == 'env':
        for obs in args.obs:
            print(json.dumps(benchmarks.bench_env(obs, args.steps, args.track, args.seed,
                                                  args.config)), flush=True)
        return 0
    raise UserError(f'unknown benchmark {args.what!r}')


def _cmd_train(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from .config import load_config
    overrides = {}
    if args.track:
        overrides['track'] = args.track
    if args.observation:
        overrides['env.observation'] = args.observation
    if args.steps is not None:
        overrides['train.steps'] = args.steps
    if args.seed is not None:
        overrides['seed'] = args.seed
    for item in args.set or []:
        key, sep, value = item.partition('=')
        if not sep:
            raise UserError(f'--set {item!r}: expected KEY=VALUE, e.g. train.gamma=0.9')
        import yaml
        overrides[key.strip()] = yaml.safe_load(value)
    cfg = load_config(*([args.config] if args.config else []), overrides=overrides)
    from .track import load_circuit
    load_circuit(cfg.track)  # a bad --track fails here, before TensorFlow starts
    out = Path(args.out) if args.out else Path('runs') / (
        f'{Path(cfg.track).stem}-{cfg.env.observation}-s{cfg.seed}-'
        + time.strftime('%Y%m%d-%H%M%S'))
    from .quiet import import_tf_agents_quietly
    import_tf_agents_quietly()
    from .learn.trainer import train
    report = train(cfg, out, resume=args.resume, allow_config_change=args.allow_config_change)
    return 130 if report['stopped'] == 'interrupted' else 0


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

    t = sub.add_parser('train', help='train a DQN driver (embedded simulator)')
    t.add_argument('--config', default=None,
                   help='YAML layered over config/defaults.yaml (e.g. config/train.yaml)')
    t.add_argument('--out', help='run directory (default: runs/TRACK-OBS-sSEED-TIME)')
    t.add_argument('--track', help='built-in circuit name or circuit YAML path')
    t.add_argument('--observation', choices=['lines', 'image'])
    t.add_argument('--steps', type=int, help='environment steps (train.steps)')
    t.add_argument('--seed', type=int)
    t.add_argument('--set', action='append', metavar='KEY=VALUE',
                   help='override any config key, e.g. --set train.gamma=0.9 (repeatable)')
    t.add_argument('--resume', action='store_true',
                   help='continue the run in --out from its last checkpoint')
    t.add_argument('--allow-config-change', action='store_true',
                   help='reuse a run directory made with a different config')
    t.set_defaults(func=_cmd_train)

    c = sub.add_parser('circuits', help='list the built-in circuits')
    c.set_defaults(func=_cmd_circuits)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    from .quiet import quiet_tensorflow
    quiet_tensorflow()
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
