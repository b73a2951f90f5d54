"""Embedded simulator: kinematic car, pinhole camera geometry, rendering, randomisation."""
import dataclasses
import math

import numpy as np
import pytest

from rl_f1_driver.perception import LineDetector
from rl_f1_driver.sim import Pose2D, Twist
from rl_f1_driver.sim.camera import (eye_height, full_view, ground_rays, project_ground_point,
                                     region_view, row_index, rows_view)
from rl_f1_driver.sim.car import KinematicCar
from rl_f1_driver.sim.embedded import EmbeddedSimulator
from rl_f1_driver.sim.render import Palette

# On the fixture's lower straight the line is y = 0, driven towards +x; the oval is to the left.
ON_STRAIGHT = Pose2D(50.0, 0.0, 0.0)


@pytest.fixture(scope='module')
def sim(cfg, straight_oval):
    return EmbeddedSimulator(straight_oval, cfg.camera, cfg.car)


@pytest.fixture(scope='module')
def detector(cfg):
    return LineDetector(cfg.perception)


def red_columns(detector, image, row):
    """Columns of the red pixels on one image row."""
    return np.flatnonzero(detector.red_mask(np.ascontiguousarray(image[row:row + 1]))[0])


def perception_rows(cfg):
    return [row_index(cfg.camera.height, f) for f in cfg.perception.rows]


# --- car ----------------------------------------------------------------------------------

def test_control_period_defaults_to_the_camera_rate(sim, cfg):
    assert cfg.camera.rate_hz == 20.0
    assert sim.control_period == pytest.approx(0.05)


def test_car_speed_follows_command_within_acceleration_limits(cfg):
    car = KinematicCar(cfg.car)
    car.reset(Pose2D(0.0, 0.0, 0.0))
    dt = 0.05
    dv, dw = cfg.car.max_linear_accel * dt, cfg.car.max_angular_accel * dt
    speeds, rates = [], []
    for _ in range(60):
        car.step(Twist(6.0, 1.0), dt)
        speeds.append(car.v)
        rates.append(car.w)
    assert speeds[0] == pytest.approx(dv) and rates[0] == pytest.approx(dw)
    assert np.all(np.diff([0.0] + speeds) <= dv + 1e-12)
    assert np.all(np.diff([0.0] + rates) <= dw + 1e-12)
    assert speeds[-1] == pytest.approx(6.0) and rates[-1] == pytest.approx(1.0)
    # Braking is limited the same way.
    car.step(Twist(0.0, 0.0), dt)
    assert car.v == pytest.approx(6.0 - dv) and car.w == pytest.approx(1.0 - dw)


def test_car_commands_are_clipped_to_the_limits(cfg):
    car = KinematicCar(cfg.car)
    car.reset(Pose2D(0.0, 0.0, 0.0))
    for _ in range(400):
        car.step(Twist(1e3, -1e3), 0.05)
    assert car.v == pytest.approx(cfg.car.max_linear_speed)
    assert car.w == pytest.approx(-cfg.car.max_angular_speed)


def test_car_drives_straight_along_its_heading(cfg):
    car = KinematicCar(cfg.car)
    yaw = 0.7
    car.reset(Pose2D(1.0, 2.0, yaw))
    dt, v = 0.05, 4.0
    dist = 0.0
    for _ in range(100):
        prev = car.v
        car.step(Twist(v, 0.0), dt)
        dist += 0.5 * (prev + car.v) * dt
    assert car.yaw == pytest.approx(yaw)
    assert car.x == pytest.approx(1.0 + dist * math.cos(yaw))
    assert car.y == pytest.approx(2.0 + dist * math.sin(yaw))


@pytest.mark.parametrize('w', [0.8, -0.8])
def test_car_turns_on_a_circle_of_radius_v_over_w(cfg, w):
    car = KinematicCar(cfg.car)
    v, dt = 4.0, 0.05
    car.reset(Pose2D(0.0, 0.0, 0.0))
    car.v, car.w = v, w  # already at speed: a steady turn
    period_steps = int(round(2 * math.pi / abs(w) / dt))
    points = []
    for _ in range(period_steps):
        car.step(Twist(v, w), dt)
        points.append((car.x, car.y))
    pts = np.array(points)
    centre = np.array([0.0, v / w])  # left turn: centre to the left (+y)
    assert np.linalg.norm(pts - centre, axis=1) == pytest.approx(abs(v / w), abs=1e-6)
    assert np.linalg.norm(pts[-1]) < v * dt  # back at the start after one period


def test_frames_are_stamped_with_simulation_time(cfg, straight_oval):
    sim = EmbeddedSimulator(straight_oval, cfg.camera, cfg.car)
    first = sim.reset(ON_STRAIGHT)
    stamps = [sim.step(Twist(3.0, 0.0)).stamp for _ in range(10)]
    assert np.allclose(np.diff([first.stamp] + stamps), sim.control_period)
    frame = sim.step(Twist(3.0, 0.0))
    assert frame.pose.x > ON_STRAIGHT.x and frame.speed > 0


# --- camera geometry ------------------------------------------------------------------------

