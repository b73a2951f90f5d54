"""The quick start for real: `config/train.yaml` (lines) and `config/train_image.yaml` (image)
train on the embedded simulator until the greedy policy laps `simple` both ways, and the
exported policy drives that lap again. These are the learning loop end to end on whatever
Python, numpy and TensorFlow the venv has (CI runs them on every supported Python, and the
image one on numpy 2: its uint8 observations are where numpy 2's promotion rules bite).
"""
from pathlib import Path

import pytest

from rl_f1_driver.config import load_config
from rl_f1_driver.drive.controller import load_controller
from rl_f1_driver.drive.runner import drive
from rl_f1_driver.learn.trainer import train
from rl_f1_driver.track import load_circuit

ROOT = Path(__file__).resolve().parent.parent

# Stop at the first lap both ways (the configs' min_steps train on for the other circuits).
FIRST_LAP = {'train.min_steps': 0}


@pytest.mark.parametrize('config', ['train.yaml', 'train_image.yaml'])
def test_quick_start_trains_to_a_first_lap_and_its_export_drives_it(config, tmp_path):
    cfg = load_config(ROOT / 'config' / config, overrides=FIRST_LAP)
    lines = []
    report = train(cfg, tmp_path / 'run', log=lines.append)
    assert report['stopped'] == 'lap_driven', lines[-3:]
    last = report['last_eval']
    assert last['completion'] == 1.0 and last['reverse_completion'] == 1.0
    assert report['env_steps_to_first_lap'] == report['env_steps'] < cfg.train.steps
    result = drive(load_controller(tmp_path / 'run' / 'policy'), load_circuit(cfg.track),
                   laps=1, max_steps=last['steps'] + 50, video=None)
    assert result['laps_completed'] == 1
    assert result['lap_time_s'] == pytest.approx(last['lap_time_s'], abs=1e-9)
