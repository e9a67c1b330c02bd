"""Tile intersection: which splats touch which 16x16 tile, front to back.

A splat's footprint (mean ± radius, from the projection) covers a rectangle of tiles;
every (camera, tile) gets the list of splats touching it sorted by depth. Splats are
sorted by depth once per camera and then scattered to tiles with a counting sort
(which keeps that order), so no per-tile sorting is needed.
"""

from dataclasses import dataclass

import numpy as np
from numba import njit

from setsplat.render.conventions import TILE_SIZE


@dataclass
class TileBins:
    """``ids[offsets[j]:offsets[j+1]]`` are the splats of tile j (j = camera·T + tile)."""

    offsets: np.ndarray  # (C·tiles_y·tiles_x + 1,) int64
    ids: np.ndarray  # (n_intersections,) int32, splat indices
    tiles_x: int
    tiles_y: int


@njit(cache=True)
def _tile_rect(mx, my, rx, ry, tiles_x, tiles_y):
    x0 = min(max(0, int(np.floor((mx - rx) / TILE_SIZE))), tiles_x)
    x1 = min(max(0, int(np.ceil((mx + rx) / TILE_SIZE))), tiles_x)
    y0 = min(max(0, int(np.floor((my - ry) / TILE_SIZE))), tiles_y)
    y1 = min(max(0, int(np.ceil((my + ry) / TILE_SIZE))), tiles_y)
    return x0, x1, y0, y1


@njit(cache=True)
def _count(means2d, radii, order, tiles_x, tiles_y, counts):
    for c in range(means2d.shape[0]):
        base = c * tiles_x * tiles_y
        for i in order[c]:
            if i < 0:
                break
            x0, x1, y0, y1 = _tile_rect(means2d[c, i, 0], means2d[c, i, 1], radii[c, i, 0],
                                        radii[c, i, 1], tiles_x, tiles_y)
            for ty in range(y0, y1):
                for tx in range(x0, x1):
                    counts[base + ty * tiles_x + tx] += 1


@njit(cache=True)
def _scatter(means2d, radii, order, tiles_x, tiles_y, cursor, ids):
    for c in range(means2d.shape[0]):
        base = c * tiles_x * tiles_y
        for i in order[c]:
            if i < 0:
                break
            x0, x1, y0, y1 = _tile_rect(means2d[c, i, 0], means2d[c, i, 1], radii[c, i, 0],
                                        radii[c, i, 1], tiles_x, tiles_y)
            for ty in range(y0, y1):
                for tx in range(x0, x1):
                    j = base + ty * tiles_x + tx
                    ids[cursor[j]] = i
                    cursor[j] += 1


def bin_splats(means2d: np.ndarray, radii: np.ndarray, depths: np.ndarray, width: int,
               height: int) -> TileBins:
    """Sorted per-tile splat lists for (C, N) projected splats (radii 0 = culled)."""
    cameras, n = depths.shape
    tiles_x = -(-width // TILE_SIZE)
    tiles_y = -(-height // TILE_SIZE)
    order = np.full((cameras, n), -1, np.int32)  # visible splats by depth, then -1
    for c in range(cameras):
        visible = np.flatnonzero((radii[c, :, 0] > 0) & (radii[c, :, 1] > 0)).astype(np.int32)
        order[c, : len(visible)] = visible[np.argsort(depths[c, visible], kind="stable")]
    counts = np.zeros(cameras * tiles_x * tiles_y, np.int64)
    _count(means2d, radii, order, tiles_x, tiles_y, counts)
    offsets = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    ids = np.empty(int(offsets[-1]), np.int32)
    _scatter(means2d, radii, order, tiles_x, tiles_y, offsets[:-1].copy(), ids)
    return TileBins(offsets, ids, tiles_x, tiles_y)
