"""Circuits: YAML definitions, periodic-spline smoothing, validation with file-named errors."""
import math
from pathlib import Path

import numpy as np
import pytest

from conftest import STRAIGHT_OVAL, write_yaml
from rl_f1_driver.errors import CircuitError, UserError
from rl_f1_driver.track import builtin_names, circuit_from_dict, load_circuit, resolve_track
from rl_f1_driver.track import circuit as circuit_mod
from rl_f1_driver.paths import circuits_dir

BUILTINS = ['hairpins', 'long', 'many_curves', 'montmelo_like', 'montreal_like',
            'nurburgring_like', 'simple']


def circle_points(radius=20.0, n=12, clockwise=False):
    a = np.linspace(0.0, 2 * math.pi, n, endpoint=False)
    if clockwise:
        a = -a
    return [[float(radius * math.cos(t)), float(radius * math.sin(t))] for t in a]


def _distance_to_polyline(p, pts):
    a, b = pts, np.roll(pts, -1, axis=0)
    e = b - a
    t = np.clip(((p - a) * e).sum(1) / (e * e).sum(1), 0.0, 1.0)
    return float(np.min(np.linalg.norm(a + t[:, None] * e - p, axis=1)))


def test_builtin_names():
    assert builtin_names() == BUILTINS


@pytest.mark.parametrize('name', ['montmelo_like', 'montreal_like', 'nurburgring_like'])
def test_real_size_circuits_are_km_scale_with_wide_roads_and_tight_corners(name):
    c = load_circuit(name)
    assert 3500.0 < c.length < 5500.0
    assert 10.0 <= c.road_width <= 15.0
    assert c.description.startswith('In the style of')
    radius = 1.0 / abs(c.curvature()).max()
    assert radius < 25.0          # a hairpin or chicane
    # A long straight: 500 m with the heading within 1 degree.
    heading = np.unwrap(np.arctan2(c.tangents[:, 1], c.tangents[:, 0]))
    window = int(500.0 / c.spacing)
    starts = range(0, len(heading) - window, window // 4)
    spread = np.array([np.ptp(heading[i:i + window]) for i in starts])
    assert spread.min() < np.radians(1.0)


@pytest.mark.parametrize('name', BUILTINS)
def test_builtin_circuit_is_a_dense_closed_smooth_loop(name):
    c = load_circuit(name)
    assert c.name == name
    assert len(c.control_points) >= 4
    # Evenly spaced samples of about SAMPLE_SPACING, last one a spacing before the first.
    steps = np.linalg.norm(np.diff(np.vstack([c.points, c.points[:1]]), axis=0), axis=1)
    assert steps.max() < 1.5 * circuit_mod.SAMPLE_SPACING
    assert steps.min() > 0.5 * circuit_mod.SAMPLE_SPACING
    assert c.length == pytest.approx(steps.sum(), rel=1e-3)
    assert c.s[0] == 0.0 and np.all(np.diff(c.s) > 0) and c.s[-1] < c.length
    assert np.allclose(np.linalg.norm(c.tangents, axis=1), 1.0)
    # Tangents point from each sample to the next (the driving direction).
    fwd = np.roll(c.points, -1, axis=0) - c.points
    assert np.all((fwd * c.tangents).sum(1) > 0)
    # The smoothed loop passes through every control point.
    for p in c.control_points:
        assert _distance_to_polyline(p, c.points) < 0.01
    assert c.line_width < c.road_width


def test_circle_length_and_curvature():
    r = 20.0
    c = circuit_from_dict({'name': 'circle', 'centerline': circle_points(r, 16)})
    assert c.length == pytest.approx(2 * math.pi * r, rel=2e-3)
    assert np.abs(np.linalg.norm(c.points, axis=1) - r).max() < 0.02 * r
    k = c.curvature()
    assert np.all(k > 0)  # counter-clockwise turns left
    assert np.median(k) == pytest.approx(1.0 / r, rel=0.02)


def test_optional_widths_default_and_can_be_set():
    c = circuit_from_dict({'name': 'c', 'centerline': circle_points()})
    assert c.road_width == circuit_mod.DEFAULT_ROAD_WIDTH
    assert c.line_width == circuit_mod.DEFAULT_LINE_WIDTH
    c = circuit_from_dict({'name': 'c', 'centerline': circle_points(), 'road_width': 10,
                           'line_width': 0.5})
    assert (c.road_width, c.line_width) == (10.0, 0.5)


def test_repeated_first_point_closes_the_loop():
    pts = circle_points(n=8)
    a = circuit_from_dict({'name': 'c', 'centerline': pts})
    b = circuit_from_dict({'name': 'c', 'centerline': pts + [pts[0]]})
    assert b.length == pytest.approx(a.length)
    assert len(b.control_points) == 8


@pytest.mark.parametrize('name', ['simple', 'many_curves'])
def test_reversed_points_give_the_same_loop_driven_the_other_way(tmp_path, name):
    import yaml
    data = yaml.safe_load((circuits_dir() / f'{name}.yaml').read_text())
    data['centerline'] = data['centerline'][::-1]
    data['name'] = f'{name}_reversed'
    fwd = load_circuit(name)
    rev = load_circuit(write_yaml(tmp_path, 'rev.yaml', data))
    assert rev.name == f'{name}_reversed'
    assert rev.length == pytest.approx(fwd.length, rel=1e-6)
    # Same curve: every sample of one lies on the other.
    for p in rev.points[::50]:
        assert _distance_to_polyline(p, fwd.points) < 0.005
    # Opposite direction: at the same place the tangents are opposite, the curvature flips.
    k_fwd, k_rev = fwd.curvature(), rev.curvature()
    for i in range(0, len(rev.points), 97):
        j = int(np.argmin(np.linalg.norm(fwd.points - rev.points[i], axis=1)))
        assert np.dot(rev.tangents[i], fwd.tangents[j]) < -0.99
        if abs(k_fwd[j]) > 0.02:
            assert np.sign(k_rev[i]) == -np.sign(k_fwd[j])
    # pose_at faces the driving direction of each.
    x, y, yaw = rev.pose_at(0.0)
    assert (x, y) == pytest.approx(tuple(rev.control_points[0]), abs=1e-6)
    assert (math.cos(yaw), math.sin(yaw)) == pytest.approx(tuple(rev.tangents[0]))


def test_pose_at_wraps_and_lies_on_the_line(straight_oval):
    c = straight_oval
    for f in [0.0, 0.1, 0.37, 0.5, 0.99]:
        x, y, yaw = c.pose_at(f)
        i = int(np.argmin(np.linalg.norm(c.points - (x, y), axis=1)))
        assert np.linalg.norm(c.points[i] - (x, y)) < 1e-9
        assert c.s[i] / c.length == pytest.approx(f, abs=1.0 / len(c.points))
        assert c.pose_at(f + 1.0) == c.pose_at(f) == c.pose_at(f - 1.0)


def test_fixture_straights_are_straight(straight_oval):
    # The fixture the rendering tests rely on: mid-straight is a straight line to < 1 mm.
    p = straight_oval.points
    m = (p[:, 0] > 30) & (p[:, 0] < 70) & (p[:, 1] < 15)
    assert m.sum() > 300
    assert np.abs(p[m, 1]).max() < 1e-3


def test_simple_straights_are_straight(simple_circuit):
    # simple.yaml promises "two straights": between the corners (0 <= x <= 60) the smoothed
    # line must stay within half its own width of y = 0 and y = 28, or a car centred on
    # "the straight" sees the line wander by more than its width.
    c = simple_circuit
    p = c.points
    on_straight = (p[:, 0] >= 0.0) & (p[:, 0] <= 60.0)
    dev = np.where(p[on_straight, 1] < 14.0, p[on_straight, 1], p[on_straight, 1] - 28.0)
    assert np.abs(dev).max() <= c.line_width / 2, (
        f'the smoothed "straight" wanders {np.abs(dev).max():.3f} m off the straight line')


def test_bounds(straight_oval):
    x0, y0, x1, y1 = straight_oval.bounds(margin=2.0)
    p = straight_oval.points
    assert x0 == pytest.approx(p[:, 0].min() - 2.0) and y1 == pytest.approx(p[:, 1].max() + 2.0)
    assert x1 > x0 and y1 > y0


# --- resolving --track ------------------------------------------------------------------------

def test_resolve_builtin_name_and_paths(tmp_path):
    assert resolve_track('simple') == circuits_dir() / 'simple.yaml'
    assert resolve_track(str(STRAIGHT_OVAL)) == STRAIGHT_OVAL
    assert resolve_track(STRAIGHT_OVAL) == STRAIGHT_OVAL
    assert load_circuit(str(STRAIGHT_OVAL)).name == 'straight_oval'


def test_unknown_track_lists_the_builtins():
    with pytest.raises(CircuitError) as info:
        load_circuit('monza')
    msg = str(info.value)
    assert "'monza'" in msg and all(n in msg for n in BUILTINS)


def test_missing_circuit_file(tmp_path):
    path = tmp_path / 'nope.yaml'
    with pytest.raises(CircuitError, match='not found') as info:
        load_circuit(path)
    assert str(path) in str(info.value)


def test_circuit_error_is_a_user_error():
    assert issubclass(CircuitError, UserError)


def test_load_circuit_reloads_a_changed_file(tmp_path):
    path = write_yaml(tmp_path, 'c.yaml', {'name': 'one', 'centerline': circle_points(10.0)})
    assert load_circuit(path).name == 'one'
    write_yaml(tmp_path, 'c.yaml', {'name': 'two', 'centerline': circle_points(30.0, 16)})
    import os
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    assert load_circuit(path).name == 'two'


# --- bad files ----------------------------------------------------------------------------

FIGURE_EIGHT = [[0, 0], [10, 10], [20, 0], [10, -10], [0, 0.01], [-10, 10], [-20, 0],
                [-10, -10]]

BAD_CIRCUITS = {
    'missing_name': ({'centerline': circle_points()}, "missing key 'name'"),
    'missing_centerline': ({'name': 'x'}, "missing key 'centerline'"),
    'empty_name': ({'name': ' ', 'centerline': circle_points()}, 'name'),
    'three_points': ({'name': 'x', 'centerline': [[0, 0], [10, 0], [5, 8]]}, 'at least 4'),
    'self_intersecting': ({'name': 'x', 'centerline': FIGURE_EIGHT}, 'crosses itself'),
    'string_coordinate': ({'name': 'x', 'centerline': [[0, 0], [10, 'a'], [10, 10], [0, 10]]},
                          'centerline[1]'),
    'bool_coordinate': ({'name': 'x', 'centerline': [[0, 0], [10, True], [10, 10], [0, 10]]},
                        'centerline[1]'),
    'three_coordinates': ({'name': 'x', 'centerline': [[0, 0, 0], [10, 0], [10, 10], [0, 10]]},
                          'centerline[0]'),
    'infinite_coordinate': ({'name': 'x',
                             'centerline': [[0, 0], [10, 0], [10, float('inf')], [0, 10]]},
                            'centerline[2]'),
    'centerline_not_list': ({'name': 'x', 'centerline': 'loop'}, 'centerline'),
    'road_width_string': ({'name': 'x', 'centerline': circle_points(), 'road_width': 'wide'},
                          'road_width'),
    'line_width_negative': ({'name': 'x', 'centerline': circle_points(), 'line_width': -0.1},
                            'line_width'),
    'line_wider_than_road': ({'name': 'x', 'centerline': circle_points(), 'road_width': 1.0,
                              'line_width': 1.5}, 'line_width'),
    'repeated_points': ({'name': 'x', 'centerline': [[0, 0], [0, 0], [10, 0], [10, 10],
                                                     [0, 10]]}, 'repeated'),
    'unknown_key': ({'name': 'x', 'centerline': circle_points(), 'lenght': 3}, 'lenght'),
    'not_a_mapping': ([[0, 0], [1, 0]], 'mapping'),
}


@pytest.mark.parametrize('case', sorted(BAD_CIRCUITS))
def test_bad_circuit_file_names_file_and_problem(tmp_path, case):
    data, problem = BAD_CIRCUITS[case]
    path = write_yaml(tmp_path, f'{case}.yaml', data)
    with pytest.raises(CircuitError) as info:
        load_circuit(path)
    msg = str(info.value)
    assert msg.startswith(f'{path}: '), msg
    assert problem in msg, msg
    assert '\n' not in msg


def test_circuit_yaml_syntax_error(tmp_path):
    path = write_yaml(tmp_path, 'broken.yaml', 'name: x\ncenterline: [[0, 0], [1, 0]\n')
    with pytest.raises(CircuitError) as info:
        load_circuit(path)
    assert str(path) in str(info.value) and 'YAML' in str(info.value)


def test_figure_eight_is_reported_near_the_crossing(tmp_path):
    path = write_yaml(tmp_path, 'eight.yaml', {'name': 'x', 'centerline': FIGURE_EIGHT})
    with pytest.raises(CircuitError) as info:
        load_circuit(path)
    # The crossing is at the origin; the message gives a point of the loop near it.
    nums = [float(v) for v in str(info.value).split('near (')[1].split(')')[0].split(',')]
    assert math.hypot(*nums) < 3.0


def test_smoothing_can_make_a_polygon_cross_itself():
    # The control polygon is simple but the spline through it overshoots and crosses itself:
    # the check must run on the smoothed loop, not on the points as written.
    # A narrow notch: the polygon is simple, the spline overshoots across the notch.
    pts = [[0, 0], [40, 0], [40, 20], [21, 20], [20, 1], [19, 20], [0, 20]]
    assert circuit_mod._self_intersection(np.array(pts, float)) is None
    with pytest.raises(CircuitError, match='crosses itself'):
        circuit_from_dict({'name': 'x', 'centerline': pts})


def test_source_is_recorded(tmp_path):
    path = write_yaml(tmp_path, 'c.yaml', {'name': 'c', 'centerline': circle_points()})
    assert Path(load_circuit(path).source) == path


def test_reversed_circuit_is_the_same_loop_the_other_way(simple_circuit):
    c = simple_circuit
    rev = c.reversed()
    assert rev.length == c.length and len(rev.points) == len(c.points)
    assert np.array_equal(rev.points[0], c.points[0])
    assert np.allclose(rev.points[1:], c.points[:0:-1])
    assert np.allclose(rev.tangents[1:], -c.tangents[:0:-1])
    fwd_k, rev_k = c.curvature(), rev.curvature()
    assert np.allclose(rev_k[1:], -fwd_k[:0:-1], atol=1e-6)
    x, y, yaw = rev.pose_at(0.0)
    assert (x, y) == c.pose_at(0.0)[:2]
    assert math.cos(yaw - c.pose_at(0.0)[2]) == pytest.approx(-1.0)
    # A quarter lap of the reversed loop is three quarters of the forward one.
    assert rev.pose_at(0.25)[:2] == pytest.approx(c.pose_at(0.75)[:2], abs=c.spacing)


@pytest.mark.parametrize('points', [
    [[0, 0], [40, 30], [40, 0], [0, 30]],        # bow tie crossing exactly on a sample point
    [[0, 0], [10, 0], [20, 0], [10, 0]],          # back and forth along one line
    [[0, 0], [20, 10], [40, 0], [20, -10], [0, 0], [-20, 10], [-40, 0], [-20, -10]],  # 8
], ids=['bowtie', 'back_and_forth', 'eight_through_a_point'])
def test_loops_that_touch_or_retrace_themselves_are_rejected(points):
    with pytest.raises(CircuitError, match='crosses itself'):
        circuit_mod.circuit_from_dict({'name': 'x', 'centerline': points}, 'x.yaml')


def test_a_road_wider_than_the_gap_between_parts_of_the_loop_is_rejected():
    thin = [[0, 0], [10, 0], [20, 0], [30, 0], [40, 0], [42, 1.5], [40, 3], [30, 3], [20, 3],
            [10, 3], [0, 3], [-2, 1.5]]  # two straights 3 m apart
    with pytest.raises(CircuitError, match=r'road \(8 m wide\) overlaps itself'):
        circuit_mod.circuit_from_dict({'name': 'x', 'centerline': thin, 'road_width': 8.0},
                                      'thin.yaml')
    ok = circuit_mod.circuit_from_dict({'name': 'x', 'centerline': thin, 'road_width': 2.5,
                                        'line_width': 0.2}, 'thin.yaml')
    assert ok.road_width == 2.5


@pytest.mark.parametrize('points, reason', [
    # A 25 x 1 km loop: wider than the 20 km box.
    ([[0, 0], [25_000, 0], [25_000, 1_000], [0, 1_000]], r'spans 25\.0 x 1\.0 km'),
    # Inside the box but a zigzag of 14 km legs makes the loop longer than 50 km.
    ([[0, 0], [14_000, 0], [14_000, 200], [0, 200], [0, 400], [14_000, 400],
      [14_000, 600], [-1_000, 600]], r'km long; at most 50 km'),
], ids=['box', 'length'])
def test_circuits_beyond_the_size_limits_are_rejected_with_the_file_name(tmp_path, points,
                                                                         reason):
    path = write_yaml(tmp_path, 'huge.yaml', {'name': 'huge', 'centerline': points})
    with pytest.raises(CircuitError, match=reason) as info:
        load_circuit(path)
    assert 'huge.yaml' in str(info.value)
