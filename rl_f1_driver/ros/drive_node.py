"""drive_node: camera image in, Twist out, at camera rate, with a stop watchdog.

camera frame -> controller (exported DQN policy or PID baseline) -> Twist on cmd_vel, plus
the perception overlay and the driven path for rviz. When frames stop for longer than
`frame_timeout` the watchdog sends a zero Twist (the drive plugin would otherwise keep the
last command and the car drive off), and a zero Twist is sent on shutdown.

Odometry (the world pose, on simulation time) also measures the driving: one JSON line on
`stats_topic` per completed lap of the `track` circuit and one per episode, which ends when
the car is teleported (a reset) and when the node shuts down (drive.lap_stats).
"""
from __future__ import annotations

import json
import sys
from typing import Any, Dict, Optional

import rclpy
from geometry_msgs.msg import Twist as TwistMsg
from nav_msgs.msg import Odometry, Path as PathMsg
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import String

from ..config import Config, load_config
from ..config import ros_params as params
from ..drive.lap_stats import LapStats, drive_circuit
from ..messages import conversions as cv
from ..messages.markers import drive_lines
from ..messages.path_trace import PathTrace
from ..perception import LineDetector, draw_overlay
from ..quiet import quiet_tensorflow
from ..sim.types import ZERO_TWIST, Twist
from ..track import Circuit
from .node_util import (CAMERA_QOS, COMMAND_QOS, MONITOR_QOS, STATE_QOS, ImageDecoder,
                        image_msg, path_msg, run_node, spin_node, steady_timer, twist_msg,
                        warn)
from .one_simulator import second_simulator_on
from .rviz import RvizPublisher
from .watchdog import Watchdog

PATH_PERIOD = 0.5  # s between path messages (a long path is a big message)
NUMBERS_PERIOD = 0.2  # s between the numbers shown over the car in rviz (readable, cheap)
SOURCES_PERIOD = 1.0  # s between looks for a second simulator on the graph
# Lap and episode lines: reliable like MONITOR_QOS, but a few deep, so a lap line and the
# episode line published right after it (a reset) both reach a slower subscriber.
STATS_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                       reliability=ReliabilityPolicy.RELIABLE,
                       durability=DurabilityPolicy.VOLATILE)
TRACK_PARAM = 'drive_node parameter track'


