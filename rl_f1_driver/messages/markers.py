"""rviz markers of a run: the circuit, the car and the numbers a person looks for. No rclpy.

One builder for every view: drive_node and train_node publish these markers to rviz, and the
recordings and the Foxglove live view (`record.messages`) write the same ones. Markers are
built as plain `MarkerSpec`s (tested without ROS), then `fill_marker_array` writes them into
any visualization_msgs/MarkerArray-like object: an rclpy message, a rosbags message, a simple
namespace.

- circuit (`circuit_markers`, in the odom frame): both road edges and the red line as line
  strips, the start line across the road;
- car (`car_markers`, frame-locked to base_link, so one latched message follows the car): the
  Gazebo car's body boxes and wheels (`scene`);
- numbers (`text_markers`, TEXT_VIEW_FACING, frame-locked above the car): lap %, speed,
  deviation and lap time of a drive (`drive_lines`); episode, return, epsilon, env steps/s and
  the last evaluation of training (`training_lines`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ..scene import LINE_TOP, ROAD_TOP, body_parts, wheels
from ..track import Circuit
from .conversions import fill_stamp

# visualization_msgs/Marker constants (Humble); named here so the specs need no message package.
CUBE = 1
CYLINDER = 3
LINE_STRIP = 4
LINE_LIST = 5
TEXT_VIEW_FACING = 9
ADD = 0

MARKER_STEP_M = 0.5          # spacing of the circuit's marker points (a long road stays small)
EDGE_WIDTH = 0.15            # m, road edge lines
START_WIDTH = 0.3            # m, the start line across the road
TEXT_HEIGHT = 0.9            # m, height of a capital letter of the numbers
TEXT_BASE = 2.5              # m above base_link: the lowest line clears the rear wing

Vec3 = Tuple[float, float, float]
RGBA = Tuple[float, float, float, float]

ROAD_EDGE = (0.55, 0.55, 0.55, 1.0)
RED_LINE = (0.9, 0.05, 0.05, 1.0)
START_LINE = (1.0, 1.0, 1.0, 1.0)
WHEEL = (0.1, 0.1, 0.1, 1.0)
TEXT = (1.0, 1.0, 1.0, 1.0)
# Namespaces: one per kind of thing, so rviz lists them and a user can hide one.
NS_EDGES, NS_LINE, NS_START, NS_CAR, NS_NUMBERS = ('road_edges', 'red_line', 'start_line',
                                                   'car', 'numbers')
WHEEL_ID0 = 100              # wheel ids follow the body boxes' without clashing


@dataclass(frozen=True)
class MarkerSpec:
    """The content of one visualization_msgs/Marker (action ADD, lifetime forever)."""
    ns: str
    id: int
    type: int
    frame_id: str
    scale: Vec3
    color: RGBA
    position: Vec3 = (0.0, 0.0, 0.0)
    orientation: Tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)   # x, y, z, w
    points: Tuple[Vec3, ...] = ()
    text: str = ''
    frame_locked: bool = False


def _closed_strip(xy: np.ndarray, z: float) -> Tuple[Vec3, ...]:
    closed = np.vstack([xy, xy[:1]])
    return tuple((float(x), float(y), float(z)) for x, y in closed)


def circuit_markers(circuit: Circuit, frame_id: str,
                    step: float = MARKER_STEP_M) -> List[MarkerSpec]:
    """Road edges (ids 0 left, 1 right), the red line and the start line, in `frame_id`
    (the odom frame: the circuit's coordinates are the world's)."""
    every = max(1, int(round(step / circuit.spacing)))
    p, tan = circuit.points[::every], circuit.tangents[::every]
    normal = np.stack([-tan[:, 1], tan[:, 0]], axis=1)     # left of the driving direction
    half = circuit.road_width / 2.0
    out = [MarkerSpec(NS_EDGES, i, LINE_STRIP, frame_id, (EDGE_WIDTH, 0.0, 0.0), ROAD_EDGE,
                      points=_closed_strip(p + side * half * normal, ROAD_TOP))
           for i, side in enumerate((1.0, -1.0))]
    out.append(MarkerSpec(NS_LINE, 0, LINE_STRIP, frame_id, (circuit.line_width, 0.0, 0.0),
                          RED_LINE, points=_closed_strip(p, LINE_TOP)))
    # The start line: where lap times start, across the road at the circuit's first point.
    x0, y0 = circuit.points[0]
    nx, ny = -circuit.tangents[0][1], circuit.tangents[0][0]
    z = LINE_TOP + 0.002          # over the red line where they cross
    out.append(MarkerSpec(NS_START, 0, LINE_LIST, frame_id, (START_WIDTH, 0.0, 0.0),
                          START_LINE, points=((float(x0 + half * nx), float(y0 + half * ny), z),
                                              (float(x0 - half * nx), float(y0 - half * ny), z))))
    return out


def _rgba(bgr: Sequence[int]) -> RGBA:
    return (bgr[2] / 255.0, bgr[1] / 255.0, bgr[0] / 255.0, 1.0)


def car_markers(front: float, frame_id: str) -> List[MarkerSpec]:
    """The car's body boxes (ids 0..) and wheels (ids WHEEL_ID0..), in the car frame
    `frame_id` and frame-locked: rviz moves them with every new transform of that frame."""
    # base_link stands CAR_Z above the ground (odometry, TF and the Gazebo model all put it
    # there), and the parts are placed in that frame as the Gazebo model places them: adding
    # CAR_Z again would float the car 1 cm above the road.
    out = [MarkerSpec(NS_CAR, i, CUBE, frame_id, part.size, _rgba(part.bgr),
                      position=part.centre, frame_locked=True)
           for i, part in enumerate(body_parts(front))]
    # A cylinder's axis is its z: turned a quarter about x, it rolls along the car.
    axle = (math.sqrt(0.5), 0.0, 0.0, math.sqrt(0.5))
    out += [MarkerSpec(NS_CAR, WHEEL_ID0 + j, CYLINDER, frame_id, (2 * r, 2 * r, width), WHEEL,
                       position=(x, y, r), orientation=axle, frame_locked=True)
            for j, (_, x, y, r, width) in enumerate(wheels(front))]
    return out


def scene_markers(circuit: Circuit, odom_frame: str, base_frame: str,
                  car_front: Optional[float] = None) -> List[MarkerSpec]:
    """What the circuit topic carries: the circuit, and the car when `car_front` is given."""
    out = circuit_markers(circuit, odom_frame)
    if car_front is not None:
        out += car_markers(car_front, base_frame)
    return out


# --- numbers ---------------------------------------------------------------------------------

def _num(value: Optional[float], fmt: str) -> str:
    if value is None or not math.isfinite(value):
        return '-'
    return format(value, fmt)


def drive_lines(lap_fraction: Optional[float], speed: Optional[float],
                deviation: Optional[float], lap_time: Optional[float]) -> List[str]:
    """The numbers of a drive, one per line; '-' for one not known yet."""
    lap = None if lap_fraction is None else 100.0 * lap_fraction
    return [f'lap {_num(lap, ".0f")} %', f'speed {_num(speed, ".1f")} m/s',
            f'deviation {_num(deviation, "+.2f")} m', f'lap time {_num(lap_time, ".1f")} s']


def training_lines(episode: int, episode_return: Optional[float], epsilon: Optional[float],
                   steps_per_s: Optional[float],
                   last_evaluation: Optional[float]) -> List[str]:
    """The numbers of training, one per line; `last_evaluation` is the lap fraction the last
    greedy evaluation drove (None before the first)."""
    ev = None if last_evaluation is None else 100.0 * last_evaluation
    return [f'episode {episode}', f'return {_num(episode_return, ".1f")}',
            f'epsilon {_num(epsilon, ".3f")}', f'env steps/s {_num(steps_per_s, ".1f")}',
            f'last evaluation {_num(ev, ".0f")} % lap' if ev is not None
            else 'last evaluation -']


def text_markers(lines: Sequence[str], frame_id: str, ns: str = NS_NUMBERS,
                 height: float = TEXT_HEIGHT, base: float = TEXT_BASE) -> List[MarkerSpec]:
    """One TEXT_VIEW_FACING marker per line (ids 0.. from the top), stacked above the origin
    of `frame_id` (base_link: the numbers ride over the car) and frame-locked."""
    n = len(lines)
    return [MarkerSpec(ns, i, TEXT_VIEW_FACING, frame_id, (0.0, 0.0, float(height)), TEXT,
                       position=(0.0, 0.0, base + (n - 1 - i) * 1.25 * height), text=line,
                       frame_locked=True)
            for i, line in enumerate(lines)]


# --- onto messages ---------------------------------------------------------------------------

PointFactory = Callable[[float, float, float], Any]


def fill_marker(msg: Any, spec: MarkerSpec, point: PointFactory,
                stamp: Optional[float] = None) -> Any:
    """Write `spec` into a visualization_msgs/Marker-like `msg` (action ADD, lifetime 0:
    forever); `point(x, y, z)` makes a geometry_msgs/Point of the message's kind; `stamp`
    (seconds) sets header.stamp, None leaves it (0: rviz then uses the latest transform)."""
    msg.header.frame_id = spec.frame_id
    if stamp is not None:
        fill_stamp(msg.header.stamp, stamp)
    msg.ns, msg.id, msg.type, msg.action = spec.ns, int(spec.id), int(spec.type), ADD
    pos, q = msg.pose.position, msg.pose.orientation
    pos.x, pos.y, pos.z = (float(v) for v in spec.position)
    q.x, q.y, q.z, q.w = (float(v) for v in spec.orientation)
    msg.scale.x, msg.scale.y, msg.scale.z = (float(v) for v in spec.scale)
    c = msg.color
    c.r, c.g, c.b, c.a = (float(v) for v in spec.color)
    msg.lifetime.sec, msg.lifetime.nanosec = 0, 0
    msg.frame_locked = bool(spec.frame_locked)
    msg.points = [point(*p) for p in spec.points]
    msg.text = spec.text
    return msg


def fill_marker_array(msg: Any, specs: Iterable[MarkerSpec], new_marker: Callable[[], Any],
                      point: PointFactory, stamp: Optional[float] = None) -> Any:
    """Write `specs` into a visualization_msgs/MarkerArray-like `msg` (its markers replaced):
    `new_marker()` makes an empty Marker of the message's kind."""
    msg.markers = [fill_marker(new_marker(), s, point, stamp) for s in specs]
    return msg
