"""The run directory: its config, resumable state and atomic writes.

A run directory belongs to one config. Training into a directory made for another config would
mix checkpoints of different networks, so it is refused unless the user asks for it.
"""
from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import tempfile
from pathlib import Path
from typing import Any, Optional

import yaml

from ..config import Config, to_dict
from ..errors import UserError

STATE_FILE = 'train_state.json'
# Settings that may differ on --resume without changing what the checkpoint holds.
RESUMABLE_KEYS = {'train.steps', 'train.eval_interval', 'train.eval_max_steps',
                  'train.stop_on_lap', 'train.min_steps', 'train.checkpoint_interval',
                  'train.log_interval', 'train.checkpoint_replay_buffer'}


def stack_versions() -> dict:
    """The versions a run's checkpoints, policy and report are written with (recorded in
    train_state.json, report.json and policy/rl_f1_driver.yaml); TensorFlow is imported."""
    import numpy as np
    import tensorflow as tf

    def dist(name: str) -> Optional[str]:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None
    return {'python': platform.python_version(), 'tensorflow': tf.__version__,
            'tf_agents': dist('tf-agents'), 'tf_keras': dist('tf-keras'),
            'tensorflow_probability': dist('tensorflow-probability'),
            'numpy': np.__version__}


def saved_model_tensorflow_version(policy_dir: Path) -> Optional[str]:
    """The TensorFlow version that wrote a SavedModel (its saved_model.pb records it), or
    None where there is none or it cannot be read."""
    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import saved_model_pb2
    path = Path(policy_dir) / 'saved_model.pb'
    try:
        model = saved_model_pb2.SavedModel.FromString(path.read_bytes())
    except (OSError, DecodeError):
        return None
    versions = [m.meta_info_def.tensorflow_version for m in model.meta_graphs]
    return versions[0] if versions and versions[0] else None


def checkpoint_versions(out: Path, state: dict) -> Optional[dict]:
    """The versions a run's last checkpoint was written with: train_state.json's, which is
    written beside every checkpoint; for a run from before they were recorded, the
    TensorFlow version of the policy it exported (policy/saved_model.pb). None: unknown."""
    if isinstance(state.get('versions'), dict):
        return state['versions']
    tf_version = saved_model_tensorflow_version(Path(out) / 'policy')
    return {'tensorflow': tf_version} if tf_version else None


def describe_versions(versions: dict) -> str:
    """'TensorFlow 2.15.1 / tf-agents 0.19.0 (Python 3.11.7)', from what is known."""
    text = f'TensorFlow {versions.get("tensorflow") or "?"}'
    if versions.get('tf_agents'):
        text += f' / tf-agents {versions["tf_agents"]}'
    if versions.get('python'):
        text += f' (Python {versions["python"]})'
    return text


def restore_failure(ckpt_dir: Path, error: str, written_by: Optional[dict],
                    running: dict) -> str:
    """The one line a run ends with when its checkpoint cannot be restored into the agent:
    with the versions that wrote it and these, where TensorFlow or tf-agents differ."""
    first = error.strip().splitlines()[0][:160] if error.strip() else 'no detail'
    if written_by and any(written_by.get(k) and written_by.get(k) != running.get(k)
                          for k in ('tensorflow', 'tf_agents')):
        return (f'{ckpt_dir}: cannot restore this checkpoint ({first}): it was written by '
                f'{describe_versions(written_by)}; this is {describe_versions(running)}. '
                f'Resume it with TensorFlow {written_by["tensorflow"]} (its stack), or train '
                'into a new --out.')
    return (f'{ckpt_dir}: cannot restore this checkpoint into the configured agent ({first}); '
            'the network or observation differs from the saved run. Train into a new --out '
            'instead.')


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
