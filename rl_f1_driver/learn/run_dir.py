"""The run directory: its config, resumable state and atomic writes.

A run directory belongs to one config. Training into a directory made for another config would
mix checkpoints of different networks, so it is refused unless the user asks for it.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from ..config import Config, to_dict
from ..errors import UserError

STATE_FILE = 'train_state.json'
# Settings that may differ on --resume without changing what the checkpoint holds.
RESUMABLE_KEYS = {'train.steps', 'train.eval_interval', 'train.eval_max_steps',
                  'train.stop_on_lap', 'train.min_steps', 'train.checkpoint_interval',
                  'train.log_interval', 'train.checkpoint_replay_buffer'}


def write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            f.write(text)
        # mkstemp makes owner-only files; give the usual umask-based mode, so a run written in
        # a container (as root) stays readable on the host.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, sort_keys=False) + '\n')


def _flatten(d: Any, prefix: str = '') -> dict:
    if isinstance(d, dict):
        out = {}
        for k, v in d.items():
            out.update(_flatten(v, f'{prefix}{k}.'))
        return out
    return {prefix.rstrip('.'): d}


def config_differences(a: dict, b: dict) -> list[str]:
    fa, fb = _flatten(a), _flatten(b)
    return sorted(k for k in set(fa) | set(fb) if fa.get(k) != fb.get(k))


def prepare_run_dir(out: Path, cfg: Config, resume: bool, allow_config_change: bool) -> dict:
    """Check the directory fits this run; return the saved training state (empty if new)."""
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out / 'config.yaml'
    state_path = out / STATE_FILE
    has_ckpt = (out / 'checkpoints').is_dir() and any((out / 'checkpoints').iterdir())
    if cfg_path.is_file():
        try:
            old = yaml.safe_load(cfg_path.read_text(encoding='utf-8'))
        except yaml.YAMLError as exc:
            raise UserError(f'{cfg_path}: not valid YAML ({exc}); is this a run directory?')
        diff = config_differences(old or {}, to_dict(cfg))
        # distributed.*: how experience travels, not what the checkpoint holds (a run started
        # in-process may continue with actors, and one made before the section existed).
        blocking = [k for k in diff if not (resume and (k in RESUMABLE_KEYS
                                                        or k.startswith('distributed.')))]
        if blocking and not allow_config_change:
            shown = ', '.join(blocking[:8]) + (' ...' if len(blocking) > 8 else '')
            raise UserError(f'{out}: this run directory was made with a different config '
                            f'({shown} differ). Use another --out, or pass '
                            '--allow-config-change to reuse it anyway.')
    if has_ckpt and not resume and not allow_config_change:
        raise UserError(f'{out}: already holds a training run (checkpoints/). Pass --resume to '
                        'continue it, or choose another --out.')
    if resume and not has_ckpt:
        raise UserError(f'{out}: nothing to resume (no checkpoints/ in this directory)')
    write_atomic(cfg_path, yaml.safe_dump(to_dict(cfg), sort_keys=False))
    if resume and state_path.is_file():
        try:
            return json.loads(state_path.read_text(encoding='utf-8'))
        except json.JSONDecodeError as exc:
            raise UserError(f'{state_path}: corrupt training state ({exc})') from None
    return {}
