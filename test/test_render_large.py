"""Rendering on km-scale circuits: the line stays exact however big the circuit, and the map's
memory follows the road's length, not its bounding box."""
import math

import numpy as np
import pytest

from rl_f1_driver.perception import LineDetector
from rl_f1_driver.sim import Pose2D, Twist
from rl_f1_driver.sim.camera import eye_height, row_index, rows_view
from rl_f1_driver.sim.embedded import EmbeddedSimulator, track_map
from rl_f1_driver.sim.render import FAR, FINE_LIMIT, TILE, index_to_distance
from rl_f1_driver.track import circuit_from_dict
from rl_f1_driver.track.shapes import rounded_rectangle


@pytest.fixture(scope='module')
def square_12km():
    """3 x 3 km: a 12 km loop whose bounding box is 9 km^2."""
    return circuit_from_dict({'name': 'square_12km', 'centerline': rounded_rectangle(3000, 3000)},
                             'square_12km.yaml')


@pytest.fixture(scope='module')
def straights_5km():
    """2 x 0.5 km: a 5 km loop with two 1.9 km straights."""
    return circuit_from_dict({'name': 'straights_5km',
                              'centerline': rounded_rectangle(2000, 500)}, 'straights_5km.yaml')


@pytest.fixture(scope='module')
def detector(cfg):
    return LineDetector(cfg.perception)


def straight_poses(circuit, count):
    """`count` poses on the line, heading along it, spread over the lap where the next 12 m
    are straight (the camera sees the line centred there), starting on the second straight."""
    k = np.abs(circuit.curvature())
    n = len(k)
    ahead = int(12.0 / circuit.spacing)
    window = np.max([np.roll(k, -a) for a in range(-20, ahead, 5)], axis=0)
    ok = np.flatnonzero(window < 1e-5)
    picks = ok[np.linspace(0, len(ok) - 1, count).astype(int)]
    return [Pose2D(*circuit.pose_at(i / n)) for i in picks]


def line_columns(detector, image, row):
    return np.flatnonzero(detector.red_mask(np.ascontiguousarray(image[row:row + 1]))[0])


def expected_width_px(cam, row, line_width):
    depth = eye_height(cam) / ((row + 0.5 - cam.height / 2) / cam.fx)
    return line_width * cam.fx / depth, cam.fx / depth


def check_line_centred(cfg, detector, image, rows, line_width):
    cam = cfg.camera
    for i, row in enumerate(rows):
        cols = line_columns(detector, image, i if len(image) == len(rows) else row)
        assert len(cols) >= 2, f'line not seen on row {row}'
        centre = (cols[0] + cols[-1] + 1) / 2.0
        assert centre == pytest.approx(cam.width / 2, abs=1.0)
        expect, px_per_m = expected_width_px(cam, row, line_width)
        # 1 cm at each edge (the index step) plus a pixel of edge quantisation.
        assert len(cols) == pytest.approx(expect, abs=1.0 + 0.02 * px_per_m)


@pytest.mark.parametrize('name', ['square_12km', 'straights_5km'])
def test_the_line_is_seen_centred_and_of_the_right_width_all_along(cfg, detector, name,
                                                                   request):
    circuit = request.getfixturevalue(name)
    sim = EmbeddedSimulator(circuit, cfg.camera, cfg.car)
    rows = [row_index(cfg.camera.height, f) for f in cfg.perception.rows]
    sim.request_view(rows_view(cfg.camera, cfg.perception.rows))
    poses = straight_poses(circuit, 16)
    # Some of them in the middle of straights, km from the origin.
    assert max(math.hypot(p.x, p.y) for p in poses) > 1000
    for pose in poses:
        frame = sim.reset(pose)
        check_line_centred(cfg, detector, frame.image, rows, circuit.line_width)
    # The whole image, at the last pose: the bottom row too (the line ~120 px wide there).
    full = sim.render_full().image
    check_line_centred(cfg, detector, full, rows + [cfg.camera.height - 1], circuit.line_width)


def test_driving_a_long_straight_across_window_rebuilds(cfg, detector, straights_5km):
    """The local window is rebuilt every few metres: the line never jumps or vanishes."""
    circuit = straights_5km
    sim = EmbeddedSimulator(circuit, cfg.camera, cfg.car)
    rows = [row_index(cfg.camera.height, f) for f in cfg.perception.rows]
    sim.request_view(rows_view(cfg.camera, cfg.perception.rows))
    i = int(np.argmin(np.hypot(circuit.points[:, 0] - 300.0, circuit.points[:, 1])))
    sim.reset(Pose2D(*circuit.pose_at(i / len(circuit.points))))
    sim.car.v = 10.0
    builds = sim.renderer.window_builds
    for _ in range(300):   # 150 m at 10 m/s
        frame = sim.step(Twist(10.0, 0.0))
        check_line_centred(cfg, detector, frame.image, rows, circuit.line_width)
    assert frame.pose.x > 440 and sim.renderer.window_builds - builds > 5


def _distance_to_polyline(p, pts):
    a, b = pts, np.roll(pts, -1, axis=0)
    e = b - a
    t = np.clip(((p[:, None, :] - a[None]) * e[None]).sum(-1) / (e * e).sum(-1), 0.0, 1.0)
    foot = a[None] + t[..., None] * e[None]
    return np.linalg.norm(foot - p[:, None, :], axis=-1).min(axis=1)


def test_stored_distances_are_exact_near_the_line(square_12km):
    m = track_map(square_12km)
    rng = np.random.default_rng(0)
    picks = rng.choice(len(m.keys), 40, replace=False)
    cells, stored = [], []
    for t in picks:
        key = int(m.keys[t])
        ty, tx = key // (1 << 21) - (1 << 20), key % (1 << 21) - (1 << 20)
        r, c = rng.integers(0, TILE, 2)
        cells.append(((tx * TILE + c) * m.res, (ty * TILE + r) * m.res))
        stored.append(m.tiles[t, r, c])
    cells, stored = np.array(cells), np.array(stored)
    # The line as painted: straight between the world meshes' cross-sections (sim/painted.py).
    pts = m.line_points
    assert np.abs(pts - square_12km.points[0]).sum(axis=1).min() < 1e-9
    truth = np.array([_distance_to_polyline(p[None], pts[np.hypot(*(pts - p).T) < 30])[0]
                      for p in cells])
    near = truth < FINE_LIMIT - 0.02
    assert near.sum() >= 5
    # 1 cm index steps: within half a step plus rounding.
    assert np.abs(index_to_distance(stored[near]) - truth[near]).max() <= 0.006
    beyond = truth > m.reach
    assert np.all(stored[beyond] == FAR)


def test_map_memory_follows_the_length_not_the_bounding_box(square_12km, straights_5km):
    big, small = track_map(square_12km), track_map(straights_5km)
    per_m = [m.nbytes / m.circuit.length for m in (big, small)]
    assert per_m[0] == pytest.approx(per_m[1], rel=0.15)
    # About the road's width plus a tile either side, at 4 cm cells: ~10 kB per metre.
    assert max(per_m) < 12_000
    x0, y0, x1, y1 = square_12km.bounds()
    box_cells = (x1 - x0) * (y1 - y0) / big.res ** 2
    assert big.nbytes < 0.02 * box_cells
    assert big.dense is None and small.dense is None
