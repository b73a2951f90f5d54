"""What rviz gets from the nodes alone (ros.rviz): the latched circuit and car, the numbers
over the car, the camera's static transform. In-process rclpy; skips without ROS 2
(test/ros_support.py). Waits are bounded loops over executor spins, never sleeps.
"""
import itertools
import time

import numpy as np
import pytest

from ros_support import (require_ros, spin_until as _spin_until,  # noqa: E402
                         unique_topics as _unique)

require_ros('visualization_msgs', 'tf2_msgs')
import rclpy  # noqa: E402

from nav_msgs.msg import Odometry  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSProfile,  # noqa: E402
                       ReliabilityPolicy)
from tf2_msgs.msg import TFMessage  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

from rl_f1_driver.config import load_config  # noqa: E402
from rl_f1_driver.config import ros_params as params  # noqa: E402
from rl_f1_driver.messages import conversions as cv  # noqa: E402
from rl_f1_driver.perception import LineDetector  # noqa: E402
from rl_f1_driver.ros.drive_node import DriveNode  # noqa: E402
from rl_f1_driver.ros.node_util import LATCHED_QOS  # noqa: E402
from rl_f1_driver.scene import camera_mount  # noqa: E402
from rl_f1_driver.sim.types import Pose2D, Twist  # noqa: E402
from rl_f1_driver.track import load_circuit  # noqa: E402

_ids = itertools.count()
LATE_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)   # as rviz's Circuit display
TF_STATIC_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                           reliability=ReliabilityPolicy.RELIABLE,
                           durability=DurabilityPolicy.TRANSIENT_LOCAL)


@pytest.fixture(scope='module', autouse=True)
def ros():
    rclpy.init()
    yield
    rclpy.shutdown()


class FakeController:
    def __init__(self, cfg):
        self.config = cfg
        self.detector = LineDetector(cfg.perception)
        self.last_reading = None

    def reset(self):
        pass

    def command(self, bgr, row_fractions=None, dt=None):
        return Twist(0.0, 0.0)


def test_drive_node_shows_circuit_car_numbers_and_camera_frame_to_a_late_rviz():
    prefix = f'v{next(_ids)}'
    p = _unique(params.node_defaults('drive_node'), prefix)
    p.update(track='simple', use_cv_bridge=False, stats_topic=f'/{prefix}/drive_stats')
    cfg = load_config(overrides={'camera.pitch': 0.2})
    circuit = load_circuit('simple')
    node = rclpy.create_node('drive_node', namespace=f'/{prefix}')
    drive = DriveNode(node, p, FakeController(cfg), circuit=circuit)
    # The viewer joins after the circuit went out: only a latched topic reaches it.
    probe = rclpy.create_node('rviz_probe', namespace=f'/{prefix}')
    circuits, numbers, statics = [], [], []
    probe.create_subscription(MarkerArray, p['circuit_topic'], circuits.append, LATE_QOS)
    probe.create_subscription(MarkerArray, p['numbers_topic'], numbers.append, 10)
    probe.create_subscription(TFMessage, '/tf_static', statics.append, TF_STATIC_QOS)
    odom = probe.create_publisher(Odometry, p['odom_topic'], 10)
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    ex.add_node(probe)
    try:
        # The graph's view of the publisher comes from DDS discovery: durability and
        # reliability are there, history and depth are not (Humble reports them unknown, 0).
        info = []

        def one_publisher():
            info[:] = node.get_publishers_info_by_topic(p['circuit_topic'])
            return len(info) == 1
        assert _spin_until(ex, one_publisher, 10), info
        qos = info[0].qos_profile
        assert qos.durability == DurabilityPolicy.TRANSIENT_LOCAL
        assert qos.reliability == ReliabilityPolicy.RELIABLE
        assert LATCHED_QOS.durability == DurabilityPolicy.TRANSIENT_LOCAL
        assert LATCHED_QOS.history == HistoryPolicy.KEEP_LAST and LATCHED_QOS.depth == 1
        assert _spin_until(ex, lambda: circuits, 10)
        arr = circuits[0]
        namespaces = {m.ns for m in arr.markers}
        assert namespaces == {'road_edges', 'red_line', 'start_line', 'car'}
        for m in arr.markers:
            frame = p['base_frame'] if m.ns == 'car' else p['odom_frame']
            assert m.header.frame_id == frame and m.action == Marker.ADD
            assert m.frame_locked == (m.ns == 'car')
        line = next(m for m in arr.markers if m.ns == 'red_line')
        assert line.type == Marker.LINE_STRIP and len(line.points) > 10
        pts = np.array([[q.x, q.y] for q in line.points])
        assert np.linalg.norm(pts[:, None] - circuit.points[None], axis=2).min(1).max() < 1e-6
        # The camera frame hangs off the car at the configured mount.
        assert _spin_until(ex, lambda: any(t.child_frame_id == p['camera_frame']
                                           for s in statics for t in s.transforms), 10)
        tf = next(t for s in statics for t in s.transforms
                  if t.child_frame_id == p['camera_frame'])
        x, y, z = camera_mount(cfg.camera)[:3]
        assert tf.header.frame_id == p['base_frame']
        tr = tf.transform.translation
        assert (tr.x, tr.y, tr.z) == pytest.approx((x, y, z))
        assert tf.transform.rotation.y == pytest.approx(np.sin(0.1))
        # /tf_static as tf2_ros's StaticTransformBroadcaster sends it: latched and reliable.
        statics_qos = [i.qos_profile for i in node.get_publishers_info_by_topic('/tf_static')]
        assert statics_qos and all(q.durability == DurabilityPolicy.TRANSIENT_LOCAL
                                   and q.reliability == ReliabilityPolicy.RELIABLE
                                   for q in statics_qos)
        # Driving: the numbers over the car follow the odometry.
        assert _spin_until(ex, lambda: probe.count_subscribers(p['odom_topic']) > 0, 10)
        for k in range(30):
            msg = Odometry()
            cv.fill_stamp(msg.header.stamp, 1.0 + 0.1 * k)
            x_, y_, yaw = circuit.pose_at(k * 1.0 / circuit.length)
            cv.fill_pose_msg(msg.pose.pose, Pose2D(x_, y_, yaw))
            odom.publish(msg)
            assert _spin_until(ex, lambda: drive.laps.samples >= k, 5)
        assert _spin_until(ex, lambda: numbers and numbers[-1].markers[1].text != 'speed - m/s',
                           10)
        texts = [m.text for m in numbers[-1].markers]
        assert texts[0].startswith('lap ') and texts[1] == 'speed 10.0 m/s'
        assert texts[2].startswith('deviation ') and texts[3].startswith('lap time ')
        assert all(m.type == Marker.TEXT_VIEW_FACING and m.header.frame_id == p['base_frame']
                   for m in numbers[-1].markers)
    finally:
        drive.stop()
        ex.shutdown()
        node.destroy_node()
        probe.destroy_node()


