"""The `Simulator` interface over ROS 2: a Gazebo world made by `rl-f1 worlds`, or sim_node.

camera topic -> FrameGate -> Frame (ground truth from odometry or model states, by stamp);
Twist -> cmd_vel; reset -> set_entity_state (fallback /reset_world).

Stepping is synchronous on simulation time: after a command is published, the next
observation is the first camera frame stamped later than the newest simulation time known
when it was sent (optionally with physics paused between steps, so no simulated time passes
while the agent thinks). Every wait is bounded by a wall-clock timeout and ends in a
`LinkTimeout` that says what was missing; a reset that gets no fresh frame (the Gazebo camera
can stop after a teleport) is retried before giving up.

The node passed in must be spun on another thread (node_util.BackgroundSpinner): the methods
here block the calling thread while the executor delivers frames and service responses.
"""
from __future__ import annotations

import math
import threading
from typing import Any, Callable, Optional, Tuple

import numpy as np
from geometry_msgs.msg import Twist as TwistMsg
from nav_msgs.msg import Odometry
from sensor_msgs.msg import Image
from std_srvs.srv import Empty

from ..config import CameraConfig, CarConfig
from ..interrupts import stop_requested
from ..scene import CAR_Z
from ..sim.interface import CameraView, Simulator
from ..sim.types import ZERO_TWIST, Frame, Pose2D, Twist
from ..messages import conversions as cv
from .frame_gate import FrameGate, LinkError, LinkTimeout, StampedBuffer, wait_future
from .one_simulator import second_simulator_on
from .node_util import (CAMERA_QOS, COMMAND_QOS, STATE_QOS, ImageDecoder, stamp_seconds,
                        twist_msg, warn)
from ..config.ros_params import LinkSettings

HINT = ('Is gzserver running a world made by `rl-f1 worlds` (ros2 launch rl_f1_driver '
        'train.launch.py), or sim_node with simulator:=embedded? Check with '
        '`ros2 topic hz {topic}` and `ros2 service list`.')


