"""A still picture of a recording, drawn from its decoded messages (no Foxglove needed).

    python -m rl_f1_driver.record.preview drive.mcap preview.png [--at 0.4]

Camera and perception overlay at one moment (`--at`: fraction of the recording), the circuit
markers with the driven path coloured by speed and the car's pose, and the speed and
deviation telemetry over time: what the shipped Foxglove layout shows, as a PNG. It reads the
file with the mcap reader and rosbags' CDR deserialiser.
"""
from __future__ import annotations

import argparse
import sys
from bisect import bisect_left
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .topics import Topics


def read_recording(path: Path) -> Dict[str, List[Tuple[int, Any]]]:
    """{topic: [(log time ns, message)]} of every message in the file."""
    from mcap.reader import make_reader
    from rosbags.typesys import Stores, get_typestore
    store = get_typestore(Stores.ROS2_HUMBLE)
    out: Dict[str, List[Tuple[int, Any]]] = defaultdict(list)
    with open(path, 'rb') as f:
        for schema, channel, message in make_reader(f).iter_messages():
            out[channel.topic].append(
                (message.log_time, store.deserialize_cdr(message.data, schema.name)))
    return out


def _image(msg: Any) -> np.ndarray:
    import cv2
    if hasattr(msg, 'format'):   # CompressedImage
        return cv2.imdecode(np.asarray(msg.data, np.uint8), cv2.IMREAD_COLOR)
    from ..messages.conversions import image_to_bgr
    return image_to_bgr(msg)


def _at(series: List[Tuple[int, Any]], t: int) -> Any:
    times = [s for s, _ in series]
    i = min(len(series) - 1, bisect_left(times, t))
    return series[i][1]


def render_preview(path: Path, out: Path, at: float = 0.4,
                   topics: Optional[Topics] = None, title: str = '') -> None:
    from ..learn.plots import _pyplot
    tp = topics or Topics.load('drive_node')
    msgs = read_recording(Path(path))
    cam_topic = tp.camera if tp.camera in msgs else tp.compressed(tp.camera)
    ov_topic = tp.overlay if tp.overlay in msgs else tp.compressed(tp.overlay)
    cams = msgs[cam_topic]
    t0, t1 = cams[0][0], cams[-1][0]
    t = int(t0 + at * (t1 - t0))
    plt = _pyplot()
    fig = plt.figure(figsize=(13, 8.2))
    grid = fig.add_gridspec(2, 2, width_ratios=[1, 1.15], height_ratios=[1, 1])
    for k, (topic, name) in enumerate(((cam_topic, 'camera'), (ov_topic, 'perception overlay'))):
        ax = fig.add_subplot(grid[k, 0])
        if msgs.get(topic):
            ax.imshow(_image(_at(msgs[topic], t))[:, :, ::-1])
        ax.set_title(f'{topic}  ({name}, t = {(t - t0) * 1e-9:.2f} s)', fontsize=9)
        ax.axis('off')
    ax = fig.add_subplot(grid[0, 1])
    for _, marker_array in msgs.get(tp.circuit, [])[:1]:
        for m in marker_array.markers:
            if m.header.frame_id != tp.odom_frame or not len(m.points):
                continue
            xy = np.array([[p.x, p.y] for p in m.points])
            colour = (m.color.r, m.color.g, m.color.b)
            ax.plot(xy[:, 0], xy[:, 1], color=colour, lw=1.6 if m.ns == 'red_line' else 1.0,
                    label={'red_line': 'red line (marker)', 'road_edges': None}.get(m.ns))
    odom = msgs.get(tp.odom, [])
    if msgs.get(tp.path) and odom:
        _, path_msg = msgs[tp.path][-1]
        xy = np.array([[p.pose.position.x, p.pose.position.y] for p in path_msg.poses])
        stamps = [p.header.stamp.sec * 1_000_000_000 + p.header.stamp.nanosec
                  for p in path_msg.poses]
        speed = [_at(odom, s).twist.twist.linear.x for s in stamps]
        sc = ax.scatter(xy[:, 0], xy[:, 1], c=speed, s=5, cmap='viridis', zorder=3,
                        label=tp.path)
        fig.colorbar(sc, ax=ax, label='speed (m/s)', fraction=0.04)
        car = _at(odom, t).pose.pose
        yaw = 2 * np.arctan2(car.orientation.z, car.orientation.w)
        ax.arrow(car.position.x, car.position.y, 4 * np.cos(yaw), 4 * np.sin(yaw), width=0.8,
                 color='tab:blue', zorder=4)
        ax.plot([], [], color='tab:blue', lw=4, label='car (odometry)')
    ax.set_aspect('equal')
    ax.set_title(f'{tp.circuit} + {tp.path} in {tp.odom_frame}', fontsize=9)
    ax.legend(loc='upper right', fontsize=7)
    ax = fig.add_subplot(grid[1, 1])
    for signal, colour in (('speed', 'tab:green'), ('deviation', 'tab:purple')):
        series = msgs.get(tp.telemetry(signal), [])
        if series:
            ax.plot([(s - t0) * 1e-9 for s, _ in series], [m.data for _, m in series],
                    color=colour, lw=1, label=f'{tp.telemetry(signal)}.data')
    ax.axvline((t - t0) * 1e-9, color='k', lw=0.8, ls='--')
    ax.set_xlabel('simulation time (s)')
    ax.set_ylabel('m/s, m')
    ax.legend(loc='lower right', fontsize=7)
    ax.grid(alpha=0.3)
    fig.suptitle(title or f'{Path(path).name}: rendered from the decoded recording', fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('recording')
    ap.add_argument('out')
    ap.add_argument('--at', type=float, default=0.4, help='moment shown, fraction 0..1')
    ap.add_argument('--title', default='')
    args = ap.parse_args(argv)
    render_preview(Path(args.recording), Path(args.out), args.at, title=args.title)
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
