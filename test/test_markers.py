"""rviz markers (messages.markers) on the real ROS 2 Humble message definitions (rosbags):
what drive_node, train_node and the recordings publish, without ROS."""
import math

import numpy as np
import pytest

from rl_f1_driver.config import load_config
from rl_f1_driver.drive.lap_stats import LapStats
from rl_f1_driver.messages import markers as mk
from rl_f1_driver.messages.conversions import quaternion_from_rpy, quaternion_from_yaw
from rl_f1_driver.record.messages import MARKERS, Messages
from rl_f1_driver.ros.monitoring import TrainingNumbers
from rl_f1_driver.scene import LINE_TOP, ROAD_TOP, body_parts, camera_mount, car_front
from rl_f1_driver.sim.types import Pose2D
from rl_f1_driver.track import load_circuit


@pytest.fixture(scope='module')
def messages():
    return Messages()


@pytest.fixture(scope='module')
def circuit():
    return load_circuit('simple')


def _decoded(messages, specs, t=12.5):
    msg = messages.markers('/m', specs, t)
    assert msg.type == MARKERS
    return messages.decode(msg)   # through CDR and back: what a subscriber gets


def test_circuit_markers_road_edges_red_line_and_start_line(messages, circuit):
    specs = mk.circuit_markers(circuit, 'odom')
    arr = _decoded(messages, specs)
    got = {(m.ns, m.id): m for m in arr.markers}
    assert set(got) == {('road_edges', 0), ('road_edges', 1), ('red_line', 0),
                        ('start_line', 0)}
    M = messages.store.types['visualization_msgs/msg/Marker']
    for m in arr.markers:
        assert m.header.frame_id == 'odom' and not m.frame_locked
        assert (m.header.stamp.sec, m.header.stamp.nanosec) == (12, 500_000_000)
        assert m.action == M.ADD and (m.lifetime.sec, m.lifetime.nanosec) == (0, 0)
        assert m.color.a == 1.0
    line = got[('red_line', 0)]
    assert line.type == M.LINE_STRIP and line.scale.x == pytest.approx(circuit.line_width)
    assert (line.color.r, line.color.g, line.color.b) == pytest.approx((0.9, 0.05, 0.05))
    pts = np.array([[p.x, p.y, p.z] for p in line.points])
    assert np.allclose(pts[0], pts[-1])                          # a closed loop
    assert np.allclose(pts[:, 2], LINE_TOP)
    assert np.linalg.norm(pts[:, None, :2] - circuit.points[None], axis=2).min(1).max() < 1e-6
    # The edges lie half a road width either side of the line, on the road surface.
    for i in (0, 1):
        edge = np.array([[p.x, p.y, p.z] for p in got[('road_edges', i)].points])
        assert np.allclose(edge[:, 2], ROAD_TOP)
        d = np.linalg.norm(edge[:, None, :2] - circuit.points[None], axis=2).min(1)
        assert d == pytest.approx(circuit.road_width / 2, abs=0.02)
    left = np.array([[p.x, p.y] for p in got[('road_edges', 0)].points[:1]])[0]
    tx, ty = circuit.tangents[0]
    assert (left - circuit.points[0]) @ np.array([-ty, tx]) > 0     # id 0: left edge
    # The start line: one segment across the road at the circuit's first point, white.
    start = got[('start_line', 0)]
    assert start.type == M.LINE_LIST and len(start.points) == 2
    a, b = (np.array([p.x, p.y]) for p in start.points)
    assert np.linalg.norm(a - b) == pytest.approx(circuit.road_width)
    assert (a + b) / 2 == pytest.approx(circuit.points[0])
    assert abs((a - b) @ circuit.tangents[0]) < 1e-9
    assert (start.color.r, start.color.g, start.color.b) == (1.0, 1.0, 1.0)


def test_car_markers_are_locked_to_the_car_frame(messages):
    cfg = load_config()
    front = car_front(cfg.camera)
    arr = _decoded(messages, mk.car_markers(front, 'base_link'))
    M = messages.store.types['visualization_msgs/msg/Marker']
    assert arr.markers and all(m.ns == 'car' and m.header.frame_id == 'base_link'
                               and m.frame_locked for m in arr.markers)
    ids = [m.id for m in arr.markers]
    assert len(set(ids)) == len(ids)
    wheels = [m for m in arr.markers if m.type == M.CYLINDER]
    boxes = [m for m in arr.markers if m.type == M.CUBE]
    assert len(wheels) == 4 and len(boxes) >= 4
    # Wheels touch the road: base_link (the car's origin) stands on the road (CAR_Z above the
    # ground in odometry and TF), so a wheel's centre is one radius above base_link, as in
    # the Gazebo car model.
    for w in wheels:
        assert w.pose.position.z == pytest.approx(w.scale.x / 2)
    # Every box stands where the Gazebo model has it, in the same base_link frame.
    parts = body_parts(front)
    assert [(b.pose.position.x, b.pose.position.y, b.pose.position.z) for b in boxes] == [
        pytest.approx(p.centre) for p in parts]
    # All of the car lies behind the camera (it never shows in the camera image).
    assert max(b.pose.position.x + b.scale.x / 2 for b in boxes) <= cfg.camera.mount_forward


