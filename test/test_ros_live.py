"""In-process ROS 2 tests: drive node, watchdog, and the Gazebo link against sim_node.

They need a ROS 2 Humble environment (rclpy and the message packages): `make test` with ROS
2 sourced (the GitHub workflow, the Docker image). Without ROS they skip
(test/ros_support.py).
Waits are bounded loops over executor spins, never sleeps.
"""
import itertools
import math
import time

import numpy as np
import pytest

from ros_support import (require_ros, spin_until as _spin_until,  # noqa: E402
                         unique_topics as _unique, wait_for)

require_ros('gazebo_msgs', 'tf2_msgs')
import rclpy  # noqa: E402

from geometry_msgs.msg import Twist as TwistMsg  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from rl_f1_driver.config import load_config  # noqa: E402
from rl_f1_driver.perception import LineDetector  # noqa: E402
from rl_f1_driver.config import ros_params as params  # noqa: E402
from rl_f1_driver.ros.drive_node import DriveNode  # noqa: E402
from rl_f1_driver.ros.frame_gate import LinkError, LinkTimeout  # noqa: E402
from rl_f1_driver.ros.gazebo_link import GazeboLink  # noqa: E402
from rl_f1_driver.ros.node_util import (COMMAND_QOS, BackgroundSpinner,  # noqa: E402
                                        image_msg, time_msg)
from rl_f1_driver.ros.sim_node import SimNode  # noqa: E402
from rl_f1_driver.sim.types import Pose2D, Twist  # noqa: E402
from rl_f1_driver.track import load_circuit  # noqa: E402

_ids = itertools.count()


@pytest.fixture(scope='module', autouse=True)
def ros():
    rclpy.init()
    yield
    rclpy.shutdown()


class FakeController:
    """drive.controller.Controller's interface, with a fixed command."""

    def __init__(self, detector):
        self.detector = detector
        self.last_reading = None
        self.resets = 0
        self.dts = []

    def reset(self):
        self.resets += 1

    def command(self, bgr, row_fractions=None, dt=None):
        self.dts.append(dt)
        self.last_reading = self.detector.detect(bgr)
        return Twist(2.0, 0.5)


def test_drive_node_turns_frames_into_twists_and_the_watchdog_stops_the_car():
    prefix = f't{next(_ids)}'
    p = _unique(params.node_defaults('drive_node'), prefix)
    p.update(frame_timeout=0.3, watchdog_period=0.02, stop_repeat=10.0, use_cv_bridge=False)
    cfg = load_config()
    node = rclpy.create_node('drive_node', namespace=f'/{prefix}')
    probe = rclpy.create_node('probe', namespace=f'/{prefix}')
    controller = FakeController(LineDetector(cfg.perception))
    drive = DriveNode(node, p, controller)
    got, overlays = [], []
    probe.create_subscription(TwistMsg, p['cmd_vel_topic'], got.append, COMMAND_QOS)
    probe.create_subscription(Image, p['overlay_topic'], overlays.append, 10)
    cam = probe.create_publisher(Image, p['camera_topic'], 10)
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    ex.add_node(probe)
    try:
        # Discovery both ways before the first frame: messages are not kept for late joiners.
        assert _spin_until(ex, lambda: (probe.count_subscribers(p['camera_topic']) > 0
                                        and node.count_subscribers(p['cmd_vel_topic']) > 0
                                        and node.count_subscribers(p['overlay_topic']) > 0),
                           10)
        bgr = np.zeros((48, 64, 3), np.uint8)
        bgr[:, 30:34] = (30, 30, 200)
        for k in range(3):
            cam.publish(image_msg(bgr, time_msg(1.0 + k * 0.05), 'camera_link'))
            assert _spin_until(ex, lambda: len(got) > k, 5)
        assert all((m.linear.x, m.angular.z) == (2.0, 0.5) for m in got)
        assert controller.resets == 1
        assert controller.dts[0] is None and controller.dts[1] == pytest.approx(0.05)
        assert _spin_until(ex, lambda: overlays, 5)
        assert overlays[0].width == 64 and overlays[0].encoding == 'bgr8'
        # No more frames: within frame_timeout (+ a check period) the car gets a zero Twist.
        assert _spin_until(ex, lambda: got[-1].linear.x == 0.0, 5)
        assert got[-1].angular.z == 0.0 and drive.watchdog.stops == 1
    finally:
        drive.stop()
        ex.shutdown()
        node.destroy_node()
        probe.destroy_node()


