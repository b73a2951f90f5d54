"""Geometry on a circuit: arc-length progress, signed lateral offset, heading error, laps."""
import math

import numpy as np
import pytest

from rl_f1_driver.track import TrackTracker, circuit_from_dict, load_circuit, wrap_angle

R = 20.0


@pytest.fixture(scope='module')
def circle():
    a = np.linspace(0.0, 2 * math.pi, 24, endpoint=False)
    pts = [[float(R * math.cos(t)), float(R * math.sin(t))] for t in a]
    return circuit_from_dict({'name': 'circle', 'centerline': pts})


def drive(tracker, circuit, start_index, n_samples, stride=5, lateral=0.0):
    """Move along the line sample by sample (stride samples per update), return the states."""
    states = []
    n = len(circuit.points)
    direction = 1 if n_samples >= 0 else -1
    for k in range(stride, abs(n_samples) + 1, stride):
        i = (start_index + direction * k) % n
        tx, ty = circuit.tangents[i]
        x = circuit.points[i, 0] - lateral * ty
        y = circuit.points[i, 1] + lateral * tx
        states.append(tracker.update(x, y, math.atan2(ty, tx)))
    return states


def test_wrap_angle():
    assert wrap_angle(0.0) == 0.0
    assert wrap_angle(2 * math.pi + 0.1) == pytest.approx(0.1)
    assert wrap_angle(-2 * math.pi - 0.1) == pytest.approx(-0.1)
    assert wrap_angle(math.pi + 0.1) == pytest.approx(-math.pi + 0.1)
    for a in np.linspace(-20, 20, 101):
        w = wrap_angle(float(a))
        assert -math.pi <= w <= math.pi
        assert math.cos(w) == pytest.approx(math.cos(a)) and math.sin(w) == pytest.approx(
            math.sin(a))


@pytest.mark.parametrize('fraction', [0.0, 0.13, 0.5, 0.77, 0.999])
def test_reset_anywhere_on_the_line(circle, fraction):
    t = TrackTracker(circle)
    x, y, yaw = circle.pose_at(fraction)
    st = t.reset(x, y, yaw)
    assert st.s / circle.length == pytest.approx(fraction, abs=2.0 / len(circle.points)) or (
        fraction > 0.99 and st.s / circle.length < 0.01)
    assert st.lateral == pytest.approx(0.0, abs=1e-6)
    assert st.heading_error == pytest.approx(0.0, abs=1e-6)
    assert st.progress == 0.0 and st.laps == 0 and not st.lap_completed


def test_arc_length_progress_matches_the_angle_on_a_circle(circle):
    t = TrackTracker(circle)
    t.reset(R, 0.0, math.pi / 2)
    prev = 0.0
    for deg in range(2, 180, 2):
        a = math.radians(deg)
        st = t.update(R * math.cos(a), R * math.sin(a), a + math.pi / 2)
        assert st.progress > prev  # strictly increasing driving forwards
        prev = st.progress
        # Arc length of the smoothed circle, within its ~1% radius error.
        assert st.progress == pytest.approx(a * R, rel=0.01)
        assert st.s == pytest.approx(st.progress, abs=1e-6)


@pytest.mark.parametrize('d', [-2.0, -0.5, -0.05, 0.05, 0.5, 2.0])
def test_lateral_offset_sign_and_size(circle, d):
    # Counter-clockwise circle: left of the driving direction is towards the centre.
    t = TrackTracker(circle)
    t.reset(R, 0.0, math.pi / 2)
    for deg in (10, 95, 200, 300):
        a = math.radians(deg)
        line = circle.points[t.nearest_index(R * math.cos(a), R * math.sin(a))]
        r_line = float(np.linalg.norm(line))
        st = t.update((r_line - d) * math.cos(a), (r_line - d) * math.sin(a), a + math.pi / 2)
        assert st.lateral == pytest.approx(d, abs=0.01)


def test_lateral_sign_flips_on_the_reversed_circuit(circle):
    rev = circuit_from_dict({'name': 'rev', 'centerline': circle.control_points[::-1].tolist()})
    fwd_t, rev_t = TrackTracker(circle), TrackTracker(rev)
    # 1 m outside the circle: right of the line counter-clockwise, left of it clockwise.
    fwd = fwd_t.reset(R + 1.0, 0.0, 0.0)
    back = rev_t.reset(R + 1.0, 0.0, 0.0)
    assert fwd.lateral == pytest.approx(-1.0, abs=0.02)
    assert back.lateral == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize('err', [-3.0, -1.0, -0.2, 0.0, 0.3, 1.5, 3.1])
def test_heading_error(circle, err):
    t = TrackTracker(circle)
    for fraction in (0.0, 0.3, 0.6):
        x, y, yaw = circle.pose_at(fraction)
        st = t.reset(x, y, yaw + err + 2 * math.pi)  # any multiple of 2 pi
        assert st.heading_error == pytest.approx(err, abs=1e-6)
        assert -math.pi <= st.heading_error <= math.pi