class DriveNode:
    """The driving logic on a node.

    `controller` is a drive.controller.Controller: reset(), command(bgr, dt=...),
    last_reading, detector. `circuit` is the one driven, for the lap statistics; None takes
    p['track'], else the controller's config's track (see drive_circuit).
    """

    def __init__(self, node: Any, p: Dict[str, Any], controller: Any,
                 detector: Optional[LineDetector] = None, watchdog: Optional[Watchdog] = None,
                 circuit: Optional[Circuit] = None):
        self.node = node
        self.p = p
        self.controller = controller
        self.detector = detector or controller.detector
        self.decode = ImageDecoder(p['use_cv_bridge'])
        self.watchdog = watchdog or Watchdog(p['frame_timeout'], repeat=p['stop_repeat'])
        self.trace = PathTrace(p['path_max_points'], p['path_min_spacing'])
        self.circuit = circuit or drive_circuit(p['track'], getattr(controller, 'config', None),
                                                TRACK_PARAM)
        self.laps = LapStats(self.circuit)
        self.frames = 0
        self.last_twist: Twist = ZERO_TWIST
        self._last_stamp: Optional[float] = None
        self.cmd_pub = node.create_publisher(TwistMsg, p['cmd_vel_topic'], COMMAND_QOS)
        self.overlay_pub = node.create_publisher(Image, p['overlay_topic'], MONITOR_QOS)
        self.path_pub = node.create_publisher(PathMsg, p['path_topic'], MONITOR_QOS)
        self.stats_pub = node.create_publisher(String, p['stats_topic'], STATS_QOS)
        node.create_subscription(Image, p['camera_topic'], self.on_image, CAMERA_QOS)
        node.create_subscription(Odometry, p['odom_topic'], self.on_odom, STATE_QOS)
        self.watchdog_timer = steady_timer(node, p['watchdog_period'], self.check_watchdog)
        self.path_timer = steady_timer(node, PATH_PERIOD, self.publish_path)
        # rviz: the circuit and the car (latched), the camera mount (static TF), the numbers.
        camera = getattr(getattr(controller, 'config', None), 'camera', None)
        self.rviz = RvizPublisher(node, p, self.circuit, camera)
        self.numbers_timer = steady_timer(node, NUMBERS_PERIOD, self.publish_numbers)
        # Set while two simulators publish our inputs: the car stays stopped meanwhile.
        self.second_simulator: Optional[str] = None
        self.sources_timer = steady_timer(node, SOURCES_PERIOD, self.check_sources)
        controller.reset()
        node.get_logger().info(f'driving from {p["camera_topic"]} to {p["cmd_vel_topic"]} '
                               f'with the {p["controller"]} controller (cv_bridge: '
                               f'{"yes" if self.decode.uses_cv_bridge else "no"}); lap '
                               f'statistics on {self.circuit.name} to {p["stats_topic"]}')

    def publish(self, twist: Twist) -> None:
        self.last_twist = twist
        self.cmd_pub.publish(twist_msg(twist))

    def on_image(self, msg: Image) -> None:
        self.watchdog.feed()
        if self.second_simulator:
            self.publish(ZERO_TWIST)   # frames of two cars: no command is right for both
            return
        stamp = cv.stamp_to_seconds(msg.header.stamp)
        # Time between frames for the PID's derivative; None (the configured camera period)
        # for the first frame or a stamp jump (simulation reset, dropped frames).
        dt = None
        if self._last_stamp is not None and 0.0 < stamp - self._last_stamp < 1.0:
            dt = stamp - self._last_stamp
        self._last_stamp = stamp
        try:
            bgr = self.decode(msg)
            twist = self.controller.command(bgr, dt=dt)
        except Exception as exc:  # noqa: BLE001 - a bad frame must stop the car, not the node
            self.node.get_logger().error(f'no command for this frame ({exc}): stopping',
                                         throttle_duration_sec=2.0)
            self.publish(ZERO_TWIST)
            return
        self.publish(twist)
        self.frames += 1
        # Drawn only for someone who looks (rviz, a recorder): ~2 ms a frame otherwise.
        if (self.p['publish_overlay'] and self.frames % self.p['overlay_every'] == 0
                and self.overlay_pub.get_subscription_count() > 0):
            overlay = draw_overlay(bgr, self.detector, self.controller.last_reading,
                                   (twist.linear_x, twist.angular_z),
                                   f'{self.p["controller"]}  frame {self.frames}')
            self.overlay_pub.publish(image_msg(overlay, msg.header.stamp,
                                               msg.header.frame_id))

    def on_odom(self, msg: Odometry) -> None:
        if self.second_simulator:
            return   # two cars' poses alternate: every one would end an episode
        stamp, pose, _ = cv.odometry_state(msg)
        for record in self.laps.update(stamp, pose):
            if record['event'] == 'episode':
                self.trace.clear()   # the car was teleported: a new path starts here
            self.publish_stats(record)
        self.trace.add(stamp, pose)

    def publish_stats(self, record: Dict[str, Any]) -> None:
        self.stats_pub.publish(String(data=json.dumps(record, default=float)))
        if record['event'] == 'lap':
            self.node.get_logger().info(
                f'lap {record["lap"]} ({record["direction"]}): {record["lap_time_s"]:.2f} s, '
                f'|dev| mean {record["mean_abs_deviation_m"]:.2f} m max '
                f'{record["max_abs_deviation_m"]:.2f} m, {record["mean_speed_mps"]:.1f} m/s')
        else:
            self.node.get_logger().info(
                f'episode {record["episode"]} ended ({record["end_reason"]}): '
                f'{100 * record["completion"]:.0f}% of a lap, {record["laps"]} lap(s), '
                f'{record["distance_m"]:.0f} m')

    def publish_numbers(self) -> None:
        self.rviz.numbers(drive_lines(**self.laps.live()))

    def publish_path(self) -> None:
        if len(self.trace):
            self.path_pub.publish(path_msg(self.trace.poses(), self.p['odom_frame'],
                                           self.node.get_clock().now().to_msg()))

    def check_sources(self) -> None:
        """Stop the car while a second simulator publishes camera, odometry or /clock
        (a leftover gzserver or sim_node on this ROS domain); drive again once it is gone."""
        problem = second_simulator_on(self.node, (self.p['camera_topic'], self.p['odom_topic']))
        if problem and not self.second_simulator:
            self.node.get_logger().error(f'{problem}. Stopping the car until one is left')
            self.publish(ZERO_TWIST)
        elif self.second_simulator and not problem:
            self.node.get_logger().info('one simulator again: driving')
        self.second_simulator = problem

    def check_watchdog(self) -> None:
        if self.watchdog.due():
            warn(self.node.get_logger(),
                 f'no camera frame for {self.watchdog.silence():.2f} s on '
                 f'{self.p["camera_topic"]}: stopping the car')
            self.publish(ZERO_TWIST)

    def stop(self) -> None:
        """Zero Twist and the episode's statistics on shutdown (while the context works)."""
        if not rclpy.ok(context=self.node.context):
            return
        self.publish(ZERO_TWIST)
        record = self.laps.finish('shutdown')
        if record is not None:
            try:
                self.publish_stats(record)
            except Exception as exc:  # noqa: BLE001 - best effort: the node is going anyway
                warn(self.node.get_logger(), f'no episode statistics at shutdown ({exc})')


def driving_config(p: Dict[str, Any]) -> Optional[Config]:
    """The config file given, else None: a policy brings the config it was trained with
    (load_controller checks a given one against it), the PID uses the defaults."""
    files = params.split_config_files(p['config_file'])
    return load_config(*files) if files else None


def _setup(node: Any):
    p = params.declare_node_parameters(node, 'drive_node')
    cfg = driving_config(p)
    # A given track is checked before the policy loads (TensorFlow takes seconds).
    circuit = drive_circuit(p['track'], cfg, TRACK_PARAM) if p['track'].strip() else None
    # Imported here: the driver package is optional for the rest of the ROS layer.
    from ..drive.controller import load_controller
    controller = load_controller(p['policy_dir'] or None, cfg, p['controller'])
    if circuit is None:
        # The config file's track, else the config the policy was trained with (or, for the
        # PID without a config file, the defaults'): the controller's config.
        circuit = drive_circuit('', cfg or controller.config, TRACK_PARAM)
    return DriveNode(node, p, controller, circuit=circuit).stop


def _main(args: Optional[list]) -> int:
    return spin_node('drive_node', _setup)  # 0 on Ctrl-C: a normal end of driving


def main(args: Optional[list] = None) -> int:
    # As quiet as `rl-f1 drive`: before a policy's SavedModel brings TensorFlow in
    # (load_controller imports tf-agents quietly, and ends with one line where TensorFlow has
    # no Keras 2 for it).
    quiet_tensorflow()
    return run_node(_main, args)


if __name__ == '__main__':
    sys.exit(main())
