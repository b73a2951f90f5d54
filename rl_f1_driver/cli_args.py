"""What both command-line front ends share: argument types and the training config.

`rl_f1_driver.cli` (train, drive, bench, ...) and `rl_f1_driver.learn.distributed.cli`
(replay-server, learner, actor) both import this module, and neither imports the other's
helpers: the top-level CLI registers the distributed commands, never the other way round.
"""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from .errors import UserError

if TYPE_CHECKING:  # the config loads YAML: only where a command needs it
    from .config import Config


def _whole_number(text: str, low: int, high: int | None, kind: str, expected: str) -> int:
    """`text` as an int in low..high (high None: no upper bound), else an argparse error
    saying what was expected (`kind` when it is no number, `expected` when out of range)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected {kind}, got {text!r}') from None
    if value < low or (high is not None and value > high):
        raise argparse.ArgumentTypeError(f'expected {expected}, got {value}')
    return value


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    return _whole_number(text, 1, None, 'a whole number', 'a number >= 1')


def non_negative_int(text: str) -> int:
    """argparse type: a whole number >= 0 (0 is allowed: the message must not say >= 1)."""
    return _whole_number(text, 0, None, 'a whole number', 'a number >= 0')


def port_number(text: str) -> int:
    """argparse type: a TCP port, 0..65535 (0: any free one)."""
    return _whole_number(text, 0, 65535, 'a port number', 'a port in 0..65535')


def train_config(args: argparse.Namespace) -> 'Config':
    """The config of `rl-f1 train` (and learner, actor, replay-server): --config, then the
    options that override it, checked before TensorFlow starts."""
    from .config import load_config
    overrides = {}
    if getattr(args, 'track', None):
        overrides['track'] = args.track
    if getattr(args, 'observation', None):
        overrides['env.observation'] = args.observation
    if getattr(args, 'steps', None) is not None:
        overrides['train.steps'] = args.steps
    if getattr(args, 'seed', None) is not None:
        overrides['seed'] = args.seed
    for item in getattr(args, 'set', None) or []:
        key, sep, value = item.partition('=')
        if not sep:
            raise UserError(f'--set {item!r}: expected KEY=VALUE, e.g. train.gamma=0.9')
        import yaml
        try:
            overrides[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise UserError(f'--set {item!r}: the value is not valid YAML '
                            '(lists like [64, 64], numbers, true/false, words)') from None
    cfg = load_config(*([args.config] if args.config else []), overrides=overrides)
    from .track import load_circuit
    load_circuit(cfg.track)  # a bad --track fails here, before TensorFlow starts
    return cfg