class GazeboLink(Simulator):
    def __init__(self, node: Any, settings: LinkSettings, camera: CameraConfig, car: CarConfig,
                 use_cv_bridge: bool = True,
                 should_stop: Callable[[], bool] = stop_requested):
        self.node = node
        # Ctrl-C before the simulator ever answered: nothing is left to wait for.
        self._should_stop = should_stop
        self.s = settings
        self.camera = camera
        self.car = car
        self._log = node.get_logger()
        self._decode = ImageDecoder(use_cv_bridge)
        self._frames: FrameGate = FrameGate(f'camera image on {settings.camera_topic}')
        self._truth: StampedBuffer = StampedBuffer(maxlen=400)
        self._latest_state: Optional[Tuple[Pose2D, float]] = None
        self._lock = threading.Lock()
        self._size_checked = False
        self._reset_mode: Optional[str] = None
        self._started = False
        self._last_frame: Optional[Frame] = None
        self.last_command: Twist = ZERO_TWIST
        self.resets = 0
        self.reset_retries_used = 0

        self._cmd_pub = node.create_publisher(TwistMsg, settings.cmd_vel_topic, COMMAND_QOS)
        node.create_subscription(Image, settings.camera_topic, self._on_image, CAMERA_QOS)
        if settings.ground_truth == 'odom':
            node.create_subscription(Odometry, settings.odom_topic, self._on_odom, STATE_QOS)
        else:
            from gazebo_msgs.msg import ModelStates
            node.create_subscription(ModelStates, settings.model_states_topic,
                                     self._on_model_states, STATE_QOS)
        from gazebo_msgs.srv import SetEntityState
        self._set_state_type = SetEntityState
        self._set_state = node.create_client(SetEntityState, settings.set_entity_state_service)
        self._reset_world = node.create_client(Empty, settings.reset_world_service)
        self._pause = node.create_client(Empty, settings.pause_service)
        self._unpause = node.create_client(Empty, settings.unpause_service)

    # --- callbacks (executor thread) -------------------------------------------------------

    def _on_image(self, msg: Image) -> None:
        try:
            bgr = self._decode(msg)
        except cv.ImageConversionError as exc:
            warn(self._log, f'dropping a camera image: {exc}')
            return
        self._frames.offer(bgr, stamp_seconds(msg))

    def _on_odom(self, msg: Odometry) -> None:
        stamp, pose, speed = cv.odometry_state(msg)
        self._truth.add(stamp, (pose, speed))

    def _on_model_states(self, msg: Any) -> None:
        state = cv.model_state(msg, self.s.car_model)
        if state is not None:
            with self._lock:
                self._latest_state = state

    # --- Simulator -------------------------------------------------------------------------

    @property
    def control_period(self) -> float:
        return self.camera.control_period

    def request_view(self, view: Optional[CameraView]) -> None:
        """Gazebo sends whole images; perception reads the rows it needs from them."""

    def render_full(self) -> Optional[Frame]:
        return self._last_frame

    def reset(self, pose: Pose2D) -> Frame:
        return self._keeping_failure(self._reset, pose)

    def step(self, cmd: Twist) -> Frame:
        return self._keeping_failure(self._step, cmd)

    def _keeping_failure(self, call: Callable[[Any], Frame], arg: Any) -> Frame:
        """The Simulator contract: a lost link raises, and `failure` keeps why."""
        try:
            return call(arg)
        except LinkError as exc:
            self.failure = exc
            raise

    def _reset(self, pose: Pose2D) -> Frame:
        self._publish(ZERO_TWIST)
        self._start()
        last: Optional[LinkTimeout] = None
        for attempt in range(1 + self.s.reset_retries):
            try:
                frame = self._reset_once(pose)
                self.resets += 1
                return frame
            except LinkTimeout as exc:
                last = exc
                self.reset_retries_used += 1
                warn(self._log, f'reset attempt {attempt + 1} of {1 + self.s.reset_retries} '
                                f'failed: {exc}')
            finally:
                self._pause_physics()
        raise LinkTimeout(f'could not reset the car to ({pose.x:.2f}, {pose.y:.2f}) after '
                          f'{1 + self.s.reset_retries} attempt(s): {last}. '
                          + HINT.format(topic=self.s.camera_topic))

    def _step(self, cmd: Twist) -> Frame:
        cmd = cv.clip_twist(cmd, self.car.max_linear_speed, self.car.max_angular_speed)
        after = self._sim_now()
        self._publish(cmd)
        self._unpause_physics()
        try:
            bgr, stamp = self._frames.wait_after(after, self.s.frame_timeout)
        except LinkTimeout as exc:
            raise LinkTimeout(f'{exc}. ' + HINT.format(topic=self.s.camera_topic)) from None
        finally:
            self._pause_physics()
        return self._frame(bgr, stamp)

    def close(self) -> None:
        """Stop the car (the drive plugin keeps the last command forever)."""
        try:
            self._publish(ZERO_TWIST)
        except Exception:  # noqa: BLE001 - the context may already be shut down
            pass

    # --- internals -------------------------------------------------------------------------

    def _publish(self, cmd: Twist) -> None:
        self.last_command = cmd
        self._cmd_pub.publish(twist_msg(cmd))

    def _sim_now(self) -> Optional[float]:
        """Newest simulation time seen on any stamped topic."""
        times = [t for t in (self._frames.latest_stamp,
                             (self._truth.latest() or (None,))[0]) if t is not None]
        return max(times) if times else None

    def _start(self) -> None:
        """First use: wait (longer, Gazebo starts slowly) for a camera frame and the services."""
        if self._started:
            return
        self._unpause_physics(wait=False)
        try:
            self._frames.wait_after(None, self.s.startup_timeout,
                                    should_stop=self._should_stop)
        except LinkTimeout as exc:
            raise LinkTimeout(f'{exc}. ' + HINT.format(topic=self.s.camera_topic)) from None
        # A leftover simulator on the same domain would feed frames and poses of another car:
        # training on them teaches nothing and every pose looks like a teleport.
        problem = second_simulator_on(self.node, (self.s.camera_topic, self.s.odom_topic))
        if problem:
            raise LinkError(problem)
        t = self.s.startup_timeout
        if self._set_state.wait_for_service(timeout_sec=t):
            self._reset_mode = 'set_entity_state'
        elif self._reset_world.wait_for_service(timeout_sec=min(t, self.s.service_timeout)):
            self._reset_mode = 'reset_world'
            warn(self._log, f'{self.s.set_entity_state_service} is not available: falling '
                            f'back to {self.s.reset_world_service}, every episode starts at '
                            'the lap start of the world (load libgazebo_ros_state.so for '
                            'random starts)')
        else:
            raise LinkTimeout(f'neither {self.s.set_entity_state_service} nor '
                              f'{self.s.reset_world_service} became available within {t:g} s. '
                              + HINT.format(topic=self.s.camera_topic))
        if self.s.pause_physics:
            for client, name in ((self._pause, self.s.pause_service),
                                 (self._unpause, self.s.unpause_service)):
                if not client.wait_for_service(timeout_sec=self.s.service_timeout):
                    raise LinkTimeout(f'pause_physics is set but {name} is not available '
                                      f'within {self.s.service_timeout:g} s')
        self._started = True

    def _reset_once(self, pose: Pose2D) -> Frame:
        self._unpause_physics()   # frames only come while physics runs
        target = self._place(pose)
        # Frames stamped up to the newest time seen now may predate the teleport; the pose
        # check below rejects the ones that do when ground truth says so.
        since = self._sim_now()
        # A stop command after the teleport: the car stands, and a lock-step simulator
        # (sim_node stepping:=lockstep), whose time moves only on commands, shows the new pose.
        self._publish(ZERO_TWIST)
        tol = self.s.reset_pose_tolerance

        def at_target(_bgr: np.ndarray, stamp: float) -> bool:
            if target is None:
                return True
            truth = self._truth_at(stamp)
            if truth is None:
                return True   # no ground truth to check against: trust the stamp
            p = truth[0]
            return math.hypot(p.x - target.x, p.y - target.y) <= tol

        bgr, stamp = self._frames.wait_after(since, self.s.frame_timeout, accept=at_target)
        # The renderer may still show the old scene in the first frame after a teleport.
        for _ in range(self.s.reset_skip_frames):
            self._publish(ZERO_TWIST)   # as above
            bgr, stamp = self._frames.wait_after(stamp, self.s.frame_timeout)
        return self._frame(bgr, stamp)

    def _place(self, pose: Pose2D) -> Optional[Pose2D]:
        name = self.s.set_entity_state_service
        if self._reset_mode == 'set_entity_state':
            req = self._set_state_type.Request()
            req.state.name = self.s.car_model
            cv.fill_pose_msg(req.state.pose, pose, CAR_Z)
            req.state.reference_frame = 'world'   # twist left at zero: the car stands still
            res = wait_future(self._set_state.call_async(req), self.s.service_timeout, name)
            if not res.success:
                raise LinkError(f'{name} refused to place model {self.s.car_model!r}: is that '
                                'the car model name in the world (parameter car_model)?')
            return pose
        wait_future(self._reset_world.call_async(Empty.Request()), self.s.service_timeout,
                    self.s.reset_world_service)
        return None

    def _pause_physics(self) -> None:
        if self.s.pause_physics and self._started:
            wait_future(self._pause.call_async(Empty.Request()), self.s.service_timeout,
                        self.s.pause_service)

    def _unpause_physics(self, wait: bool = True) -> None:
        if not self.s.pause_physics:
            return
        if not wait:
            # Start-up: a world launched paused must run to produce the first frame.
            if self._unpause.service_is_ready():
                self._unpause.call_async(Empty.Request())
            return
        if self._started:
            wait_future(self._unpause.call_async(Empty.Request()), self.s.service_timeout,
                        self.s.unpause_service)

    def _truth_at(self, stamp: float) -> Optional[Tuple[Pose2D, float]]:
        if self.s.ground_truth == 'odom':
            return self._truth.nearest(stamp, self.s.ground_truth_tolerance)
        with self._lock:
            return self._latest_state

    def _truth_for_frame(self, stamp: float) -> Optional[Tuple[Pose2D, float]]:
        """The ground truth of a frame: camera and odometry come from two Gazebo plugins at
        their own rates, and under load a frame can arrive before its odometry, so wait for
        it (bounded). None only for model_states before the first message."""
        if self.s.ground_truth != 'odom':
            return self._truth_at(stamp)
        tol = self.s.ground_truth_tolerance
        truth = self._truth.wait_nearest(stamp, tol, timeout=self.s.frame_timeout)
        if truth is None:
            newest = self._truth.latest()
            seen = ('no odometry was ever received' if newest is None
                    else f'the newest odometry is stamped {newest[0]:.3f} s')
            raise LinkTimeout(
                f'no odometry on {self.s.odom_topic} within {tol:g} s of the camera frame on '
                f'{self.s.camera_topic} stamped {stamp:.3f} s (waited up to '
                f'{self.s.frame_timeout:g} s; {seen}): a frame needs its ground truth. Is the '
                f'car\'s odometry plugin publishing (`ros2 topic hz {self.s.odom_topic}`)? '
                'A larger ground_truth_tolerance accepts odometry at a lower rate.')
        return truth

    def _frame(self, bgr: np.ndarray, stamp: float) -> Frame:
        if not self._size_checked:
            self._size_checked = True
            h, w = bgr.shape[:2]
            if (w, h) != (self.camera.width, self.camera.height):
                warn(self._log, f'camera images are {w}x{h} but the config says '
                                f'{self.camera.width}x{self.camera.height}: regenerate the '
                                'worlds with the same config (`rl-f1 worlds --config ...`)')
        truth = self._truth_for_frame(stamp)
        pose, speed = truth if truth is not None else (None, None)
        frame = Frame(image=bgr, stamp=stamp, pose=pose, speed=speed)
        self._last_frame = frame
        return frame
