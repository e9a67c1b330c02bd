"""Render backend decision: the compositing inner loop in numba vs C++/OpenMP.

    .venv/bin/python benchmarks/render_backend_prototype.py [--splats 100000] [--size 512]

Both run the same tiling (per 16x16 tile, splats front to back from a per-pair table,
each touching only the pixels of its rows inside the alpha threshold's ellipse, the 16
row set-ups in one vectorisable loop; the forward records each contribution, and the
backward replays the records back to front from the final transmittance; the C++ adds
into per-thread gradient buffers, prefetching the next row, numba writes per tile-splat
pair and sums per splat afterwards, in a fixed order) on the same projected, binned and
gathered splats, float32, 2 threads, with tiles handed out dynamically 4 at a time.
The C++ steps along each row pixel by pixel, with the polynomial exp of the numba
kernels before they moved to SIMD lanes: the loop on which the choice was made. The
numba kernels (the ones setsplat ships) now composite and replay each row in vectors
of 8 written as LLVM IR (``row_lanes``), which is numba's to do as much as a C++
compiler's. The numba kernels also turn the sums into the finished images (color
over a background, alpha, expected depth) and start the backward from those images'
gradients; the C++ stops at the sums. The C++ version is compiled here with
``torch.utils.cpp_extension.load_inline`` (-O3 -march=native -fopenmp): its build time is
printed too, since that is what a user's first call would pay. Outputs are checked to
agree before timing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("NUMBA_NUM_THREADS", "2")

CPP = r"""
#include <torch/extension.h>
#include <omp.h>
#include <algorithm>
#include <cmath>
#include <cstdint>

constexpr int TS = 16;
constexpr int PIX = TS * TS;
constexpr int MAXD = 8;
constexpr int F = 9;  // pairs row: mx, my, conic a, b, c, opacity, radius x, y, sigma max
constexpr float THR = 1.f / 255.f, MAXA = 0.99f, TMIN = 1e-4f;

struct Tile { int c, x0, x1, y0, y1; };

static inline Tile tile_of(int64_t job, int64_t tx, int64_t ty, int64_t w, int64_t h) {
    int64_t per = tx * ty, c = job / per, t = job % per;
    int x0 = (t % tx) * TS, y0 = (t / tx) * TS;
    return {int(c), x0, int(std::min<int64_t>(x0 + TS, w)), y0, int(std::min<int64_t>(y0 + TS, h))};
}

// the same libm-free exp as the numba kernels: Taylor of exp(x/32) to degree 9, ^32
static inline float poly_exp(float x) {
    x = std::min(30.f, std::max(-30.f, x)) * (1.f / 32.f);
    float p = 1.f + x * (1.f + x * (1.f / 2 + x * (1.f / 6 + x * (1.f / 24 + x * (1.f / 120 + x * (
        1.f / 720 + x * (1.f / 5040 + x * (1.f / 40320 + x * (1.f / 362880)))))))));
    for (int i = 0; i < 5; ++i) p *= p;
    return p;
}

