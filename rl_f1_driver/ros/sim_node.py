"""sim_node: the embedded simulator behind the same ROS interface as the Gazebo world.

Publishes the camera image, odometry (world pose), the odom->base TF and /clock; subscribes
cmd_vel; offers set_entity_state, reset_world and pause/unpause physics with Gazebo's service
types. So the Gazebo link, the drive node and rviz work unchanged without Gazebo.

Two ways to let time pass (parameter `stepping`):
- realtime: a wall-clock timer steps the car at the camera rate (times `real_time_factor`),
  like Gazebo; for watching and for the drive node.
- lockstep: each cmd_vel message advances exactly one control period and publishes its frame,
  so training runs as fast as the trainer asks instead of at 20 steps/s. Placing the car
  (set_entity_state, reset_world) moves it at once; the next command shows the new scene. When
  no command came for `idle_republish` wall seconds the latest frame is sent again: subscribers
  that joined late get their first frame, and a frame lost on the way never stalls the loop.
  Pause/unpause are accepted and change nothing: between commands time stands still anyway.
"""
from __future__ import annotations

import sys
import time
from typing import Any, Callable, Dict, Optional

from gazebo_msgs.srv import SetEntityState
from geometry_msgs.msg import TransformStamped
from geometry_msgs.msg import Twist as TwistMsg
from nav_msgs.msg import Odometry
import rclpy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image
from std_srvs.srv import Empty

from ..config import Config, load_config
from ..errors import UserError
from ..interrupts import InterruptCounter
from ..scene import CAR_Z
from ..sim.embedded import EmbeddedSimulator
from ..sim.types import ZERO_TWIST, Frame, Pose2D
from ..track import load_circuit
from ..messages import conversions as cv
from ..config import ros_params as params
from .frame_gate import MonotonicStamps
from .node_util import (CLOCK_QOS, COMMAND_QOS, MONITOR_QOS, image_msg, run_node, steady_timer,
                        time_msg)
from .tf_publish import TransformPublisher


