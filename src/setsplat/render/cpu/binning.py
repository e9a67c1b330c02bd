"""Tile intersection: which splats touch which 16x16 tile, front to back.

A splat's footprint -- the pixels whose centres lie within mean ± radius, the only ones
the compositing lets it touch -- covers a rectangle of tiles; every (camera, tile) gets
the list of splats touching it sorted by depth. Splats are
sorted by depth once per camera (a radix sort on the depths' bits) and then scattered
to tiles with a counting sort (which keeps that order), so no per-tile sorting is
needed. Equal depths keep their index order.
"""

import math
from dataclasses import dataclass

import numpy as np
from numba import get_num_threads, njit, prange

from setsplat.render.conventions import TILE_SHIFT, TILE_SIZE


@dataclass
class TileBins:
    """``ids[offsets[j]:offsets[j+1]]`` are the splats of tile j (j = camera·T + tile)."""

    offsets: np.ndarray  # (C·tiles_y·tiles_x + 1,) int64
    ids: np.ndarray  # (n_intersections,) int32, splat indices
    tiles_x: int
    tiles_y: int


@njit(cache=True)
def _tile_span(centre, radius, pixels):
    """Tiles [t0, t1) along one axis holding the pixels whose centres lie within centre ±
    radius, as the compositing's footprint rounds them (empty if none is in the image):
    fewer tile-splat pairs than mean ± radius alone, and none with an empty footprint."""
    first = max(0, math.ceil(centre - radius - 0.5))
    last = min(pixels - 1, math.floor(centre + radius - 0.5))
    empty = last < first  # selects rather than a branch that mispredicts
    return 0 if empty else first >> TILE_SHIFT, 0 if empty else (last >> TILE_SHIFT) + 1


