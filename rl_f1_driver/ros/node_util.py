"""rclpy helpers shared by the nodes: QoS, a background executor, message builders.

Imports rclpy and message packages: used only by node modules.
"""
from __future__ import annotations

import sys
import threading
import time
from typing import Any, Callable, Iterable, Optional, Tuple

import numpy as np
import rclpy
from geometry_msgs.msg import PoseStamped
from geometry_msgs.msg import Twist as TwistMsg
from nav_msgs.msg import Path
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy,
                       qos_profile_sensor_data)
from sensor_msgs.msg import Image

from ..errors import UserError
from ..interrupts import InterruptCounter
from ..sim.types import Pose2D, Twist
from .shutdown import exit_status, spin_until
from ..messages import conversions as cv

try:  # Humble has it; keep working where it does not
    from rclpy.executors import ExternalShutdownException
except ImportError:  # pragma: no cover
    ExternalShutdownException = RuntimeError

# Camera: best effort (reads Gazebo's reliable publisher too), keep only the newest frame,
# so a slow consumer never works through a backlog of old images.
CAMERA_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                        reliability=qos_profile_sensor_data.reliability,
                        durability=qos_profile_sensor_data.durability)
# Ground truth arrives faster than frames; a few are kept to match stamps.
STATE_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                       reliability=ReliabilityPolicy.BEST_EFFORT,
                       durability=DurabilityPolicy.VOLATILE)
# Commands must not be dropped (the drive plugins subscribe reliable, depth 1).
COMMAND_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.VOLATILE)
# /clock as gazebo_ros publishes it: best effort, only the newest. A reliable subscriber gets
# nothing from Gazebo; rclpy's and rviz's use_sim_time subscriptions are best effort.
CLOCK_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                       reliability=ReliabilityPolicy.BEST_EFFORT,
                       durability=DurabilityPolicy.VOLATILE)
# Latched: published once, kept for subscribers that come later (rviz's Transient Local):
# the circuit for rviz, and /tf_static.
LATCHED_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
# Monitoring (overlay, path, stats): reliable like rviz's default subscriptions.
MONITOR_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.VOLATILE)


def steady_timer(node: Any, period: float, callback: Callable[[], None]) -> Any:
    """A timer on the wall clock, also under use_sim_time: it must fire when the simulation
    (and so /clock) has stopped, and sim_node makes the simulation clock itself."""
    from rclpy.clock import Clock, ClockType
    return node.create_timer(period, callback, clock=Clock(clock_type=ClockType.STEADY_TIME))


def warn(logger: Any, message: str) -> None:
    (getattr(logger, 'warning', None) or logger.warn)(message)


class BackgroundSpinner:
    """Runs a node's callbacks on a daemon thread, so the caller may block (train, step)."""

    def __init__(self, node: Any):
        self.node = node
        self.executor = SingleThreadedExecutor(context=node.context)   # the node's, not
        self.executor.add_node(node)                                    # the default
        self._thread = threading.Thread(target=self._spin, name=f'{node.get_name()}-spin',
                                        daemon=True)

    def start(self) -> 'BackgroundSpinner':
        self._thread.start()
        return self

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except (ExternalShutdownException, KeyboardInterrupt):
            pass
        except Exception as exc:  # noqa: BLE001 - shutting down while a callback runs
            if rclpy.ok(context=self.node.context):
                warn(self.node.get_logger(), f'executor stopped: {exc}')

    def stop(self, timeout: float = 2.0) -> None:
        flush_publishers(self.node)   # the last statistics reach their subscribers first
        self.executor.shutdown(timeout_sec=timeout)
        if self._thread.is_alive():
            self._thread.join(timeout)


class ImageDecoder:
    """sensor_msgs/Image -> BGR array: cv_bridge when installed and wanted, else our own."""

    def __init__(self, use_cv_bridge: bool = True):
        self._bridge = None
        if use_cv_bridge:
            try:
                from cv_bridge import CvBridge
                self._bridge = CvBridge()
            except Exception:  # noqa: BLE001 - missing, or built against another numpy
                self._bridge = None

    @property
    def uses_cv_bridge(self) -> bool:
        return self._bridge is not None

    def __call__(self, msg: Image) -> np.ndarray:
        if self._bridge is not None:
            try:
                return self._bridge.imgmsg_to_cv2(msg, desired_encoding='bgr8')
            except Exception:  # noqa: BLE001 - fall back to the tested pure conversion
                self._bridge = None
        return cv.image_to_bgr(msg)


def stamp_seconds(msg: Any) -> float:
    return cv.stamp_to_seconds(msg.header.stamp)


