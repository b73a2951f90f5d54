"""The committed Gazebo worlds: up to date, and made from the same circuit and camera config."""
import argparse
import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from rl_f1_driver.config import load_config
from rl_f1_driver.gazebo import cli as worlds_cli
from rl_f1_driver.gazebo.car import part_corners, visible_in_camera
from rl_f1_driver.gazebo.world import (CAR_Z, LINE_TOP, ROAD_TOP, WorldNames, build_world,
                                       segment_loop, world_filename, write_worlds)
from rl_f1_driver.paths import worlds_dir
from rl_f1_driver.ros import params
from rl_f1_driver.sim.render import Palette
from rl_f1_driver.track import builtin_names, load_circuit

CFG = load_config()


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
    assert (x, y, z, roll, pitch, yaw) == pytest.approx(
        (c.mount_forward, 0, c.mount_height, 0, c.pitch, 0), abs=1e-4)
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


def _boxes(root, model, prefix):
    out = []
    for v in root.findall(f'.//model[@name="{model}"]/link/visual'):
        if v.get('name').startswith(prefix):
            x, y, z, _, _, yaw = _floats(v.findtext('pose'))
            sx, sy, sz = _floats(v.findtext('geometry/box/size'))
            out.append((x, y, z, yaw, sx, sy, sz, _floats(v.findtext('material/diffuse'))))
    return out


def _covered(points, boxes, margin=0.0):
    """Which points lie inside at least one (rotated) box, narrowed by `margin` each side."""
    inside = np.zeros(len(points), bool)
    for x, y, _, yaw, sx, sy, *_ in boxes:
        d = points - (x, y)
        c, s = math.cos(yaw), math.sin(yaw)
        u = d[:, 0] * c + d[:, 1] * s
        v = -d[:, 0] * s + d[:, 1] * c
        inside |= (np.abs(u) <= sx / 2) & (np.abs(v) <= sy / 2 - margin)
    return inside


@pytest.mark.parametrize('name', builtin_names())
def test_red_line_and_road_follow_the_circuit_without_gaps(worlds, name):
    circuit = load_circuit(name)
    root = worlds[name]
    line = _boxes(root, 'line', 'line_')
    road = _boxes(root, 'road', 'road_')
    assert line and len(line) == len(road)
    b, g, r = Palette().line
    for _, _, z, _, _, sy, sz, diffuse in line:
        assert sy == pytest.approx(circuit.line_width)
        assert z + sz / 2 == pytest.approx(LINE_TOP)
        assert diffuse[:3] == pytest.approx([r / 255, g / 255, b / 255], abs=1e-4)
        assert diffuse[0] > 2 * max(diffuse[1], diffuse[2])          # red
    for _, _, z, _, _, sy, sz, _ in road:
        assert sy == pytest.approx(circuit.road_width) and z + sz / 2 == pytest.approx(ROAD_TOP)
    # Every centreline sample lies on the painted line, at least 1 cm inside its edges ...
    assert _covered(circuit.points, line, margin=0.01).all()
    # ... and the road covers both edges of the circuit, also outside the corners.
    normal = np.stack([-circuit.tangents[:, 1], circuit.tangents[:, 0]], axis=1)
    for side in (1, -1):
        edge = circuit.points + side * (circuit.road_width / 2 - 0.05) * normal
        assert _covered(edge, road).all()
    # Far from the line there is no line paint: the line is not wider than the circuit's.
    off = circuit.points + 3 * circuit.line_width * normal
    assert not _covered(off, line).any()


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
