"""The committed Gazebo worlds: up to date, and made from the same circuit and camera config.

The track is meshes (one visual per colour layer): their edges follow the circuit within
CHORD_TOL, their widths are exact, and a world has at most MAX_VISUALS visuals, also for a
synthetic 5 km circuit. test_sdformat.py loads the worlds with libsdformat.
"""
import argparse
import ast
import math
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import yaml

from rl_f1_driver.config import load_config
from rl_f1_driver.gazebo import cli as worlds_cli
from rl_f1_driver.gazebo.car import part_corners, visible_in_camera
from rl_f1_driver.gazebo import mesh as mesh_mod
from rl_f1_driver.gazebo.world import (CHORD_TOL, MAX_VISUALS, MODELS_DIR, WorldNames,
                                       build_world, mesh_model_name, segment_loop,
                                       world_filename, write_worlds)
from rl_f1_driver.paths import worlds_dir
from rl_f1_driver.config import ros_params as params
from rl_f1_driver.scene import CAR_Z, KERB_TOP, LINE_TOP, ROAD_TOP
from rl_f1_driver.sim.camera import eye_height
from rl_f1_driver.sim.render import KERB_WIDTH, Palette
from rl_f1_driver.track import builtin_names, load_circuit

CFG = load_config()
ROOT = Path(__file__).resolve().parent.parent
SYNTHETIC_LENGTH = 5000.0   # m, about: a long Grand Prix circuit


def synthetic_circuit(folder: Path, length: float = SYNTHETIC_LENGTH,
                      name: str = 'synthetic') -> Path:
    """A circuit file of a wavy loop about `length` long: corners of 60-250 m radius."""
    radius = length / (2 * math.pi) / 1.05
    theta = np.linspace(0.0, 2 * math.pi, 120, endpoint=False)
    r = radius * (1 + 0.06 * np.sin(7 * theta) + 0.03 * np.sin(19 * theta))
    points = [[round(float(x), 2), round(float(y), 2)]
              for x, y in zip(r * np.cos(theta), r * np.sin(theta))]
    path = Path(folder) / f'{name}.yaml'
    path.write_text(yaml.safe_dump({'name': name, 'road_width': 7.0, 'line_width': 0.25,
                                    'centerline': points}), encoding='utf-8')
    return path


@pytest.fixture(scope='module')
def worlds():
    """Parsed committed worlds by circuit name."""
    return {name: ET.parse(worlds_dir() / world_filename(name)).getroot()
            for name in builtin_names()}


def test_committed_worlds_are_up_to_date_with_the_generator():
    paths, problems = write_worlds(worlds_dir(), CFG.camera, check=True)
    assert problems == [], ('worlds/ is stale: run `rl-f1 worlds` and commit the result: '
                            + '; '.join(problems))
    assert sorted(p.stem for p in paths) == builtin_names()


def _floats(text):
    return [float(v) for v in text.split()]


def _sensor(root):
    sensors = root.findall('.//sensor[@type="camera"]')
    assert len(sensors) == 1
    return sensors[0]


@pytest.mark.parametrize('name', builtin_names())
def test_camera_sensor_equals_the_camera_config(worlds, name):
    c = CFG.camera
    s = _sensor(worlds[name])
    assert float(s.findtext('update_rate')) == pytest.approx(c.rate_hz)
    x, y, z, roll, pitch, yaw = _floats(s.findtext('pose'))
    assert (x, y, roll, pitch, yaw) == pytest.approx(
        (c.mount_forward, 0, 0, c.pitch, 0), abs=1e-4)
    # mount_height is the camera's height above the ground plane (the car's origin is CAR_Z
    # above it), and so mount_height - LINE_TOP above the painted line, as the embedded
    # renderer draws it (sim/camera.eye_height).
    assert CAR_Z + z == pytest.approx(c.mount_height, abs=1e-4)
    assert CAR_Z + z - LINE_TOP == pytest.approx(eye_height(c), abs=1e-4)
    cam = s.find('camera')
    assert float(cam.findtext('horizontal_fov')) == pytest.approx(c.hfov, abs=1e-4)
    assert int(cam.findtext('image/width')) == c.width
    assert int(cam.findtext('image/height')) == c.height
    assert cam.findtext('image/format') == 'R8G8B8'
    assert float(cam.findtext('clip/near')) == pytest.approx(c.clip_near)
    assert float(cam.findtext('clip/far')) == pytest.approx(c.clip_far)
    plugin = s.find('plugin')
    assert plugin.get('filename') == 'libgazebo_ros_camera.so'
    assert float(plugin.findtext('cx')) == pytest.approx((c.width - 1) / 2)
    assert float(plugin.findtext('cy')) == pytest.approx((c.height - 1) / 2)