def test_one_lap_forwards_counts_once_when_progress_reaches_the_length(circle):
    n = len(circle.points)
    for start in (0, n // 3, n - 7):
        t = TrackTracker(circle)
        x, y, yaw = circle.pose_at(circle.s[start] / circle.length)
        t.reset(x, y, yaw)
        states = drive(t, circle, start, int(1.1 * n), lateral=0.4)
        done = [st for st in states if st.lap_completed]
        assert len(done) == 1
        i = states.index(done[0])
        assert states[i - 1].progress < circle.length <= done[0].progress
        assert done[0].progress - circle.length < 1.0  # counted on the crossing update
        assert states[-1].laps == 1


def test_several_laps(circle):
    t = TrackTracker(circle)
    t.reset(*circle.pose_at(0.0))
    n = len(circle.points)
    driven = (3 * n + 10) // 5 * 5
    states = drive(t, circle, 0, driven)
    assert sum(st.lap_completed for st in states) == 3
    assert states[-1].laps == 3
    assert states[-1].progress == pytest.approx(driven * circle.spacing, abs=1e-6)


def test_driving_backwards_never_completes_a_lap(circle):
    t = TrackTracker(circle)
    t.reset(*circle.pose_at(0.0))
    n = len(circle.points)
    driven = (2 * n + 10) // 5 * 5
    states = drive(t, circle, 0, -driven)
    assert not any(st.lap_completed for st in states)
    assert states[-1].laps == 0
    assert all(b.progress < a.progress for a, b in zip(states, states[1:]))
    assert states[-1].progress == pytest.approx(-driven * circle.spacing, abs=1e-6)


def test_back_and_forth_across_the_start_is_no_lap(circle):
    t = TrackTracker(circle)
    t.reset(*circle.pose_at(0.0))
    n = len(circle.points)
    for _ in range(3):
        states = drive(t, circle, 0, -40, stride=5)     # 4 m backwards over the start
        states += drive(t, circle, n - 40, 80, stride=5)  # 8 m forwards over it again
        states += drive(t, circle, 40, -40, stride=5)   # back to the start
        assert not any(st.lap_completed for st in states)
    assert t.laps == 0 and abs(t.progress) < 0.5


def test_a_lap_lost_by_reversing_is_not_counted_twice(circle):
    t = TrackTracker(circle)
    t.reset(*circle.pose_at(0.0))
    n = len(circle.points)
    states = drive(t, circle, 0, n + 30)           # completes lap 1
    states += drive(t, circle, 30, -60)            # reverse back over the line
    states += drive(t, circle, n - 30, 60)         # and over it again
    assert sum(st.lap_completed for st in states) == 1
    assert t.laps == 1


def test_large_jump_relocates_globally(straight_oval):
    c = straight_oval
    t = TrackTracker(c)
    t.reset(*c.pose_at(0.0))
    x, y, yaw = c.pose_at(0.5)
    st = t.update(x, y, yaw)
    i = t.nearest_index(x, y)
    assert st.s == pytest.approx(c.s[i], abs=0.2)
    assert st.lateral == pytest.approx(0.0, abs=1e-6)


def test_straight_geometry_is_exact(straight_oval):
    # On the straight along +x (y = 0): lateral is y, heading error is yaw, s follows x.
    c = straight_oval
    t = TrackTracker(c)
    s0 = t.reset(40.0, 0.0, 0.0).s
    for x, y, yaw in [(41.0, 0.5, 0.1), (45.3, -1.2, -0.4), (52.07, 0.0, 0.0), (60.0, 2.0, 3.0)]:
        st = t.update(x, y, yaw)
        assert st.lateral == pytest.approx(y, abs=1e-3)
        assert st.heading_error == pytest.approx(yaw, abs=1e-3)
        assert st.s - s0 == pytest.approx(x - 40.0, abs=1e-3)
        assert st.progress == pytest.approx(x - 40.0, abs=1e-3)


def test_reset_near_a_hint_finds_the_same_sample_as_the_global_search():
    circuit = load_circuit('hairpins')
    rng = np.random.default_rng(3)
    for frac in rng.random(40):
        x, y, yaw = circuit.pose_at(float(frac))
        x, y = x + rng.normal(0, 0.5), y + rng.normal(0, 0.5)
        a, b, c = TrackTracker(circuit), TrackTracker(circuit), TrackTracker(circuit)
        want = a.reset(x, y, yaw)
        got = b.reset(x, y, yaw, near_s=float(frac) * circuit.length)
        # A wrong hint (half a lap away) must not matter: the climb ends far off, and the
        # tracker falls back to the global search.
        wrong = c.reset(x, y, yaw, near_s=(float(frac) + 0.5) % 1.0 * circuit.length)
        assert got.s == pytest.approx(want.s) and got.lateral == pytest.approx(want.lateral)
        assert wrong.s == pytest.approx(want.s)
