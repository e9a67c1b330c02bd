"""Numba kernels: front-to-back alpha compositing per 16x16 tile, and its backward.

Each tile-splat pair gets its splat's fields copied into one row of ``pairs``, in the
tile's depth order, so the passes read their splats in sequence. Within a tile, a
splat touches only the pixels of each row that lie inside the ellipse where its alpha
reaches ALPHA_THRESHOLD; the 16 rows' spans are set up in one branch-free, vectorised
pass, then each row is composited in SIMD lanes (``row_lanes``). A tile stops as soon as
all its pixels are saturated, and writes its finished pixels.

The forward pass records each row's span and, pixel by pixel along it, the alpha before
its clamp (0 where the splat does not contribute) for the backward pass, which starts
each tile from the image gradients and replays the records back to front from the final
transmittance, as gsplat walks its lists, without setting up a single row again. It
writes each tile-splat pair's gradients to the pair's own row (no atomics), and
``sum_pairs`` adds them up per splat in a fixed order, so that gradients do not depend
on which thread took which tile.
"""

import contextlib
import math
from collections.abc import Iterator

import numpy as np
from llvmlite import ir
from numba import njit, prange, set_parallel_chunksize, types
from numba.core import cgutils
from numba.cpython.unsafe.tuple import tuple_setitem
from numba.extending import intrinsic

from setsplat.render.conventions import ALPHA_THRESHOLD, TILE_SIZE
from setsplat.render.cpu.row_lanes import LANES, PLANE, composite_row, replay_row

# A splat's row in the tables the compositing reads: these fields, then its feature
# channels (colors, then depth).
MEAN_X, MEAN_Y, CONIC_A, CONIC_B, CONIC_C, OPACITY, RADIUS_X, RADIUS_Y, SIGMA_MAX = range(9)
SPLAT_FIELDS = 9
PREFETCH_AHEAD = 8  # pairs: how far ahead gather_pairs asks for a splat's row
# A pair's gradient row (the compositing backward's output): these fields, then the
# feature channels' gradients.
G_MEAN_X, G_MEAN_Y, G_CONIC_A, G_CONIC_B, G_CONIC_C, G_OPACITY = range(6)
GRAD_FIELDS = 6
SPAN_MARGIN = 1e-4  # px; the exact alpha test still decides at the ellipse's edge
DEPTH_ALPHA_FLOOR = 1e-10  # expected depth = accumulated depth / max(alpha, this)
TILES_PER_CHUNK = 4


@intrinsic
def _prefetch(typingctx, array):
    """Ask the CPU to start loading an array's first element into cache: random rows read
    far from the last ones."""

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        i32 = ir.IntType(32)
        hint = ir.FunctionType(ir.VoidType(), [data.type, i32, i32, i32])
        llvm_prefetch = cgutils.get_or_insert_function(builder.module, hint, "llvm.prefetch.p0")
        builder.call(llvm_prefetch, [data, i32(0), i32(3), i32(1)])  # read; keep; data
        return context.get_dummy_value()

    return types.none(array), codegen


def record_flag(records: bool) -> tuple:
    """The compositing forward's ``recording_flag``: a tuple, empty for no records, so that
    numba compiles a kernel for each case (its length is part of the tuple's type), and
    the row kernel's code for one has no record stores, rather than a test."""
    return (True,) if records else ()


def channel_slots(channels: int, dtype: np.dtype) -> tuple:
    """Zeros, one per feature channel in the splats' precision, passed to the compositing
    kernels: numba compiles a kernel per tuple type, so their channel loops get a
    constant trip count and unroll, and the row kernels (``row_lanes``) one vector
    operation per channel. The kernels also start from it the tuple that holds a
    splat's features in registers."""
    return tuple(np.zeros(channels, dtype))


@njit(cache=True)
def _features(splat, channel_slots):
    """A splat row's feature channels as a register tuple (see ``channel_slots()``)."""
    features = channel_slots
    for ch in range(len(channel_slots)):
        features = tuple_setitem(features, ch, splat[SPLAT_FIELDS + ch])
    return features