@pytest.mark.parametrize('name', builtin_names())
def test_plugins_and_topics_match_the_ros_parameters(worlds, name):
    root = worlds[name]
    shared = params.load_param_file(params.default_file())['/**']
    world = root.find('world')
    state = world.find('plugin[@filename="libgazebo_ros_state.so"]')
    assert state is not None
    remaps = [r.text for r in state.findall('ros/remapping')]
    assert f'set_entity_state:={shared["set_entity_state_service"]}' in remaps
    assert f'model_states:={shared["model_states_topic"]}' in remaps
    car = world.find(f'model[@name="{shared["car_model"]}"]')
    assert car is not None
    drive = car.find('plugin[@filename="libgazebo_ros_planar_move.so"]')
    assert drive.findtext('ros/namespace') == shared['car_namespace']
    assert {r.text for r in drive.findall('ros/remapping')} == {
        f'cmd_vel:={shared["cmd_vel_topic"]}', f'odom:={shared["odom_topic"]}'}
    assert drive.findtext('odometry_frame') == shared['odom_frame']
    assert drive.findtext('robot_base_frame') == shared['base_frame']
    cam = _sensor(root).find('plugin')
    assert cam.findtext('ros/namespace') == shared['car_namespace']
    assert [r.text for r in cam.findall('ros/remapping')] == [
        f'camera/image_raw:={shared["camera_topic"]}']
    assert cam.findtext('frame_name') == shared['camera_frame']
    link = car.find('link')
    assert link.get('name') == shared['base_frame'] and link.findtext('gravity') == 'false'
    assert link.find('collision') is None


LAYERS = {'road': (ROAD_TOP, 'road'), 'kerbs': (KERB_TOP, 'kerb'), 'line': (LINE_TOP, 'line')}


def _mesh_visuals(root, model):
    return root.findall(f'.//model[@name="{model}"]/link/visual')


def _mesh_path(worlds_folder, uri):
    """The file a model:// URI names when worlds_folder/models is on GAZEBO_MODEL_PATH."""
    assert uri.startswith('model://'), uri
    return Path(worlds_folder) / MODELS_DIR / uri[len('model://'):]


def read_obj(path):
    """(vertices, faces) of an OBJ file: a reader of our own, independent of the writer."""
    verts, faces = [], []
    for line in Path(path).read_text(encoding='utf-8').splitlines():
        parts = line.split()
        if parts and parts[0] == 'v':
            verts.append([float(v) for v in parts[1:4]])
        elif parts and parts[0] == 'f':
            faces.append([int(p.split('/')[0]) - 1 for p in parts[1:]])
    return np.array(verts), np.array(faces, dtype=np.int64)


def _layer_mesh(worlds_folder, root, model):
    """All mesh files of a layer merged, with coincident vertices (chunk ends) welded."""
    verts, faces = [], []
    for v in _mesh_visuals(root, model):
        pv, pf = read_obj(_mesh_path(worlds_folder, v.findtext('geometry/mesh/uri')))
        faces.append(pf + sum(len(x) for x in verts))
        verts.append(pv)
    v, f = np.concatenate(verts), np.concatenate(faces)
    uniq, inverse = np.unique(np.round(v, 6), axis=0, return_inverse=True)
    return uniq, inverse.reshape(-1)[f]


def _boundary(faces):
    """Edges used by one face only: the outline of the strips."""
    e = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    uniq, counts = np.unique(e, axis=0, return_counts=True)
    return uniq[counts == 1]


