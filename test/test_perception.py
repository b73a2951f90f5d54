"""Red-line perception: HSV threshold, per-row centres, normalisation, accuracy, overlay."""
import dataclasses

import cv2
import numpy as np
import pytest

from rl_f1_driver.perception import LineDetector, draw_overlay
from rl_f1_driver.sim import Pose2D
from rl_f1_driver.sim.camera import project_ground_point, row_index
from rl_f1_driver.sim.embedded import EmbeddedSimulator

GREY = (95, 95, 95)


@pytest.fixture(scope='module')
def det(cfg):
    return LineDetector(cfg.perception)


def stripe_image(width, height, centres, half_widths, colour=(30, 30, 200)):
    """Grey image with, on each row band, a red stripe: centres/half-widths per band of rows
    (bands split the image evenly); None centre = no stripe in that band."""
    img = np.empty((height, width, 3), np.uint8)
    img[:] = GREY
    bands = np.array_split(np.arange(height), len(centres))
    for rows, c, hw in zip(bands, centres, half_widths):
        if c is None:
            continue
        lo, hi = int(round(c - hw)), int(round(c + hw))
        img[rows[0]:rows[-1] + 1, max(0, lo):min(width, hi)] = colour
    return img


# --- red threshold ---------------------------------------------------------------------------

def _hsv_pixel(h, s, v):
    return cv2.cvtColor(np.array([[[h, s, v]]], np.uint8), cv2.COLOR_HSV2BGR)


def test_red_threshold_covers_both_ends_of_the_hue_circle(det, cfg):
    p = cfg.perception
    hues = np.arange(180, dtype=np.uint8)
    hsv = np.stack([hues, np.full(180, 220, np.uint8), np.full(180, 220, np.uint8)], -1)
    bgr = cv2.cvtColor(hsv[None], cv2.COLOR_HSV2BGR)
    seen = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)[0, :, 0].astype(int)  # hue after round trip
    mask = det.red_mask(bgr)[0] > 0
    expected = (seen <= p.hue_low_max) | (seen >= p.hue_high_min)
    assert np.array_equal(mask, expected)
    assert mask[0] and mask[5] and mask[175] and mask[179]  # both sides of the wrap
    assert not mask[30] and not mask[90] and not mask[120]  # yellow, cyan, blue


@pytest.mark.parametrize('bgr,red', [
    ((0, 0, 255), True),       # pure red, hue 0
    ((40, 0, 255), True),      # crimson: hue near 175, the high end of the wrap
    ((0, 40, 255), True),      # scarlet: hue near 5
    ((0, 140, 255), False),    # orange
    ((200, 200, 255), False),  # pale pink: not saturated enough
    ((0, 0, 30), False),       # nearly black red: too dark
    ((95, 95, 95), False),     # asphalt
])
def test_red_threshold_examples(det, bgr, red):
    assert bool(det.red_mask(np.array([[bgr]], np.uint8))[0, 0]) is red


def test_saturation_and_value_thresholds(det, cfg):
    p = cfg.perception
    assert det.red_mask(_hsv_pixel(0, p.sat_min + 5, 200))[0, 0] == 255
    assert det.red_mask(_hsv_pixel(0, p.sat_min - 5, 200))[0, 0] == 0
    assert det.red_mask(_hsv_pixel(0, 200, p.val_min + 5))[0, 0] == 255
    assert det.red_mask(_hsv_pixel(0, 200, p.val_min - 5))[0, 0] == 0


# --- per-row centres ------------------------------------------------------------------------

def test_centres_are_normalised_and_signed(det, cfg):
    w, h = 640, 480
    img = np.empty((h, w, 3), np.uint8)
    img[:] = GREY
    rows = [row_index(h, f) for f in cfg.perception.rows]
    spans = [(300, 340), (480, 500), (10, 31)]   # centred, right of centre, left of centre
    for r, (a, b) in zip(rows, spans):
        img[r, a:b] = (30, 30, 200)
    reading = det.detect(img)
    centres = np.array([(a + b) / 2 for a, b in spans])
    assert np.allclose(reading.columns, centres)
    assert np.allclose(reading.errors, (centres - w / 2) / (w / 2))
    assert reading.errors[0] == pytest.approx(0.0)
    assert reading.errors[1] > 0 > reading.errors[2]     # positive = right of centre
    assert reading.found.all() and not reading.lost
    assert reading.width == w
    assert reading.errors.dtype == np.float32


def test_errors_reach_the_image_edges(det, cfg):
    w, h = 640, 480
    rows = [row_index(h, f) for f in cfg.perception.rows]
    img = np.empty((h, w, 3), np.uint8)
    img[:] = GREY
    img[rows[0], :4] = (30, 30, 200)
    img[rows[1], w - 4:] = (30, 30, 200)
    img[rows[2], :] = (30, 30, 200)
    e = det.detect(img).errors
    assert -1.0 < e[0] < -0.98 and 0.98 < e[1] < 1.0 and e[2] == pytest.approx(0.0)


