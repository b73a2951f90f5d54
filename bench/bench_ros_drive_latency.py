#!/usr/bin/env python3
"""drive_node latency over DDS: camera Image published -> its Twist received, p50 / p99.

    make ros-wheels    # ROS 2 from PyPI into .venv; or source any ROS 2 (Humble: apt)
    .venv/bin/python bench/bench_ros_drive_latency.py [--frames 500] [--policy runs/R/policy]

drive_node runs as a separate process (as `ros2 launch` starts it); this process publishes
640x480 bgr8 frames rendered by the embedded simulator (the red line is in view, so
perception does its real work) and times each one until the Twist it caused arrives. The next
frame goes out only after that (or after --timeout), and no sooner than the camera period
(--rate, default the configured 20 Hz): back to back (--rate 0), a frame would also wait for
the node's work after the Twist (the overlay), which a real camera does not make it do. One
JSON line per controller and overlay setting: the PID baseline, and the exported policy when
--policy is given. The node's frame-to-Twist work alone (no DDS) is measured in this process
for comparison. Each line names the ROS 2 distribution and rclpy version, and the load
average over the run; DDS stays on loopback (config/dds/).
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from rl_f1_driver.benchmarks import cpu_model
from rl_f1_driver.dds import confine_process

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
# Our own DDS domain, so other ROS processes on the machine neither see nor disturb ours, and
# DDS on loopback only (set before rclpy starts; the node process inherits both).
confine_process(int(os.environ.get('ROS_DOMAIN_ID') or 70 + os.getpid() % 30))

ROOT = Path(__file__).resolve().parent.parent
N_IMAGES = 50   # distinct frames, cycled (poses around the circuit, a little off the line)


def render_frames(track: str, n: int) -> List[Any]:
    """n full camera frames (BGR) along the circuit, each showing the red line."""
    import numpy as np

    from rl_f1_driver.config import load_config
    from rl_f1_driver.sim.embedded import EmbeddedSimulator
    from rl_f1_driver.sim.types import Pose2D
    from rl_f1_driver.track import load_circuit
    cfg = load_config()
    circuit = load_circuit(track)
    sim = EmbeddedSimulator(circuit, cfg.camera, cfg.car)
    rng = np.random.default_rng(0)
    frames = []
    for i in range(n):
        x, y, yaw = circuit.pose_at(i / n)
        off = float(rng.uniform(-0.5, 0.5))
        frames.append(sim.reset(Pose2D(x - off * np.sin(yaw), y + off * np.cos(yaw),
                                       yaw + float(rng.uniform(-0.1, 0.1)))).image)
    sim.close()
    return frames


class NodeProcess:
    """drive_node in its own process; ended (SIGINT, then SIGKILL) by close()."""

    def __init__(self, ns: str, params: Dict[str, Any]):
        args = [sys.executable, '-m', 'rl_f1_driver.ros.drive_node', '--ros-args',
                '-r', f'__ns:={ns}']
        for k, v in params.items():
            args += ['-p', f'{k}:={json.dumps(v) if isinstance(v, bool) else v}']
        self.log = tempfile.TemporaryFile(mode='w+')
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()[-3000:]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)   # the node sends its stop Twist and exits
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


def measure(images: List[Any], controller: str, policy: Optional[str], overlay: bool,
            frames: int, warmup: int, rate: float, timeout: float,
            startup_timeout: float) -> Dict[str, Any]:
    import numpy as np
    import rclpy
    from geometry_msgs.msg import Twist as TwistMsg
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    from rl_f1_driver.ros.node_util import COMMAND_QOS, image_msg, time_msg

    ns = f'/bench{os.getpid()}_{controller}_{int(overlay)}'
    camera, cmd_vel = f'{ns}/camera/image_raw', f'{ns}/cmd_vel'
    params = {'controller': controller, 'camera_topic': camera, 'cmd_vel_topic': cmd_vel,
              'overlay_topic': f'{ns}/overlay', 'path_topic': f'{ns}/path',
              'odom_topic': f'{ns}/odom', 'stats_topic': f'{ns}/drive_stats',
              'publish_overlay': overlay, 'use_cv_bridge': True,
              # No watchdog stop between frames: its zero Twist would pass for a reply.
              'frame_timeout': 3600.0}
    if policy:
        params['policy_dir'] = str(Path(policy).resolve())
    proc = NodeProcess(ns, params)
    probe = rclpy.create_node('latency_probe', namespace=ns)
    ex = SingleThreadedExecutor()
    ex.add_node(probe)
    # Reliable like a Gazebo camera; the node reads best effort, depth 1.
    cam = probe.create_publisher(Image, camera, QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.VOLATILE))
    arrivals: List[float] = []
    probe.create_subscription(TwistMsg, cmd_vel,
                              lambda _m: arrivals.append(time.perf_counter()), COMMAND_QOS)

    def spin_until(condition, seconds: float) -> bool:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if condition():
                return True
            ex.spin_once(timeout_sec=0.01)
        return condition()

    msgs = [image_msg(img, time_msg(0.0), 'camera_link') for img in images]
    try:
        ready = spin_until(lambda: (not proc.alive()
                                    or (probe.count_subscribers(camera) > 0
                                        and probe.count_publishers(cmd_vel) > 0)),
                           startup_timeout)
        if not ready or not proc.alive():
            raise RuntimeError(f'drive_node did not come up within {startup_timeout} s:\n'
                               f'{proc.output()}')
        lat, lost = [], 0
        period = 1.0 / rate if rate > 0 else 0.0
        next_frame = time.perf_counter()
        for k in range(warmup + frames):
            # Camera pacing: the wait runs the executor (and so ends on time), no sleep.
            spin_until(lambda: time.perf_counter() >= next_frame, period + 1.0)
            next_frame = time.perf_counter() + period
            msg = msgs[k % len(msgs)]
            msg.header.stamp = time_msg(1.0 + 0.05 * k)   # 20 Hz camera time
            before = len(arrivals)
            t0 = time.perf_counter()
            cam.publish(msg)
            if spin_until(lambda: len(arrivals) > before, timeout):
                if k >= warmup:
                    lat.append(arrivals[before] - t0)
            else:
                # Lost (best effort) or slow: let a late Twist arrive now, so it is not
                # taken for the next frame's.
                lost += 1
                if not proc.alive():
                    raise RuntimeError(f'drive_node exited:\n{proc.output()}')
                spin_until(lambda: False, timeout)
        if not lat:
            raise RuntimeError(f'no Twist for any frame:\n{proc.output()}')
        ms = np.asarray(lat) * 1e3
        h, w = images[0].shape[:2]
        return {'bench': 'ros_drive_latency', 'controller': controller,
                'policy': params.get('policy_dir'), 'publish_overlay': overlay,
                'frame': f'{w}x{h} bgr8', 'rate_hz': rate, 'frames': len(lat),
                'warmup': warmup,
                'lost': lost, 'timeout_s': timeout,
                'p50_ms': round(float(np.percentile(ms, 50)), 3),
                'p99_ms': round(float(np.percentile(ms, 99)), 3),
                'mean_ms': round(float(ms.mean()), 3), 'max_ms': round(float(ms.max()), 3)}
    finally:
        proc.close()
        ex.shutdown()
        probe.destroy_node()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--frames', type=int, default=500, help='timed frames (after warm-up)')
    ap.add_argument('--warmup', type=int, default=50)
    ap.add_argument('--policy', help='exported policy directory (also measure the policy)')
    ap.add_argument('--track', default='simple', help='circuit the frames are rendered on')
    ap.add_argument('--overlay', choices=('on', 'off', 'both'), default='both',
                    help="drive_node's publish_overlay (on: as launched)")
    ap.add_argument('--rate', type=float, default=None,
                    help='frames per second at most (default: camera.rate_hz; 0: back to '
                         'back)')
    ap.add_argument('--timeout', type=float, default=2.0, help='s to wait for each Twist')
    ap.add_argument('--startup-timeout', type=float, default=120.0,
                    help='s for drive_node to start (loading a policy takes a while)')
    args = ap.parse_args()
    # SIGTERM (a CI time-out, kill) unwinds like Ctrl-C, so the node process is ended too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    import rclpy

    from rl_f1_driver.benchmarks import bench_drive
    from rl_f1_driver.config import load_config
    from rl_f1_driver.drive.controller import load_controller
    from rl_f1_driver.errors import UserError

    images = render_frames(args.track, N_IMAGES)
    rate = load_config().camera.rate_hz if args.rate is None else args.rate
    overlays = {'on': [True], 'off': [False], 'both': [True, False]}[args.overlay]
    runs = [('pid', None)] + ([('policy', args.policy)] if args.policy else [])
    from rl_f1_driver import ros_install
    common = {'cpu': cpu_model(), 'cpus': os.cpu_count(), 'ros': ros_install.describe(),
              'dds': 'loopback only (config/dds/)',
              'ros_domain_id': int(os.environ['ROS_DOMAIN_ID'])}
    rclpy.init()
    try:
        for controller, policy in runs:
            # The same work without DDS, in this process: what the transport adds.
            alone = bench_drive(load_controller(policy, kind=controller),
                                frames=args.frames, warmup=args.warmup)
            for overlay in overlays:
                result = measure(images, controller, policy, overlay, args.frames,
                                 args.warmup, rate, args.timeout, args.startup_timeout)
                result.update(common, load_average=[round(x, 2) for x in os.getloadavg()])
                result['in_process'] = {k: alone[k] for k in
                                        ('p50_ms', 'p99_ms', 'mean_ms', 'max_ms')}
                print(json.dumps(result), flush=True)
    except (UserError, RuntimeError) as exc:
        sys.exit(f'bench_ros_drive_latency: {exc}')
    finally:
        rclpy.try_shutdown()


if __name__ == '__main__':
    main()
