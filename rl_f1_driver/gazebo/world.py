"""One Gazebo Classic 11 world per circuit, from the circuit file and the camera config.

The road, kerbs and red centre line are meshes (mesh.py: flat strips between the
cross-sections of sim/painted.py, every edge within `CHORD_TOL` of its true curve, widths
exact; the embedded renderer paints the line along the same sections), one visual per colour
layer whatever the circuit's length, coloured by the visual's material with the embedded
renderer's palette, and by the same colour in each mesh's .mtl. The meshes live in a Gazebo model
folder per circuit, worlds/models/rl_f1_driver_<circuit>/, referenced as model:// URIs (see
mesh_uri). The world also loads libgazebo_ros_state.so (for set_entity_state and
model_states) and holds our car (see car.py), so a world file and its mesh folder are the
whole simulation.
"""
from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ..config import CameraConfig
from ..errors import ConfigError
from ..scene import CAR_Z, KERB_TOP, LINE_TOP, ROAD_TOP, body_parts, wheels
from ..sim.painted import (CHORD_TOL, MAX_SEGMENT, Band, left_normals, segment_loop,
                           track_bands, track_sections)
from ..sim.render import Palette
from ..track import Circuit
from .car import car_model_sdf
from .mesh import MESH_EXT, MTL_EXT, band_chunks, mtl_text, obj_text
from .sdf import attr, material, nums, pose, rgb_from_bgr, rgba_from_bgr, text

GENERATOR = 'rl-f1 worlds'
MODELS_DIR = 'models'             # beside the worlds; package.xml exports it as a model path
MESH_MODEL_PREFIX = 'rl_f1_driver_'
MAX_VISUALS = 50                  # per world, however long the circuit
# Visuals that are not track meshes: the grass, the car's body parts, wheels and helmet.
OTHER_VISUALS = 1 + len(body_parts(0.0)) + len(wheels(0.0)) + 1

__all__ = ['CHORD_TOL', 'MAX_SEGMENT', 'MAX_VISUALS', 'MODELS_DIR', 'WorldNames', 'build_world',
           'mesh_model_name', 'mesh_uri', 'segment_loop', 'track_meshes', 'world_filename',
           'world_files', 'write_worlds']


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
        from ..config.ros_params import SHARED, WILDCARD, check_file, default_file
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


def mesh_model_name(circuit_name: str) -> str:
    """The Gazebo model folder of a circuit's meshes (prefixed: model names are global)."""
    return f'{MESH_MODEL_PREFIX}{circuit_name}'


@dataclass(frozen=True)
class Layer:
    """One colour layer of the track: its name, colour, top height and strips."""
    name: str
    bgr: Tuple[int, int, int]
    top: float
    bands: Tuple[Band, ...]


def layers(circuit: Circuit, palette: Palette = Palette()) -> List[Layer]:
    """Road, kerbs and line, bottom to top (the kerbs lie on the road's edges)."""
    bands = track_bands(circuit)
    colours = {'road': palette.road, 'kerbs': palette.kerb, 'line': palette.line}
    tops = {'road': ROAD_TOP, 'kerbs': KERB_TOP, 'line': LINE_TOP}
    return [Layer(name, tuple(colours[name]), tops[name], bands[name]) for name in bands]


def material_name(layer: Layer) -> str:
    """The layer's material in its meshes' .mtl (prefixed like the model: names are global)."""
    return f'{MESH_MODEL_PREFIX}{layer.name}'


@dataclass(frozen=True)
class TrackMesh:
    """One mesh file of a layer: its file name (in the circuit's model folder) and content."""
    layer: Layer
    filename: str
    vertices: np.ndarray
    faces: np.ndarray


