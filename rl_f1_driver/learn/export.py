"""Export and describe a trained policy: a PolicySaver SavedModel plus what it needs to drive.

`policy/rl_f1_driver.yaml` holds the observation mode, action set, perception rows and camera,
so a driver (ROS node, `rl-f1 drive`) can rebuild exactly the observations the policy was
trained on, without the training code.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from ..config import Config, to_dict

POLICY_META = 'rl_f1_driver.yaml'
# pid rides along: its row weights must match the perception rows the policy was trained with.
META_SECTIONS = ('actions', 'camera', 'perception', 'env', 'car', 'reward', 'pid', 'track',
                 'seed')


def export_policy(policy, out: Path, cfg: Config, train_step) -> Path:
    """Save atomically: write beside, then swap, so a crash never leaves a broken policy/."""
    from tf_agents.policies import policy_saver
    out = Path(out)
    tmp = out.with_name(out.name + '.tmp')
    if tmp.exists():
        shutil.rmtree(tmp)
    saver = policy_saver.PolicySaver(policy, batch_size=None, train_step=train_step)
    saver.save(str(tmp))
    meta = {'format': 1, 'config': {k: to_dict(getattr(cfg, k)) for k in META_SECTIONS}}
    (tmp / POLICY_META).write_text(yaml.safe_dump(meta, sort_keys=False), encoding='utf-8')
    old = out.with_name(out.name + '.old')
    if out.exists():
        if old.exists():
            shutil.rmtree(old)
        out.rename(old)
    tmp.rename(out)
    if old.exists():
        shutil.rmtree(old)
    return out