def image_msg(bgr: np.ndarray, stamp: Any, frame_id: str) -> Image:
    """A bgr8 Image with a given builtin_interfaces/Time stamp."""
    msg = Image()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    return cv.fill_image_msg(msg, bgr, 'bgr8')


def twist_msg(twist: Twist) -> TwistMsg:
    return cv.fill_twist_msg(TwistMsg(), twist)


def path_msg(poses: Iterable[Tuple[float, Pose2D]], frame_id: str, stamp: Any,
             z: float = 0.0) -> Path:
    msg = Path()
    msg.header.frame_id = frame_id
    msg.header.stamp = stamp
    for t, pose in poses:
        ps = PoseStamped()
        ps.header.frame_id = frame_id
        cv.fill_stamp(ps.header.stamp, t)
        cv.fill_pose_msg(ps.pose, pose, z)
        msg.poses.append(ps)
    return msg


def time_msg(t: float):
    from builtin_interfaces.msg import Time
    sec, nanosec = cv.seconds_to_stamp(t)
    return Time(sec=sec, nanosec=nanosec)


def flush_publishers(node: Any, timeout: float = 1.0) -> None:
    """Wait (bounded) until reliable subscribers have received what was published last: the
    statistics published on the way out must reach them before the node goes."""
    from rclpy.duration import Duration
    end = time.monotonic() + timeout
    for pub in list(getattr(node, 'publishers', ())):
        left = end - time.monotonic()
        if left <= 0:
            return
        try:
            pub.wait_for_all_acked(Duration(nanoseconds=int(left * 1e9)))
        except Exception:  # noqa: BLE001 - best effort (best-effort QoS, no subscriber)
            pass


def spin_node(name: str, setup: Callable[[Any], Optional[Callable[[], None]]],
              period: float = 0.1) -> int:
    """Create node `name`, set it up with `setup(node)`, spin it until Ctrl-C, destroy it.

    `setup` may return a stop function, called when spinning ends, before the node goes.
    A UserError from `setup` is logged and ends with status 2 (no spinning); else 0.
    SIGINT and SIGTERM set a flag checked between callbacks: an exception raised by a signal
    handler inside a message take (rclpy turns it into "RuntimeError: Unable to convert call
    argument to Python object") crashed drive_node on Ctrl-C while frames kept coming.
    """
    node = rclpy.create_node(name)
    try:
        stop = setup(node)
    except UserError as exc:
        node.get_logger().error(str(exc))
        node.destroy_node()
        return 2
    interrupts = InterruptCounter().install()
    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    try:
        spin_until(lambda: executor.spin_once(timeout_sec=period),
                   lambda: interrupts.count > 0 or not rclpy.ok(context=node.context))
    finally:
        try:
            if stop is not None:
                stop()
            flush_publishers(node)
        finally:
            executor.remove_node(node)
            executor.shutdown(timeout_sec=0.0)   # its guard condition and wait set go too
            node.destroy_node()
    return 0


def run_node(main: Callable[[Optional[list]], int], args: Optional[list] = None) -> int:
    """rclpy.init, run `main`, shutdown.

    rclpy's own SIGINT handler shuts the context down at once, after which a node cannot
    publish its last stop command. So signals are ours: SIGINT and SIGTERM (what
    `ros2 launch` sends) raise KeyboardInterrupt in the main thread (a node that spins in
    the main thread replaces that by a flag: spin_node, sim_node), `main` cleans up in its
    `finally` while the context still works, and then the context is shut down. When the
    parent (ros2 launch) dies, the node gets SIGTERM: it never runs on orphaned.
    """
    import signal

    from rclpy.signals import SignalHandlerOptions

    from ..process_guard import set_parent_death_signal

    interrupts = InterruptCounter()

    def interrupt(_signum, _frame):
        if interrupts.record():   # not the same Ctrl-C delivered twice
            raise KeyboardInterrupt

    # A node hands every frame from its executor thread to the thread that waits for it
    # (train_node's link): with Python's default 5 ms GIL switch interval that handoff could
    # wait up to 5 ms behind TensorFlow's Python work. Lock-step training over DDS, 3 seeds:
    # median 165 env steps/s with 0.5 ms, 140 with the default (noisy on this 2-core VM).
    sys.setswitchinterval(0.0005)
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    set_parent_death_signal(signal.SIGTERM)
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    try:
        # rclpy's ExternalShutdownException (context shut down under us) is a normal end too.
        return exit_status(lambda: _external_shutdown_is_normal(main, args),
                           lambda: interrupts.count > 0)
    finally:
        rclpy.try_shutdown()


def _external_shutdown_is_normal(main: Callable[[Optional[list]], int],
                                 args: Optional[list]) -> int:
    try:
        return main(args)
    except ExternalShutdownException:
        return 0
