"""Camera images of a circuit by inverse perspective: no polygons are drawn per frame.

A `TrackMap` holds, once per circuit, the distance from every cell of a top-down grid to the
painted line, stored as a uint8 index. Rendering a frame moves the precomputed ground point of
each pixel into the map (two `cv2.addWeighted`), samples the index there (`cv2.remap`), and
colours it through a lookup table. Whether a pixel shows line, road, kerb or grass is a
threshold on that distance, so line-width randomisation only rebuilds a 256-entry table.

The grid has a fixed 4 cm cell on every circuit, so linear interpolation between cells puts
the line edge to about a millimetre however big the circuit is. Only square tiles of the grid
near the road are kept (beyond the road edge every cell is grass): memory follows the road's
area, not the bounding box. A small circuit's tiles are assembled once into one array covering
it all (the map every frame samples, as before tiling); on a big one each renderer assembles a
local window of tiles around the car per view, and reassembles it only when the view's ground
footprint leaves it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from ..config import CameraConfig
from ..track import Circuit
from .camera import GroundRays, ground_rays
from .interface import CameraView
from .painted import KERB_WIDTH, mean_spacing, painted_line
from .types import Pose2D

__all__ = ['FAR', 'KERB_WIDTH', 'Palette', 'RESOLUTION', 'Renderer', 'TILE', 'TrackMap',
           'distance_to_index', 'index_to_distance']

# Distance index: 1 cm steps up to 1 m (line edges placed to 1 cm), then 5 cm steps to 8.75 m.
FINE_STEP, FINE_LIMIT, COARSE_STEP = 0.01, 1.0, 0.05
FAR = 255
RESOLUTION = 0.04  # m per cell: < half the narrowest line, so interpolation keeps its edges
TILE = 64          # cells per tile side (2.56 m): small tiles keep the corridor narrow
# A circuit whose tile-aligned box holds at most this many cells gets one array for the whole
# circuit (no per-frame window logic): 16 MB, the size of the map before tiling.
DENSE_MAX_CELLS = 16_000_000
_COARSE = 4        # the nearest-sample search runs on a grid 4x coarser (16 cm)
_BLOCK = 16        # tiles per block side in that search (41 m)
_KEY_OFF, _KEY_STRIDE = 1 << 20, 1 << 21  # tile (tx, ty) -> one int64 key, tx, ty may be < 0


def distance_to_index(d: np.ndarray) -> np.ndarray:
    fine = d / FINE_STEP
    coarse = FINE_LIMIT / FINE_STEP + (d - FINE_LIMIT) / COARSE_STEP
    return np.clip(np.rint(np.where(d < FINE_LIMIT, fine, coarse)), 0, FAR).astype(np.uint8)


def index_to_distance(i: np.ndarray) -> np.ndarray:
    i = np.asarray(i, dtype=np.float64)
    n_fine = FINE_LIMIT / FINE_STEP
    return np.where(i <= n_fine, i * FINE_STEP, FINE_LIMIT + (i - n_fine) * COARSE_STEP)


@dataclass(frozen=True)
class Palette:
    """BGR colours, like the Gazebo world: grey asphalt, white kerbs, grass, red line."""
    line: tuple = (30, 30, 200)
    road: tuple = (95, 95, 95)
    kerb: tuple = (225, 225, 225)
    ground: tuple = (70, 125, 80)
    sky: tuple = (235, 206, 170)


def _key(tx: np.ndarray, ty: np.ndarray) -> np.ndarray:
    ty = np.asarray(ty, np.int64) + _KEY_OFF
    return ty * _KEY_STRIDE + (np.asarray(tx, np.int64) + _KEY_OFF)


class TrackMap:
    """Distance-to-line indices for one circuit in tiles near the road (built once, shared).

    Cell (i, j) of the global grid has its centre at world (j * res, i * res); tile (tx, ty)
    holds cells [ty*TILE, (ty+1)*TILE) x [tx*TILE, (tx+1)*TILE). A cell whose distance to the
    line is beyond `reach` (the road edge plus two cells) is FAR, and so is every cell of a
    tile that is not stored: all of them are grass whatever the appearance.
    """

    def __init__(self, circuit: Circuit, resolution: Optional[float] = None):
        self.circuit = circuit
        # Distances are to the line as Gazebo paints it: straight between the world meshes'
        # cross-sections, up to CHORD_TOL off the smooth centreline (sim/painted.py).
        self.line_points, self.line_tangents = painted_line(circuit)
        self.res = res = float(resolution or RESOLUTION)
        self.tile_m = TILE * res
        far_d = float(index_to_distance(FAR - 1))
        # Colours change only up to the road edge (the line is narrower than the road).
        self.reach = min(circuit.road_width / 2.0, far_d) + 3 * res
        self.keys, self.tiles = _build_tiles(self.line_points, self.line_tangents, res,
                                             self.reach)  # sorted keys
        self.dense: Optional[np.ndarray] = None
        self.dense_origin = (0, 0)         # tile (tx, ty) of the dense array's cell (0, 0)
        if len(self.keys):
            ty = self.keys // _KEY_STRIDE - _KEY_OFF
            tx = self.keys % _KEY_STRIDE - _KEY_OFF
            self.tile_box = (int(tx.min()), int(ty.min()), int(tx.max()), int(ty.max()))
        else:
            self.tile_box = (0, 0, 0, 0)
        tx0, ty0, tx1, ty1 = self.tile_box
        nx, ny = tx1 - tx0 + 1, ty1 - ty0 + 1
        # cv2.remap takes sources under 32767 cells a side.
        if nx * ny * TILE * TILE <= DENSE_MAX_CELLS and max(nx, ny) * TILE < 32000:
            self.dense = self.assemble(tx0, ty0, nx, ny)
            self.dense_origin = (tx0, ty0)

    @property
    def nbytes(self) -> int:
        """Bytes held by the map (tiles, and the whole-circuit array where there is one)."""
        return int(self.tiles.nbytes + self.keys.nbytes
                   + (self.dense.nbytes if self.dense is not None else 0))

    def slots(self, tx0: int, ty0: int, nx: int, ny: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, col) within an nx x ny block of tiles from (tx0, ty0), and the tile index, of
        every stored tile there."""
        # Keys are row-major, so each tile row of the block is one run of the sorted keys: two
        # searches per row instead of one per tile (window rebuilds are on the step path).
        rows = np.arange(ny, dtype=np.int64)
        lo = np.searchsorted(self.keys, _key(tx0, rows + ty0))
        hi = np.searchsorted(self.keys, _key(tx0 + nx, rows + ty0))
        counts = hi - lo
        ry = np.repeat(rows, counts)
        starts = np.repeat(lo - (np.cumsum(counts) - counts), counts)
        pos = np.arange(len(ry), dtype=np.int64) + starts
        rx = (self.keys[pos] % _KEY_STRIDE) - _KEY_OFF - tx0
        return ry, rx, pos

    def assemble(self, tx0: int, ty0: int, nx: int, ny: int,
                 out: Optional[np.ndarray] = None) -> np.ndarray:
        """The index of nx x ny tiles from tile (tx0, ty0) as one array (FAR where no tile)."""
        if out is None:
            out = np.full((ny * TILE, nx * TILE), FAR, np.uint8)
        ry, rx, idx = self.slots(tx0, ty0, nx, ny)
        blocks = out.reshape(ny, TILE, nx, TILE).transpose(0, 2, 1, 3)  # a view of `out`
        blocks[ry, rx] = self.tiles[idx]
        return out