@njit(parallel=True, cache=True)
def _order_and_count(bits, means2d, radii, width, height, tiles_x, tiles_y, order, rects,
                     counts):
    """Task 0 sorts each camera's splats by depth (``_depth_order``) while the others find
    their shares of the splats' tile rectangles and tile counts (``_count_share``), each
    into its own part of ``counts``: the sort is serial, and this keeps the other cores
    busy meanwhile, rather than the sort, then the rectangles, then a parallel count."""
    n, parts = means2d.shape[1], counts.shape[0]
    for task in prange(parts + 1):
        if task == 0:
            for c in range(means2d.shape[0]):
                _depth_order(bits[c], radii[c], order[c])
        else:
            part = task - 1
            _count_share(means2d, radii, width, height, tiles_x, tiles_y, part * n // parts,
                         (part + 1) * n // parts, rects, counts[part])


@njit(cache=True)
def _count_share(means2d, radii, width, height, tiles_x, tiles_y, lo, hi, rects, tally):
    """Tile rectangles [x0, x1) x [y0, y1) of splats lo..hi (empty for culled ones), and
    their counts per tile added to ``tally`` (4, C·tiles)."""
    real = means2d.dtype.type  # the precision the compositing's footprint is computed in
    for c in range(means2d.shape[0]):
        for i in range(lo, hi):
            rx, ry = radii[c, i, 0], radii[c, i, 1]
            x0, x1 = _tile_span(means2d[c, i, 0], real(rx), width)
            y0, y1 = _tile_span(means2d[c, i, 1], real(ry), height)
            hide = (rx <= 0) | (ry <= 0) | (x0 == x1) | (y0 == y1)
            rects[c, i, 0], rects[c, i, 1] = 0 if hide else x0, 0 if hide else x1
            rects[c, i, 2], rects[c, i, 3] = 0 if hide else y0, 0 if hide else y1
        base = c * tiles_x * tiles_y
        for i in range(lo, hi):
            x0, x1, y0, y1 = rects[c, i, 0], rects[c, i, 1], rects[c, i, 2], rects[c, i, 3]
            if x1 - x0 <= 2 and y1 - y0 <= 2:
                # most footprints: up to 2x2 tiles, counted without branches (a loop of 1
                # or 2 trips mispredicts its exit), a corner to a row of ``tally``, so
                # that adding 0 does not wait on the addition before it
                wide, tall = x1 - x0 == 2, y1 - y0 == 2
                first = base + y0 * tiles_x + x0
                tally[0, first] += x1 > x0
                tally[1, first + wide] += wide
                tally[2, first + tall * tiles_x] += tall
                tally[3, first + tall * tiles_x + wide] += wide & tall
            else:
                for ty in range(y0, y1):
                    for tx in range(x0, x1):
                        tally[0, base + ty * tiles_x + tx] += 1


@njit(parallel=True, cache=True)
def _scatter(rects, order, tiles_x, tiles_y, bands, cursor, ids):
    """Splat ids into their tiles' lists in depth order; each band of tile rows is one
    task that walks every splat."""
    for band in prange(bands):
        band_y0, band_y1 = _band(band, bands, tiles_y)
        for c in range(rects.shape[0]):
            base = c * tiles_x * tiles_y
            for i in order[c]:
                if i < 0:
                    break
                x0, x1 = rects[c, i, 0], rects[c, i, 1]
                for ty in range(max(rects[c, i, 2], band_y0), min(rects[c, i, 3], band_y1)):
                    for tx in range(x0, x1):
                        j = base + ty * tiles_x + tx
                        ids[cursor[j]] = i
                        cursor[j] += 1


RADIX_BITS = 11  # 3 passes over float32 keys, a 16 KB count table


@njit(cache=True)
def _depth_order(bits, radii, order):
    """``order`` = the visible splats (radii > 0) by increasing depth, then -1, given the
    depths' ``bits`` (viewed as unsigned ints): an LSD radix sort of those bits made
    monotonic (sign bit flipped for positive floats, all bits for negative ones).
    Faster than ``np.argsort``."""
    key_type = bits.dtype.type
    size = 8 * bits.itemsize
    sign = key_type(1) << key_type(size - 1)
    keys = np.empty(len(bits), bits.dtype)
    ids = np.empty(len(bits), np.int32)
    visible = 0
    for i in range(len(bits)):
        if radii[i, 0] > 0 and radii[i, 1] > 0:
            b = bits[i]
            keys[visible] = ~b if b & sign else b | sign
            ids[visible] = i
            visible += 1
    keys, ids = keys[:visible], ids[:visible]
    spare_keys, spare_ids = np.empty_like(keys), np.empty_like(ids)
    mask = key_type((1 << RADIX_BITS) - 1)
    for shift in range(0, size, RADIX_BITS):
        digit_shift = key_type(shift)
        starts = np.zeros((1 << RADIX_BITS) + 1, np.int64)
        for key in keys:
            starts[((key >> digit_shift) & mask) + 1] += 1
        if starts.max() == visible:  # one digit for all: this pass would change nothing
            continue
        for d in range(1, len(starts)):
            starts[d] += starts[d - 1]
        for i in range(visible):
            digit = (keys[i] >> digit_shift) & mask
            spare_keys[starts[digit]] = keys[i]
            spare_ids[starts[digit]] = ids[i]
            starts[digit] += 1
        keys, spare_keys = spare_keys, keys
        ids, spare_ids = spare_ids, ids
    order[:visible] = ids
    order[visible:] = -1


@njit(cache=True)
def _band(band, bands, tiles_y):
    return band * tiles_y // bands, (band + 1) * tiles_y // bands


def bin_splats(means2d: np.ndarray, radii: np.ndarray, depths: np.ndarray, width: int,
               height: int) -> TileBins:
    """Sorted per-tile splat lists for (C, N) projected splats (radii 0 = culled)."""
    cameras, n = depths.shape
    tiles_x = -(-width // TILE_SIZE)
    tiles_y = -(-height // TILE_SIZE)
    order = np.empty((cameras, n), np.int32)  # visible splats by depth, then -1
    bits = depths.view(np.uint32 if depths.itemsize == 4 else np.uint64)
    rects = np.empty((cameras, n, 4), np.int32)
    threads = get_num_threads()
    counts = np.zeros((max(1, threads - 1), 4, cameras * tiles_x * tiles_y), np.int64)
    _order_and_count(bits, means2d, radii, width, height, tiles_x, tiles_y, order, rects,
                     counts)
    offsets = np.zeros(counts.shape[2] + 1, np.int64)
    np.cumsum(counts.sum((0, 1)), out=offsets[1:])
    bands = min(tiles_y, threads)
    ids = np.empty(int(offsets[-1]), np.int32)
    _scatter(rects, order, tiles_x, tiles_y, bands, offsets[:-1].copy(), ids)
    return TileBins(offsets, ids, tiles_x, tiles_y)