@pytest.fixture
def sim_and_link():
    prefix = f't{next(_ids)}'
    cfg = load_config(overrides={'camera.width': 160, 'camera.height': 120})
    sim_p = _unique(params.node_defaults('sim_node'), prefix)
    sim_p.update(track='simple', real_time_factor=4.0)
    link_p = _unique(params.node_defaults('train_node'), prefix)
    link_p.update(frame_timeout=2.0, startup_timeout=10.0, service_timeout=2.0,
                  reset_retries=1)
    sim_node = rclpy.create_node('sim_node', namespace=f'/{prefix}')
    link_node = rclpy.create_node('train_node', namespace=f'/{prefix}')
    sim = SimNode(sim_node, sim_p, cfg)
    link = GazeboLink(link_node, params.LinkSettings.from_params(link_p), cfg.camera, cfg.car,
                      use_cv_bridge=False)
    spinners = [BackgroundSpinner(sim_node).start(), BackgroundSpinner(link_node).start()]
    yield sim, link, spinners
    link.close()
    for s in spinners:
        s.stop()
    sim_node.destroy_node()
    link_node.destroy_node()


def test_link_resets_onto_the_requested_pose_and_steps_on_simulation_time(sim_and_link):
    sim, link, _ = sim_and_link
    circuit = load_circuit('simple')
    target = Pose2D(*circuit.pose_at(0.3))
    frame = link.reset(target)
    assert frame.image.shape == (120, 160, 3)
    assert math.hypot(frame.pose.x - target.x, frame.pose.y - target.y) < 0.5
    stamps = [frame.stamp]
    for _ in range(10):
        frame = link.step(Twist(4.0, 0.0))
        stamps.append(frame.stamp)
    assert all(b > a for a, b in zip(stamps, stamps[1:]))
    assert frame.speed > 0.5
    moved = math.hypot(frame.pose.x - target.x, frame.pose.y - target.y)
    assert moved > 0.5
    assert link.last_command == Twist(4.0, 0.0)


def test_link_gives_a_clear_error_when_the_camera_stops(sim_and_link):
    sim, link, spinners = sim_and_link
    link.reset(Pose2D(*load_circuit('simple').pose_at(0.0)))
    spinners[0].stop()          # the simulator stops publishing
    t0 = time.monotonic()
    with pytest.raises(LinkTimeout, match='camera image on .* within 2 s'):
        link.step(Twist(1.0, 0.0))
    assert time.monotonic() - t0 < 10.0


def test_link_refuses_to_train_on_two_simulators(sim_and_link):
    """A leftover simulator on the same topics: the link names both, instead of training on
    frames and poses of two cars."""
    sim, link, _ = sim_and_link
    prefix = sim.node.get_namespace().strip('/')
    cfg = load_config(overrides={'camera.width': 160, 'camera.height': 120})
    other_p = dict(sim.p, publish_clock=False)
    other_node = rclpy.create_node('leftover_sim', namespace=f'/{prefix}')
    SimNode(other_node, other_p, cfg)
    spinner = BackgroundSpinner(other_node).start()
    try:
        assert wait_for(lambda: link.node.count_publishers(sim.p['odom_topic']) == 2, 10)
        with pytest.raises(LinkError) as exc:
            link.reset(Pose2D(*load_circuit('simple').pose_at(0.0)))
        msg = str(exc.value)
        assert f'2 publishers on {sim.p["odom_topic"]}' in msg
        assert 'leftover_sim' in msg and 'sim_node' in msg
    finally:
        spinner.stop()
        other_node.destroy_node()