@pytest.mark.parametrize('pitch', [0.0, 0.15])
def test_ground_rays_and_projection_are_inverse(cfg, pitch):
    cam = dataclasses.replace(cfg.camera, pitch=pitch)
    rays = ground_rays(cam)
    rng = np.random.default_rng(0)
    for _ in range(50):
        g = int(rng.integers(len(rays.ground_rows)))
        u = int(rng.integers(cam.width))
        row = rays.ground_rows[g]
        uv = project_ground_point(cam, float(rays.gx[g, u]), float(rays.gy[g, u]))
        assert uv is not None
        assert uv[0] == pytest.approx(u + 0.5, abs=1e-3)
        assert uv[1] == pytest.approx(row + 0.5, abs=1e-3)


def test_ground_is_seen_below_the_horizon_only(cfg):
    rays = ground_rays(cfg.camera)
    horizon_row = cfg.camera.horizon_fraction * cfg.camera.height
    assert rays.ground_rows.min() > horizon_row
    assert rays.ground_rows.max() == cfg.camera.height - 1
    assert np.all(np.diff(rays.ground_rows) == 1)
    assert rays.depth.max() <= cfg.camera.clip_far and rays.depth.min() >= cfg.camera.clip_near
    assert np.all(np.diff(rays.depth) < 0)  # nearer lower in the image


def test_projection_rejects_points_out_of_view(cfg):
    cam = cfg.camera
    assert project_ground_point(cam, -2.0, 0.0) is None               # behind
    assert project_ground_point(cam, cam.clip_far + 10.0, 0.0) is None  # beyond clip_far
    assert project_ground_point(cam, 5.0, 50.0) is None               # far to the side
    u, v = project_ground_point(cam, 5.0, 0.0)
    assert u == pytest.approx(cam.width / 2)
    assert v > cam.height / 2
    # Left of the car is left in the image.
    assert project_ground_point(cam, 5.0, 1.0)[0] < cam.width / 2


def test_views(cfg):
    cam = cfg.camera
    assert full_view(cam).rows is None
    rv = rows_view(cam, cfg.perception.rows)
    assert (rv.width, rv.height) == (cam.width, cam.height) and len(rv.rows) == 3
    reg = region_view(cam, 0.5, 128)
    assert reg.width == 128 and reg.height == 96
    assert min(reg.rows) > 0.5 and max(reg.rows) < 1.0 and len(reg.rows) == 48


# --- rendering -------------------------------------------------------------------------------

def test_full_render_shape_and_sky_above_the_horizon(sim, cfg):
    image = sim.reset(ON_STRAIGHT).image
    cam = cfg.camera
    assert image.shape == (cam.height, cam.width, 3) and image.dtype == np.uint8
    horizon = int(cam.horizon_fraction * cam.height)
    sky = np.array(Palette.sky, np.uint8)
    assert np.all(image[:horizon] == sky)
    assert not np.any(np.all(image[horizon + 10:] == sky, axis=-1))


def test_road_line_and_ground_colours(sim, cfg):
    image = sim.reset(ON_STRAIGHT).image
    bottom = image[cfg.camera.height - 1]
    mid = cfg.camera.width // 2
    assert tuple(bottom[mid]) == Palette.line
    assert tuple(bottom[mid + 150]) == Palette.road  # the line is ~120 px wide here
    # Driving off into the field, facing away from the circuit: only grass below the horizon.
    image = sim.reset(Pose2D(50.0, -30.0, -math.pi / 2)).image
    below = image[int(cfg.camera.horizon_fraction * cfg.camera.height) + 5:]
    assert np.all(below == np.array(Palette.ground, np.uint8))


def test_line_is_centred_when_the_car_sits_on_it(sim, cfg, detector):
    image = sim.reset(ON_STRAIGHT).image
    for row in perception_rows(cfg):
        cols = red_columns(detector, image, row)
        assert len(cols) >= 2
        centre = (cols[0] + cols[-1] + 1) / 2.0
        assert centre == pytest.approx(cfg.camera.width / 2, abs=1.0)
        # The width of the line at that depth, from the geometry (1 cm edges + 1 px).
        depth = eye_height(cfg.camera) / ((row + 0.5 - cfg.camera.height / 2) / cfg.camera.fx)
        expect_px = 0.25 * cfg.camera.fx / depth
        assert len(cols) == pytest.approx(expect_px, abs=1.0 + 0.02 * cfg.camera.fx / depth)


def test_line_moves_to_the_correct_side_when_offset(sim, cfg, detector):
    half = cfg.camera.width / 2
    for row in perception_rows(cfg):
        centres = {}
        for d in (-0.6, -0.3, 0.0, 0.3, 0.6):   # d > 0: the car is left of the line
            image = sim.reset(Pose2D(50.0, d, 0.0)).image
            cols = red_columns(detector, image, row)
            centres[d] = (cols[0] + cols[-1] + 1) / 2.0
        assert centres[0.3] > half + 2 and centres[-0.3] < half - 2
        assert centres[-0.6] < centres[-0.3] < centres[0.0] < centres[0.3] < centres[0.6]
        for d in (0.3, 0.6):  # mirror images
            assert centres[d] - half == pytest.approx(half - centres[-d], abs=1.0)


