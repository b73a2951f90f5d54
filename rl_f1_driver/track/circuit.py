"""A circuit: one YAML definition, smoothed into a dense closed centreline.

Both the embedded simulator and the Gazebo world generator are made from `Circuit`, so the
painted line the car sees is the same curve in both.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Union

import numpy as np

from ..errors import CircuitError, ConfigError
from ..paths import circuits_dir

DEFAULT_ROAD_WIDTH = 8.0
DEFAULT_LINE_WIDTH = 0.25
SAMPLE_SPACING = 0.1  # m between centreline samples; fine enough for 1 cm offset accuracy
# Largest circuit accepted: the renderer's map and the centreline samples grow with the length,
# and the map's tile keys and window coordinates are sized for this box.
MAX_LENGTH = 50_000.0  # m of centreline
MAX_EXTENT = 20_000.0  # m, each side of the bounding box


@dataclass(frozen=True)
class Circuit:
    name: str
    control_points: np.ndarray  # (N, 2) as written in the file
    road_width: float
    line_width: float
    points: np.ndarray          # (M, 2) dense centreline, evenly spaced, closed (last != first)
    tangents: np.ndarray        # (M, 2) unit tangents
    s: np.ndarray               # (M,) arc length at each point
    length: float
    source: str = ''
    description: str = ''      # its character, in a sentence (rl-f1 circuits)

    @property
    def spacing(self) -> float:
        return self.length / len(self.points)

    def pose_at(self, fraction: float) -> tuple[float, float, float]:
        """(x, y, yaw) on the line at a fraction of the lap, facing the driving direction."""
        i = int(round((fraction % 1.0) * len(self.points))) % len(self.points)
        tx, ty = self.tangents[i]
        return float(self.points[i, 0]), float(self.points[i, 1]), math.atan2(ty, tx)

    def curvature(self) -> np.ndarray:
        """Signed curvature (1/m) at each sample, positive turning left."""
        t = self.tangents
        dt = (np.roll(t, -1, axis=0) - np.roll(t, 1, axis=0)) / (2 * self.spacing)
        return t[:, 0] * dt[:, 1] - t[:, 1] * dt[:, 0]

    def reversed(self) -> 'Circuit':
        """The same loop driven the other way (same start point)."""
        cached = _REVERSED.get(id(self))
        if cached is not None and cached[0] is self:
            return cached[1]
        pts = np.vstack([self.points[:1], self.points[:0:-1]])
        tan = -np.vstack([self.tangents[:1], self.tangents[:0:-1]])
        rev = Circuit(name=self.name + ' (reversed)', control_points=self.control_points[::-1],
                      road_width=self.road_width, line_width=self.line_width, points=pts,
                      tangents=tan, s=self.s.copy(), length=self.length, source=self.source)
        _REVERSED[id(self)] = (self, rev)
        return rev

    def bounds(self, margin: float = 0.0) -> tuple[float, float, float, float]:
        lo = self.points.min(axis=0) - margin
        hi = self.points.max(axis=0) + margin
        return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def builtin_names() -> List[str]:
    return sorted(p.stem for p in circuits_dir().glob('*.yaml'))


def resolve_track(track: Union[str, Path]) -> Path:
    """A built-in name or a path to a YAML file."""
    p = Path(track)
    if p.suffix in ('.yaml', '.yml') or p.is_file() or len(p.parts) > 1:
        if not p.is_file():
            raise CircuitError(f'{p}: circuit file not found')
        return p
    builtin = circuits_dir() / f'{track}.yaml'
    if builtin.is_file():
        return builtin
    raise CircuitError(f'unknown track {str(track)!r}: expected one of '
                       f'{", ".join(builtin_names())} or a path to a circuit .yaml file')


_CACHE: dict = {}
_REVERSED: dict = {}


def load_circuit(track: Union[str, Path]) -> Circuit:
    """Load and validate a circuit (cached: environments on one track share it)."""
    path = resolve_track(track)
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    if key not in _CACHE:
        from ..config.loader import read_yaml
        try:
            data = read_yaml(path, 'circuit')
        except ConfigError as exc:
            raise CircuitError(str(exc)) from None
        _CACHE[key] = circuit_from_dict(data, source=str(path))
    return _CACHE[key]


def circuit_from_dict(data: object, source: str = '<circuit>') -> Circuit:
    def bad(msg: str) -> CircuitError:
        return CircuitError(f'{source}: {msg}')

    if not isinstance(data, dict):
        raise bad(f'expected a mapping with name and centerline, got {type(data).__name__}')
    unknown = set(data) - {'name', 'centerline', 'road_width', 'line_width', 'description'}
    if unknown:
        raise bad(f'unknown key(s) {", ".join(sorted(map(str, unknown)))} '
                  '(known: name, centerline, road_width, line_width, description)')
    for key in ('name', 'centerline'):
        if key not in data:
            raise bad(f'missing key {key!r}')
    name = data['name']
    if not isinstance(name, str) or not name.strip():
        raise bad(f'name: expected a non-empty string, got {name!r}')
    raw = data['centerline']
    if not isinstance(raw, list):
        raise bad(f'centerline: expected a list of [x, y] points, got {type(raw).__name__}')
    pts = []
    for i, p in enumerate(raw):
        if (not isinstance(p, (list, tuple)) or len(p) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                           and math.isfinite(v) for v in p)):
            raise bad(f'centerline[{i}]: expected [x, y] with two numbers (metres), got {p!r}')
        pts.append((float(p[0]), float(p[1])))
    if len(pts) < 4:
        raise bad(f'centerline: expected at least 4 points, got {len(pts)}')

    def width(key: str, default: float, lo: float, hi: float) -> float:
        v = data.get(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo < v <= hi:
            raise bad(f'{key}: expected a number in ({lo}, {hi}] metres, got {v!r}')
        return float(v)

    road_width = width('road_width', DEFAULT_ROAD_WIDTH, 0.5, 50.0)
    line_width = width('line_width', DEFAULT_LINE_WIDTH, 0.01, 2.0)
    if line_width >= road_width:
        raise bad(f'line_width ({line_width}) must be less than road_width ({road_width})')
    ctrl = np.asarray(pts, dtype=np.float64)
    if np.allclose(ctrl[0], ctrl[-1]):
        ctrl = ctrl[:-1]  # a repeated first point closes the loop; the spline does that itself
    steps = np.linalg.norm(np.diff(np.vstack([ctrl, ctrl[:1]]), axis=0), axis=1)
    if len(ctrl) < 4 or np.any(steps < 1e-6):
        raise bad('centerline: repeated consecutive points (need at least 4 distinct points)')
    extent = ctrl.max(axis=0) - ctrl.min(axis=0)
    if np.any(extent > MAX_EXTENT):
        raise bad(f'centerline: the circuit spans {extent[0] / 1000:.1f} x '
                  f'{extent[1] / 1000:.1f} km; at most {MAX_EXTENT / 1000:g} x '
                  f'{MAX_EXTENT / 1000:g} km is supported')
    dense = _periodic_spline(ctrl, samples_per_segment=64)
    closed = np.vstack([dense, dense[:1]])
    total = float(np.linalg.norm(np.diff(closed, axis=0), axis=1).sum())
    if total > MAX_LENGTH:
        raise bad(f'centerline: the loop is {total / 1000:.1f} km long; at most '
                  f'{MAX_LENGTH / 1000:g} km is supported')
    where = _self_intersection(dense)
    if where is not None:
        raise bad(f'centerline: the smoothed loop crosses itself near ({where[0]:.1f}, '
                  f'{where[1]:.1f}); a circuit must be a simple closed loop')
    points, tangents, s, length = _resample(dense, SAMPLE_SPACING)
    where = _road_overlap(points, length / len(points), road_width)
    if where is not None:
        raise bad(f'centerline: the road ({road_width:g} m wide) overlaps itself near '
                  f'({where[0]:.1f}, {where[1]:.1f}); keep separate parts of the loop at least '
                  'one road width apart')
    description = data.get('description', '')
    if not isinstance(description, str):
        raise bad(f'description: expected a sentence (a string), got {description!r}')
    return Circuit(name=name.strip(), control_points=ctrl, road_width=road_width,
                   line_width=line_width, points=points, tangents=tangents, s=s,
                   length=length, source=source, description=' '.join(description.split()))


def _periodic_spline(ctrl: np.ndarray, samples_per_segment: int) -> np.ndarray:
    """Closed cubic spline through the points, chord-length parameterised (C2)."""
    n = len(ctrl)
    h = np.linalg.norm(np.roll(ctrl, -1, axis=0) - ctrl, axis=1)  # h[i]: segment i -> i+1
    # Second derivatives M solve the cyclic system
    # h[i-1] M[i-1] + 2 (h[i-1] + h[i]) M[i] + h[i] M[i+1] = 6 (d[i] - d[i-1]).
    A = np.zeros((n, n))
    d = (np.roll(ctrl, -1, axis=0) - ctrl) / h[:, None]
    rhs = 6.0 * (d - np.roll(d, 1, axis=0))
    for i in range(n):
        hp = h[i - 1]
        A[i, (i - 1) % n] += hp
        A[i, i] += 2.0 * (hp + h[i])
        A[i, (i + 1) % n] += h[i]
    M = np.linalg.solve(A, rhs)
    t = np.linspace(0.0, 1.0, samples_per_segment, endpoint=False)
    out = []
    for i in range(n):
        j = (i + 1) % n
        u = t * h[i]
        a, b = ctrl[i], ctrl[j]
        mi, mj = M[i], M[j]
        hi = h[i]
        seg = (mi[None, :] * ((hi - u) ** 3)[:, None] / (6 * hi)
               + mj[None, :] * (u ** 3)[:, None] / (6 * hi)
               + (a / hi - mi * hi / 6)[None, :] * (hi - u)[:, None]
               + (b / hi - mj * hi / 6)[None, :] * u[:, None])
        out.append(seg)
    return np.vstack(out)


def _resample(dense: np.ndarray, spacing: float):
    closed = np.vstack([dense, dense[:1]])
    seg = np.linalg.norm(np.diff(closed, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    length = float(cum[-1])
    m = max(16, int(round(length / spacing)))
    s = np.arange(m) * (length / m)
    x = np.interp(s, cum, closed[:, 0])
    y = np.interp(s, cum, closed[:, 1])
    points = np.stack([x, y], axis=1)
    fwd = np.roll(points, -1, axis=0) - np.roll(points, 1, axis=0)
    tangents = fwd / np.linalg.norm(fwd, axis=1, keepdims=True)
    return points, tangents, s, length


def _self_intersection(dense: np.ndarray) -> Optional[np.ndarray]:
    """First point where two non-adjacent segments of the closed polyline cross, else None."""
    # A coarser polyline keeps the O(n^2) check cheap; 1,500 segments cover the longest loops.
    step = max(1, len(dense) // 1500)
    p = dense[::step]
    q = np.roll(p, -1, axis=0)
    n = len(p)
    for i in range(n - 2):
        a, b = p[i], q[i]
        js = np.arange(i + 2, n if i > 0 else n - 1)
        if len(js) == 0:
            continue
        c, d = p[js], q[js]
        d1 = _cross(b - a, c - a)
        d2 = _cross(b - a, d - a)
        d3 = _cross(d - c, a - c)
        d4 = _cross(d - c, b - c)
        # <= 0: touching at a point counts (a figure eight through a sample point). Collinear
        # segments make all four products 0; they meet only if their boxes overlap.
        boxes = ((np.minimum(c[:, 0], d[:, 0]) <= max(a[0], b[0]))
                 & (np.maximum(c[:, 0], d[:, 0]) >= min(a[0], b[0]))
                 & (np.minimum(c[:, 1], d[:, 1]) <= max(a[1], b[1]))
                 & (np.maximum(c[:, 1], d[:, 1]) >= min(a[1], b[1])))
        hit = (d1 * d2 <= 0) & (d3 * d4 <= 0) & boxes
        if np.any(hit):
            return a
    return None


def _road_overlap(points: np.ndarray, spacing: float, road_width: float
                  ) -> Optional[np.ndarray]:
    """A point where two parts of the loop, far apart along it, are closer than the road is
    wide (their road surfaces overlap), else None."""
    step = max(1, int(round(0.5 / spacing)), len(points) // 2000)
    p = points[::step]
    m = len(p)
    along = np.arange(m) * step * spacing
    length = m * step * spacing
    # Along the line, a U-turn as tight as the road allows brings two points this close.
    min_along = 0.5 * np.pi * road_width
    for i in range(m):
        sep = np.abs(along - along[i])
        sep = np.minimum(sep, length - sep)
        d = np.hypot(p[:, 0] - p[i, 0], p[:, 1] - p[i, 1])
        if np.any((sep > min_along) & (d < road_width)):
            return p[i]
    return None


def _cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]