def _build_tiles(pts: np.ndarray, tangents: np.ndarray, res: float, reach: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Keys and index arrays of the tiles holding a cell closer than `reach` to the closed
    polyline `pts` (unit `tangents`, samples about evenly spaced).

    Per block of tiles, a distance transform with labels on a 4x coarser grid seeded with the
    centreline samples gives each cell a nearby sample; one step along that sample's tangent
    moves it to the sample at the cell's foot point, and the distance is the offset along the
    normal there: exact to well under a millimetre on a 0.1 m-sampled line.
    """
    px, py = pts[:, 0].copy(), pts[:, 1].copy()
    tx, ty = tangents[:, 0].copy(), tangents[:, 1].copy()
    tx32, ty32 = tx.astype(np.float32), ty.astype(np.float32)
    n = len(pts)
    spacing = mean_spacing(pts)
    rc = res * _COARSE
    block_m = _BLOCK * TILE * res
    pad = reach + 2 * rc + spacing
    # Samples binned by block; a block reads its own bin and those within `pad` of it.
    nbr = range(-int(math.ceil(pad / block_m)), int(math.ceil(pad / block_m)) + 1)
    sbx = np.floor(pts[:, 0] / block_m).astype(np.int64)
    sby = np.floor(pts[:, 1] / block_m).astype(np.int64)
    skey = _key(sbx, sby)
    sorder = np.argsort(skey, kind='stable')
    skey_sorted = skey[sorder]
    # Blocks within `pad` of some sample.
    cand = []
    for ox in (-pad, pad):
        for oy in (-pad, pad):
            cand.append(_key(np.floor((pts[:, 0] + ox) / block_m).astype(np.int64),
                             np.floor((pts[:, 1] + oy) / block_m).astype(np.int64)))
    blocks = np.unique(np.concatenate(cand))
    margin = int(math.ceil(pad / rc)) + 2
    core = _BLOCK * TILE // _COARSE
    size = core + 2 * margin + 1
    keys_out, tiles_out = [], []
    for bkey in blocks.tolist():
        by, bx = bkey // _KEY_STRIDE - _KEY_OFF, bkey % _KEY_STRIDE - _KEY_OFF
        sel = []
        for dy in nbr:
            for dx in nbr:
                k = int(_key(bx + dx, by + dy))
                a, b = np.searchsorted(skey_sorted, [k, k + 1])
                if b > a:
                    sel.append(sorder[a:b])
        if not sel:
            continue
        si = np.concatenate(sel)
        ox, oy = bx * block_m, by * block_m  # world position of the block's cell (0, 0)
        local = pts[si] - (ox, oy)
        inside = ((local[:, 0] > -pad) & (local[:, 0] < block_m + pad)
                  & (local[:, 1] > -pad) & (local[:, 1] < block_m + pad))
        si, local = si[inside], local[inside]
        if not len(si):
            continue
        # Coarse cell k covers block-local fine cells 4(k - margin) .. 4(k - margin) + 3, so
        # its centre is 1.5 fine cells past the first of them.
        cc = np.rint((local - 1.5 * res) / rc).astype(np.int64) + margin
        seed = np.full((size, size), 255, np.uint8)
        seed[cc[:, 1], cc[:, 0]] = 0
        dist, labels = cv2.distanceTransformWithLabels(
            seed, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
        lut = np.zeros(int(labels.max()) + 1, np.int32)
        lut[labels[cc[:, 1], cc[:, 0]]] = si
        # Tiles with a coarse cell within reach (the coarse distance is good to ~2 cells).
        tile_c = TILE // _COARSE
        near = dist[margin:margin + core, margin:margin + core].reshape(
            _BLOCK, tile_c, _BLOCK, tile_c).min(axis=(1, 3)) * rc < reach + 3 * rc + spacing
        tyr_all, txr_all = np.nonzero(near)
        # At most 64 tiles (256k cells) at a time: the float temporaries stay ~10 MB.
        for g in range(0, len(tyr_all), 64):
            tyr, txr = tyr_all[g:g + 64], txr_all[g:g + 64]
            _tiles_of_block(
                tyr, txr, labels, lut, margin, core, bx, by, ox, oy, res, rc, reach, spacing,
                n, px, py, tx, ty, tx32, ty32, keys_out, tiles_out)
    if not keys_out:
        return np.zeros(0, np.int64), np.zeros((0, TILE, TILE), np.uint8)
    # Sorted by key (the renderer's lookup); filled chunk by chunk, each freed once copied, so
    # the peak is about one copy of the tiles, not three.
    keys = np.concatenate(keys_out)
    order = np.argsort(keys)
    dest = np.empty(len(keys), np.int64)
    dest[order] = np.arange(len(keys))
    tiles = np.empty((len(keys), TILE, TILE), np.uint8)
    at = 0
    while tiles_out:
        chunk = tiles_out.pop(0)
        tiles[dest[at:at + len(chunk)]] = chunk
        at += len(chunk)
    return keys[order], tiles


def _tiles_of_block(tyr, txr, labels, lut, margin, core, bx, by, ox, oy, res, rc, reach,
                    spacing, n, px, py, tx, ty, tx32, ty32, keys_out, tiles_out) -> None:
    """Index arrays of the tiles (tyr, txr) of block (bx, by); appends the non-empty ones."""
    tile_c = TILE // _COARSE
    ar = np.arange(TILE)
    # The Newton step along the tangent runs per coarse cell (16x fewer): it moves the
    # nearest seed to the sample at the foot point, to within one sample.
    lab = labels[margin:margin + core, margin:margin + core].reshape(
        _BLOCK, tile_c, _BLOCK, tile_c).transpose(0, 2, 1, 3)[tyr, txr]
    i = lut[lab]                                          # (k, 16, 16)
    cgy = ((tyr[:, None] * tile_c + np.arange(tile_c)) * rc + 1.5 * res)[:, :, None]
    cgx = ((txr[:, None] * tile_c + np.arange(tile_c)) * rc + 1.5 * res)[:, None, :]
    along = (cgx - (px[i] - ox)) * tx[i] + (cgy - (py[i] - oy)) * ty[i]
    j = ((i + np.rint(along / spacing).astype(np.int64)) % n).astype(np.int32)
    j = j.repeat(_COARSE, axis=1).repeat(_COARSE, axis=2)  # (k, TILE, TILE)
    X = (((txr[:, None] * TILE + ar) * res)[:, None, :]).astype(np.float32)
    Y = (((tyr[:, None] * TILE + ar) * res)[:, :, None]).astype(np.float32)
    tjx, tjy = tx32.take(j), ty32.take(j)
    dx_ = X - (px - ox).astype(np.float32).take(j)
    dy_ = Y - (py - oy).astype(np.float32).take(j)
    d = np.abs(dy_ * tjx - dx_ * tjy)
    along = dx_ * tjx + dy_ * tjy
    # Where the step did not reach the foot point (far from the line, near a loop's
    # medial axis) the distance to the sample is an upper bound; only grass is that far.
    bad = np.abs(along) > 2 * spacing
    if bad.any():
        d[bad] = np.hypot(dx_[bad], dy_[bad])
    # distance_to_index, faster: 100 d below 1 m, 20 d + 80 above, i.e. their minimum.
    scaled = np.minimum(d * np.float32(1.0 / FINE_STEP),
                        d * np.float32(1.0 / COARSE_STEP)
                        + np.float32(FINE_LIMIT / FINE_STEP - FINE_LIMIT / COARSE_STEP))
    scaled[d > reach] = FAR
    idx = cv2.convertScaleAbs(scaled.reshape(-1, TILE)).reshape(d.shape)
    keep = (idx < FAR).reshape(len(idx), -1).any(axis=1)
    if keep.any():
        keys_out.append(_key(bx * _BLOCK + txr[keep], by * _BLOCK + tyr[keep]))
        tiles_out.append(idx[keep])


@dataclass
class _Window:
    """The part of the map one view samples, and where the car may go before it is rebuilt."""
    index: np.ndarray
    x0: float          # world position of cell (0, 0)
    y0: float
    box: tuple         # (x_lo, y_lo, x_hi, y_hi) of car positions whose footprint it covers
    tiles: tuple = ()  # (rows, cols) of the tiles written, to clear on the next rebuild


class Renderer:
    """Renders the views a consumer asks for, from one circuit and one camera."""

    def __init__(self, track_map: TrackMap, camera: CameraConfig, palette: Palette = Palette()):
        self.map = track_map
        self.camera = camera
        self.palette = palette
        self._rays: dict[CameraView, tuple[GroundRays, np.ndarray, np.ndarray, float]] = {}
        self._windows: dict[CameraView, _Window] = {}
        self.window_builds = 0  # how often a local window was assembled (tests, benchmarks)
        self.set_appearance()

    def set_appearance(self, line_width: Optional[float] = None, light: float = 1.0,
                       line_bgr: Optional[tuple] = None) -> None:
        """Rebuild the colour table (per episode under domain randomisation)."""
        c = self.map.circuit
        lw = c.line_width if line_width is None else line_width
        d = index_to_distance(np.arange(256))
        p = self.palette
        colours = np.empty((256, 3), np.float64)
        colours[:] = p.ground
        half_road = c.road_width / 2.0
        colours[d <= half_road] = p.kerb
        colours[d <= half_road - KERB_WIDTH] = p.road
        colours[d <= lw / 2.0] = line_bgr or p.line
        colours[FAR] = p.ground
        self._lut = np.clip(colours * light, 0, 255).astype(np.uint8).reshape(256, 1, 3)
        self._sky = np.clip(np.array(p.sky, np.float64) * light, 0, 255).astype(np.uint8)

    def _prepared(self, view: CameraView):
        cached = self._rays.get(view)
        if cached is None:
            rays = ground_rays(self.camera, view)
            inv = 1.0 / self.map.res
            # The window must hold the disc around the footprint's centre (car frame) that
            # holds every ground point: the camera looks ahead, so a disc around the car
            # would be about twice as wide, and a rebuild would copy twice the road.
            if rays.gx.size:
                fx = 0.5 * float(rays.gx.min() + rays.gx.max())
                fy = 0.5 * float(rays.gy.min() + rays.gy.max())
                radius = float(np.hypot(rays.gx - fx, rays.gy - fy).max())
            else:
                fx = fy = radius = 0.0
            cached = (rays, rays.gx * inv, rays.gy * inv, radius + 2 * self.map.res, fx, fy)
            self._rays[view] = cached
        return cached

    def _window(self, view: CameraView, x: float, y: float, yaw: float, radius: float
                ) -> _Window:
        """The window holding the disc of `radius` around (x, y), the footprint's centre."""
        m = self.map
        if m.dense is not None:
            w = self._windows.get(None)
            if w is None:
                tx0, ty0 = m.dense_origin
                inf = math.inf
                w = _Window(m.dense, tx0 * m.tile_m, ty0 * m.tile_m, (-inf, -inf, inf, inf))
                self._windows[None] = w
            return w
        w = self._windows.get(view)
        if w is not None:
            x_lo, y_lo, x_hi, y_hi = w.box
            if x_lo <= x <= x_hi and y_lo <= y <= y_hi:
                return w
        # The car may move `slack` metres either way before the window is rebuilt: larger is
        # fewer rebuilds but each costs more (a fixed ~70 us plus the road's area in the
        # window). Under random-action episodes (a rebuild at every reset) 4-8 m measured
        # best: 2 points faster than 8-16 m, 5 faster than 2-4 m.
        slack = min(max(radius, 4.0), 8.0)
        ts = m.tile_m
        half = radius + slack
        nt = int(math.ceil(2 * half / ts)) + 1
        # Centred ahead of the car, which mostly drives forward: it leaves the window after
        # about 1.7 slack instead of 1 (the car stays inside the box, 0.7 slack off centre).
        cx = x + 0.7 * slack * math.cos(yaw)
        cy = y + 0.7 * slack * math.sin(yaw)
        tx0 = int(math.floor((cx - half) / ts))
        ty0 = int(math.floor((cy - half) / ts))
        if w is None or w.index.shape[0] != nt * TILE:
            index = np.full((nt * TILE, nt * TILE), FAR, np.uint8)
        else:
            # Reuse the buffer: clearing only the tiles written last time costs the road's area
            # in the window, not the window's.
            index = w.index
            rows, cols = w.tiles
            index.reshape(nt, TILE, nt, TILE).transpose(0, 2, 1, 3)[rows, cols] = FAR
        ry, rx, idx = m.slots(tx0, ty0, nt, nt)
        index.reshape(nt, TILE, nt, TILE).transpose(0, 2, 1, 3)[ry, rx] = m.tiles[idx]
        x0, y0 = tx0 * ts, ty0 * ts
        edge = (nt * TILE - 1) * m.res
        w = _Window(index, x0, y0, (x0 + radius, y0 + radius, x0 + edge - radius,
                                    y0 + edge - radius), (ry, rx))
        self._windows[view] = w
        self.window_builds += 1
        return w

    def render(self, pose: Pose2D, view: CameraView) -> tuple[np.ndarray, np.ndarray]:
        """BGR image of the rows in `view` seen from `pose`, and those rows' fractions."""
        rays, ax, ay, radius, fx, fy = self._prepared(view)
        n_rows = len(rays.row_fractions)
        g = rays.ground_rows
        if len(g):
            c, s = math.cos(pose.yaw), math.sin(pose.yaw)
            win = self._window(view, pose.x + c * fx - s * fy, pose.y + s * fx + c * fy,
                               pose.yaw, radius)
            inv = 1.0 / self.map.res
            cx, cy = (pose.x - win.x0) * inv, (pose.y - win.y0) * inv
            # Map cell = car cell + R(yaw) * ground point, one fused multiply-add per axis.
            mx = cv2.addWeighted(ax, c, ay, -s, cx)
            my = cv2.addWeighted(ax, s, ay, c, cy)
            idx = cv2.remap(win.index, mx, my, cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=FAR)
            ground = cv2.LUT(cv2.merge((idx, idx, idx)), self._lut)
            if len(g) == n_rows:
                return ground, rays.row_fractions
        image = np.empty((n_rows, view.width, 3), np.uint8)
        # Sky where no ground is, from one whole sky row: broadcasting the 3-byte colour
        # itself over a 640x480 image took 3 ms a frame (numpy's inner loop runs over the 3
        # channels), the row copies take 0.02 ms.
        sky_row = np.tile(self._sky, (view.width, 1))
        if len(g):
            image[:g[0]] = sky_row
            image[g[0]:g[-1] + 1] = ground
            image[g[-1] + 1:] = sky_row
        else:
            image[:] = sky_row
        return image, rays.row_fractions