def _by_cell(points, centres, half, reach, cell=20.0):
    """(point indices, candidate indices) per occupied grid cell: every shape (centre,
    half-size `half`) that comes within `reach` of a point of the cell. Keeps the brute-force
    checks below linear in the circuit length."""
    keys = np.floor(points / cell).astype(np.int64)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    for k, key in enumerate(uniq):
        centre = (key + 0.5) * cell
        near = np.abs(centres - centre).max(1) <= cell / 2 + half + reach
        yield np.flatnonzero(inverse == k), np.flatnonzero(near)


def _dist_to_segments(points, a, b, reach=1.0):
    """Distance of each point to the nearest segment a[k]-b[k] (2-D); exact up to `reach`,
    and anything farther reads as more than `reach`."""
    out = np.full(len(points), np.inf)
    half = float(np.hypot(*(b - a).T).max()) / 2
    for pi, si in _by_cell(points, (a + b) / 2, half, reach):
        if len(si) == 0:
            continue
        p, sa, d = points[pi, None, :], a[si], b[si] - a[si]
        t = np.clip(((p - sa) * d).sum(2) / np.maximum((d * d).sum(1), 1e-300), 0.0, 1.0)
        out[pi] = np.hypot(*(p - (sa + t[..., None] * d)).transpose(2, 0, 1)).min(1)
    return out


def _inside(points, verts, faces):
    """Which 2-D points lie in at least one triangle."""
    a, b, c = (verts[faces[:, k], :2] for k in range(3))
    centres = (a + b + c) / 3
    half = float(np.abs(np.stack([a, b, c]) - centres).max())
    out = np.zeros(len(points), bool)

    def side(p, u, v):
        return (v[:, 0] - u[:, 0]) * (p[..., 1] - u[:, 1]) - \
            (v[:, 1] - u[:, 1]) * (p[..., 0] - u[:, 0])
    for pi, ti in _by_cell(points, centres, half, 0.0):
        p, ta, tb, tc = points[pi, None, :], a[ti], b[ti], c[ti]
        s1, s2, s3 = side(p, ta, tb), side(p, tb, tc), side(p, tc, ta)
        out[pi] = ((s1 >= 0) & (s2 >= 0) & (s3 >= 0)).any(1)
    return out


def _mtl(path):
    """{material name: {key: [values]}} of a .mtl file."""
    out, current = {}, None
    for line in path.read_text(encoding='utf-8').splitlines():
        parts = line.split()
        if not parts or parts[0].startswith('#'):
            continue
        if parts[0] == 'newmtl':
            current = out.setdefault(parts[1], {})
        else:
            assert current is not None, f'{path}: {parts[0]} before any newmtl'
            current[parts[0]] = parts[1:]
    return out


@pytest.mark.parametrize('name', builtin_names())
def test_every_mesh_uses_a_material_of_its_own_mtl_in_the_visual_colour(worlds, name):
    """Gazebo warns `Missing material for shape[] in OBJ file` for an OBJ without one."""
    root = worlds[name]
    seen = 0
    for model in LAYERS:
        for v in _mesh_visuals(root, model):
            obj = _mesh_path(worlds_dir(), v.findtext('geometry/mesh/uri'))
            lines = obj.read_text(encoding='utf-8').splitlines()
            libs = [ln.split(None, 1)[1] for ln in lines if ln.startswith('mtllib ')]
            uses = [ln.split(None, 1)[1] for ln in lines if ln.startswith('usemtl ')]
            assert len(libs) == 1 and len(uses) == 1, obj
            first_face = next(i for i, ln in enumerate(lines) if ln.startswith('f '))
            assert lines.index(f'usemtl {uses[0]}') < first_face, f'{obj}: a face has none'
            mtl = obj.parent / libs[0]
            assert mtl.is_file(), f'{obj}: mtllib {libs[0]} is missing'
            materials = _mtl(mtl)
            assert uses[0] in materials, f'{mtl} does not define {uses[0]}'
            m = materials[uses[0]]
            # The colour the SDF <material> gives the visual, ambient and diffuse alike.
            for sdf_tag, mtl_key in (('ambient', 'Ka'), ('diffuse', 'Kd')):
                assert [float(x) for x in m[mtl_key]] == pytest.approx(
                    _floats(v.findtext(f'material/{sdf_tag}'))[:3], abs=1e-9)
            assert [float(x) for x in m['Ks']] == [0, 0, 0]
            assert float(m['d'][0]) == 1.0
            seen += 1
    assert seen == sum(len(_mesh_visuals(root, model)) for model in LAYERS) >= 3


