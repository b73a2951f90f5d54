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
from typing import List, Optional, Sequence, Tuple

import numpy as np

# The bands, and the cross-sections world.py passes in, are sim/painted.py's: the embedded
# renderer paints the line along the same sections.
from ..sim.painted import Band

# Fewer than 2**16 vertices per mesh: every renderer (Ogre 1.9 in Gazebo 11 too) takes such a
# mesh with 16-bit indices, and a file stays a few MB at most.
MAX_VERTICES = 65535
DIGITS = 5            # decimals in the OBJ (10 µm): byte-stable, far below CHORD_TOL
MESH_EXT = 'obj'
MTL_EXT = 'mtl'


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


def obj_text(vertices: np.ndarray, faces: np.ndarray, header: str,
             mtl_file: Optional[str] = None, material_name: Optional[str] = None) -> str:
    """The OBJ text, written by trimesh, with up-facing normals (lit like the old boxes).

    With `mtl_file` and `material_name`, the faces use that material of that library (the
    .mtl beside the OBJ): Gazebo warns `Missing material for shape[]` for an OBJ without one.
    """
    import trimesh   # imported here: only generation needs it, not loading the package
    mesh = trimesh.Trimesh(vertices=np.round(vertices, DIGITS), faces=faces, process=False,
                           vertex_normals=np.tile([0.0, 0.0, 1.0], (len(vertices), 1)))
    text = trimesh.exchange.obj.export_obj(mesh, include_normals=True, include_color=False,
                                           include_texture=False, digits=DIGITS,
                                           header=header)
    text = text if text.endswith('\n') else text + '\n'
    if mtl_file is None or material_name is None:
        return text
    lines = text.split('\n')
    # mtllib after the header comments; usemtl before the first face (all faces share it).
    head = next(i for i, line in enumerate(lines) if not line.startswith('#'))
    lines.insert(head, f'mtllib {mtl_file}')
    first_face = next(i for i, line in enumerate(lines) if line.startswith('f '))
    lines.insert(first_face, f'usemtl {material_name}')
    return '\n'.join(lines)


def mtl_text(material_name: str, rgb: Sequence[str], header: str) -> str:
    """A one-material library: `rgb` (three numbers as text, 0..1) for ambient and diffuse, no
    shine and no emission, opaque: the colour the world's SDF <material> gives the visual."""
    colour = ' '.join(rgb)
    return '\n'.join([f'# {header}', f'newmtl {material_name}', f'Ka {colour}',
                      f'Kd {colour}', 'Ks 0 0 0', 'Ke 0 0 0', 'Ns 0', 'd 1', 'illum 1', ''])