def test_train_monitor_shows_the_circuit_and_the_training_numbers():
    from rl_f1_driver.env.follow_line_env import F1FollowLineEnv
    from rl_f1_driver.ros.train_node import TrainMonitor, monitored_env_class
    from rl_f1_driver.sim.embedded import EmbeddedSimulator

    prefix = f'v{next(_ids)}'
    p = _unique(params.node_defaults('train_node'), prefix)
    cfg = load_config(overrides={'camera.width': 160, 'camera.height': 120, 'env.start': 0.0,
                                 'env.max_steps': 50})
    circuit = load_circuit('simple')
    node = rclpy.create_node('train_node', namespace=f'/{prefix}')
    probe = rclpy.create_node('rviz_probe', namespace=f'/{prefix}')
    circuits, numbers = [], []
    probe.create_subscription(MarkerArray, p['circuit_topic'], circuits.append, LATE_QOS)
    probe.create_subscription(MarkerArray, p['numbers_topic'], numbers.append, 10)
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    ex.add_node(probe)
    monitor = TrainMonitor(node, p, circuit, cfg.camera)
    env = monitored_env_class(F1FollowLineEnv)(
        EmbeddedSimulator(circuit, cfg.camera, cfg.car), cfg, circuit, seed=0, monitor=monitor)
    try:
        assert _spin_until(ex, lambda: circuits and node.count_subscribers(
            p['numbers_topic']) > 0, 10)
        assert {m.ns for m in circuits[0].markers} >= {'red_line', 'start_line', 'car'}
        monitor.numbers.progress(100, loss=0.5, epsilon=0.4, average_return=1.0,
                                 steps_per_s=321.0)
        env.reset()
        deadline = time.monotonic() + 10
        while not numbers and time.monotonic() < deadline:
            env.step(np.int32(0))
            ex.spin_once(timeout_sec=0.05)
        assert _spin_until(ex, lambda: numbers, 5)
        texts = [m.text for m in numbers[-1].markers]
        assert texts[0] == 'episode 1' and texts[1].startswith('return ')
        assert texts[2:] == ['epsilon 0.400', 'env steps/s 321.0', 'last evaluation -']
    finally:
        ex.shutdown()
        node.destroy_node()
        probe.destroy_node()