@njit(cache=True)
def _footprint(mx, my, rx, ry, x0, x1, y0, y1):
    """Pixel rectangle [xa, xb) x [ya, yb) of the tile whose centres are within the radius."""
    xa = max(x0, math.ceil(mx - rx - 0.5))
    xb = min(x1, math.floor(mx + rx - 0.5) + 1)
    ya = max(y0, math.ceil(my - ry - 0.5))
    yb = min(y1, math.floor(my + ry - 0.5) + 1)
    return xa, xb, ya, yb


@njit(parallel=True, cache=True)
def splat_table(means2d, conics, opacities, radii, colors, depths, table):
    """``table[c, i]`` = splat i's fields in camera c side by side (see SPLAT_FIELDS),
    then its color channels and depth, so that gathering a splat is one contiguous
    read; with the sigma at which its alpha meets the threshold, which every row of it
    needs (-inf for culled splats, whose opacity is 0)."""
    channels = colors.shape[2]
    for i in prange(means2d.shape[1]):
        for c in range(means2d.shape[0]):
            row = table[c, i]
            row[MEAN_X], row[MEAN_Y] = means2d[c, i, 0], means2d[c, i, 1]
            row[CONIC_A], row[CONIC_B] = conics[c, i, 0], conics[c, i, 1]
            row[CONIC_C] = conics[c, i, 2]
            opacity = opacities[c, i]
            row[OPACITY] = opacity
            row[RADIUS_X], row[RADIUS_Y] = radii[c, i, 0], radii[c, i, 1]
            row[SIGMA_MAX] = math.log(opacity / ALPHA_THRESHOLD) if opacity > 0.0 else -np.inf
            for ch in range(channels):
                row[SPLAT_FIELDS + ch] = colors[c, i, ch]
            row[SPLAT_FIELDS + channels] = depths[c, i]


@njit(parallel=True, cache=True)
def gather_pairs(splats, offsets, ids, tiles_x, tiles_y, width, height, pairs, capacity):
    """``pairs[k]`` = the ``splats`` row of tile-splat pair k, so that the compositing
    passes read their splats in order instead of gathering them; ``capacity[job]`` = the
    pixels the tile's footprint rectangles cover, the most records its forward pass can
    write, and LANES more: a row writes all its lanes."""
    for job in prange(len(offsets) - 1):
        c, x0, x1, y0, y1 = _tile_bounds(job, tiles_x, tiles_y, width, height)
        covered = 0
        end = offsets[job + 1]
        for k in range(offsets[job], end):
            if k + PREFETCH_AHEAD < end:
                _prefetch(splats[c, ids[k + PREFETCH_AHEAD]])
            row = pairs[k]
            row[:] = splats[c, ids[k]]
            xa, xb, ya, yb = _footprint(row[MEAN_X], row[MEAN_Y], row[RADIUS_X], row[RADIUS_Y],
                                        x0, x1, y0, y1)
            covered += max(0, xb - xa) * max(0, yb - ya)
        capacity[job] = covered + LANES


@njit(cache=True, fastmath=True)
def _row_spans(splat, x0, y0, xa, xb, ya, yb, lo, count, sigma0, slope):
    """For each of the tile's rows: the first pixel ``lo`` (in the tile) and the number
    ``count`` of pixels within [xa, xb) whose centres lie inside the ellipse where alpha
    reaches the threshold (none outside [ya, yb)), and sigma at pixel ``lo + i`` as
    ``sigma0 + i·(slope + ca/2·i)``. All 16 rows at once, without branches: LLVM
    vectorises this loop."""
    mx, my, sigma_max = splat[MEAN_X], splat[MEAN_Y], splat[SIGMA_MAX]
    ca, cb, cc = splat[CONIC_A], splat[CONIC_B], splat[CONIC_C]
    inv_a = 1.0 / ca
    for j in range(TILE_SIZE):
        dy = y0 + j + 0.5 - my
        disc = (cb * cb - ca * cc) * dy * dy + 2.0 * ca * sigma_max
        root = math.sqrt(max(disc, 0.0)) * inv_a
        centre = mx - cb * dy * inv_a - 0.5
        first = max(xa, math.ceil(centre - root - SPAN_MARGIN))
        inside = disc >= 0.0 and ya <= y0 + j < yb
        last = min(xb, math.floor(centre + root + SPAN_MARGIN) + 1) if inside else first
        lo[j] = first - x0
        count[j] = max(last - first, 0)
        dx = first + 0.5 - mx
        sigma0[j] = 0.5 * (ca * dx * dx + cc * dy * dy) + cb * dx * dy
        slope[j] = ca * dx + cb * dy


