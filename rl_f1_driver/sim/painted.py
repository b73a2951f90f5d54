"""The painted track as both simulators draw it: bands, and the cross-sections that tessellate it.

Gazebo shows the road, kerbs and red line as flat triangle strips (gazebo/mesh.py) between
cross-sections of the circuit's dense centreline, kept so that every chord of every band edge
stays within `CHORD_TOL` of its true curve. Between two sections the painted line is therefore
straight, and up to `CHORD_TOL` (1 cm) off the smooth centreline: on the near image rows that
is 3-4 px. The embedded renderer draws the line along the same sections (`painted_line`), so
the two simulators paint the same line by construction, whatever the tolerance.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np

from ..track import Circuit

CHORD_TOL = 0.01      # m, largest distance between a mesh edge and the true curve
MAX_SEGMENT = 10.0    # m, longest strip section on a straight (keeps triangles compact)
KERB_WIDTH = 0.25     # m, white band at the road edge
LINE_SPACING = 0.1    # m, most distance between the renderer's samples along the painted line


@dataclass(frozen=True)
class Band:
    """A strip `width` wide whose centre runs `offset` to the left of the centreline."""
    offset: float
    width: float

    @property
    def edges(self) -> Tuple[float, float]:
        return (self.offset - self.width / 2.0, self.offset + self.width / 2.0)


def track_bands(circuit: Circuit) -> dict[str, Tuple[Band, ...]]:
    """The strips of each colour layer, bottom to top (the kerbs lie on the road's edges)."""
    kerb_off = circuit.road_width / 2.0 - KERB_WIDTH / 2.0
    return {'road': (Band(0.0, circuit.road_width),),
            'kerbs': (Band(kerb_off, KERB_WIDTH), Band(-kerb_off, KERB_WIDTH)),
            'line': (Band(0.0, circuit.line_width),)}


def left_normals(tangents: np.ndarray) -> np.ndarray:
    """Unit normals pointing left of travel."""
    n = np.stack([-tangents[:, 1], tangents[:, 0]], axis=1)
    return n / np.linalg.norm(n, axis=1, keepdims=True)


def segment_loop(points: np.ndarray, tol: float = CHORD_TOL, max_len: float = MAX_SEGMENT,
                 normals: np.ndarray | None = None,
                 offsets: Sequence[float] = (0.0,)) -> List[int]:
    """Indices of the closed polyline's vertices kept so each chord stays within `tol`.

    With `normals`, the test applies to every curve `points + offset * normals` at once, so
    the same indices serve bands at all those offsets. Starts at index 0 (the lap start) and
    walks greedily; the last chord returns to 0.
    """
    n = len(points)
    if normals is None:
        normals = np.zeros_like(points)
        offsets = (0.0,)
    curves = np.stack([points + o * normals for o in sorted(set(offsets))])
    closed = np.concatenate([curves, curves[:, :1]], axis=1)     # (curves, n + 1, 2)
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


def _chord_ok(curves: np.ndarray, i: int, j: int, tol: float, max_len: float) -> bool:
    a, b = curves[:, i], curves[:, j]
    d = b - a                                                    # (curves, 2)
    length = np.hypot(d[:, 0], d[:, 1])
    if float(length.max()) > max_len:
        return False
    if j - i < 2:
        return True
    mid = curves[:, i + 1:j] - a[:, None, :]
    cross = np.abs(mid[..., 0] * d[:, None, 1] - mid[..., 1] * d[:, None, 0])
    # A zero-length chord (a cusp) fails unless every point in between coincides with it.
    dev = np.where(length[:, None] > 0, cross / np.maximum(length[:, None], 1e-300),
                   np.hypot(mid[..., 0], mid[..., 1]))
    return float(dev.max()) <= tol


def track_sections(circuit: Circuit) -> List[int]:
    """Indices of the centreline samples where the painted strips have their cross-sections.

    Kept so that every edge of every band (road, kerbs, line) is within CHORD_TOL of its curve.
    """
    normals = left_normals(circuit.tangents)
    edges = sorted({e for bands in track_bands(circuit).values() for b in bands
                    for e in b.edges})
    return segment_loop(circuit.points, CHORD_TOL, MAX_SEGMENT, normals, (0.0, *edges))


def painted_line(circuit: Circuit, spacing: float = LINE_SPACING
                 ) -> Tuple[np.ndarray, np.ndarray]:
    """(points, unit tangents) of the painted line's centre, the closed polyline through the
    cross-sections, sampled at most `spacing` apart with every section a sample.

    The line strip of the mesh has its edges `line_width / 2` either side of this polyline
    (to well under a millimetre: its sections turn by a few degrees at most).
    """
    poly = circuit.points[track_sections(circuit)]
    a, b = poly, np.roll(poly, -1, axis=0)
    length = np.hypot(*(b - a).T)
    pieces = np.maximum(1, np.ceil(length / spacing - 1e-9)).astype(np.int64)
    chord = np.repeat(np.arange(len(poly)), pieces)
    start = np.cumsum(pieces) - pieces
    t = (np.arange(int(pieces.sum())) - np.repeat(start, pieces)) / np.repeat(pieces, pieces)
    points = a[chord] + t[:, None] * (b - a)[chord]
    # Central differences: a sample inside a chord gets the chord's direction exactly (its
    # neighbours lie on the same chord); a section gets the mean of its two chords.
    fwd = np.roll(points, -1, axis=0) - np.roll(points, 1, axis=0)
    tangents = fwd / np.linalg.norm(fwd, axis=1, keepdims=True)
    return points, tangents


def mean_spacing(points: np.ndarray) -> float:
    """Mean distance between consecutive samples of a closed polyline."""
    d = np.roll(points, -1, axis=0) - points
    return float(np.hypot(d[:, 0], d[:, 1]).sum() / max(1, len(points)))


__all__ = ['Band', 'CHORD_TOL', 'KERB_WIDTH', 'LINE_SPACING', 'MAX_SEGMENT', 'left_normals',
           'mean_spacing', 'painted_line', 'segment_loop', 'track_bands', 'track_sections']