def test_the_record_layer_sends_the_same_markers_as_the_nodes(messages, circuit):
    front = car_front(load_config().camera)
    specs = mk.scene_markers(circuit, 'odom', 'base_link', front)
    via_record = messages.circuit('/c', circuit, 3.0, 'odom', 'base_link', front)
    assert via_record.data == messages.markers('/c', specs, 3.0).data     # the same CDR bytes
    direct = messages.decode(via_record)
    assert {m.ns for m in direct.markers} == {'road_edges', 'red_line', 'start_line', 'car'}


def test_drive_numbers_as_text_over_the_car(messages):
    lines = mk.drive_lines(0.423, 7.25, -0.118, 12.34)
    assert lines == ['lap 42 %', 'speed 7.2 m/s', 'deviation -0.12 m', 'lap time 12.3 s']
    assert mk.drive_lines(None, None, None, None) == [
        'lap - %', 'speed - m/s', 'deviation - m', 'lap time - s']
    arr = _decoded(messages, mk.text_markers(lines, 'base_link'))
    M = messages.store.types['visualization_msgs/msg/Marker']
    assert [m.text for m in arr.markers] == lines
    assert [m.id for m in arr.markers] == [0, 1, 2, 3]
    for m in arr.markers:
        assert (m.ns, m.type, m.header.frame_id) == ('numbers', M.TEXT_VIEW_FACING, 'base_link')
        assert m.frame_locked and m.scale.z == pytest.approx(mk.TEXT_HEIGHT)
        assert (m.color.r, m.color.g, m.color.b, m.color.a) == (1.0, 1.0, 1.0, 1.0)
    heights = [m.pose.position.z for m in arr.markers]
    assert heights == sorted(heights, reverse=True)       # read top to bottom
    assert min(heights) >= mk.TEXT_BASE


def test_training_numbers():
    assert mk.training_lines(3, 12.5, 0.25, 19.46, None) == [
        'episode 3', 'return 12.5', 'epsilon 0.250', 'env steps/s 19.5', 'last evaluation -']
    assert mk.training_lines(4, None, None, None, 1.0)[-1] == 'last evaluation 100 % lap'


class _Env:
    class stats:
        return_ = 0.0


def test_training_numbers_gather_env_and_trainer_hooks():
    n = TrainingNumbers()
    env = _Env()
    n.on_reset(env)
    env.stats.return_ = 4.5
    n.on_step(env)
    n.progress(1000, loss=0.1, epsilon=0.3, average_return=2.0, steps_per_s=250.0)
    assert n.wrap_env_factory(len) is len
    assert n.lines() == ['episode 1', 'return 4.5', 'epsilon 0.300', 'env steps/s 250.0',
                         'last evaluation -']
    # An evaluation drive, as learn.evaluation.evaluate drives its recorder.
    rec = n.evaluation(1000)(env)
    rec.start(None)
    assert rec.due() is False
    rec.track(None)
    rec.end(None, 'laps_done', [{'episode': 1, 'evaluation': True, 'completion': 0.75}])
    assert n.lines()[-1] == 'last evaluation 75 % lap'
    n.on_reset(env)
    assert n.lines()[:2] == ['episode 2', 'return 0.0']


def test_lap_stats_live_figures():
    circuit = load_circuit('simple')
    laps = LapStats(circuit)
    assert laps.live() == {'lap_fraction': None, 'speed': None, 'deviation': None,
                           'lap_time': None}
    # 10 m/s along the line, 0.3 m to its left, for 20 s of simulation time.
    s = np.arange(0.0, 200.0 + 1e-9, 1.0)
    for k, dist in enumerate(s):
        x, y, yaw = circuit.pose_at(dist / circuit.length)
        off = 0.3
        laps.update(5.0 + 0.1 * k, Pose2D(x - off * math.sin(yaw), y + off * math.cos(yaw), yaw))
    live = laps.live()
    assert live['lap_fraction'] == pytest.approx(200.0 / circuit.length, abs=0.01)
    assert live['speed'] == pytest.approx(10.0, rel=0.05)
    assert live['deviation'] == pytest.approx(0.3, abs=0.02)
    assert live['lap_time'] == pytest.approx(20.0)


def test_quaternion_from_rpy_and_the_camera_mount():
    assert quaternion_from_rpy(0.0, 0.0, 0.7) == pytest.approx(quaternion_from_yaw(0.7))
    cam = load_config(overrides={'camera.pitch': 0.2}).camera    # default 0: level
    x, y, z, roll, pitch, yaw = camera_mount(cam)
    qx, qy, qz, qw = quaternion_from_rpy(roll, pitch, yaw)
    # The optical axis (+x of the camera frame) turned into the car frame looks down ahead.
    ax = 1 - 2 * (qy * qy + qz * qz)
    az = 2 * (qx * qz - qw * qy)
    assert ax == pytest.approx(math.cos(0.2)) and az == pytest.approx(-math.sin(0.2))
    assert x == pytest.approx(cam.mount_forward) and y == 0.0
