"""A short training run shared by the trainer and driver tests (TensorFlow start-up is slow)."""
from pathlib import Path

SHORT = {
    'train.steps': 600, 'train.initial_collect_steps': 200, 'train.eval_interval': 300,
    'train.checkpoint_interval': 300, 'train.log_interval': 200, 'train.stop_on_lap': False,
    'train.eval_max_steps': 200, 'train.replay_capacity': 4000, 'train.fc_layers': [16],
    'train.epsilon_decay_steps': 600,
}


def short_config(**extra):
    from rl_f1_driver.config import load_config
    return load_config(overrides={**SHORT, **extra})


def run_training(out: Path, cfg=None, **kwargs):
    from rl_f1_driver.learn.trainer import train
    lines = []
    report = train(cfg or short_config(), out, log=lines.append, **kwargs)
    return report, lines