def test_line_lost_flag_per_row(det, cfg):
    w, h = 640, 480
    rows = [row_index(h, f) for f in cfg.perception.rows]
    img = np.empty((h, w, 3), np.uint8)
    img[:] = GREY
    img[rows[1], 100:120] = (30, 30, 200)
    img[rows[2], 200:200 + cfg.perception.min_pixels - 1] = (30, 30, 200)  # too few pixels
    reading = det.detect(img)
    assert reading.found.tolist() == [False, True, False]
    assert np.isnan(reading.columns[0]) and np.isnan(reading.columns[2])
    assert reading.errors[0] == 0.0 and reading.errors[2] == 0.0
    assert not reading.lost
    img[rows[1]] = GREY
    assert det.detect(img).lost


def test_widest_run_is_the_line(det, cfg):
    w, h = 640, 480
    row = row_index(h, cfg.perception.rows[0])
    img = np.empty((h, w, 3), np.uint8)
    img[:] = GREY
    img[row, 20:26] = (30, 30, 200)       # far part of the circuit: narrow
    img[row, 400:440] = (30, 30, 200)     # the line under the car: wide
    img[row, 600:604] = (30, 30, 200)
    assert det.detect(img).columns[0] == pytest.approx(420.0)


def test_only_the_configured_rows_are_read(cfg):
    det = LineDetector(dataclasses.replace(cfg.perception, rows=(0.9,)))
    img = stripe_image(640, 480, [100.0, None], [10, 10])   # red only in the upper half
    reading = det.detect(img)
    assert reading.errors.shape == (1,) and not reading.found[0]


def test_resolution_independent_on_synthetic_images(det):
    # The same scene at three resolutions: identical normalised errors.
    scene = [(0.3, 0.02), (0.55, 0.05), (0.8, 0.03)]  # centre, half-width as image fractions
    results = []
    for w, h in [(640, 480), (320, 240), (1280, 960)]:
        img = stripe_image(w, h, [None] + [c * w for c, _ in scene],
                           [0] + [hw * w for _, hw in scene])
        results.append(det.detect(img))
    for r in results:
        assert r.found.all()
        assert np.allclose(r.errors, results[0].errors, atol=2.0 / 320)


def test_resolution_independent_on_rendered_frames(cfg, straight_oval, det):
    small = dataclasses.replace(cfg.camera, width=320, height=240)
    big = EmbeddedSimulator(straight_oval, cfg.camera, cfg.car)
    little = EmbeddedSimulator(straight_oval, small, cfg.car)
    rng = np.random.default_rng(4)
    for _ in range(8):
        pose = Pose2D(50.0 + rng.normal(0, 5), rng.normal(0, 0.5), rng.normal(0, 0.1))
        a = det.detect(big.reset(pose).image)
        b = det.detect(little.reset(pose).image)
        assert np.array_equal(a.found, b.found)
        # A pixel of the small image is 2/320 in normalised units; the rows differ by less
        # than a pixel of the small image in depth.
        assert np.allclose(a.errors[a.found], b.errors[b.found], atol=0.02)


def test_rows_only_image_with_row_fractions(det, cfg):
    w, h = 640, 480
    rows = [row_index(h, f) for f in cfg.perception.rows]
    full = stripe_image(w, h, [150.0, 330.0, 500.0], [8, 8, 8])
    fr = (np.array(rows) + 0.5) / h
    a = det.detect(full)
    b = det.detect(np.ascontiguousarray(full[rows]), fr)
    assert np.array_equal(a.errors, b.errors) and np.array_equal(a.found, b.found)


def test_mask_observation(det, cfg):
    p = cfg.perception
    img = stripe_image(640, 480, [None, 480.0], [0, 20])   # red only in the lower half
    mask = det.mask_observation(img)
    assert mask.shape == (p.mask_height, p.mask_width) and mask.dtype == np.uint8
    cols = np.flatnonzero(mask.max(axis=0))
    assert cols.min() >= int(460 / 640 * p.mask_width) - 1
    assert cols.max() <= int(500 / 640 * p.mask_width) + 1
    # Red above mask_top is ignored.
    upper = stripe_image(640, 480, [480.0, None], [20, 0])
    assert det.mask_observation(upper).max() == 0


# --- accuracy against the camera geometry ---------------------------------------------------

def _row_ground_distance(cam, row):
    """Forward distance (car frame) of the ground seen by the centre of an image row,
    found by bisection on project_ground_point (the camera model), pitch allowed."""
    lo, hi = cam.mount_forward + cam.clip_near, cam.mount_forward + cam.clip_far
    target = row + 0.5
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        uv = project_ground_point(cam, mid, 0.0)
        if uv is None or uv[1] < target:   # farther points are higher in the image
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


