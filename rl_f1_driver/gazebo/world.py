"""One Gazebo Classic 11 world per circuit, from the circuit file and the camera config.

The road, kerbs and red centre line are chains of thin static boxes laid along the same dense
centreline the embedded simulator renders. Segments follow the curve to within `CHORD_TOL`
(shorter in tight corners, up to `MAX_SEGMENT` on straights), and each box is lengthened at
both ends by the mitre overlap of its turn, so the outside of a corner has no gaps. Colours
come from the embedded renderer's palette. (Inside a corner the lengthened boxes overlap and
poke a few centimetres past the road edge; nothing near the line changes.) The world also
loads libgazebo_ros_state.so (for set_entity_state and model_states) and holds our car (see
car.py), so a world file alone is the whole simulation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ..config import CameraConfig
from ..errors import ConfigError
from ..sim.render import KERB_WIDTH, Palette
from ..track import Circuit
from .car import car_model_sdf
from .sdf import attr, box_visual, material, nums, pose, rgba_from_bgr, text

CHORD_TOL = 0.01      # m, largest distance between a line segment and the true curve
MAX_SEGMENT = 10.0    # m, longest box on a straight
# Layers 2 mm apart: clear of depth-buffer fighting, and small next to the camera height.
ROAD_TOP = 0.010      # m above the ground plane; the car stands on the road
KERB_TOP = 0.012
LINE_TOP = 0.014
CAR_Z = ROAD_TOP      # height of the car's origin (its wheels touch the road)
JOINT_OVERLAP = 0.01  # m, every box reaches this far past its joints: no hairline cracks
GENERATOR = 'rl-f1 worlds'


@dataclass(frozen=True)
class WorldNames:
    """ROS names written into the world; they come from the `/**` section of config/ros.yaml."""
    car_model: str = 'f1_car'
    car_namespace: str = '/f1'
    camera_topic: str = '/f1/camera/image_raw'
    cmd_vel_topic: str = '/f1/cmd_vel'
    odom_topic: str = '/f1/odom'
    model_states_topic: str = '/gazebo/model_states'
    set_entity_state_service: str = '/gazebo/set_entity_state'
    odom_frame: str = 'odom'
    base_frame: str = 'base_link'
    camera_frame: str = 'camera_link'

    @classmethod
    def from_ros_params(cls, path: Union[str, Path, None] = None) -> 'WorldNames':
        from ..ros.params import SHARED, WILDCARD, check_file, default_file
        path = Path(path) if path is not None else default_file()
        shared = check_file(path).get(WILDCARD, {})
        fields = cls.__dataclass_fields__
        missing = sorted(k for k in fields if k not in shared)
        if missing:
            raise ConfigError(f'{path}: {WILDCARD}: missing parameter(s) {", ".join(missing)} '
                              'needed for the Gazebo world')
        assert all(k in SHARED for k in fields)
        return cls(**{k: shared[k] for k in fields})


def world_filename(circuit_name: str) -> str:
    return f'{circuit_name}.world'


def segment_loop(points: np.ndarray, tol: float = CHORD_TOL,
                 max_len: float = MAX_SEGMENT) -> List[int]:
    """Indices of the closed polyline's vertices kept so each chord stays within `tol`.

    Starts at index 0 (the lap start) and walks greedily; the last chord returns to 0.
    """
    n = len(points)
    closed = np.vstack([points, points[:1]])
    keep = [0]
    i = 0
    while i < n:
        j = i + 1
        while j + 1 <= n and _chord_ok(closed, i, j + 1, tol, max_len):
            j += 1
        keep.append(j % n)
        i = j
    keep.pop()  # the final index is the start again
    return keep


def _chord_ok(pts: np.ndarray, i: int, j: int, tol: float, max_len: float) -> bool:
    a, b = pts[i], pts[j]
    d = b - a
    length = float(np.hypot(d[0], d[1]))
    if length > max_len:
        return False
    if j - i < 2 or length == 0.0:
        return True
    mid = pts[i + 1:j] - a
    dev = np.abs(mid[:, 0] * d[1] - mid[:, 1] * d[0]) / length
    return float(dev.max()) <= tol


@dataclass(frozen=True)
class Segment:
    x0: float
    y0: float
    x1: float
    y1: float
    turn_in: float      # turn angle (rad) at the start joint
    turn_out: float     # at the end joint

    @property
    def length(self) -> float:
        return math.hypot(self.x1 - self.x0, self.y1 - self.y0)

    @property
    def yaw(self) -> float:
        return math.atan2(self.y1 - self.y0, self.x1 - self.x0)


def segments(circuit: Circuit) -> List[Segment]:
    idx = segment_loop(circuit.points)
    pts = circuit.points[idx]
    nxt = np.roll(pts, -1, axis=0)
    yaw = np.arctan2(nxt[:, 1] - pts[:, 1], nxt[:, 0] - pts[:, 0])
    turn = np.angle(np.exp(1j * (yaw - np.roll(yaw, 1))))    # at each vertex, wrapped
    return [Segment(float(pts[k, 0]), float(pts[k, 1]), float(nxt[k, 0]), float(nxt[k, 1]),
                    float(turn[k]), float(turn[(k + 1) % len(pts)]))
            for k in range(len(pts))]


def _strip(name: str, segs: Sequence[Segment], width: float, offset: float, top: float,
           thickness: float, bgr: Sequence[int], indent: str) -> List[str]:
    """Boxes of a band `width` wide, centred `offset` to the left of the line."""
    out = []
    reach = abs(offset) + width / 2.0
    for k, s in enumerate(segs):
        # Mitre overlap: enough extra length that the outside of each joint is covered.
        ext_in = reach * math.tan(min(abs(s.turn_in), 2.0) / 2.0) + JOINT_OVERLAP
        ext_out = reach * math.tan(min(abs(s.turn_out), 2.0) / 2.0) + JOINT_OVERLAP
        length = s.length + ext_in + ext_out
        c, si = math.cos(s.yaw), math.sin(s.yaw)
        shift = (ext_out - ext_in) / 2.0
        cx = (s.x0 + s.x1) / 2.0 + shift * c - offset * si
        cy = (s.y0 + s.y1) / 2.0 + shift * si + offset * c
        out.append(box_visual(f'{name}_{k}', (length, width, thickness),
                              (cx, cy, top - thickness / 2.0, 0, 0, s.yaw), bgr, indent))
    return out


def _static_model(name: str, visuals: List[str], indent: str = '    ') -> str:
    return '\n'.join([f'{indent}<model name={attr(name)}>', f'{indent}  <static>true</static>',
                      f'{indent}  <link name="link">', *visuals, f'{indent}  </link>',
                      f'{indent}</model>'])


def build_world(circuit: Circuit, camera: CameraConfig, names: WorldNames = WorldNames(),
                palette: Palette = Palette(), start_fraction: float = 0.0) -> str:
    """The world file text (deterministic: same inputs, same bytes)."""
    segs = segments(circuit)
    i6 = ' ' * 8
    road_w, line_w = circuit.road_width, circuit.line_width
    kerb_off = road_w / 2.0 - KERB_WIDTH / 2.0
    road = _strip('road', segs, road_w, 0.0, ROAD_TOP, ROAD_TOP, palette.road, i6)
    kerbs = (_strip('kerb_left', segs, KERB_WIDTH, kerb_off, KERB_TOP, KERB_TOP, palette.kerb,
                    i6)
             + _strip('kerb_right', segs, KERB_WIDTH, -kerb_off, KERB_TOP, KERB_TOP,
                      palette.kerb, i6))
    line = _strip('line', segs, line_w, 0.0, LINE_TOP, LINE_TOP, palette.line, i6)
    x0, y0, x1, y1 = circuit.bounds(margin=road_w)
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    # Grass to the far clip in every direction, as the embedded camera sees it.
    ground = (x1 - x0 + 2 * camera.clip_far, y1 - y0 + 2 * camera.clip_far)
    start = circuit.pose_at(start_fraction)
    span = max(x1 - x0, y1 - y0)
    state_ns = names.set_entity_state_service.rpartition('/')[0]
    source = Path(circuit.source).name if circuit.source else circuit.name
    parts = [
        '<?xml version="1.0"?>',
        f'<!-- Generated by `{GENERATOR}` from circuit {text(source)} ({text(circuit.name)}) '
        'and the camera section of the config.',
        '     Do not edit: change the circuit, config/defaults.yaml or config/ros.yaml and '
        'regenerate. -->',
        '<sdf version="1.6">',
        f'  <world name={attr(circuit.name)}>',
        '    <gravity>0 0 -9.8</gravity>',
        '    <physics name="default" type="ode">',
        '      <max_step_size>0.001</max_step_size>',
        '      <real_time_factor>1</real_time_factor>',
        '      <real_time_update_rate>1000</real_time_update_rate>',
        '    </physics>',
        '    <scene>',
        '      <ambient>0.45 0.45 0.45 1</ambient>',
        f'      <background>{rgba_from_bgr(palette.sky)}</background>',
        '      <shadows>false</shadows>',
        '      <grid>false</grid>',
        '    </scene>',
        '    <light name="sun" type="directional">',
        '      <cast_shadows>false</cast_shadows>',
        '      <pose>0 0 100 0 0 0</pose>',
        '      <diffuse>0.6 0.6 0.6 1</diffuse>',
        '      <specular>0.05 0.05 0.05 1</specular>',
        '      <direction>-0.3 0.2 -1</direction>',
        '    </light>',
        # set_entity_state places the car at each episode start; model_states is the
        # alternative ground truth.
        '    <plugin name="gazebo_ros_state" filename="libgazebo_ros_state.so">',
        '      <ros>',
        f'        <namespace>{text(state_ns or "/")}</namespace>',
        f'        <remapping>set_entity_state:={text(names.set_entity_state_service)}'
        '</remapping>',
        f'        <remapping>model_states:={text(names.model_states_topic)}</remapping>',
        '      </ros>',
        '      <update_rate>50</update_rate>',
        '    </plugin>',
        '    <model name="ground">',
        '      <static>true</static>',
        '      <link name="link">',
        f'        <visual name="grass">{pose(cx, cy, 0)}<geometry><plane><normal>0 0 1</normal>'
        f'<size>{nums(ground)}</size></plane></geometry>{material(palette.ground)}</visual>',
        '      </link>',
        '    </model>',
        _static_model('road', road),
        _static_model('kerbs', kerbs),
        _static_model('line', line),
        car_model_sdf(names.car_model, start, CAR_Z, camera, names.car_namespace,
                      names.cmd_vel_topic, names.odom_topic, names.camera_topic,
                      names.odom_frame, names.base_frame, names.camera_frame),
        '    <gui fullscreen="false">',
        '      <camera name="user_camera">',
        f'        {pose(cx - 0.6 * span, cy - 0.6 * span, 0.6 * span, 0, 0.6, math.pi / 4)}',
        '      </camera>',
        '    </gui>',
        '  </world>',
        '</sdf>',
        '',
    ]
    return '\n'.join(parts)


def camera_values(camera: CameraConfig) -> Dict[str, float]:
    """What the world's camera sensor must say for a config (used by tests and --check)."""
    return {'width': camera.width, 'height': camera.height, 'hfov': camera.hfov,
            'rate_hz': camera.rate_hz, 'mount_forward': camera.mount_forward,
            'mount_height': camera.mount_height, 'pitch': camera.pitch,
            'clip_near': camera.clip_near, 'clip_far': camera.clip_far}