def _edge_offsets(circuit, layer):
    half, kerb = circuit.road_width / 2, KERB_WIDTH
    return {'road': (-half, half), 'kerbs': (-half, -half + kerb, half - kerb, half),
            'line': (-circuit.line_width / 2, circuit.line_width / 2)}[layer]


@pytest.mark.parametrize('name', builtin_names())
def test_track_is_one_mesh_visual_per_layer_in_the_palette_colours(worlds, name):
    root = worlds[name]
    palette = Palette()
    for model, (top, colour) in LAYERS.items():
        visuals = _mesh_visuals(root, model)
        assert len(visuals) == 1, f'{model}: {len(visuals)} visuals'
        for v in visuals:
            uri = v.findtext('geometry/mesh/uri')
            assert uri == f'model://{mesh_model_name(name)}/{v.get("name")}.obj'
            assert _mesh_path(worlds_dir(), uri).is_file()
            assert _floats(v.findtext('pose')) == pytest.approx([0, 0, top, 0, 0, 0])
            b, g, r = getattr(palette, colour)
            for tag in ('ambient', 'diffuse'):
                assert _floats(v.findtext(f'material/{tag}')) == pytest.approx(
                    [r / 255, g / 255, b / 255, 1], abs=1e-4)
    line = _floats(_mesh_visuals(root, 'line')[0].findtext('material/diffuse'))
    assert line[0] > 2 * max(line[1], line[2])          # red
    assert root.find('.//model[@name="road"]//box') is None


@pytest.mark.parametrize('name', builtin_names())
def test_meshes_follow_the_circuit_within_tolerance_with_exact_widths(worlds, name):
    circuit = load_circuit(name)
    root = worlds[name]
    normal = np.stack([-circuit.tangents[:, 1], circuit.tangents[:, 0]], axis=1)
    for layer in LAYERS:
        verts, faces = _layer_mesh(worlds_dir(), root, layer)
        assert np.all(verts[:, 2] == 0.0)
        a, b, c = (verts[faces[:, k], :2] for k in range(3))
        up = (b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0]
        assert (up > 0).all(), f'{layer}: a face points down (culled from above)'
        edges = _boundary(faces)
        ea, eb = verts[edges[:, 0], :2], verts[edges[:, 1], :2]
        offsets = _edge_offsets(circuit, layer)
        curves = [circuit.points + o * normal for o in offsets]
        # The true edges lie within CHORD_TOL of the mesh outline ...
        for curve in curves:
            assert _dist_to_segments(curve, ea, eb).max() <= CHORD_TOL + 1e-4, layer
        # ... and every outline vertex (and the middle of every outline edge) on a true edge.
        ta = np.concatenate([cv for cv in curves])
        tb = np.concatenate([np.roll(cv, -1, axis=0) for cv in curves])
        on_edge = _dist_to_segments(verts[np.unique(edges), :2], ta, tb)
        assert on_edge.max() <= 1e-4, layer          # so the widths are exact there
        assert _dist_to_segments((ea + eb) / 2, ta, tb).max() <= CHORD_TOL + 1e-4, layer
    line_v, line_f = _layer_mesh(worlds_dir(), root, 'line')
    road_v, road_f = _layer_mesh(worlds_dir(), root, 'road')
    # Every centreline sample lies on the painted line, none 3 line widths away does ...
    assert _inside(circuit.points, line_v, line_f).all()
    assert not _inside(circuit.points + 3 * circuit.line_width * normal, line_v, line_f).any()
    # ... and the road covers both edges of the circuit, also outside the corners.
    for side in (1, -1):
        edge = circuit.points + side * (circuit.road_width / 2 - 0.05) * normal
        assert _inside(edge, road_v, road_f).all()


def _visual_count(world_path):
    return len(ET.parse(world_path).getroot().findall('.//visual'))