def test_estimated_offset_follows_the_true_offset(cfg, straight_oval, det):
    """On the fixture's straight (y = 0), the car is placed at known lateral offsets d (m,
    positive = car left of the line). The expected column of the line on each perception row is
    the projection of the ground point on the line at that row's distance.

    Tolerance per row: 1 px (each edge of the red run is quantised to a whole pixel, +-0.5 px)
    plus the renderer's 1 cm line-edge placement at that row's depth (0.01 m * fx / depth).
    """
    cam = cfg.camera
    sim = EmbeddedSimulator(straight_oval, cam, cfg.car)
    rows = [row_index(cam.height, f) for f in cfg.perception.rows]
    dist = [_row_ground_distance(cam, r) for r in rows]
    tol = [1.0 + 0.01 * cam.fx / (x - cam.mount_forward) for x in dist]
    offsets = np.round(np.linspace(-1.5, 1.5, 31), 3)
    est = np.full((len(offsets), len(rows)), np.nan)
    for i, d in enumerate(offsets):
        reading = det.detect(sim.reset(Pose2D(50.0, float(d), 0.0)).image)
        for k, x in enumerate(dist):
            uv = project_ground_point(cam, x, -float(d))
            half_line = straight_oval.line_width / 2
            edges = [project_ground_point(cam, x, -float(d) + e)
                     for e in (-half_line, half_line)]
            if None in edges:  # the image border cuts the line here: its centre is not seen
                if reading.found[k]:  # what is seen of it is on the correct side
                    assert np.sign(reading.errors[k]) == np.sign(d)
                continue
            assert reading.found[k], (d, k)
            assert abs(reading.columns[k] - uv[0]) <= tol[k], (d, k, reading.columns[k], uv)
            assert reading.errors[k] == pytest.approx((uv[0] - cam.width / 2) / (cam.width / 2),
                                                      abs=2 * tol[k] / cam.width)
            est[i, k] = reading.errors[k]
    for k in range(len(rows)):
        col = est[:, k][~np.isnan(est[:, k])]
        assert len(col) >= 10
        assert np.all(np.diff(col) > 0), f'row {k}: not strictly increasing with the offset'
    # Nearest row sees the line leave the image for the largest offsets; farthest sees them all.
    assert not np.isnan(est[:, 0]).any()


def test_offset_and_heading_with_a_pitched_camera(cfg, straight_oval):
    # Same property with the camera tilted down (rows move, geometry must follow).
    cam = dataclasses.replace(cfg.camera, pitch=0.2)
    pcfg = dataclasses.replace(cfg.perception, rows=(0.45, 0.6, 0.8))
    det = LineDetector(pcfg)
    sim = EmbeddedSimulator(straight_oval, cam, cfg.car)
    rows = [row_index(cam.height, f) for f in pcfg.rows]
    for d in (-0.4, 0.0, 0.25):
        reading = det.detect(sim.reset(Pose2D(50.0, d, 0.0)).image)
        for k, r in enumerate(rows):
            x = _row_ground_distance(cam, r)
            depth = (x - cam.mount_forward) * np.cos(cam.pitch) + cam.mount_height * np.sin(
                cam.pitch)
            u = project_ground_point(cam, x, -d)[0]
            assert abs(reading.columns[k] - u) <= 1.0 + 0.01 * cam.fx / depth


# --- overlay --------------------------------------------------------------------------------

def test_overlay_marks_rows_centres_and_mask(det, cfg):
    w, h = 640, 480
    rows = [row_index(h, f) for f in cfg.perception.rows]
    img = np.empty((h, w, 3), np.uint8)
    img[:] = GREY
    img[rows[0] - 20:rows[0] + 20, 400:440] = (30, 30, 200)   # line seen on row 0 only
    before = img.copy()
    out = draw_overlay(img, det, command=(5.0, -0.4), text='episode 3\nreturn 12.0')
    assert np.array_equal(img, before)  # input untouched
    assert out.shape == img.shape and out.dtype == np.uint8
    assert tuple(out[rows[0], 2]) == (0, 255, 0)       # found: green row
    assert tuple(out[rows[1], w - 3]) == (0, 0, 255)   # lost: red row
    assert tuple(out[rows[2], w - 3]) == (0, 0, 255)
    assert tuple(out[5, w // 2]) == (0, 255, 255)      # image centre
    # The red pixels are tinted (no longer the line colour), the rest of the row is not.
    assert not np.array_equal(out[rows[0] - 10, 410], img[rows[0] - 10, 410])
    assert np.array_equal(out[rows[0] - 10, 300], img[rows[0] - 10, 300])
    # A circle marks the detected centre on the found row.
    reading = det.detect(img)
    assert (out[rows[0] - 6:rows[0] + 7, int(reading.columns[0])] == (0, 255, 0)).all(
        axis=-1).any()


def test_overlay_uses_a_given_reading(det, cfg):
    img = stripe_image(640, 480, [None, 320.0], [0, 10])
    reading = det.detect(img)
    reading.found[:] = False   # pretend the line was lost everywhere
    out = draw_overlay(img, det, reading)
    for f in cfg.perception.rows:
        assert tuple(out[row_index(480, f), 2]) == (0, 0, 255)