def write_worlds(out_dir: Union[str, Path], camera: CameraConfig,
                 names: Optional[WorldNames] = None,
                 circuits: Optional[Sequence[str]] = None, check: bool = False
                 ) -> Tuple[List[Path], List[str]]:
    """Write (or with `check`, compare) one world per circuit.

    Returns (paths written or checked, problems). With `check` nothing is written and each
    missing or different file is a problem.
    """
    from ..track import builtin_names, load_circuit
    names = names or WorldNames.from_ros_params()
    out = Path(out_dir)
    problems: List[str] = []
    paths: List[Path] = []
    if not check:
        out.mkdir(parents=True, exist_ok=True)
    for name in (circuits or builtin_names()):
        circuit = load_circuit(name)
        path = out / world_filename(circuit.name)
        content = build_world(circuit, camera, names)
        paths.append(path)
        if check:
            if not path.is_file():
                problems.append(f'{path}: missing')
            elif path.read_text(encoding='utf-8') != content:
                problems.append(f'{path}: out of date')
        else:
            path.write_text(content, encoding='utf-8')
    return paths, problems


def summary(world_text: str) -> Mapping[str, Any]:
    """Counts for a quick look (boxes per kind, size)."""
    return {'bytes': len(world_text.encode('utf-8')),
            'road_boxes': world_text.count('<visual name="road_'),
            'line_boxes': world_text.count('<visual name="line_')}
