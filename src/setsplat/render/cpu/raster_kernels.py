"""Numba kernels: front-to-back alpha compositing per 16x16 tile, and its backward.

Each tile-splat pair gets its splat's fields copied into one row of ``pairs``, in the
tile's depth order, so the passes read their splats in sequence. Within a tile, a
splat touches only the pixels of each row that lie inside the ellipse where its alpha
reaches ALPHA_THRESHOLD; the 16 rows' spans and their exp(-sigma) are set up in one
branch-free, vectorised pass, then stepped pixel by pixel with two multiplications. A
tile stops as soon as all its pixels are saturated, and writes its finished pixels.

The forward pass records every contribution (pixel, and opacity·exp(-sigma): the alpha
before its clamp) for the backward pass, which starts each tile from the image gradients
and replays the records back to front from the final transmittance, as gsplat walks its
lists, without setting up a single row again. It writes each tile-splat pair's
gradients to the pair's own row (no atomics), and ``sum_pairs`` adds them up per splat in
a fixed order, so that gradients do not depend on which thread took which tile.
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

from setsplat.render.conventions import (
    ALPHA_THRESHOLD,
    MAX_ALPHA,
    MEDIAN_TRANSMITTANCE,
    MIN_TRANSMITTANCE,
    TILE_SHIFT,
    TILE_SIZE,
)

PIXELS = TILE_SIZE * TILE_SIZE
SPLAT_FIELDS = 9  # mean x, y, conic a, b, c, opacity, radius x, y, sigma max
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


@njit(cache=True)
def _unsigned(index):
    """The index as unsigned: numba then skips its wrap-around of negative indices, a
    handful of instructions per access in the innermost loops."""
    return np.uint64(index)


def record_flag(records: bool) -> tuple:
    """The compositing forward's ``recording_flag``: a tuple, empty for no records, so that
    numba compiles a kernel for each case (its length is part of the tuple's type) and
    neither tests it per pixel (forward kernel alone at 20k splats, alternating: 5.26-5.46
    -> 5.22-5.40 ms, mostly 5.25 against 5.40)."""
    return (True,) if records else ()


def channel_slots(channels: int, dtype: np.dtype) -> tuple:
    """Zeros, one per feature channel in the splats' precision, passed to the compositing
    kernels: numba compiles a kernel per tuple type, so their channel loops get a
    constant trip count and unroll (float32 at 20k splats: forward -20%, backward -25%
    with ``_unsigned`` and arithmetic in the splats' own precision). The kernels also
    start from it the tuples that hold a splat's features and its feature gradients in
    registers: as arrays, LLVM cannot tell them from the pixel arrays written in the same
    loop (forward -4%, backward -2%)."""
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
    then its colour channels and depth, so that gathering a splat is one contiguous
    read; with the sigma at which its alpha meets the threshold, which every row of it
    needs (-inf for culled splats, whose opacity is 0)."""
    channels = colors.shape[2]
    for i in prange(means2d.shape[1]):
        for c in range(means2d.shape[0]):
            row = table[c, i]
            row[0], row[1] = means2d[c, i, 0], means2d[c, i, 1]
            row[2], row[3], row[4] = conics[c, i, 0], conics[c, i, 1], conics[c, i, 2]
            opacity = opacities[c, i]
            row[5] = opacity
            row[6], row[7] = radii[c, i, 0], radii[c, i, 1]
            row[8] = math.log(opacity / ALPHA_THRESHOLD) if opacity > 0.0 else -np.inf
            for ch in range(channels):
                row[SPLAT_FIELDS + ch] = colors[c, i, ch]
            row[SPLAT_FIELDS + channels] = depths[c, i]


@njit(parallel=True, cache=True)
def gather_pairs(splats, offsets, ids, tiles_x, tiles_y, width, height, pairs, capacity):
    """``pairs[k]`` = the ``splats`` row of tile-splat pair k, so that the compositing
    passes read their splats in order instead of gathering them; ``capacity[job]`` = the
    pixels the tile's footprint rectangles cover, the most records its forward pass can
    write."""
    for job in prange(len(offsets) - 1):
        c, x0, x1, y0, y1 = _tile_bounds(job, tiles_x, tiles_y, width, height)
        covered = 0
        end = offsets[job + 1]
        for k in range(offsets[job], end):
            if k + 8 < end:
                _prefetch(splats[c, ids[k + 8]])
            row = pairs[k]
            row[:] = splats[c, ids[k]]
            xa, xb, ya, yb = _footprint(row[0], row[1], row[6], row[7], x0, x1, y0, y1)
            covered += max(0, xb - xa) * max(0, yb - ya)
        capacity[job] = covered


@njit(cache=True, fastmath=True)
def _exp(x):
    """exp(x) without a libm call, so that the loop over a tile's rows vectorises: the
    Taylor series of exp(x/32) to degree 9, to the 32nd power. Relative error below
    1e-12 for |x| <= 6, the range the row set-up needs (exp(-sigma) inside the
    alpha >= 1/255 ellipse, and its per-pixel step); x is clamped to ±30."""
    x = min(30.0, max(-30.0, x)) * (1.0 / 32.0)
    p = 1.0 + x * (1.0 + x * (1.0 / 2 + x * (1.0 / 6 + x * (1.0 / 24 + x * (1.0 / 120 + x * (
        1.0 / 720 + x * (1.0 / 5040 + x * (1.0 / 40320 + x * (1.0 / 362880)))))))))
    for _ in range(5):
        p *= p
    return p


@njit(cache=True, fastmath=True)
def _row_table(splat, x0, y0, xa, xb, ya, yb, lo, hi, vis, step):
    """For each of the tile's rows: the pixels [lo, hi) within [xa, xb) whose centres lie
    inside the ellipse where alpha reaches the threshold (empty outside [ya, yb)),
    exp(-sigma) at ``lo``, and the factor that steps it one pixel right (sigma grows by
    ca·dx + ca/2 + cb·dy per pixel, a step that itself grows by ca). All 16 rows at once,
    without branches: LLVM vectorises this loop."""
    mx, my, ca, cb, cc, sigma_max = splat[0], splat[1], splat[2], splat[3], splat[4], splat[8]
    inv_a = 1.0 / ca
    for j in range(TILE_SIZE):
        dy = y0 + j + 0.5 - my
        disc = (cb * cb - ca * cc) * dy * dy + 2.0 * ca * sigma_max
        root = math.sqrt(max(disc, 0.0)) * inv_a
        centre = mx - cb * dy * inv_a - 0.5
        first = max(xa, math.ceil(centre - root - SPAN_MARGIN))
        inside = disc >= 0.0 and ya <= y0 + j < yb
        lo[j] = first
        hi[j] = min(xb, math.floor(centre + root + SPAN_MARGIN) + 1) if inside else first
        dx = first + 0.5 - mx
        vis[j] = _exp(-(0.5 * (ca * dx * dx + cc * dy * dy) + cb * dx * dy))
        step[j] = _exp(-(ca * dx + 0.5 * ca + cb * dy))


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
                      record_base, record_end, record_pixel, record_alpha, recording_flag,
                      backgrounds, out_rgb, out_alpha, out_depth, out_median,
                      out_transmittance, out_depth_sum):
    """Composite every (camera, tile) of features (colour..., depth): colour over the
    background, alpha, expected depth, median depth (0 if the pixel never gets opaque
    enough), and for the backward pass the final transmittance and the accumulated depth
    (its own copies: a caller may change the images in place). With records
    (``recording_flag``: see ``record_flag()``), pair k's contributions -- pixel in the
    tile and alpha before the clamp -- go to ``record_*[previous end : record_end[k]]``,
    the first pair's from ``record_base[job]``: all the backward pass needs to replay
    them.
    ``channel_slots``: see ``channel_slots()``. The conics come from the projection,
    inverses of covariances with EPS2D added, so they are positive definite and sigma >=
    0: no pixel is tested for sigma < 0 as in gsplat (3% of the time at 20k splats).
    Rounding can leave exp(-sigma) a hair above 1 at a splat's centre; that pixel keeps
    its contribution, where gsplat's test of a rounded sigma < 0 would drop it."""
    channels = len(channel_slots)
    real = pairs.dtype.type
    zero, one = real(0), real(1)
    max_alpha, threshold = real(MAX_ALPHA), real(ALPHA_THRESHOLD)
    min_t, median_t = real(MIN_TRANSMITTANCE), real(MEDIAN_TRANSMITTANCE)
    depth_floor = real(DEPTH_ALPHA_FLOOR)
    recording = len(recording_flag) > 0
    for job in prange(len(offsets) - 1):
        c, x0, x1, y0, y1 = _tile_bounds(job, tiles_x, tiles_y, width, height)
        start, end = offsets[job], offsets[job + 1]
        trans = np.ones(PIXELS, pairs.dtype)  # negated once a pixel is saturated
        acc = np.zeros((PIXELS, channels), pairs.dtype)
        median = np.zeros(PIXELS, pairs.dtype)
        row_lo = np.empty(TILE_SIZE, np.int64)
        row_hi = np.empty(TILE_SIZE, np.int64)
        row_vis = np.empty(TILE_SIZE, np.float64)
        row_step = np.empty(TILE_SIZE, np.float64)
        alive = (x1 - x0) * (y1 - y0)
        cursor = record_base[job]
        for k in range(start, end):
            splat = pairs[k]
            xa, xb, ya, yb = _footprint(splat[0], splat[1], splat[6], splat[7], x0, x1, y0, y1)
            _row_table(splat, x0, y0, xa, xb, ya, yb, row_lo, row_hi, row_vis, row_step)
            opacity = splat[5]
            features = _features(splat, channel_slots)
            decay = real(math.exp(-splat[2]))  # exp(-conic a): the per-pixel step shrinks by it
            for j in range(ya - y0, yb - y0):
                row = j * TILE_SIZE - x0
                vis_next, step = real(row_vis[j]), real(row_step[j])
                for px in range(row_lo[j], row_hi[j]):
                    vis = vis_next
                    vis_next *= step
                    step *= decay
                    p = _unsigned(row + px)
                    t = trans[p]
                    if t <= zero:  # saturated pixel
                        continue
                    raw_alpha = opacity * vis
                    alpha = min(max_alpha, raw_alpha)
                    if alpha < threshold:
                        continue
                    next_t = t * (one - alpha)
                    if next_t <= min_t:
                        trans[p] = -t
                        alive -= 1
                        continue
                    weight = alpha * t
                    for ch in range(channels):
                        acc[p, ch] += features[ch] * weight
                    if t > median_t >= next_t:
                        median[p] = features[channels - 1]
                    trans[p] = next_t
                    if recording:
                        at = _unsigned(cursor)
                        record_pixel[at] = p
                        record_alpha[at] = raw_alpha
                        cursor += 1
            if recording:
                record_end[k] = cursor
            if alive == 0:
                if recording:
                    record_end[k:end] = cursor
                break
        for py in range(y0, y1):
            for px in range(x0, x1):
                p = (py - y0) * TILE_SIZE + px - x0
                t = abs(trans[p])
                for ch in range(channels - 1):
                    out_rgb[c, py, px, ch] = acc[p, ch] + t * backgrounds[c, ch]
                out_alpha[c, py, px, 0] = one - t
                out_depth[c, py, px, 0] = acc[p, channels - 1] / max(one - t, depth_floor)
                out_median[c, py, px, 0] = median[p]
                out_transmittance[c, py, px] = t
                out_depth_sum[c, py, px] = acc[p, channels - 1]


@njit(parallel=True, cache=True, fastmath=True)
def rasterize_backward(pairs, channel_slots, offsets, tiles_x, tiles_y, width, height,
                       record_base, record_end, record_pixel, record_alpha, transmittance,
                       depth_sum, backgrounds, v_rgb, v_alpha_out, v_depth, pair_grads):
    """Replay each tile's records back to front from the final transmittance, and add
    gradients ``pair_grads[k, :]`` = (mean x, mean y, conic a, b, c, opacity, feature
    channels...) of every tile-splat pair k (zero for a pair with no contribution), given
    the gradients of the forward pass's colour, alpha and expected depth.

    With T the transmittance in front of a splat, the loss gradient of its alpha is
    T·(f·v + R), where f·v is its features dotted with the pixel's feature gradient and
    R what the splats behind it and the final alpha contribute, per unit of
    transmittance. One splat further forward, T becomes T / (1 - alpha) and R becomes
    R·(1 - alpha) - alpha·(f·v). At the back, f·v and R come from the output gradients:
    colour over the background, alpha = 1 - T and expected depth = depth sum / alpha.
    An empty ``v_rgb``, ``v_alpha_out`` or ``v_depth`` stands for zeros."""
    channels = len(channel_slots)
    has_v_rgb, has_v_alpha, has_v_depth = len(v_rgb) > 0, len(v_alpha_out) > 0, len(v_depth) > 0
    real = pairs.dtype.type
    zero, half, one, max_alpha = real(0), real(0.5), real(1), real(MAX_ALPHA)
    depth_floor = real(DEPTH_ALPHA_FLOOR)
    for job in prange(len(offsets) - 1):
        # per pixel T, R (above) and the feature gradients, side by side in one array:
        # the record loop then needs one base address, not three (fewer spills)
        tile = np.empty((2 + channels) * PIXELS, pairs.dtype)
        c, x0, x1, y0, y1 = _tile_bounds(job, tiles_x, tiles_y, width, height)
        for py in range(y0, y1):
            for px in range(x0, x1):
                p = (py - y0) * TILE_SIZE + px - x0
                t = transmittance[c, py, px]
                tile[p] = t
                v_a = v_alpha_out[c, py, px, 0] if has_v_alpha else zero
                for ch in range(channels - 1):
                    v = v_rgb[c, py, px, ch] if has_v_rgb else zero
                    tile[(2 + ch) * PIXELS + p] = v
                    v_a -= v * backgrounds[c, ch]
                a = one - t
                vd = v_depth[c, py, px, 0] if has_v_depth else zero
                if a > depth_floor:
                    tile[(1 + channels) * PIXELS + p] = vd / a
                    v_a -= vd * depth_sum[c, py, px] / (a * a)
                else:
                    tile[(1 + channels) * PIXELS + p] = vd / depth_floor
                tile[PIXELS + p] = v_a
        start = offsets[job]
        for k in range(offsets[job + 1] - 1, start - 1, -1):
            first = record_end[k - 1] if k > start else record_base[job]
            if first == record_end[k]:
                pair_grads[k] = zero
                continue
            splat = pairs[k]
            ca, cb, cc, opacity = splat[2], splat[3], splat[4], splat[5]
            x_offset = real(x0 - splat[0]) + half  # pixel (column, row) -> (dx, dy)
            y_offset = real(y0 - splat[1]) + half
            features = _features(splat, channel_slots)
            # with u = raw alpha·v_alpha, v_sigma = -u and the opacity's gradient is u /
            # opacity: the sums of u and of u times dx, dy, dx², dx·dy, dy² give the shape
            # and opacity gradients after the loop
            g_op = s_x = s_y = s_xx = s_xy = s_yy = zero  # g_op: the sum of u
            g_feat = channel_slots
            for r in range(first, record_end[k]):
                at = _unsigned(r)
                p = record_pixel[at]
                raw_alpha = record_alpha[at]
                alpha = min(max_alpha, raw_alpha)
                t = tile[p] / (one - alpha)
                tile[p] = t
                weight = alpha * t
                dot = zero  # this splat's features · v_features
                for ch in range(channels):
                    v = tile[_unsigned((2 + ch) * PIXELS + p)]
                    g_feat = tuple_setitem(g_feat, ch, g_feat[ch] + weight * v)
                    dot += features[ch] * v
                r_behind = tile[_unsigned(PIXELS + p)]
                v_alpha = t * (dot + r_behind)
                tile[_unsigned(PIXELS + p)] = r_behind * (one - alpha) - alpha * dot
                if raw_alpha <= max_alpha:  # else alpha is clamped: no shape or opacity gradient
                    dx = real(p & (TILE_SIZE - 1)) + x_offset
                    dy = real(p >> TILE_SHIFT) + y_offset
                    u = raw_alpha * v_alpha
                    x_u, y_u = dx * u, dy * u
                    g_op += u
                    s_x += x_u
                    s_y += y_u
                    s_xx += dx * x_u
                    s_xy += dx * y_u
                    s_yy += dy * y_u
            out = pair_grads[k]
            out[0], out[1] = ca * s_x + cb * s_y, cb * s_x + cc * s_y
            out[2], out[3], out[4] = -half * s_xx, -s_xy, -half * s_yy
            out[5] = g_op / opacity
            for ch in range(channels):
                out[6 + ch] = g_feat[ch]


@njit(parallel=True, cache=True)
def sum_pairs(pair_grads, offsets, ids, tiles_per_camera, parts, v_means2d, v_conics,
              v_opacities, v_features, v_depths):
    """Splat g's gradients in camera c (``v_means2d[c, g]`` ... ``v_depths[c, g]``) = the
    sums of its pair gradients' fields, in pair order: the same floats every run,
    whatever ``parts`` (one per thread). Each part takes a range of splats and walks all
    pairs in the order they lie in memory, adding every pair's row to its own table of
    sums: its own splats' to theirs, the others' to a spare row, so that the walk has no
    branch to mispredict, and one row of the table holds all of a splat's fields (20k
    splats, 2 threads, alone: 0.36-0.48 -> 0.30-0.33 ms, against adding only its own
    splats' pairs, straight into the five arrays). Written to the projection's own
    gradient arrays, so that no strided slice of a whole has to be copied out for it."""
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
                v_means2d[c, g, 0], v_means2d[c, g, 1] = row[0], row[1]
                v_conics[c, g, 0], v_conics[c, g, 1], v_conics[c, g, 2] = row[2], row[3], row[4]
                v_opacities[c, g] = row[5]
                for ch in range(channels):
                    v_features[c, g, ch] = row[6 + ch]
                v_depths[c, g] = row[6 + channels]


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