def test_drive_node_stops_the_car_while_a_second_simulator_publishes():
    prefix = f't{next(_ids)}'
    p = _unique(params.node_defaults('drive_node'), prefix)
    p.update(use_cv_bridge=False, frame_timeout=5.0)
    cfg = load_config()
    node = rclpy.create_node('drive_node', namespace=f'/{prefix}')
    probe = rclpy.create_node('probe', namespace=f'/{prefix}')
    second = rclpy.create_node('second', namespace=f'/{prefix}')
    drive = DriveNode(node, p, FakeController(LineDetector(cfg.perception)))
    got = []
    probe.create_subscription(TwistMsg, p['cmd_vel_topic'], got.append, COMMAND_QOS)
    cam = probe.create_publisher(Image, p['camera_topic'], 10)
    ex = SingleThreadedExecutor()
    for n in (node, probe, second):
        ex.add_node(n)
    bgr = np.zeros((48, 64, 3), np.uint8)
    try:
        assert _spin_until(ex, lambda: (probe.count_subscribers(p['camera_topic']) > 0
                                        and node.count_subscribers(p['cmd_vel_topic']) > 0),
                           10)
        cam.publish(image_msg(bgr, time_msg(1.0), 'camera_link'))
        assert _spin_until(ex, lambda: got and got[-1].linear.x == 2.0, 5)
        # A second camera publisher appears: within a check period the car stops, and frames
        # no longer move it.
        second.create_publisher(Image, p['camera_topic'], 10)
        assert _spin_until(ex, lambda: drive.second_simulator is not None, 10)
        assert 'publishers on ' + p['camera_topic'] in drive.second_simulator
        cam.publish(image_msg(bgr, time_msg(1.05), 'camera_link'))
        assert _spin_until(ex, lambda: got[-1].linear.x == 0.0, 5)
        n_before = len(got)
        cam.publish(image_msg(bgr, time_msg(1.10), 'camera_link'))
        assert _spin_until(ex, lambda: len(got) > n_before, 5)
        assert got[-1].linear.x == 0.0 and got[-1].angular.z == 0.0
        # It goes away: the car drives again.
        second.destroy_node()
        second = None
        assert _spin_until(ex, lambda: drive.second_simulator is None, 10)
        cam.publish(image_msg(bgr, time_msg(1.15), 'camera_link'))
        assert _spin_until(ex, lambda: got[-1].linear.x == 2.0, 5)
    finally:
        drive.stop()
        ex.shutdown()
        for n in (node, probe, second):
            if n is not None:
                n.destroy_node()


def test_train_monitor_publishes_path_overlay_and_one_stats_line_per_episode():
    import json

    from nav_msgs.msg import Path as PathMsg
    from std_msgs.msg import String

    from rl_f1_driver.env.follow_line_env import F1FollowLineEnv
    from rl_f1_driver.ros.train_node import TrainMonitor, monitored_env_class
    from rl_f1_driver.sim.embedded import EmbeddedSimulator

    prefix = f't{next(_ids)}'
    p = _unique(params.node_defaults('train_node'), prefix)
    p.update(track='simple', overlay_every=5)
    cfg = load_config(overrides={'camera.width': 160, 'camera.height': 120, 'env.start': 0.0,
                                 'env.max_steps': 12})
    node = rclpy.create_node('train_node', namespace=f'/{prefix}')
    probe = rclpy.create_node('probe', namespace=f'/{prefix}')
    stats, paths, overlays = [], [], []
    probe.create_subscription(String, p['stats_topic'], stats.append, 10)
    probe.create_subscription(PathMsg, p['path_topic'], paths.append, 10)
    probe.create_subscription(Image, p['overlay_topic'], overlays.append, 10)
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    ex.add_node(probe)
    monitor = TrainMonitor(node, p)
    circuit = load_circuit('simple')
    env = monitored_env_class(F1FollowLineEnv)(
        EmbeddedSimulator(circuit, cfg.camera, cfg.car), cfg, circuit, seed=0, monitor=monitor)
    try:
        assert _spin_until(ex, lambda: all(node.count_subscribers(p[k]) > 0 for k in
                                           ('stats_topic', 'path_topic', 'overlay_topic')), 10)
        env.reset()
        for _ in range(12):                 # max_steps: the 12th step ends the episode
            env.step(np.int32(0))
        assert monitor.episodes == 1
        assert _spin_until(ex, lambda: stats and paths and overlays, 10)
        line = json.loads(stats[0].data)
        assert line['episode'] == 1 and line['end_reason'] == 'max_steps'
        assert line['steps'] == 12
        # The episode's end sends the whole path (earlier ones are rate-limited).
        assert _spin_until(ex, lambda: len(paths[-1].poses) >= 2, 10)
        env.step(np.int32(0))               # auto-reset: a new episode, a new path
        assert monitor.episodes == 2 and len(monitor.trace) == 1
        assert len(stats) == 1
    finally:
        ex.shutdown()
        node.destroy_node()
        probe.destroy_node()