void forward(torch::Tensor pairs, torch::Tensor offsets, int64_t tiles_x, int64_t tiles_y,
             int64_t width, int64_t height, torch::Tensor rec_base, torch::Tensor rec_end,
             torch::Tensor rec_pixel, torch::Tensor rec_vis, torch::Tensor out_acc,
             torch::Tensor out_t) {
    const float *pr = pairs.data_ptr<float>();
    const int64_t *off = offsets.data_ptr<int64_t>(), *base = rec_base.data_ptr<int64_t>();
    int64_t *rend = rec_end.data_ptr<int64_t>();
    uint8_t *rpix = rec_pixel.data_ptr<uint8_t>();
    float *rvis = rec_vis.data_ptr<float>();
    float *acc_o = out_acc.data_ptr<float>(), *t_o = out_t.data_ptr<float>();
    const int64_t W = pairs.size(1), D = W - F, jobs = offsets.size(0) - 1;
    #pragma omp parallel for schedule(dynamic, 4)
    for (int64_t job = 0; job < jobs; ++job) {
        Tile t = tile_of(job, tiles_x, tiles_y, width, height);
        float T[PIX], acc[PIX * MAXD], rv[TS], rs[TS];
        int rlo[TS], rhi[TS];
        bool done[PIX];
        int64_t start = off[job], end = off[job + 1], cur = base[job];
        for (int p = 0; p < PIX; ++p) { T[p] = 1.f; done[p] = false; }
        std::fill(acc, acc + PIX * MAXD, 0.f);
        int alive = (t.x1 - t.x0) * (t.y1 - t.y0);
        int64_t k = start;
        for (; k < end && alive > 0; ++k) {
            const float *s = pr + k * W;
            const float mx = s[0], my = s[1], a = s[2], b = s[3], cc = s[4], o = s[5];
            const float smax = s[8], inv_a = 1.f / a, decay = std::exp(-a);
            const int xa = std::max(t.x0, int(std::ceil(mx - s[6] - 0.5f)));
            const int xb = std::min(t.x1, int(std::floor(mx + s[6] - 0.5f)) + 1);
            const int ya = std::max(t.y0, int(std::ceil(my - s[7] - 0.5f)));
            const int yb = std::min(t.y1, int(std::floor(my + s[7] - 0.5f)) + 1);
            #pragma omp simd
            for (int j = 0; j < TS; ++j) {
                float dy = t.y0 + j + 0.5f - my;
                float disc = (b * b - a * cc) * dy * dy + 2.f * a * smax;
                float root = std::sqrt(std::max(disc, 0.f)) * inv_a;
                float centre = mx - b * dy * inv_a - 0.5f;
                int first = std::max(xa, int(std::ceil(centre - root - 1e-4f)));
                bool inside = disc >= 0.f && t.y0 + j >= ya && t.y0 + j < yb;
                rlo[j] = first;
                rhi[j] = inside ? std::min(xb, int(std::floor(centre + root + 1e-4f)) + 1) : first;
                float dx = first + 0.5f - mx;
                rv[j] = poly_exp(-(0.5f * (a * dx * dx + cc * dy * dy) + b * dx * dy));
                rs[j] = poly_exp(-(a * dx + 0.5f * a + b * dy));
            }
            for (int j = ya - t.y0; j < yb - t.y0; ++j) {
                float vnext = rv[j], step = rs[j];
                for (int px = rlo[j]; px < rhi[j]; ++px) {
                    float vis = vnext;
                    vnext *= step;
                    step *= decay;
                    int p = j * TS + px - t.x0;
                    if (done[p] || vis > 1.f) continue;
                    float al = std::min(MAXA, o * vis);
                    if (al < THR) continue;
                    float nt = T[p] * (1.f - al);
                    if (nt <= TMIN) { done[p] = true; --alive; continue; }
                    float w = al * T[p];
                    for (int ch = 0; ch < D; ++ch) acc[p * MAXD + ch] += s[F + ch] * w;
                    rpix[cur] = uint8_t(p);
                    rvis[cur] = vis;
                    T[p] = nt;
                    ++cur;
                }
            }
            rend[k] = cur;
        }
        for (; k < end; ++k) rend[k] = cur;
        for (int py = t.y0; py < t.y1; ++py)
            for (int px = t.x0; px < t.x1; ++px) {
                int p = (py - t.y0) * TS + px - t.x0;
                int64_t o = (int64_t(t.c) * height + py) * width + px;
                for (int ch = 0; ch < D; ++ch) acc_o[o * D + ch] = acc[p * MAXD + ch];
                t_o[o] = T[p];
            }
    }
}

