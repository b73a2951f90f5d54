"""Compare the embedded renderer with real Gazebo camera frames taken at known car poses.

A data folder (README.md, frames.json, <circuit>-NN.png) holds frames that Gazebo Classic 11
rendered from this package's worlds, the car's world pose for each, and the `camera` section
the worlds were generated with. Here the embedded simulator renders the same poses and the red
line's centre is found in both images by the package's own line detector, on the perception
rows and on the rows the Gazebo run measured. Used by test/test_gazebo_frames.py and
bench/bench_gazebo_frames.py.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from ..config import Config
from ..perception.line_detector import LineDetector
from ..track import load_circuit
from ..sim.camera import full_view
from ..sim.embedded import track_map
from ..sim.render import Renderer
from ..sim.types import Pose2D

ENV_DIR = 'RL_F1_GAZEBO_FRAMES'             # the data folder
ENV_REQUIRE = 'RL_F1_REQUIRE_GAZEBO_FRAMES'  # 1: a missing folder fails instead of skipping
# The rows the Gazebo run measured (frames.json `summary`), fractions of the height; measured
# besides the perception rows so the figures compare with the run's.
MEASURED_ROWS = (0.56, 0.62, 0.75, 0.9)


def default_dir(repo_root: Union[str, Path]) -> Path:
    """The data folder: $RL_F1_GAZEBO_FRAMES, else <repo root>/../shared/gazebo-frames."""
    import os
    env = os.environ.get(ENV_DIR)
    return Path(env) if env else Path(repo_root).resolve().parent / 'shared' / 'gazebo-frames'


def load_index(folder: Union[str, Path]) -> Dict[str, Any]:
    """frames.json of a data folder, checked: a bad file fails naming itself and the key."""
    path = Path(folder) / 'frames.json'
    try:
        with open(path, encoding='utf-8') as f:
            index = json.load(f)
    except json.JSONDecodeError as exc:
        raise ValueError(f'{path}: not JSON ({exc})') from None
    if not isinstance(index, dict):
        raise ValueError(f'{path}: expected an object with camera and circuits')
    for key in ('camera', 'circuits'):
        if not isinstance(index.get(key), dict):
            raise ValueError(f'{path}: {key!r} missing or not an object')
    for name, frames in index['circuits'].items():
        for k, item in enumerate(frames if isinstance(frames, list) else [None]):
            pose = item.get('pose') if isinstance(item, dict) else None
            if (not isinstance(item, dict) or not isinstance(item.get('file'), str)
                    or not isinstance(pose, list) or len(pose) != 3):
                raise ValueError(f'{path}: circuits.{name}[{k}]: expected {{"file": NAME, '
                                 f'"pose": [x, y, yaw]}}, got {item!r}')
    return index


def camera_mismatches(recorded: Mapping[str, Any], cfg: Config) -> List[str]:
    """'key: frames X, config Y' for every camera key that differs (or is missing on a side).

    The frames belong to the camera set-up they were taken with: against another one a
    difference is expected, not a renderer error.
    """
    ours = dataclasses.asdict(cfg.camera)
    out = []
    for key in sorted(set(ours) | set(recorded)):
        a, b = recorded.get(key), ours.get(key)
        if a is None or b is None or not math.isclose(float(a), float(b), rel_tol=0,
                                                      abs_tol=1e-9):
            out.append(f'camera.{key}: frames {a!r}, config {b!r}')
    return out


def compared_rows(cfg: Config) -> Tuple[float, ...]:
    """The perception rows and the rows the Gazebo run measured, top to bottom."""
    return tuple(sorted(set(float(r) for r in cfg.perception.rows) | set(MEASURED_ROWS)))


@dataclass
class PoseResult:
    file: str
    pose: Tuple[float, float, float]
    gazebo: List[Optional[float]]     # line centre per row (px), None where not seen
    embedded: List[Optional[float]]
    dx: List[Optional[float]]         # gazebo - embedded where both see it

    @property
    def max_abs_dx(self) -> Optional[float]:
        d = [abs(v) for v in self.dx if v is not None]
        return max(d) if d else None

    @property
    def missing_rows(self) -> int:
        """Rows where one image shows the line and the other does not."""
        return sum((g is None) != (e is None) for g, e in zip(self.gazebo, self.embedded))


@dataclass
class CircuitResult:
    circuit: str
    rows: Tuple[float, ...]
    poses: List[PoseResult] = field(default_factory=list)

    def summary(self) -> Dict[str, Any]:
        maxes = [p.max_abs_dx for p in self.poses if p.max_abs_dx is not None]
        return {'poses': len(self.poses), 'compared': len(maxes),
                'mean_max_dx_px': round(float(np.mean(maxes)), 2) if maxes else None,
                'worst_dx_px': round(float(np.max(maxes)), 2) if maxes else None,
                'missing_rows': sum(p.missing_rows for p in self.poses),
                'rows': list(self.rows)}


def _centres(reading) -> List[Optional[float]]:
    return [float(c) if ok else None for c, ok in zip(reading.columns, reading.found)]


def compare(folder: Union[str, Path], cfg: Config,
            circuits: Optional[Sequence[str]] = None) -> Dict[str, CircuitResult]:
    """Render every pose of the data with the embedded simulator and compare line centres."""
    folder = Path(folder)
    index = load_index(folder)
    rows = compared_rows(cfg)
    detector = LineDetector(dataclasses.replace(cfg.perception, rows=list(rows)))
    view = full_view(cfg.camera)
    out: Dict[str, CircuitResult] = {}
    for name, frames in index['circuits'].items():
        if circuits and name not in circuits:
            continue
        renderer = Renderer(track_map(load_circuit(name)), cfg.camera)
        result = CircuitResult(name, rows)
        for item in frames:
            path = folder / item['file']
            gazebo = cv2.imread(str(path), cv2.IMREAD_COLOR)   # BGR, as perception takes it
            if gazebo is None:
                raise FileNotFoundError(f'{path}: missing or not an image')
            if gazebo.shape[:2] != (cfg.camera.height, cfg.camera.width):
                raise ValueError(f'{path}: {gazebo.shape[1]}x{gazebo.shape[0]}, the camera is '
                                 f'{cfg.camera.width}x{cfg.camera.height}')
            x, y, yaw = (float(v) for v in item['pose'])
            embedded, _ = renderer.render(Pose2D(x, y, yaw), view)
            g, e = _centres(detector.detect(gazebo)), _centres(detector.detect(embedded))
            dx = [None if a is None or b is None else a - b for a, b in zip(g, e)]
            result.poses.append(PoseResult(item['file'], (x, y, yaw), g, e, dx))
        out[name] = result
    return out
