"""The embedded renderer sees the red line where a real Gazebo camera does (no Gazebo needed).

Real Gazebo Classic 11 frames at known car poses (../shared/gazebo-frames, or the folder in
$RL_F1_GAZEBO_FRAMES) are compared with the embedded render at the same pose: the red line's
centre on the perception rows and the rows the Gazebo run measured. Goal: mean of per-pose
max |dx| <= 2 px, worst <= 4 px, no row where one image shows the line and the other does not.
Without the data the test skips; with RL_F1_REQUIRE_GAZEBO_FRAMES=1 it fails instead.
"""
import os
import re
from pathlib import Path

import pytest

from rl_f1_driver.config import load_config
from rl_f1_driver.gazebo import frames as gf

ROOT = Path(__file__).resolve().parent.parent
GOAL_MEAN_PX = 2.0
GOAL_WORST_PX = 4.0


@pytest.fixture(scope='module')
def cfg():
    return load_config()


@pytest.fixture(scope='module')
def folder():
    path = gf.default_dir(ROOT)
    if not (path / 'frames.json').is_file():
        msg = (f'Gazebo frames not found: {path}/frames.json (set {gf.ENV_DIR} to the data '
               'folder)')
        if os.environ.get(gf.ENV_REQUIRE, '') == '1':
            pytest.fail(f'{msg}; {gf.ENV_REQUIRE}=1 requires them')
        pytest.skip(msg)
    return path


@pytest.fixture(scope='module')
def results(folder, cfg):
    mismatches = gf.camera_mismatches(gf.load_index(folder)['camera'], cfg)
    assert not mismatches, (
        f'{folder}/frames.json was taken with another camera set-up than config/defaults.yaml '
        f'({"; ".join(mismatches)}): retake the frames or compare with that camera')
    return gf.compare(folder, cfg)


def test_camera_mismatches_name_the_key(cfg):
    import dataclasses
    recorded = dataclasses.asdict(cfg.camera)
    assert gf.camera_mismatches(recorded, cfg) == []
    recorded['mount_height'] = cfg.camera.mount_height + 0.1
    del recorded['clip_far']
    out = gf.camera_mismatches(recorded, cfg)
    assert len(out) == 2
    assert out[0].startswith('camera.clip_far:') and out[1].startswith('camera.mount_height:')


def test_the_data_folder_is_the_env_variable_else_shared(tmp_path, monkeypatch):
    monkeypatch.setenv(gf.ENV_DIR, str(tmp_path / 'nowhere'))
    assert gf.default_dir(ROOT) == tmp_path / 'nowhere'
    monkeypatch.delenv(gf.ENV_DIR)
    assert gf.default_dir(ROOT) == ROOT.parent / 'shared' / 'gazebo-frames'


def test_perception_rows_are_compared(cfg):
    rows = gf.compared_rows(cfg)
    assert set(cfg.perception.rows) <= set(rows) and set(gf.MEASURED_ROWS) <= set(rows)


def test_every_circuit_of_the_data_is_compared_at_every_pose(results, folder):
    index = gf.load_index(folder)
    assert set(results) == set(index['circuits']) and results
    for name, r in results.items():
        s = r.summary()
        assert s['poses'] == len(index['circuits'][name]) > 0
        assert s['compared'] == s['poses'], f'{name}: a pose where neither sees the line'


@pytest.mark.parametrize('name', ['simple', 'hairpins', 'many_curves'])
def test_gazebo_and_embedded_see_the_line_at_the_same_place(results, name):
    if name not in results:
        pytest.skip(f'no frames of {name} in the data')
    r = results[name]
    s = r.summary()
    detail = '; '.join(f'{p.file}: dx {[None if d is None else round(d, 1) for d in p.dx]}'
                       for p in r.poses)
    assert s['missing_rows'] == 0, f'{name}: rows seen by one image only: {detail}'
    assert s['mean_max_dx_px'] <= GOAL_MEAN_PX, f'{name}: {s}: {detail}'
    assert s['worst_dx_px'] <= GOAL_WORST_PX, f'{name}: {s}: {detail}'


@pytest.mark.parametrize('content, says', [
    ('{', 'not JSON'),
    ('{"circuits": {}}', "'camera' missing"),
    ('{"camera": {}, "circuits": {"simple": [{"file": "a.png", "pose": [1, 2]}]}}',
     'circuits.simple[0]'),
])
def test_a_bad_index_names_the_file_and_the_key(tmp_path, content, says):
    (tmp_path / 'frames.json').write_text(content)
    with pytest.raises(ValueError, match=re.escape(says)) as info:
        gf.load_index(tmp_path)
    assert str(tmp_path / 'frames.json') in str(info.value)