void backward(torch::Tensor pairs, torch::Tensor offsets, torch::Tensor ids, int64_t tiles_x,
              int64_t tiles_y, int64_t width, int64_t height, torch::Tensor rec_base,
              torch::Tensor rec_end, torch::Tensor rec_pixel, torch::Tensor rec_vis,
              torch::Tensor trans, torch::Tensor v_acc, torch::Tensor v_alpha,
              torch::Tensor grads) {
    const float *pr = pairs.data_ptr<float>();
    const int64_t *off = offsets.data_ptr<int64_t>(), *base = rec_base.data_ptr<int64_t>();
    const int64_t *rend = rec_end.data_ptr<int64_t>();
    const uint8_t *rpix = rec_pixel.data_ptr<uint8_t>();
    const float *rvis = rec_vis.data_ptr<float>();
    const int *id = ids.data_ptr<int>();
    const float *tr = trans.data_ptr<float>(), *va = v_acc.data_ptr<float>();
    const float *val = v_alpha.data_ptr<float>();
    float *gr = grads.data_ptr<float>();
    const int64_t C = grads.size(1), N = grads.size(2), W = pairs.size(1), D = W - F;
    const int64_t jobs = offsets.size(0) - 1, G = 6 + D;
    #pragma omp parallel for schedule(dynamic, 4)
    for (int64_t job = 0; job < jobs; ++job) {
        float *mine = gr + int64_t(omp_get_thread_num()) * C * N * G;
        Tile t = tile_of(job, tiles_x, tiles_y, width, height);
        float T[PIX], behind[PIX], vc[PIX * MAXD], gc[MAXD];  // behind: R, as in numba's
        for (int py = t.y0; py < t.y1; ++py)
            for (int px = t.x0; px < t.x1; ++px) {
                int p = (py - t.y0) * TS + px - t.x0;
                int64_t o = (int64_t(t.c) * height + py) * width + px;
                T[p] = tr[o];
                behind[p] = val[o];
                for (int ch = 0; ch < D; ++ch) vc[p * MAXD + ch] = va[o * D + ch];
            }
        const int64_t start = off[job];
        for (int64_t k = off[job + 1] - 1; k >= start; --k) {
            if (k > start)  // the next pair's gradient row is far away in memory
                __builtin_prefetch(mine + (int64_t(t.c) * N + id[k - 1]) * G, 1, 3);
            const int64_t first = k > start ? rend[k - 1] : base[job];
            if (first == rend[k]) continue;
            const float *s = pr + k * W;
            const float mx = s[0], my = s[1], a = s[2], b = s[3], cc = s[4], o = s[5];
            float gmx = 0, gmy = 0, ga = 0, gb = 0, gcc = 0, gop = 0;
            for (int ch = 0; ch < D; ++ch) gc[ch] = 0.f;
            for (int64_t r = first; r < rend[k]; ++r) {
                const int p = rpix[r];
                const float vis = rvis[r], ov = o * vis, al = std::min(MAXA, ov);
                const float tt = T[p] / (1.f - al), w = al * tt;
                T[p] = tt;
                float dot = 0.f;
                for (int ch = 0; ch < D; ++ch) {
                    gc[ch] += w * vc[p * MAXD + ch];
                    dot += s[F + ch] * vc[p * MAXD + ch];
                }
                const float v_al = tt * (dot + behind[p]);
                behind[p] = behind[p] * (1.f - al) - al * dot;
                if (ov <= MAXA) {
                    const float dx = t.x0 + (p & (TS - 1)) + 0.5f - mx;
                    const float dy = t.y0 + (p >> 4) + 0.5f - my;
                    gop += vis * v_al;
                    const float vs = -ov * v_al;
                    ga += 0.5f * dx * dx * vs; gb += dx * dy * vs; gcc += 0.5f * dy * dy * vs;
                    gmx -= (a * dx + b * dy) * vs; gmy -= (b * dx + cc * dy) * vs;
                }
            }
            float *out = mine + (int64_t(t.c) * N + id[k]) * G;
            out[0] += gmx; out[1] += gmy; out[2] += ga; out[3] += gb; out[4] += gcc;
            out[5] += gop;
            for (int ch = 0; ch < D; ++ch) out[6 + ch] += gc[ch];
        }
    }
}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--splats", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    import numpy as np
    import torch
    from torch.utils.cpp_extension import load_inline

    sys.path.insert(0, str(Path(__file__).parent))
    from render import make_scene
    from setsplat.render.conventions import TILE_SIZE
    from setsplat.render.cpu import raster_kernels as rk
    from setsplat.render.cpu.binning import bin_splats
    from setsplat.render.cpu.functions import ProjectGaussians, ProjectionSettings

    torch.set_num_threads(2)
    t0 = time.perf_counter()
    build_dir = Path(tempfile.mkdtemp(prefix="setsplat-cpp-"))
    ext = load_inline("setsplat_raster_proto", CPP, functions=["forward", "backward"],
                      extra_cflags=["-O3", "-march=native", "-fopenmp"],
                      extra_ldflags=["-fopenmp"], build_directory=str(build_dir))
    build_s = time.perf_counter() - t0

    size = args.size
    params, viewmats, ks = make_scene(args.splats, size, size)
    settings = ProjectionSettings(size, size, 0.01, 1e10, 0.3, False, 3)
    with torch.no_grad():
        m2, con, dep, opa, rgb, radii = ProjectGaussians.apply(*params, viewmats, ks, settings)
    m2, con, dep, opa, rgb, radii = (t.numpy() for t in (m2, con, dep, opa, rgb, radii))
    bins = bin_splats(m2, radii, dep, size, size)
    channels = rk.channel_slots(rgb.shape[-1] + 1, np.float32)  # color, then depth
    table = np.empty((*dep.shape, rk.SPLAT_FIELDS + len(channels)), np.float32)
    rk.splat_table(m2, con, opa, radii, rgb, dep, table)
    pairs = np.empty((len(bins.ids), table.shape[-1]), np.float32)
    capacity = np.empty(len(bins.offsets) - 1, np.int64)
    rk.gather_pairs(table, bins.offsets, bins.ids, bins.tiles_x, bins.tiles_y, size, size,
                    pairs, capacity)
    base = np.concatenate([[0], np.cumsum(capacity)[:-1]]).astype(np.int64)
    shape = (1, size, size)
    acc = {k: np.empty((*shape, 4), np.float32) for k in ("numba", "c++")}
    trans = {k: np.empty(shape, np.float32) for k in acc}
    records = {"numba": (base, np.empty(len(pairs), np.int64),
                         np.empty(capacity.sum(), np.float32),
                         np.empty((len(pairs), 2, TILE_SIZE), np.uint8)),
               "c++": (base, np.empty(len(pairs), np.int64), np.empty(capacity.sum(), np.uint8),
                       np.empty(capacity.sum(), np.float32))}
    background = np.zeros((1, 3), np.float32)
    rgb = acc["numba"][..., :3]
    alpha, depth, median = (np.empty((*shape, 1), np.float32) for _ in range(3))
    depth_sum = acc["numba"][..., 3]
    g = torch.Generator().manual_seed(0)
    v_acc = torch.rand((*shape, 4), generator=g).numpy()  # gradients of the sums
    v_alpha = torch.rand((*shape, 1), generator=g).numpy()
    grads = {k: np.zeros((2, 1, args.splats, 10), np.float32) for k in acc}
    tiles = (bins.tiles_x, bins.tiles_y, size, size)

    def numba_fwd():
        with rk.tiles_in_small_chunks():
            rk.rasterize_forward(pairs, channels, bins.offsets, *tiles, *records["numba"],
                                 rk.record_flag(True),
                                 background, rgb, alpha, depth, median, trans["numba"],
                                 depth_sum)

    pair_grads = np.empty((len(pairs), 10), np.float32)
    image_grads = []  # the image gradients that make the same sums' gradients as the C++'s

    fields = [np.empty((1, args.splats, *tail), np.float32)  # means2d, conics, opacities,
              for tail in ((2,), (3,), (), (3,), ())]  # colors, depths: sum_pairs's outputs

    def numba_bwd():
        with rk.tiles_in_small_chunks():
            rk.rasterize_backward(pairs, channels, bins.offsets, *tiles, *records["numba"],
                                  trans["numba"], depth_sum, background, *image_grads,
                                  pair_grads)
        rk.sum_pairs(pair_grads, bins.offsets, bins.ids, bins.tiles_x * bins.tiles_y, 2,
                     *fields)

    def torched(*arrays):
        return [torch.from_numpy(x) for x in arrays]

    def cpp_fwd():
        ext.forward(*torched(pairs, bins.offsets), *tiles, *torched(*records["c++"]),
                    *torched(acc["c++"], trans["c++"]))

    def cpp_bwd():
        grads["c++"].fill(0)
        ext.backward(*torched(pairs, bins.offsets, bins.ids), *tiles,
                     *torched(*records["c++"], trans["c++"], v_acc, v_alpha, grads["c++"]))

    numba_fwd()
    image_grads += [v_acc[..., :3], v_alpha + v_acc[..., 3:] * depth, v_acc[..., 3:] * alpha]
    for f in (numba_bwd, cpp_fwd, cpp_bwd):
        f()
    # numba sets up rows in float64 registers and evaluates exp per lane, the C++ steps
    # it along the row in float32: a few pixels differ where a splat sits right at the
    # alpha threshold, and so do the gradients of the splats in front of those pixels
    image_diff = float(np.abs(acc["numba"] - acc["c++"]).mean())
    grads["numba"][0] = np.concatenate([f.reshape(1, args.splats, -1) for f in fields], 2)
    gn, gc = grads["numba"].sum(0), grads["c++"].sum(0)
    splat_diff = np.abs(gn - gc).max(axis=-1) / np.abs(gn).max()
    grad_diff = float(np.quantile(splat_diff, 0.999))
    assert image_diff < 1e-5 and grad_diff < 1e-3, (image_diff, grad_diff)

    def median_times(f):
        """(wall, CPU) seconds, medians: CPU time (both threads) is what a busy shared
        machine distorts least."""
        wall, cpu = [], []
        for _ in range(args.repeats):
            t, c = time.perf_counter(), time.process_time()
            f()
            wall.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        return sorted(wall)[len(wall) // 2], sorted(cpu)[len(cpu) // 2]

    rows = {}
    for _ in range(2):  # alternate, so that a change in machine load hits both
        for name, fwd, bwd in (("numba", numba_fwd, numba_bwd), ("c++", cpp_fwd, cpp_bwd)):
            rows.setdefault(name, []).append((median_times(fwd), median_times(bwd)))
    print(f"{args.splats} splats {size}x{size}, {len(bins.ids):,} tile-splat pairs, "
          f"outputs agree (image mean abs diff {image_diff:.1e}; gradients within "
          f"{grad_diff:.1e} of the largest for 99.9% of splats, {splat_diff.max():.1e} at most)")
    cpu_total = {}
    for name, runs in rows.items():
        (fw, fc), (bw, bc) = min(runs, key=lambda r: r[0][1] + r[1][1])
        cpu_total[name] = fc + bc
        print(f"  {name:6s} forward {fw * 1e3:7.1f} ms wall {fc * 1e3:7.1f} ms CPU   backward "
              f"{bw * 1e3:7.1f} ms wall {bc * 1e3:7.1f} ms CPU")
    ratio = cpu_total["numba"] / cpu_total["c++"]
    print(f"  c++ needs {1 / ratio:.2f}x the CPU time of numba (fwd+bwd); its build took "
          f"{build_s:.1f} s")


if __name__ == "__main__":
    main()