def track_meshes(circuit: Circuit, palette: Palette = Palette()) -> List[TrackMesh]:
    """The meshes of every layer; each edge within CHORD_TOL of its true curve."""
    all_layers = layers(circuit, palette)
    normals = left_normals(circuit.tangents)
    # The embedded renderer paints the line along these same sections (sim/painted.py).
    idx = track_sections(circuit)
    # The car and the grass take the rest of the visual budget; the layers share what is left.
    max_chunks = max(1, (MAX_VISUALS - OTHER_VISUALS) // len(all_layers))
    out = []
    for layer in all_layers:
        chunks = band_chunks(circuit.points, normals, idx, layer.bands, max_chunks)
        for k, (v, f) in enumerate(chunks):
            out.append(TrackMesh(layer, f'{layer.name}_{k}.{MESH_EXT}', v, f))
    return out


def mtl_filename(mesh: TrackMesh) -> str:
    """The material library beside a mesh file (same stem)."""
    return f'{mesh.filename.rsplit(".", 1)[0]}.{MTL_EXT}'


def mesh_uri(circuit_name: str, filename: str) -> str:
    # model:// and not a path: Gazebo 11 resolves model:// against GAZEBO_MODEL_PATH, which
    # package.xml's <gazebo_ros gazebo_model_path="${prefix}/worlds/models"/> export makes
    # gazebo_ros's gzserver/gzclient launch files set for both processes, wherever the package
    # is installed. A file:// URI would hold this machine's absolute path, and a path relative
    # to the world file is not resolved by Gazebo Classic (it searches GAZEBO_RESOURCE_PATH).
    return f'model://{mesh_model_name(circuit_name)}/{filename}'


def _mesh_visual(circuit_name: str, mesh: TrackMesh, indent: str) -> str:
    name = mesh.filename.rsplit('.', 1)[0]
    return (f'{indent}<visual name={attr(name)}>{pose(0, 0, mesh.layer.top)}'
            f'<geometry><mesh><uri>{text(mesh_uri(circuit_name, mesh.filename))}</uri></mesh>'
            f'</geometry>{material(mesh.layer.bgr)}</visual>')


def _static_model(name: str, visuals: List[str], indent: str = '    ') -> str:
    return '\n'.join([f'{indent}<model name={attr(name)}>', f'{indent}  <static>true</static>',
                      f'{indent}  <link name="link">', *visuals, f'{indent}  </link>',
                      f'{indent}</model>'])


def _track_models(circuit_name: str, meshes: Sequence[TrackMesh], indent: str = '    '
                  ) -> List[str]:
    """One static model per layer (road, kerbs, line), one visual per mesh file."""
    names = list(dict.fromkeys(m.layer.name for m in meshes))
    return [_static_model(n, [_mesh_visual(circuit_name, m, indent + '    ')
                              for m in meshes if m.layer.name == n], indent)
            for n in names]


def build_world(circuit: Circuit, camera: CameraConfig, names: WorldNames = WorldNames(),
                palette: Palette = Palette(), start_fraction: float = 0.0,
                meshes: Optional[Sequence[TrackMesh]] = None) -> str:
    """The world file text (deterministic: same inputs, same bytes).

    The track's visuals reference the mesh files of `track_meshes` (computed when not given),
    which `world_files` / `write_worlds` write beside it.
    """
    if meshes is None:
        meshes = track_meshes(circuit, palette)
    road_w = circuit.road_width
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
        *_track_models(circuit.name, meshes),
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


def model_config(circuit: Circuit) -> str:
    """model.config of the mesh folder: gzclient lists every folder of GAZEBO_MODEL_PATH as a
    model and complains about one without it."""
    return '\n'.join([
        '<?xml version="1.0"?>',
        f'<!-- Generated by `{GENERATOR}`. Do not edit. -->',
        '<model>',
        f'  <name>{text(mesh_model_name(circuit.name))}</name>',
        '  <version>1.0</version>',
        '  <sdf version="1.6">model.sdf</sdf>',
        f'  <description>Road, kerbs and red line of circuit {text(circuit.name)} '
        f'(meshes of {text(world_filename(circuit.name))})</description>',
        '</model>',
        ''])


def model_sdf(circuit: Circuit, meshes: Sequence[TrackMesh]) -> str:
    """model.sdf of the mesh folder: the track alone, as one static model (Insert tab)."""
    visuals = [_mesh_visual(circuit.name, m, '      ') for m in meshes]
    return '\n'.join(['<?xml version="1.0"?>',
                      f'<!-- Generated by `{GENERATOR}`. Do not edit. -->',
                      '<sdf version="1.6">',
                      _static_model(mesh_model_name(circuit.name), visuals, '  '),
                      '</sdf>', ''])


def world_files(circuit: Circuit, camera: CameraConfig, names: WorldNames = WorldNames(),
                palette: Palette = Palette()) -> Dict[str, str]:
    """Every file of a circuit's world by path relative to the worlds folder: the world, and
    its mesh model folder (models/<model>/: the meshes, model.config, model.sdf)."""
    meshes = track_meshes(circuit, palette)
    folder = f'{MODELS_DIR}/{mesh_model_name(circuit.name)}'
    source = Path(circuit.source).name if circuit.source else circuit.name
    header = (f'Generated by `{GENERATOR}` from circuit {source} ({circuit.name}). Do not edit.')
    files = {world_filename(circuit.name): build_world(circuit, camera, names, palette,
                                                       meshes=meshes)}
    for m in meshes:
        mtl = mtl_filename(m)
        files[f'{folder}/{m.filename}'] = obj_text(m.vertices, m.faces,
                                                   f'{header} Layer {m.layer.name}.',
                                                   mtl, material_name(m.layer))
        # Same colour as the visual's SDF <material> (one conversion, rgb_from_bgr).
        files[f'{folder}/{mtl}'] = mtl_text(material_name(m.layer), rgb_from_bgr(m.layer.bgr),
                                            f'{header} Material of layer {m.layer.name}.')
    files[f'{folder}/model.config'] = model_config(circuit)
    files[f'{folder}/model.sdf'] = model_sdf(circuit, meshes)
    return files


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
    """Write (or with `check`, compare) one world and its mesh folder per circuit.

    Returns (world paths written or checked, problems). With `check` nothing is written and
    each missing or different file, and each file in a circuit's mesh folder that the
    generator would not write (a stale mesh), is a problem. Writing removes such files.
    """
    from ..track import builtin_names, load_circuit
    names = names or WorldNames.from_ros_params()
    out = Path(out_dir)
    problems: List[str] = []
    paths: List[Path] = []
    for name in (circuits or builtin_names()):
        circuit = load_circuit(name)
        files = world_files(circuit, camera, names)
        paths.append(out / world_filename(circuit.name))
        folder = out / MODELS_DIR / mesh_model_name(circuit.name)
        extra = sorted(p for p in folder.glob('*')
                       if p.relative_to(out).as_posix() not in files) if folder.is_dir() else []
        if check:
            for rel, content in files.items():
                path = out / rel
                if not path.is_file():
                    problems.append(f'{path}: missing')
                elif path.read_text(encoding='utf-8') != content:
                    problems.append(f'{path}: out of date')
            problems += [f'{p}: stale (not made by the generator)' for p in extra]
            continue
        for rel, content in files.items():
            path = out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding='utf-8')
        for p in extra:   # the folder is all generated: a mesh of an older, longer circuit
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()
    return paths, problems


def summary(world_text: str) -> Mapping[str, Any]:
    """Counts for a quick look (visuals, mesh visuals, size)."""
    return {'bytes': len(world_text.encode('utf-8')),
            'visuals': world_text.count('<visual '),
            'mesh_visuals': world_text.count('<mesh>')}