@njit(cache=True)
def _tile_bounds(job, tiles_x, tiles_y, width, height):
    per_camera = tiles_x * tiles_y
    c = job // per_camera
    tile = job - c * per_camera
    x0 = (tile % tiles_x) * TILE_SIZE
    y0 = (tile // tiles_x) * TILE_SIZE
    return c, x0, min(x0 + TILE_SIZE, width), y0, min(y0 + TILE_SIZE, height)


@njit(parallel=True, cache=True, fastmath=True)
def rasterize_forward(pairs, channel_slots, offsets, tiles_x, tiles_y, width, height,
                      record_base, record_end, record_alpha, record_rows, recording_flag,
                      backgrounds, out_rgb, out_alpha, out_depth, out_median,
                      out_transmittance, out_depth_sum):
    """Composite every (camera, tile) of features (color..., depth): color over the
    background, alpha, expected depth, median depth (0 if the pixel never gets opaque
    enough), and for the backward pass the final transmittance and the accumulated depth
    (its own copies: a caller may change the images in place). With records
    (``recording_flag``: see ``record_flag()``), pair k's rows go to ``record_rows[k]``
    (first pixel, count: see ``_row_spans``) and the alphas of its rows' pixels, one
    after the other, to ``record_alpha[previous end : record_end[k]]``, the first pair's
    from ``record_base[job]``: all the backward pass needs to replay them.
    ``channel_slots``: see ``channel_slots()``. The conics come from the projection,
    inverses of covariances with EPS2D added, so they are positive definite and sigma >=
    0: no pixel is tested for sigma < 0 as in gsplat, a test in the innermost loop.
    Rounding can leave exp(-sigma) a hair above 1 at a splat's centre; that pixel keeps
    its contribution, where gsplat's test of a rounded sigma < 0 would drop it."""
    channels = len(channel_slots)
    real = pairs.dtype.type
    one = real(1)
    depth_floor = real(DEPTH_ALPHA_FLOOR)
    recording = len(recording_flag) > 0
    for job in prange(len(offsets) - 1):
        c, x0, x1, y0, y1 = _tile_bounds(job, tiles_x, tiles_y, width, height)
        start, end = offsets[job], offsets[job + 1]
        # planes (see row_lanes): transmittance (negated once saturated), median, features
        tile = np.zeros((2 + channels) * PLANE, pairs.dtype)
        tile[:PLANE] = one
        row_lo = np.empty(TILE_SIZE, np.int64)
        row_count = np.empty(TILE_SIZE, np.int64)
        row_sigma = np.empty(TILE_SIZE, np.float64)
        row_slope = np.empty(TILE_SIZE, np.float64)
        alive = (x1 - x0) * (y1 - y0)
        cursor = record_base[job]
        for k in range(start, end):
            splat = pairs[k]
            xa, xb, ya, yb = _footprint(splat[MEAN_X], splat[MEAN_Y], splat[RADIUS_X],
                                        splat[RADIUS_Y], x0, x1, y0, y1)
            _row_spans(splat, x0, y0, xa, xb, ya, yb, row_lo, row_count, row_sigma, row_slope)
            opacity, half_a = splat[OPACITY], real(0.5) * splat[CONIC_A]
            features = _features(splat, channel_slots)
            for j in range(ya - y0, yb - y0):
                count = row_count[j]
                for first in range(0, count, LANES):
                    alive -= composite_row(tile, j * TILE_SIZE + row_lo[j] + first,
                                           count - first, real(first),
                                           real(row_sigma[j]), real(row_slope[j]), half_a,
                                           opacity, features, record_alpha, cursor + first,
                                           recording_flag)
                cursor += count
            if recording:
                record_rows[k, 0] = row_lo
                record_rows[k, 1] = row_count
                record_end[k] = cursor
            if alive == 0:
                if recording:
                    record_end[k:end] = cursor
                break
        for py in range(y0, y1):
            for px in range(x0, x1):
                p = (py - y0) * TILE_SIZE + px - x0
                t = abs(tile[p])
                for ch in range(channels - 1):
                    out_rgb[c, py, px, ch] = tile[(2 + ch) * PLANE + p] + t * backgrounds[c, ch]
                depth_sum = tile[(1 + channels) * PLANE + p]
                out_alpha[c, py, px, 0] = one - t
                out_depth[c, py, px, 0] = depth_sum / max(one - t, depth_floor)
                out_median[c, py, px, 0] = tile[PLANE + p]
                out_transmittance[c, py, px] = t
                out_depth_sum[c, py, px] = depth_sum


@njit(cache=True, fastmath=True)
def _lane_sum(sums, index):
    """The sum of ``sums[index]``'s lanes (see ``replay_row``)."""
    total = sums.dtype.type(0)
    for lane in range(LANES):
        total += sums[index, lane]
    return total


@njit(parallel=True, cache=True, fastmath=True)
def rasterize_backward(pairs, channel_slots, offsets, tiles_x, tiles_y, width, height,
                       record_base, record_end, record_alpha, record_rows, transmittance,
                       depth_sum, backgrounds, v_rgb, v_alpha_out, v_depth, pair_grads):
    """Replay each tile's records back to front from the final transmittance, and add
    gradients ``pair_grads[k, :]`` = (mean x, mean y, conic a, b, c, opacity, feature
    channels...) of every tile-splat pair k (zero for a pair with no contribution), given
    the gradients of the forward pass's color, alpha and expected depth.

    With T the transmittance in front of a splat, the loss gradient of its alpha is
    T·(f·v + R), where f·v is its features dotted with the pixel's feature gradient and
    R what the splats behind it and the final alpha contribute, per unit of
    transmittance. One splat further forward, T becomes T / (1 - alpha) and R becomes
    R·(1 - alpha) - alpha·(f·v). At the back, f·v and R come from the output gradients:
    color over the background, alpha = 1 - T and expected depth = depth sum / alpha.
    An empty ``v_rgb``, ``v_alpha_out`` or ``v_depth`` stands for zeros."""
    channels = len(channel_slots)
    has_v_rgb, has_v_alpha, has_v_depth = len(v_rgb) > 0, len(v_alpha_out) > 0, len(v_depth) > 0
    real = pairs.dtype.type
    zero, half, one = real(0), real(0.5), real(1)
    depth_floor = real(DEPTH_ALPHA_FLOOR)
    for job in prange(len(offsets) - 1):
        # planes (see row_lanes): T, R, feature gradients; then the pair's lane sums
        tile = np.zeros((2 + channels) * PLANE + (channels + 6) * LANES, pairs.dtype)
        sums = tile[(2 + channels) * PLANE:].reshape((channels + 6, LANES))
        c, x0, x1, y0, y1 = _tile_bounds(job, tiles_x, tiles_y, width, height)
        for py in range(y0, y1):
            for px in range(x0, x1):
                p = (py - y0) * TILE_SIZE + px - x0
                t = transmittance[c, py, px]
                tile[p] = t
                v_a = v_alpha_out[c, py, px, 0] if has_v_alpha else zero
                for ch in range(channels - 1):
                    v = v_rgb[c, py, px, ch] if has_v_rgb else zero
                    tile[(2 + ch) * PLANE + p] = v
                    v_a -= v * backgrounds[c, ch]
                a = one - t
                vd = v_depth[c, py, px, 0] if has_v_depth else zero
                if a > depth_floor:
                    tile[(1 + channels) * PLANE + p] = vd / a
                    v_a -= vd * depth_sum[c, py, px] / (a * a)
                else:
                    tile[(1 + channels) * PLANE + p] = vd / depth_floor
                tile[PLANE + p] = v_a
        start = offsets[job]
        for k in range(offsets[job + 1] - 1, start - 1, -1):
            cursor = record_end[k - 1] if k > start else record_base[job]
            if cursor == record_end[k]:
                pair_grads[k] = zero
                continue
            splat = pairs[k]
            ca, cb, cc = splat[CONIC_A], splat[CONIC_B], splat[CONIC_C]
            opacity = splat[OPACITY]
            x_offset = real(x0 - splat[MEAN_X]) + half  # pixel (column, row) -> (dx, dy)
            y_offset = real(y0 - splat[MEAN_Y]) + half
            features = _features(splat, channel_slots)
            sums[:] = zero
            rows = record_rows[k]
            for j in range(TILE_SIZE):
                count = np.int64(rows[1, j])
                lo = np.int64(rows[0, j])
                for first in range(0, count, LANES):
                    replay_row(tile, j * TILE_SIZE + lo + first, count - first,
                               real(lo + first) + x_offset, real(j) + y_offset, features,
                               record_alpha, cursor + first)
                cursor += count
            # u = raw alpha·v_alpha: v_sigma = -u and the opacity's gradient is u / opacity
            g_op, s_x, s_y = (_lane_sum(sums, channels), _lane_sum(sums, channels + 1),
                              _lane_sum(sums, channels + 2))
            s_xx, s_xy, s_yy = (_lane_sum(sums, channels + 3), _lane_sum(sums, channels + 4),
                                _lane_sum(sums, channels + 5))
            out = pair_grads[k]
            out[G_MEAN_X], out[G_MEAN_Y] = ca * s_x + cb * s_y, cb * s_x + cc * s_y
            out[G_CONIC_A], out[G_CONIC_B], out[G_CONIC_C] = -half * s_xx, -s_xy, -half * s_yy
            out[G_OPACITY] = g_op / opacity
            for ch in range(channels):
                out[GRAD_FIELDS + ch] = _lane_sum(sums, ch)


@njit(parallel=True, cache=True)
def sum_pairs(pair_grads, offsets, ids, tiles_per_camera, parts, v_means2d, v_conics,
              v_opacities, v_features, v_depths):
    """Splat g's gradients in camera c (``v_means2d[c, g]`` ... ``v_depths[c, g]``) = the
    sums of its pair gradients' fields, in pair order: the same floats every run,
    whatever ``parts`` (one per thread). Each part takes a range of splats and walks all
    pairs in the order they lie in memory, adding every pair's row to its own table of
    sums: its own splats' to theirs, the others' to a spare row, so that the walk has no
    branch to mispredict, and one row of the table holds all of a splat's fields (it
    beat adding only its own splats' pairs, straight into the five arrays). Written to
    the projection's own gradient arrays, so that no strided slice of a whole has to be
    copied out for it."""
    cameras, splats, channels = v_means2d.shape[0], v_means2d.shape[1], v_features.shape[2]
    fields = pair_grads.shape[1]
    for part in prange(parts):
        lo, hi = part * splats // parts, (part + 1) * splats // parts
        sums = np.zeros((cameras, hi - lo + 1, fields), pair_grads.dtype)
        for job in range(len(offsets) - 1):
            table = sums[job // tiles_per_camera]
            for k in range(offsets[job], offsets[job + 1]):
                g = ids[k]
                row = table[g - lo if lo <= g < hi else hi - lo]
                for f in range(fields):
                    row[f] += pair_grads[k, f]
        for c in range(cameras):
            for g in range(lo, hi):
                row = sums[c, g - lo]
                v_means2d[c, g, 0], v_means2d[c, g, 1] = row[G_MEAN_X], row[G_MEAN_Y]
                v_conics[c, g, 0] = row[G_CONIC_A]
                v_conics[c, g, 1] = row[G_CONIC_B]
                v_conics[c, g, 2] = row[G_CONIC_C]
                v_opacities[c, g] = row[G_OPACITY]
                for ch in range(channels):
                    v_features[c, g, ch] = row[GRAD_FIELDS + ch]
                v_depths[c, g] = row[GRAD_FIELDS + channels]


@contextlib.contextmanager
def tiles_in_small_chunks() -> Iterator[None]:
    """Hand tiles to threads a few at a time rather than in two halves: tiles differ in
    cost, and on a busy machine one thread may be descheduled for a while. (Set from
    Python: numba cannot cache kernels that set it themselves.)"""
    previous = set_parallel_chunksize(TILES_PER_CHUNK)
    try:
        yield
    finally:
        set_parallel_chunksize(previous)
