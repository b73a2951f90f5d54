#!/usr/bin/env python3
"""Gazebo smoke test: camera, set_entity_state and a short PID drive against a live simulator.

A plain script, not a pytest module (pytest collects test_*.py only: keep this name). The
gazebo-smoke job of .github/workflows/ros-humble.yml runs it through run_smoke.sh, next to
gzserver with a world made by `rl-f1 worlds`; it works the same against sim_node. By hand,
with ROS 2 Humble and the workspace sourced:

    ros2 launch rl_f1_driver world.launch.py circuit:=simple gui:=false &   # Xvfb if headless
    python3 -m rl_f1_driver.ros.sim_node --ros-args -p track:=simple &      # or: no Gazebo
    python3 test/gazebo/smoke.py --circuit simple --timeout 240

Checks, in this order, every wait bounded in wall-clock time and all of them within --timeout:
  camera            images arrive on `camera_topic` (config/ros.yaml) at the configured size
  set_entity_state  the service places the car part of a lap away, and its odometry (or
                    /gazebo/model_states) shows it there
  pid_drive         GazeboLink puts the car on the line and the PID controller drives it for
                    --drive-seconds of simulation time (frame stamps); progress along the
                    circuit comes from TrackTracker on the ground-truth poses, and the car must
                    stay on the road
Progress messages go to stderr; stdout gets one line of JSON (the summary). Exit status 0 when
every check passed, 1 otherwise (2 for bad arguments).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
import time
from typing import Any, Callable, Dict, Optional

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')   # the PID controller's imports load TF

CHECKS = ('camera', 'set_entity_state', 'pid_drive')
HARD_EXIT_GRACE = 30.0   # s past --timeout before the process ends itself, whatever hangs
CAMERA_MIN_FRAMES = 5    # frames that must follow the first one: the camera keeps publishing
YAW_TOLERANCE = 0.2      # rad, pose check after set_entity_state


def log(message: str) -> None:
    print(f'smoke: {message}', file=sys.stderr, flush=True)


class CheckFailed(Exception):
    """A check did not pass; the message says what was expected and what happened."""


class Budget:
    """The wall-clock time left of --timeout."""

    def __init__(self, seconds: float):
        self.start = time.monotonic()
        self.end = self.start + seconds

    def left(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def cap(self, seconds: float) -> float:
        return min(seconds, self.left())

    def elapsed(self) -> float:
        return time.monotonic() - self.start


class Summary:
    """The JSON summary, printed exactly once (also by the hard-timeout watchdog)."""

    def __init__(self, args: argparse.Namespace):
        self.data: Dict[str, Any] = {
            'ok': False, 'circuit': args.circuit, 'timeout_s': args.timeout,
            'checks': {name: {'ok': False, 'ran': False} for name in CHECKS},
            'error': None, 'wall_s': None}
        self._lock = threading.Lock()
        self._printed = False
        self._start = time.monotonic()

    def check(self, name: str) -> Dict[str, Any]:
        return self.data['checks'][name]

    def fail(self, message: str) -> None:
        if self.data['error'] is None:
            self.data['error'] = message

    def emit(self) -> int:
        with self._lock:
            if self._printed:
                return 0 if self.data['ok'] else 1
            self._printed = True
            self.data['ok'] = (self.data['error'] is None
                               and all(c['ok'] for c in self.data['checks'].values()))
            self.data['wall_s'] = round(time.monotonic() - self._start, 2)
            print(json.dumps(_rounded(self.data), sort_keys=False), flush=True)
            return 0 if self.data['ok'] else 1


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    return value


def parse_args(argv) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog='smoke.py', description=__doc__.split('\n\n')[0],
        epilog='ROS arguments may follow --ros-args (e.g. remappings).')
    p.add_argument('--circuit', default='simple',
                   help='circuit of the running world (default: simple)')
    p.add_argument('--config', help='config YAML over config/defaults.yaml: the one the world '
                                    'was generated with (camera) and the PID gains')
    p.add_argument('--ros-config', help='ROS parameter file with the topic and service names '
                                        '(default: config/ros.yaml)')
    p.add_argument('--timeout', type=float, default=240.0,
                   help='wall-clock seconds for all checks together (default: 240)')
    p.add_argument('--startup-timeout', type=float, default=120.0,
                   help='wall-clock seconds to wait for the first camera frame (default: 120)')
    p.add_argument('--teleport', type=float, default=0.5,
                   help='lap fraction set_entity_state places the car at (default: 0.5)')
    p.add_argument('--start', type=float, default=0.0,
                   help='lap fraction the PID drive starts at (default: 0.0)')
    p.add_argument('--drive-seconds', type=float, default=20.0,
                   help='simulated seconds of PID driving (default: 20)')
    p.add_argument('--min-progress', type=float, default=30.0,
                   help='metres along the line the PID drive must cover (default: 30)')
    p.add_argument('--max-lateral', type=float, default=None,
                   help='metres the car may stray from the line (default: half the road width)')
    args = p.parse_args(argv)
    for name in ('timeout', 'startup_timeout', 'drive_seconds'):
        if not getattr(args, name) > 0:
            p.error(f'--{name.replace("_", "-")} must be > 0')
    for name in ('teleport', 'start'):
        if not 0.0 <= getattr(args, name) < 1.0:
            p.error(f'--{name} must be a lap fraction in [0, 1)')
    if args.min_progress < 0 or (args.max_lateral is not None and args.max_lateral <= 0):
        p.error('--min-progress must be >= 0 and --max-lateral > 0')
    return args


class Probe:
    """Our own subscriptions: camera image metadata, odometry, model states.

    Callbacks run on the executor thread; `wait` blocks the main thread on a predicate.
    """

    def __init__(self, node: Any, p: Dict[str, Any], car_model: str):
        from nav_msgs.msg import Odometry
        from sensor_msgs.msg import Image

        from rl_f1_driver.ros.node_util import CAMERA_QOS, STATE_QOS
        self.car_model = car_model
        self._cond = threading.Condition()
        self.images = 0
        self.first_image: Optional[Dict[str, Any]] = None
        self.first_image_wall: Optional[float] = None
        self.last_image_stamp: Optional[float] = None
        self.odoms = 0
        self.odom_pose = None
        self.model_states = 0
        self.model_pose = None
        node.create_subscription(Image, p['camera_topic'], self._on_image, CAMERA_QOS)
        node.create_subscription(Odometry, p['odom_topic'], self._on_odom, STATE_QOS)
        try:
            from gazebo_msgs.msg import ModelStates
        except ImportError:   # the Gazebo link needs gazebo_msgs anyway; say so there
            return
        node.create_subscription(ModelStates, p['model_states_topic'], self._on_model_states,
                                 STATE_QOS)

    def _on_image(self, msg: Any) -> None:
        from rl_f1_driver.ros.node_util import stamp_seconds
        with self._cond:
            self.images += 1
            self.last_image_stamp = stamp_seconds(msg)
            if self.first_image is None:
                self.first_image_wall = time.monotonic()
                self.first_image = {'width': int(msg.width), 'height': int(msg.height),
                                    'encoding': msg.encoding, 'frame_id': msg.header.frame_id,
                                    'stamp': self.last_image_stamp}
            self._cond.notify_all()

    def _on_odom(self, msg: Any) -> None:
        from rl_f1_driver.messages import conversions as cv
        _, pose, _ = cv.odometry_state(msg)
        with self._cond:
            self.odoms += 1
            self.odom_pose = pose
            self._cond.notify_all()

    def _on_model_states(self, msg: Any) -> None:
        from rl_f1_driver.messages import conversions as cv
        state = cv.model_state(msg, self.car_model)
        with self._cond:
            self.model_states += 1
            if state is not None:
                self.model_pose = state[0]
            self._cond.notify_all()

    def wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(predicate, timeout=max(0.0, timeout))


def _pose_list(pose: Any) -> Optional[list]:
    return None if pose is None else [pose.x, pose.y, pose.yaw]


def _distance(a: Any, b: Any) -> float:
    return math.hypot(a.x - b.x, a.y - b.y)


def _yaw_error(a: Any, b: Any) -> float:
    return abs(math.atan2(math.sin(a.yaw - b.yaw), math.cos(a.yaw - b.yaw)))


def check_camera(probe: Probe, p: Dict[str, Any], camera: Any, args: argparse.Namespace,
                 budget: Budget, out: Dict[str, Any]) -> None:
    topic = p['camera_topic']
    wait = budget.cap(args.startup_timeout)
    log(f'camera: waiting up to {wait:.0f} s for an image on {topic}')
    if not probe.wait(lambda: probe.first_image is not None, wait):
        raise CheckFailed(f'no sensor_msgs/Image on {topic} within {wait:.0f} s. Is gzserver '
                          'running a world made by `rl-f1 worlds` (ros2 launch rl_f1_driver '
                          f'world.launch.py gui:=false), under Xvfb when headless? Check with '
                          f'`ros2 topic hz {topic}`')
    first = dict(probe.first_image)
    out.update(first)
    out['first_frame_after_s'] = probe.first_image_wall - budget.start
    wait = budget.cap(max(10.0, 10 * CAMERA_MIN_FRAMES * camera.control_period))
    if not probe.wait(lambda: probe.images > CAMERA_MIN_FRAMES, wait):
        raise CheckFailed(f'the camera on {topic} stopped: {probe.images} image(s), fewer than '
                          f'{CAMERA_MIN_FRAMES} more within {wait:.0f} s after the first')
    # Images per wall second since the first (the simulation may run slower than real time).
    out['wall_rate_hz'] = (probe.images - 1) / max(1e-6, time.monotonic()
                                                   - probe.first_image_wall)
    if (first['width'], first['height']) != (camera.width, camera.height):
        raise CheckFailed(f'images on {topic} are {first["width"]}x{first["height"]} but the '
                          f'config says {camera.width}x{camera.height}: the world was made '
                          'with another camera config (regenerate it: rl-f1 worlds)')
    log(f'camera: OK, {first["width"]}x{first["height"]} {first["encoding"]} images on {topic} '
        f'(first after {out["first_frame_after_s"]:.1f} s, {out["wall_rate_hz"]:.1f} per wall '
        'second)')


def check_set_entity_state(node: Any, probe: Probe, p: Dict[str, Any], circuit: Any,
                           args: argparse.Namespace, budget: Budget,
                           out: Dict[str, Any]) -> None:
    from gazebo_msgs.srv import SetEntityState

    from rl_f1_driver.scene import CAR_Z
    from rl_f1_driver.messages import conversions as cv
    from rl_f1_driver.ros.frame_gate import LinkTimeout, wait_future
    from rl_f1_driver.sim.types import Pose2D

    name = p['set_entity_state_service']
    tol = p['reset_pose_tolerance']
    target = Pose2D(*circuit.pose_at(args.teleport))
    out.update(service=name, target=_pose_list(target), tolerance_m=tol)
    client = node.create_client(SetEntityState, name)
    wait = budget.cap(30.0)
    log(f'set_entity_state: waiting up to {wait:.0f} s for {name}')
    if not client.wait_for_service(timeout_sec=wait):
        raise CheckFailed(f'service {name} not available within {wait:.0f} s: does the world '
                          'load libgazebo_ros_state.so (worlds made by `rl-f1 worlds` do)? '
                          'Check with `ros2 service list`')
    probe.wait(lambda: probe.odom_pose is not None, budget.cap(5.0))
    before = probe.odom_pose or probe.model_pose
    out['before'] = _pose_list(before)
    if before is not None and _distance(before, target) < 2 * tol:
        raise CheckFailed(f'the car is already near the target {out["target"]}: choose '
                          'another --teleport fraction')
    req = SetEntityState.Request()
    req.state.name = p['car_model']
    cv.fill_pose_msg(req.state.pose, target, CAR_Z)
    req.state.reference_frame = 'world'
    try:
        res = wait_future(client.call_async(req), budget.cap(p['service_timeout']), name)
    except LinkTimeout as exc:
        raise CheckFailed(str(exc)) from None
    if not res.success:
        raise CheckFailed(f'{name} refused to place model {p["car_model"]!r}: is that the car '
                          'model name in the world (car_model in config/ros.yaml)?')
    out['response_after_s'] = budget.elapsed()

    def placed(pose: Any) -> bool:
        return (pose is not None and _distance(pose, target) <= tol
                and _yaw_error(pose, target) <= YAW_TOLERANCE)

    wait = budget.cap(10.0)
    probe.wait(lambda: placed(probe.odom_pose) or placed(probe.model_pose), wait)
    sources = [s for s, pose in (('odom', probe.odom_pose), ('model_states', probe.model_pose))
               if placed(pose)]
    out.update(odom=_pose_list(probe.odom_pose), model_states=_pose_list(probe.model_pose),
               seen_by=sources)
    if not sources:
        seen = (f'odometry on {p["odom_topic"]} last showed {out["odom"]}'
                if probe.odom_pose is not None else
                f'no odometry arrived on {p["odom_topic"]}')
        if probe.model_pose is not None:
            seen += f', {p["model_states_topic"]} {out["model_states"]}'
        raise CheckFailed(f'{name} answered success, but within {wait:.0f} s the car did not '
                          f'show up within {tol:g} m / {YAW_TOLERANCE:g} rad of {out["target"]}:'
                          f' {seen}')
    log(f'set_entity_state: OK, the car moved {_distance(before, target) if before else 0:.1f} '
        f'm to lap fraction {args.teleport:g} (seen by {", ".join(sources)})')


def check_pid_drive(link: Any, cfg: Any, circuit: Any, args: argparse.Namespace,
                    budget: Budget, out: Dict[str, Any]) -> None:
    from rl_f1_driver.drive.controller import PidController
    from rl_f1_driver.ros.frame_gate import LinkError
    from rl_f1_driver.sim.types import Pose2D
    from rl_f1_driver.track import TrackTracker

    max_lateral = args.max_lateral if args.max_lateral is not None else circuit.road_width / 2
    out.update(start_fraction=args.start, drive_seconds=args.drive_seconds,
               min_progress_m=args.min_progress, max_lateral_allowed_m=max_lateral)
    controller = PidController(cfg)
    tracker = TrackTracker(circuit)
    start = Pose2D(*circuit.pose_at(args.start))
    log(f'pid_drive: placing the car at lap fraction {args.start:g}, then '
        f'{args.drive_seconds:g} s of simulated PID driving')
    wall0 = time.monotonic()
    try:
        frame = link.reset(start)
    except LinkError as exc:
        raise CheckFailed(f'reset through the Gazebo link failed: {exc}') from None
    pose = frame.pose or start
    tracker.reset(pose.x, pose.y, pose.yaw)
    controller.reset()
    t0 = last = frame.stamp
    frames = lost = no_pose = 0
    max_lat = 0.0
    speeds = []
    state = None
    wall_drive = time.monotonic()

    def record() -> None:
        sim = last - t0
        wall = time.monotonic() - wall_drive
        out.update(frames=frames, sim_s=sim, wall_s=wall, real_time_factor=sim / wall
                   if wall > 0 else None, progress_m=tracker.progress,
                   laps=tracker.laps, max_lateral_m=max_lat, lost_line_frames=lost,
                   frames_without_pose=no_pose,
                   mean_speed_mps=(sum(speeds) / len(speeds)) if speeds else None,
                   final_pose=_pose_list(pose), reset_wall_s=wall_drive - wall0)

    try:
        while last - t0 < args.drive_seconds:
            if budget.left() <= 0:
                record()
                raise CheckFailed(f'out of time: only {last - t0:.1f} of {args.drive_seconds:g} '
                                  f's simulated within --timeout (real-time factor '
                                  f'{out["real_time_factor"] or 0:.2f})')
            dt = frame.stamp - last if 0.0 < frame.stamp - last < 1.0 else None
            cmd = controller.command(frame.image, frame.row_fractions, dt=dt)
            reading = controller.last_reading
            lost += int(bool(reading is not None and reading.lost))
            last = frame.stamp
            frame = link.step(cmd)
            frames += 1
            if frame.pose is None:
                no_pose += 1
                continue
            pose = frame.pose
            state = tracker.update(pose.x, pose.y, pose.yaw)
            max_lat = max(max_lat, abs(state.lateral))
            if frame.speed is not None:
                speeds.append(frame.speed)
            if abs(state.lateral) > max_lateral:
                last = frame.stamp
                record()
                raise CheckFailed(f'the car strayed {state.lateral:+.2f} m from the line (allowed '
                                  f'{max_lateral:g} m) after {last - t0:.1f} s and '
                                  f'{tracker.progress:.1f} m: the PID cannot follow the line in '
                                  'this simulator (camera image, colours, perception rows?)')
        last = frame.stamp
    except LinkError as exc:
        record()
        raise CheckFailed(f'driving through the Gazebo link failed after {frames} step(s): '
                          f'{exc}') from None
    finally:
        link.close()
    record()
    if frames and no_pose == frames:
        raise CheckFailed('no frame came with a ground-truth pose: odometry on the odom topic '
                          'missing or stamped apart from the camera images')
    if tracker.progress < args.min_progress:
        raise CheckFailed(f'the PID drove only {tracker.progress:.1f} m along the line in '
                          f'{out["sim_s"]:.1f} s (at least {args.min_progress:g} m expected; '
                          f'line lost in {lost} of {frames} frames)')
    log(f'pid_drive: OK, {tracker.progress:.1f} m along the line in {out["sim_s"]:.1f} s '
        f'simulated ({out["wall_s"]:.1f} s wall, {frames} frames), at most {max_lat:.2f} m off '
        'the line')


def run(args: argparse.Namespace, ros_argv: list, summary: Summary, budget: Budget) -> None:
    try:
        import rclpy
    except ImportError:
        raise CheckFailed('rclpy is not importable: source ROS 2 Humble first '
                          '(source /opt/ros/humble/setup.bash)') from None
    from rclpy.signals import SignalHandlerOptions

    from rl_f1_driver.config import load_config
    from rl_f1_driver.drive import controller as _controller  # noqa: F401 - TF, before timing
    from rl_f1_driver.config import ros_params as params
    from rl_f1_driver.ros.gazebo_link import GazeboLink
    from rl_f1_driver.ros.node_util import BackgroundSpinner
    from rl_f1_driver.track import load_circuit

    cfg = load_config(*([args.config] if args.config else []))
    circuit = load_circuit(args.circuit)
    p = params.node_defaults('train_node', args.ros_config)
    summary.data['topics'] = {k: p[k] for k in ('camera_topic', 'odom_topic', 'cmd_vel_topic',
                                                'set_entity_state_service')}
    # Signals are ours (main() turns SIGINT and SIGTERM into KeyboardInterrupt): rclpy's own
    # handler would shut the context down at once and leave the waits to time out.
    rclpy.init(args=ros_argv, signal_handler_options=SignalHandlerOptions.NO)
    node = spinner = link = None
    try:
        node = rclpy.create_node('gazebo_smoke')
        probe = Probe(node, p, p['car_model'])
        p = dict(p, startup_timeout=max(0.1, budget.cap(args.startup_timeout)))
        link = GazeboLink(node, params.LinkSettings.from_params(p), cfg.camera, cfg.car)
        spinner = BackgroundSpinner(node).start()
        for name, check in (
                ('camera', lambda out: check_camera(probe, p, cfg.camera, args, budget, out)),
                ('set_entity_state', lambda out: check_set_entity_state(
                    node, probe, p, circuit, args, budget, out)),
                ('pid_drive', lambda out: check_pid_drive(link, cfg, circuit, args, budget,
                                                          out))):
            out = summary.check(name)
            if name == 'pid_drive' and not summary.check('camera')['ok']:
                out['skipped'] = 'the camera check failed'
                log('pid_drive: skipped (the camera check failed)')
                continue
            out['ran'] = True
            try:
                check(out)
                out['ok'] = True
            except CheckFailed as exc:
                out['error'] = str(exc)
                summary.fail(f'{name}: {exc}')
                log(f'{name}: FAILED: {exc}')
    finally:
        if link is not None:
            link.close()
        if spinner is not None:
            spinner.stop()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


def main(argv=None) -> int:
    argv = sys.argv if argv is None else argv
    try:
        from rclpy.utilities import remove_ros_args
        own = remove_ros_args(args=argv)[1:]
    except ImportError:
        own = argv[1:]
    args = parse_args(own)
    budget = Budget(args.timeout)   # from here: start-up (imports of TF) counts too
    summary = Summary(args)

    def hard_timeout() -> None:
        message = (f'hard timeout: still running {HARD_EXIT_GRACE:g} s after --timeout '
                   f'{args.timeout:g} s')
        summary.fail(message)
        log(message)
        summary.emit()
        os._exit(1)

    def interrupt(signum, _frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    # Also where the parent started us with SIGINT ignored (a background job of a script).
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    watchdog = threading.Timer(args.timeout + HARD_EXIT_GRACE, hard_timeout)
    watchdog.daemon = True
    watchdog.start()
    try:
        run(args, argv, summary, budget)
    except CheckFailed as exc:
        summary.fail(str(exc))
    except KeyboardInterrupt as exc:
        summary.fail(f'interrupted ({exc or "SIGINT"})')
    except Exception as exc:  # noqa: BLE001 - any crash is a failed smoke test, with its cause
        summary.fail(f'{type(exc).__name__}: {exc}')
        log(f'crashed: {type(exc).__name__}: {exc}')
    finally:
        watchdog.cancel()
    status = summary.emit()
    log('PASSED' if status == 0 else f'FAILED: {summary.data["error"]}')
    return status


if __name__ == '__main__':
    sys.exit(main())