@pytest.fixture(scope='module')
def synthetic_worlds(tmp_path_factory):
    """Worlds folder with a generated world of a ~5 km synthetic circuit."""
    folder = tmp_path_factory.mktemp('synthetic')
    path = synthetic_circuit(folder)
    assert load_circuit(path).length > 0.9 * SYNTHETIC_LENGTH
    out = folder / 'worlds'
    paths, problems = write_worlds(out, CFG.camera, circuits=[str(path)])
    assert problems == []
    return out, paths[0]


def test_at_most_50_visuals_per_world_committed_and_5_km(synthetic_worlds):
    assert MAX_VISUALS == 50
    for name in builtin_names():
        n = _visual_count(worlds_dir() / world_filename(name))
        assert n <= MAX_VISUALS, f'{name}: {n} visuals'
    out, world = synthetic_worlds
    assert _visual_count(world) <= MAX_VISUALS
    root = ET.parse(world).getroot()
    for layer in LAYERS:
        for v in _mesh_visuals(root, layer):
            assert _mesh_path(out, v.findtext('geometry/mesh/uri')).is_file()


def test_a_huge_layer_is_split_into_meshes_without_cracks(tmp_path, monkeypatch):
    """Past MAX_VERTICES a layer becomes several meshes that share their end sections, and
    the world stays within MAX_VISUALS even when the cap would ask for more pieces."""
    path = synthetic_circuit(tmp_path, 2000.0, 'split')
    circuit = load_circuit(path)
    for cap, most in ((400, MAX_VISUALS), (40, MAX_VISUALS)):
        monkeypatch.setattr(mesh_mod, 'MAX_VERTICES', cap)
        out = tmp_path / f'cap{cap}'
        write_worlds(out, CFG.camera, circuits=[str(path)])
        world = out / world_filename('split')
        root = ET.parse(world).getroot()
        assert len(_mesh_visuals(root, 'line')) > 1
        assert _visual_count(world) <= most
        verts, faces = _layer_mesh(out, root, 'line')
        if cap == 400:
            assert max(len(read_obj(_mesh_path(out, v.findtext('geometry/mesh/uri')))[0])
                       for v in _mesh_visuals(root, 'kerbs')) <= cap
        # One closed strip: the outline is the two edges only (no crack between pieces).
        edges = _boundary(faces)
        normal = np.stack([-circuit.tangents[:, 1], circuit.tangents[:, 0]], axis=1)
        ta = np.concatenate([circuit.points + o * normal for o in (-0.125, 0.125)])
        tb = np.concatenate([np.roll(circuit.points + o * normal, -1, axis=0)
                             for o in (-0.125, 0.125)])
        assert _dist_to_segments(verts[np.unique(edges), :2], ta, tb).max() <= 1e-4
        assert _inside(circuit.points, verts, faces).all()


def test_setup_installs_the_mesh_folders():
    """setup.py's tree('worlds') lists every mesh file under its own share/ folder."""
    source = (ROOT / 'setup.py').read_text()
    funcs = [n for n in ast.parse(source).body
             if isinstance(n, ast.FunctionDef) and n.name == 'tree']
    namespace = {'glob': __import__('glob').glob, 'os': os, 'package_name': 'rl_f1_driver'}
    exec(compile(ast.Module(body=funcs, type_ignores=[]), 'setup.py', 'exec'), namespace)
    cwd = os.getcwd()
    try:
        os.chdir(ROOT)
        entries = dict(namespace['tree']('worlds'))
    finally:
        os.chdir(cwd)
    for name in builtin_names():
        folder = f'worlds/{MODELS_DIR}/{mesh_model_name(name)}'
        files = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / folder).iterdir())
        assert {'model.config', 'model.sdf', 'line_0.obj', 'line_0.mtl'} <= {
            Path(f).name for f in files}
        assert sorted(entries[f'share/rl_f1_driver/{folder}']) == files


def test_package_exports_the_mesh_folder_as_a_gazebo_model_path():
    """gazebo_ros's gzserver/gzclient launch files put it on GAZEBO_MODEL_PATH."""
    root = ET.parse(ROOT / 'package.xml').getroot()
    paths = [e.get('gazebo_model_path') for e in root.findall('export/gazebo_ros')]
    assert paths == ['${prefix}/worlds/' + MODELS_DIR]