class SimNode:
    """Steps the embedded simulator on a timer and speaks Gazebo's topics and services."""

    def __init__(self, node: Any, p: Dict[str, Any], cfg: Config):
        self.node = node
        self.p = p
        self.circuit = load_circuit(p['track'] or cfg.track)
        self.sim = EmbeddedSimulator(self.circuit, cfg.camera, cfg.car, cfg.randomization,
                                     seed=cfg.seed)
        self.start_pose = Pose2D(*self.circuit.pose_at(p['start']))
        self.frame: Frame = self.sim.reset(self.start_pose)
        self.cmd = ZERO_TWIST
        self.paused = False
        self.steps = 0
        self._clock = MonotonicStamps()   # published stamps never go back
        self.lockstep = p['stepping'] == 'lockstep'
        self._idle = True      # lockstep: no command since the last idle check

        self.image_pub = node.create_publisher(Image, p['camera_topic'], MONITOR_QOS)
        self.odom_pub = node.create_publisher(Odometry, p['odom_topic'], 10)
        self.clock_pub = (node.create_publisher(Clock, '/clock', CLOCK_QOS) if p['publish_clock']
                          else None)
        self.tf = TransformPublisher(node)
        node.create_subscription(TwistMsg, p['cmd_vel_topic'], self._on_cmd, COMMAND_QOS)
        node.create_service(SetEntityState, p['set_entity_state_service'], self._on_set_state)
        node.create_service(Empty, p['reset_world_service'], self._on_reset_world)
        node.create_service(Empty, p['pause_service'], self._on_pause)
        node.create_service(Empty, p['unpause_service'], self._on_unpause)
        if self.lockstep:
            self.timer = steady_timer(node, p['idle_republish'], self._republish_if_idle)
            timing = (f'lock-step: one {self.sim.control_period:g} s step per command on '
                      f'{p["cmd_vel_topic"]}')
        else:
            period = self.sim.control_period / p['real_time_factor']
            self.timer = steady_timer(node, period, self.tick)
            timing = (f'{cfg.camera.rate_hz:g} Hz simulated, real-time factor '
                      f'{p["real_time_factor"]:g}')
        node.get_logger().info(
            f'embedded simulator on {self.circuit.name} ({self.circuit.length:.0f} m): '
            f'{cfg.camera.width}x{cfg.camera.height} images, {timing}')

    def _on_cmd(self, msg: TwistMsg) -> None:
        self.cmd = cv.twist_from_msg(msg)
        if self.lockstep:
            self._idle = False
            self._advance(self.cmd)

    def _on_set_state(self, request, response):
        state = request.state
        if state.name != self.p['car_model']:
            self.node.get_logger().error(
                f'set_entity_state: no entity {state.name!r} (the car is '
                f'{self.p["car_model"]!r})')
            response.success = False
            return response
        self._place(cv.pose2d_from_pose(state.pose))
        response.success = True
        return response

    def _on_reset_world(self, request, response):
        self._place(self.start_pose)
        return response

    def _on_pause(self, request, response):
        self.paused = True
        return response

    def _on_unpause(self, request, response):
        self.paused = False
        return response

    def _place(self, pose: Pose2D) -> None:
        # Like Gazebo: the pose changes now, the clock does not; the next tick shows it.
        self.frame = self.sim.reset(pose)

    def tick(self) -> None:
        if self.paused:
            return
        self._advance(self.cmd)

    def _advance(self, cmd) -> None:
        self.frame = self.sim.step(cmd)
        self.steps += 1
        self.publish(self.frame)

    def drain(self, stop_now: Callable[[], bool]) -> None:
        """After Ctrl-C: go on serving while a node still commands the car, at most
        `drain_timeout` seconds. Ctrl-C reaches every node of a launch at once, and the
        trainer needs the simulator for its last steps and evaluation before it exports;
        a second Ctrl-C (or SIGTERM) ends this at once."""
        node, topic = self.node, self.p['cmd_vel_topic']
        limit = self.p['drain_timeout']
        if limit <= 0 or node.count_publishers(topic) == 0:
            return
        node.get_logger().info(f'stopping once nothing publishes on {topic} any more (at most '
                               f'{limit:g} s; Ctrl-C again to stop now)')
        deadline = time.monotonic() + limit
        while (time.monotonic() < deadline and node.count_publishers(topic) > 0
               and not stop_now() and rclpy.ok()):
            rclpy.spin_once(node, timeout_sec=0.1)

    def _republish_if_idle(self) -> None:
        if self._idle:
            self.publish(self.frame)
        self._idle = True

    def publish(self, frame: Frame) -> None:
        # Simulation time never runs backwards, whatever the simulator does on a reset (as
        # Gazebo's set_entity_state): rviz resets itself, and TF drops its buffer, each time.
        stamp = time_msg(self._clock(frame.stamp))
        p = self.p
        if self.clock_pub is not None:
            self.clock_pub.publish(Clock(clock=stamp))
        odom = Odometry()
        odom.header.stamp = stamp
        odom.header.frame_id = p['odom_frame']
        odom.child_frame_id = p['base_frame']
        cv.fill_pose_msg(odom.pose.pose, frame.pose, CAR_Z)
        odom.twist.twist.linear.x = float(frame.speed or 0.0)
        odom.twist.twist.angular.z = float(self.sim.car.w)
        self.odom_pub.publish(odom)
        tf = TransformStamped()
        tf.header = odom.header
        tf.child_frame_id = p['base_frame']
        pos = odom.pose.pose.position
        tf.transform.translation.x, tf.transform.translation.y = pos.x, pos.y
        tf.transform.translation.z = pos.z
        tf.transform.rotation = odom.pose.pose.orientation
        self.tf.send(tf)
        # The image last: a consumer that takes a frame's pose from odometry as soon as the
        # frame arrives (the Gazebo link) then finds the pose of the same instant.
        self.image_pub.publish(image_msg(frame.image, stamp, p['camera_frame']))


def _setup(node: Any) -> 'SimNode':
    p = params.declare_node_parameters(node, 'sim_node')
    cfg = load_config(*params.split_config_files(p['config_file']))
    return SimNode(node, p, cfg)


def _main(args: Optional[list]) -> int:
    node = rclpy.create_node('sim_node')
    try:
        sim = _setup(node)
    except UserError as exc:
        node.get_logger().error(str(exc))
        node.destroy_node()
        return 2
    # Signals set a flag checked between callbacks: a command is never dropped half-stepped,
    # which would leave a trainer waiting for its frame while we drain.
    signals = InterruptCounter().install()
    try:
        while rclpy.ok() and signals.count == 0:
            rclpy.spin_once(node, timeout_sec=0.1)
        sim.drain(lambda: signals.count > 1)
    finally:
        node.destroy_node()
    return 0


def main(args: Optional[list] = None) -> int:
    return run_node(_main, args)


if __name__ == '__main__':
    sys.exit(main())