def test_turning_the_car_left_moves_the_line_right(sim, cfg, detector):
    row = perception_rows(cfg)[0]
    half = cfg.camera.width / 2
    left = red_columns(detector, sim.reset(Pose2D(50.0, 0.0, 0.1)).image, row)
    right = red_columns(detector, sim.reset(Pose2D(50.0, 0.0, -0.1)).image, row)
    assert left.mean() > half + 5 and right.mean() < half - 5


@pytest.mark.parametrize('yaw', [math.pi / 2, -math.pi / 2])
def test_line_disappears_when_the_car_faces_away(sim, detector, yaw):
    image = sim.reset(Pose2D(50.0, 0.0, yaw)).image
    if yaw > 0:  # facing into the oval: the other straight is 30 m ahead, near the horizon
        reading = detector.detect(image)
        assert not reading.found.any()
    else:        # facing out of the circuit: no red anywhere
        assert detector.red_mask(image).max() == 0


def test_rows_view_gives_the_same_pixels_as_the_full_render(cfg, simple_circuit, detector):
    sim = EmbeddedSimulator(simple_circuit, cfg.camera, cfg.car)
    rows = perception_rows(cfg)
    view = rows_view(cfg.camera, cfg.perception.rows)
    rng = np.random.default_rng(3)
    for _ in range(20):
        x, y, yaw = simple_circuit.pose_at(float(rng.random()))
        pose = Pose2D(x + rng.normal(0, 1.0), y + rng.normal(0, 1.0), yaw + rng.normal(0, 0.3))
        sim.request_view(None)
        full = sim.reset(pose)
        sim.request_view(view)
        part = sim.reset(pose)
        assert part.image.shape == (len(rows), cfg.camera.width, 3)
        assert np.array_equal(part.image, full.image[rows])
        assert np.allclose(part.row_fractions, (np.array(rows) + 0.5) / cfg.camera.height)
        assert np.array_equal(detector.detect(part.image, part.row_fractions).errors,
                              detector.detect(full.image).errors)
    # render_full ignores the requested view.
    assert sim.render_full().image.shape == (cfg.camera.height, cfg.camera.width, 3)


def test_region_view_matches_a_small_camera(cfg, straight_oval):
    small = dataclasses.replace(cfg.camera, width=128, height=96)
    sim_small = EmbeddedSimulator(straight_oval, small, cfg.car)
    sim = EmbeddedSimulator(straight_oval, cfg.camera, cfg.car)
    view = region_view(cfg.camera, 0.5, 128)
    sim.request_view(view)
    pose = Pose2D(50.0, 0.4, 0.05)
    part = sim.reset(pose).image
    whole = sim_small.reset(pose).image
    assert np.array_equal(part, whole[48:])


# --- determinism and randomisation ------------------------------------------------------------

def _randomized_frames(cfg, circuit, seed, n=5):
    rz = dataclasses.replace(cfg.randomization, enabled=True)
    sim = EmbeddedSimulator(circuit, cfg.camera, cfg.car, rz, seed=seed)
    out = []
    for _ in range(n):
        out.append(sim.reset(ON_STRAIGHT).image)
        out.append(sim.step(Twist(3.0, 0.2)).image)
    return out


def test_randomised_rendering_is_deterministic_per_seed(cfg, straight_oval):
    a = _randomized_frames(cfg, straight_oval, 5)
    b = _randomized_frames(cfg, straight_oval, 5)
    c = _randomized_frames(cfg, straight_oval, 6)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not any(np.array_equal(x, y) for x, y in zip(a, c))


def test_randomisation_changes_appearance_but_the_line_stays_red(cfg, straight_oval, detector):
    plain = EmbeddedSimulator(straight_oval, cfg.camera, cfg.car).reset(ON_STRAIGHT).image
    frames = _randomized_frames(cfg, straight_oval, 11, n=8)[::2]  # the reset frames
    means = [float(f[300:].mean()) for f in frames]
    assert np.std(means) > 1.0  # brightness differs between episodes
    for f in frames:
        assert not np.array_equal(f, plain)
        reading = detector.detect(f)
        assert reading.found.all()
        assert np.abs(reading.errors).max() < 0.02


def test_without_randomisation_rendering_is_noise_free(sim):
    a = sim.reset(ON_STRAIGHT).image
    b = sim.reset(ON_STRAIGHT).image
    assert np.array_equal(a, b)
    # Flat colours: the bottom row holds exactly three: road, line and road again.
    assert len(np.unique(a[-1], axis=0)) <= 3


def test_a_camera_at_or_under_the_painted_line_is_a_config_error(cfg):
    from rl_f1_driver.errors import ConfigError
    from rl_f1_driver.scene import LINE_TOP
    low = dataclasses.replace(cfg.camera, mount_height=LINE_TOP)
    with pytest.raises(ConfigError, match='camera.mount_height'):
        ground_rays(low)
    assert eye_height(dataclasses.replace(cfg.camera, mount_height=0.5)) == pytest.approx(
        0.5 - LINE_TOP)