def test_segments_follow_the_curve_within_tolerance():
    circuit = load_circuit('hairpins')
    idx = segment_loop(circuit.points, tol=0.01, max_len=10.0)
    assert idx[0] == 0 and idx == sorted(set(idx))
    pts = circuit.points
    for a, b in zip(idx, idx[1:] + [len(pts)]):
        chord = pts[b % len(pts)] - pts[a]
        mid = pts[a:b] - pts[a]
        dev = np.abs(mid[:, 0] * chord[1] - mid[:, 1] * chord[0]) / np.hypot(*chord)
        assert dev.max() <= 0.01 + 1e-12
        assert np.hypot(*chord) <= 10.0


def test_car_is_never_in_its_own_camera_image():
    c = CFG.camera
    assert visible_in_camera(c, (c.mount_forward + 5.0, 0.0, 0.0))   # the road ahead is seen
    seen = [name for name, p in part_corners(c) if visible_in_camera(c, p)]
    assert seen == []


def test_car_starts_on_the_line_at_the_lap_start(worlds):
    circuit = load_circuit('simple')
    car = worlds['simple'].find('world/model[@name="f1_car"]')
    x, y, z, _, _, yaw = _floats(car.findtext('pose'))
    sx, sy, syaw = circuit.pose_at(0.0)
    assert (x, y, z) == pytest.approx((sx, sy, CAR_Z), abs=1e-4)
    assert math.cos(yaw - syaw) == pytest.approx(1.0)


def test_world_follows_the_config_and_is_deterministic():
    circuit = load_circuit('simple')
    small = load_config(overrides={'camera.width': 320, 'camera.height': 240,
                                   'camera.hfov': 1.2, 'camera.rate_hz': 15.0})
    text = build_world(circuit, small.camera)
    assert text == build_world(circuit, small.camera)
    s = ET.fromstring(text).find('.//sensor[@type="camera"]')
    assert s.findtext('camera/image/width') == '320' and s.findtext('update_rate') == '15'
    assert s.findtext('camera/horizontal_fov') == '1.2'
    renamed = build_world(circuit, small.camera, WorldNames(camera_topic='/car/cam/image'))
    assert '<remapping>camera/image_raw:=/car/cam/image</remapping>' in renamed


def _parser():
    parser = argparse.ArgumentParser(prog='rl-f1')
    worlds_cli.register(parser.add_subparsers(dest='command', required=True))
    return parser


def test_cli_writes_then_checks_and_detects_stale_worlds(tmp_path, capsys):
    parser = _parser()
    args = parser.parse_args(['worlds', '--out', str(tmp_path), '--circuit', 'simple'])
    assert args.func(args) == 0
    written = tmp_path / 'simple.world'
    same = written.read_text() == (worlds_dir() / 'simple.world').read_text()
    assert same, 'the CLI output differs from the committed world'
    check = parser.parse_args(['worlds', '--out', str(tmp_path), '--circuit', 'simple',
                               '--check'])
    assert check.func(check) == 0
    written.write_text(written.read_text().replace('R8G8B8', 'L8'))
    assert check.func(check) == 1
    assert 'simple.world: out of date' in capsys.readouterr().err
    written.unlink()
    assert check.func(check) == 1
    assert 'simple.world: missing' in capsys.readouterr().err
    assert args.func(args) == 0
    folder = tmp_path / MODELS_DIR / mesh_model_name('simple')
    mesh = folder / 'line_0.obj'
    same = mesh.read_text() == (worlds_dir() / MODELS_DIR / mesh.parent.name / mesh.name
                                ).read_text()
    assert same, 'the CLI mesh differs from the committed one'
    mesh.write_text(mesh.read_text().replace('v ', 'v 1', 1))
    assert check.func(check) == 1
    assert 'line_0.obj: out of date' in capsys.readouterr().err
    stale = folder / 'line_1.obj'          # left by an older, longer circuit
    stale.write_text('v 0 0 0\n')
    mesh.unlink()
    assert check.func(check) == 1
    err = capsys.readouterr().err
    assert 'line_0.obj: missing' in err and 'line_1.obj: stale' in err
    assert args.func(args) == 0 and not stale.exists()
    assert check.func(check) == 0
