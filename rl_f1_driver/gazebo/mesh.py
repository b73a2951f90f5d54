"""Road, kerb and red-line meshes of a circuit: flat triangle strips written as Wavefront OBJ.

Every band (the road, each kerb, the line) is a strip between its two true edge curves, the
centreline offset sideways along its normal. All bands share one set of cross-sections, kept
so that every chord of every edge curve stays within `CHORD_TOL` of that curve (the outside
edge of a corner bends more than the centreline, so the centreline alone is not enough).
Each cross-section's vertices lie exactly on the edges, so widths are exact at every
cross-section and the strip never strays more than `CHORD_TOL` from the true band.

One mesh per colour layer suffices for Gazebo Classic, which colours a mesh visual with its
SDF <material>; only a very long circuit splits a layer into several meshes (`MAX_VERTICES`).
The meshes lie in the z = 0 plane, face up (+z); the world's visual pose lifts each layer
to its height.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np

CHORD_TOL = 0.01      # m, largest distance between a mesh edge and the true curve
MAX_SEGMENT = 10.0    # m, longest strip section on a straight (keeps triangles compact)
# Fewer than 2**16 vertices per mesh: every renderer (Ogre 1.9 in Gazebo 11 too) takes such a
# mesh with 16-bit indices, and a file stays a few MB at most.
MAX_VERTICES = 65535
DIGITS = 5            # decimals in the OBJ (10 µm): byte-stable, far below CHORD_TOL
MESH_EXT = 'obj'


@dataclass(frozen=True)
class Band:
    """A strip `width` wide whose centre runs `offset` to the left of the centreline."""
    offset: float
    width: float

    @property
    def edges(self) -> Tuple[float, float]:
        return (self.offset - self.width / 2.0, self.offset + self.width / 2.0)


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


def band_chunks(points: np.ndarray, normals: np.ndarray, idx: Sequence[int],
                bands: Sequence[Band], max_chunks: int) -> List[Tuple[np.ndarray, np.ndarray]]:
    """(vertices, faces) of the strips of `bands` over the closed loop of sections `idx`.

    Split into consecutive pieces of the loop (sharing their end sections: no crack) when one
    mesh would exceed `MAX_VERTICES`, but never into more than `max_chunks` pieces.
    """
    sections = len(idx)
    closed = list(idx) + [idx[0]]                                # the loop ends where it began
    per_section = 2 * len(bands)
    rows = max(2, MAX_VERTICES // per_section)                   # sections per piece
    pieces = max(1, math.ceil(sections / (rows - 1)))
    if pieces > max_chunks:
        pieces = max_chunks
    step = math.ceil(sections / pieces)
    out = []
    for start in range(0, sections, step):
        sel = closed[start:min(start + step, sections) + 1]
        out.append(_strips(points[sel], normals[sel], bands))
    return out


def _strips(p: np.ndarray, n: np.ndarray, bands: Sequence[Band]
            ) -> Tuple[np.ndarray, np.ndarray]:
    verts, faces = [], []
    m = len(p)
    for band in bands:
        right_off, left_off = band.edges
        base = sum(len(v) for v in verts)
        right = p + right_off * n
        left = p + left_off * n
        # Vertex 2k is section k's right edge, 2k + 1 its left edge.
        v = np.empty((2 * m, 3))
        v[0::2, :2], v[1::2, :2], v[:, 2] = right, left, 0.0
        k = base + 2 * np.arange(m - 1)
        r0, l0, r1, l1 = k, k + 1, k + 2, k + 3
        # Counter-clockwise seen from above, so the faces point up (+z).
        faces.append(np.concatenate([np.stack([r0, r1, l1], 1), np.stack([r0, l1, l0], 1)]))
        verts.append(v)
    return np.concatenate(verts), np.concatenate(faces).astype(np.int64)


def obj_text(vertices: np.ndarray, faces: np.ndarray, header: str) -> str:
    """The OBJ text, written by trimesh, with up-facing normals (lit like the old boxes)."""
    import trimesh   # imported here: only generation needs it, not loading the package
    mesh = trimesh.Trimesh(vertices=np.round(vertices, DIGITS), faces=faces, process=False,
                           vertex_normals=np.tile([0.0, 0.0, 1.0], (len(vertices), 1)))
    text = trimesh.exchange.obj.export_obj(mesh, include_normals=True, include_color=False,
                                           include_texture=False, digits=DIGITS,
                                           header=header)
    return text if text.endswith('\n') else text + '\n'
