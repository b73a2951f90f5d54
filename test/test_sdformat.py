"""Every generated world loads without errors in libsdformat, and its mesh URIs resolve.

test/sdformat_loader.cc is compiled once per session against libsdformat (pkg-config
sdformat12: Debian 12's libsdformat-dev, which .ci/run installs). It loads strictly (warnings
and unknown elements are errors) and lists every visual and mesh URI; the URIs are resolved
here the way Gazebo does with worlds/models on GAZEBO_MODEL_PATH (package.xml's export).
Without the library (a laptop) these tests skip, unless RL_F1_REQUIRE_SDFORMAT=1 (CI), where
a missing library fails them.
"""
import os
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List

import pytest

from rl_f1_driver.gazebo.world import MAX_VISUALS, MODELS_DIR, mesh_model_name, write_worlds
from rl_f1_driver.paths import worlds_dir
from rl_f1_driver.track import builtin_names, load_circuit
from test_worlds import CFG, SYNTHETIC_LENGTH, synthetic_circuit

HERE = Path(__file__).resolve().parent
PKG = 'sdformat12'
COMPILE_TIMEOUT = 300.0   # s: a cold g++ on a busy 2-core machine
LOAD_TIMEOUT = 120.0


def _missing(reason: str) -> None:
    if os.environ.get('RL_F1_REQUIRE_SDFORMAT') == '1':
        pytest.fail(f'{reason} (RL_F1_REQUIRE_SDFORMAT=1: apt-get install libsdformat-dev '
                    'pkg-config g++)')
    pytest.skip(reason)


@pytest.fixture(scope='session')
def loader(tmp_path_factory) -> Path:
    """The compiled test/sdformat_loader.cc."""
    for tool in ('g++', 'pkg-config'):
        if shutil.which(tool) is None:
            _missing(f'{tool} not found')
    flags = subprocess.run(['pkg-config', '--cflags', '--libs', PKG], capture_output=True,
                           text=True, check=False)
    if flags.returncode != 0:
        _missing(f'libsdformat not found (pkg-config {PKG}): {flags.stderr.strip()}')
    exe = tmp_path_factory.mktemp('sdformat') / 'sdformat_loader'
    proc = subprocess.run(['g++', '-std=c++17', '-O0', str(HERE / 'sdformat_loader.cc'),
                           '-o', str(exe), *flags.stdout.split()],
                          capture_output=True, text=True, timeout=COMPILE_TIMEOUT, check=False)
    assert proc.returncode == 0, f'cannot compile the loader:\n{proc.stderr[-4000:]}'
    return exe


def load(loader: Path, files: List[Path]) -> Dict[str, Dict[str, list]]:
    """Per file: its errors, visuals and (visual, mesh URI) pairs as libsdformat reads them."""
    proc = subprocess.run([str(loader), *map(str, files)], capture_output=True, text=True,
                          timeout=LOAD_TIMEOUT, check=False)
    out: Dict[str, Dict[str, list]] = {}
    current: Dict[str, list] = {}
    for line in proc.stdout.splitlines():
        kind, _, rest = line.partition('\t')
        if kind == 'file':
            current = out.setdefault(rest, {'error': [], 'visual': [], 'mesh': []})
        else:
            current[kind].append(tuple(rest.split('\t')))
    assert sorted(out) == sorted(map(str, files)), proc.stderr[-2000:]
    errors = {f: r['error'] for f, r in out.items() if r['error']}
    assert proc.returncode == (1 if errors else 0), proc.stderr[-2000:]
    return out


def resolve(worlds_folder: Path, uri: str) -> Path:
    """Where Gazebo finds a model:// URI with worlds_folder/models on GAZEBO_MODEL_PATH."""
    assert uri.startswith('model://'), f'{uri}: not a model:// URI'
    return worlds_folder / MODELS_DIR / uri[len('model://'):]


def check_world(report: Dict[str, list], worlds_folder: Path, circuit: str) -> None:
    assert report['error'] == []
    assert 0 < len(report['visual']) <= MAX_VISUALS
    meshes = report['mesh']
    assert {v.split('::')[0] for v, _ in meshes} == {'road', 'kerbs', 'line'}
    for _, uri in meshes:
        assert uri.startswith(f'model://{mesh_model_name(circuit)}/')
        path = resolve(worlds_folder, uri)
        assert path.is_file() and path.stat().st_size > 0, f'{uri}: no file {path}'


def test_every_committed_world_and_mesh_model_loads_without_errors(loader):
    folder = worlds_dir()
    worlds = {name: folder / f'{name}.world' for name in builtin_names()}
    models = sorted((folder / MODELS_DIR).glob('*/model.sdf'))
    assert len(models) == len(worlds)
    reports = load(loader, [*worlds.values(), *models])
    for name, path in worlds.items():
        check_world(reports[str(path)], folder, name)
    for path in models:
        report = reports[str(path)]
        assert report['error'] == []
        circuit = path.parent.name[len(mesh_model_name('')):]
        world_meshes = reports[str(worlds[circuit])]['mesh']
        assert sorted(uri for _, uri in report['mesh']) == sorted(uri for _, uri in world_meshes)


def test_a_generated_5_km_world_loads_without_errors(loader, tmp_path):
    path = synthetic_circuit(tmp_path)
    assert load_circuit(path).length > 0.9 * SYNTHETIC_LENGTH
    out = tmp_path / 'worlds'
    paths, problems = write_worlds(out, CFG.camera, circuits=[str(path)])
    assert problems == []
    report = load(loader, paths)[str(paths[0])]
    check_world(report, out, 'synthetic')


def test_the_loader_reports_errors(loader, tmp_path):
    """Strict loading: what Gazebo would only log (an unknown element) fails the check."""
    bad = tmp_path / 'bad.world'
    bad.write_text('<?xml version="1.0"?><sdf version="1.6"><world name="w"><road/></world>'
                   '</sdf>', encoding='utf-8')
    report = load(loader, [bad])[str(bad)]
    assert any('road' in e[0] for e in report['error'])