def test_drive_node_publishes_lap_and_episode_statistics_from_odometry():
    import json

    from nav_msgs.msg import Odometry
    from std_msgs.msg import String

    from rl_f1_driver.messages import conversions as cv
    from rl_f1_driver.ros.drive_node import STATS_QOS

    prefix = f't{next(_ids)}'
    p = _unique(params.node_defaults('drive_node'), prefix)
    # stats_topic is the drive node's own (not shared), so _unique leaves it: prefix it here.
    p.update(track='simple', use_cv_bridge=False, stats_topic=f'/{prefix}/drive_stats')
    circuit = load_circuit('simple')
    node = rclpy.create_node('drive_node', namespace=f'/{prefix}')
    probe = rclpy.create_node('probe', namespace=f'/{prefix}')
    drive = DriveNode(node, p, FakeController(LineDetector(load_config().perception)))
    lines = []
    probe.create_subscription(String, p['stats_topic'], lambda m: lines.append(
        json.loads(m.data)), STATS_QOS)
    odom = probe.create_publisher(Odometry, p['odom_topic'], 10)
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    ex.add_node(probe)

    def send(t, pose):
        msg = Odometry()
        cv.fill_stamp(msg.header.stamp, t)
        cv.fill_pose_msg(msg.pose.pose, pose)
        odom.publish(msg)

    try:
        assert _spin_until(ex, lambda: (probe.count_subscribers(p['odom_topic']) > 0
                                        and node.count_subscribers(p['stats_topic']) > 0), 10)
        # 10 m/s along the line (1 m per 0.1 s of simulation time), a little past one lap.
        # One message at a time: odometry is best effort and a burst could overflow the
        # subscription's queue (a gap of several metres would read as a teleport).
        steps = int(circuit.length) + 3
        for k in range(steps + 1):
            send(100.0 + 0.1 * k, Pose2D(*circuit.pose_at(k / circuit.length)))
            _spin_until(ex, lambda: drive.laps.samples > k, 2)
        assert drive.laps.samples > steps * 0.9     # (almost) every pose arrived
        assert _spin_until(ex, lambda: lines, 5)
        lap = lines[0]
        assert lap['event'] == 'lap' and lap['lap'] == 1 and lap['completion'] == 1.0
        assert lap['direction'] == 'forward' and lap['track'] == circuit.name
        assert lap['lap_time_s'] == pytest.approx(circuit.length / 10.0, rel=0.03)
        assert lap['mean_speed_mps'] == pytest.approx(10.0, rel=0.03)
        assert lap['mean_abs_deviation_m'] < 0.1 and lap['max_abs_deviation_m'] < 0.2
        assert 100.0 + circuit.length / 10.0 <= lap['stamp'] <= 100.0 + 0.1 * steps
        # A reset: the car is back half a lap away at once. The episode so far is reported.
        send(100.0 + 0.1 * (steps + 1), Pose2D(*circuit.pose_at(0.5)))
        assert _spin_until(ex, lambda: len(lines) >= 2, 5)
        episode = lines[1]
        assert episode['event'] == 'episode' and episode['end_reason'] == 'reset'
        assert episode['laps'] == 1 and episode['completion'] == 1.0
        assert episode['distance_m'] == pytest.approx(steps, rel=0.03)
        # Shutdown reports the episode under way (the one the reset started).
        drive.stop()
        assert _spin_until(ex, lambda: len(lines) >= 3, 5)
        assert lines[2]['end_reason'] == 'shutdown' and lines[2]['episode'] == 2
        assert len(lines) == 3
    finally:
        ex.shutdown()
        node.destroy_node()
        probe.destroy_node()
