"""Render backend decision: the compositing inner loop in numba vs C++/OpenMP.

    .venv/bin/python benchmarks/render_backend_prototype.py [--splats 100000] [--size 512]

Both run the same algorithm (per 16x16 tile, splats front to back, each touching only
its footprint's pixels; the backward pass back to front with per-thread gradient
buffers) on the same projected and binned splats, float32, 2 threads, with tiles handed
out dynamically 4 at a time. The C++ version is compiled here with
``torch.utils.cpp_extension.load_inline`` (-O3 -march=native -fopenmp): its build time is
printed too, since that is what a user's first call would pay. Outputs are checked to
agree before timing. The numba kernels are the ones setsplat ships.
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

constexpr int TS = 16;
constexpr int PIX = TS * TS;
constexpr int MAXD = 8;
constexpr float THR = 1.f / 255.f, MAXA = 0.99f, TMIN = 1e-4f;

struct Tile { int c, x0, x1, y0, y1; };

struct Splat { float mx, my, a, b, c, o, smax; int xa, xb, ya, yb; };

// exp(-sigma) at (dx, dy) and the factors stepping it one pixel right (3 exp per row)
static inline void row_gaussian(float a, float b, float c, float dx, float dy,
                                float& vis, float& step, float& decay) {
    vis = std::exp(-(0.5f * (a * dx * dx + c * dy * dy) + b * dx * dy));
    step = std::exp(-(a * dx + 0.5f * a + b * dy));
    decay = std::exp(-a);
}

// pixels [lo, hi) of a row whose centres are inside the ellipse sigma <= smax
static inline void row_span(float a, float b, float c, float smax, float dy, float mx,
                            int xa, int xb, int& lo, int& hi) {
    double disc = (double(b) * b - double(a) * c) * dy * dy + 2.0 * a * smax;
    if (disc < 0) { lo = hi = 0; return; }
    double r = std::sqrt(disc);
    lo = std::max(xa, int(std::ceil(mx + (-b * dy - r) / a - 0.5 - 1e-4)));
    hi = std::min(xb, int(std::floor(mx + (-b * dy + r) / a - 0.5 + 1e-4)) + 1);
}

static inline Tile tile_of(int64_t job, int64_t tx, int64_t ty, int64_t w, int64_t h) {
    int64_t per = tx * ty, c = job / per, t = job % per;
    int x0 = (t % tx) * TS, y0 = (t / tx) * TS;
    return {int(c), x0, int(std::min<int64_t>(x0 + TS, w)), y0, int(std::min<int64_t>(y0 + TS, h))};
}

static inline void footprint(float mx, float my, int rx, int ry, const Tile& t,
                             int& xa, int& xb, int& ya, int& yb) {
    xa = std::max(t.x0, int(std::ceil(mx - rx - 0.5f)));
    xb = std::min(t.x1, int(std::floor(mx + rx - 0.5f)) + 1);
    ya = std::max(t.y0, int(std::ceil(my - ry - 0.5f)));
    yb = std::min(t.y1, int(std::floor(my + ry - 0.5f)) + 1);
}

static inline Splat load(const float* m, const float* co, const float* op, const int* ra,
                         int64_t g, const Tile& t) {
    Splat s{m[2 * g], m[2 * g + 1], co[3 * g], co[3 * g + 1], co[3 * g + 2], op[g], 0.f};
    s.smax = std::log(s.o / THR);
    footprint(s.mx, s.my, ra[2 * g], ra[2 * g + 1], t, s.xa, s.xb, s.ya, s.yb);
    return s;
}

void forward(torch::Tensor means2d, torch::Tensor conics, torch::Tensor feats,
             torch::Tensor opac, torch::Tensor radii, torch::Tensor offsets, torch::Tensor ids,
             int64_t tiles_x, int64_t tiles_y, int64_t width, int64_t height,
             torch::Tensor out_acc, torch::Tensor out_t, torch::Tensor out_last) {
    const float *m = means2d.data_ptr<float>(), *co = conics.data_ptr<float>();
    const float *f = feats.data_ptr<float>(), *op = opac.data_ptr<float>();
    const int *ra = radii.data_ptr<int>();
    const int64_t *off = offsets.data_ptr<int64_t>();
    const int *id = ids.data_ptr<int>();
    float *acc_o = out_acc.data_ptr<float>(), *t_o = out_t.data_ptr<float>();
    int64_t *last_o = out_last.data_ptr<int64_t>();
    const int64_t N = means2d.size(1), D = feats.size(2), jobs = offsets.size(0) - 1;
    #pragma omp parallel for schedule(dynamic, 4)
    for (int64_t job = 0; job < jobs; ++job) {
        Tile t = tile_of(job, tiles_x, tiles_y, width, height);
        float T[PIX], acc[PIX * MAXD];
        int64_t last[PIX];
        bool done[PIX];
        int64_t start = off[job], end = off[job + 1];
        for (int p = 0; p < PIX; ++p) { T[p] = 1.f; last[p] = start; done[p] = false; }
        std::fill(acc, acc + PIX * MAXD, 0.f);
        int alive = (t.x1 - t.x0) * (t.y1 - t.y0);
        for (int64_t k = start; k < end && alive > 0; ++k) {
            int64_t g = int64_t(t.c) * N + id[k];
            const Splat s = load(m, co, op, ra, g, t);
            const float mx = s.mx, my = s.my, a = s.a, b = s.b, cc = s.c, o = s.o;
            const float smax = s.smax;
            const int xa = s.xa, xb = s.xb, ya = s.ya, yb = s.yb;
            int lo, hi;
            for (int py = ya; py < yb; ++py) {
                float dy = py + 0.5f - my;
                row_span(a, b, cc, smax, dy, mx, xa, xb, lo, hi);
                float vnext, step, decay;
                row_gaussian(a, b, cc, lo + 0.5f - mx, dy, vnext, step, decay);
                for (int px = lo; px < hi; ++px) {
                    float vis = vnext;
                    vnext *= step;
                    step *= decay;
                    int p = (py - t.y0) * TS + px - t.x0;
                    if (done[p] || vis > 1.f) continue;
                    float al = std::min(MAXA, o * vis);
                    if (al < THR) continue;
                    float nt = T[p] * (1.f - al);
                    if (nt <= TMIN) { done[p] = true; --alive; continue; }
                    float w = al * T[p];
                    for (int ch = 0; ch < D; ++ch) acc[p * MAXD + ch] += f[g * D + ch] * w;
                    T[p] = nt;
                    last[p] = k + 1;
                }
            }
        }
        for (int py = t.y0; py < t.y1; ++py)
            for (int px = t.x0; px < t.x1; ++px) {
                int p = (py - t.y0) * TS + px - t.x0;
                int64_t o = (int64_t(t.c) * height + py) * width + px;
                for (int ch = 0; ch < D; ++ch) acc_o[o * D + ch] = acc[p * MAXD + ch];
                t_o[o] = T[p];
                last_o[o] = last[p];
            }
    }
}

void backward(torch::Tensor means2d, torch::Tensor conics, torch::Tensor feats,
              torch::Tensor opac, torch::Tensor radii, torch::Tensor offsets, torch::Tensor ids,
              int64_t tiles_x, int64_t tiles_y, int64_t width, int64_t height,
              torch::Tensor trans, torch::Tensor lastt, torch::Tensor v_acc,
              torch::Tensor v_alpha, torch::Tensor grads) {
    const float *m = means2d.data_ptr<float>(), *co = conics.data_ptr<float>();
    const float *f = feats.data_ptr<float>(), *op = opac.data_ptr<float>();
    const int *ra = radii.data_ptr<int>();
    const int64_t *off = offsets.data_ptr<int64_t>();
    const int *id = ids.data_ptr<int>();
    const float *tr = trans.data_ptr<float>(), *va = v_acc.data_ptr<float>();
    const float *val = v_alpha.data_ptr<float>();
    const int64_t *ls = lastt.data_ptr<int64_t>();
    float *gr = grads.data_ptr<float>();
    const int64_t C = means2d.size(0), N = means2d.size(1), D = feats.size(2);
    const int64_t jobs = offsets.size(0) - 1, G = 6 + D;
    #pragma omp parallel for schedule(dynamic, 4)
    for (int64_t job = 0; job < jobs; ++job) {
        float *mine = gr + int64_t(omp_get_thread_num()) * C * N * G;
        Tile t = tile_of(job, tiles_x, tiles_y, width, height);
        float T[PIX], tf[PIX], behind[PIX * MAXD], vc[PIX * MAXD], vap[PIX], gc[MAXD];
        int64_t stop[PIX];
        int64_t start = off[job], kend = start;
        for (int py = t.y0; py < t.y1; ++py)
            for (int px = t.x0; px < t.x1; ++px) {
                int p = (py - t.y0) * TS + px - t.x0;
                int64_t o = (int64_t(t.c) * height + py) * width + px;
                T[p] = tf[p] = tr[o];
                stop[p] = ls[o];
                kend = std::max(kend, stop[p]);
                vap[p] = val[o];
                for (int ch = 0; ch < D; ++ch) {
                    behind[p * MAXD + ch] = 0.f;
                    vc[p * MAXD + ch] = va[o * D + ch];
                }
            }
        for (int64_t k = kend - 1; k >= start; --k) {
            int64_t g = int64_t(t.c) * N + id[k];
            const Splat s = load(m, co, op, ra, g, t);
            const float mx = s.mx, my = s.my, a = s.a, b = s.b, cc = s.c, o = s.o;
            const float smax = s.smax;
            const int xa = s.xa, xb = s.xb, ya = s.ya, yb = s.yb;
            int lo, hi;
            float gmx = 0, gmy = 0, ga = 0, gb = 0, gcc = 0, gop = 0;
            for (int ch = 0; ch < D; ++ch) gc[ch] = 0.f;
            bool touched = false;
            for (int py = ya; py < yb; ++py) {
                float dy = py + 0.5f - my;
                row_span(a, b, cc, smax, dy, mx, xa, xb, lo, hi);
                float vnext, step, decay;
                row_gaussian(a, b, cc, lo + 0.5f - mx, dy, vnext, step, decay);
                for (int px = lo; px < hi; ++px) {
                    float vis = vnext;
                    vnext *= step;
                    step *= decay;
                    int p = (py - t.y0) * TS + px - t.x0;
                    if (k >= stop[p] || vis > 1.f) continue;
                    float dx = px + 0.5f - mx;
                    float al = std::min(MAXA, o * vis);
                    if (al < THR) continue;
                    touched = true;
                    float om = 1.f - al, tt = T[p] / om, w = al * tt;
                    float v_al = tf[p] / om * vap[p];
                    for (int ch = 0; ch < D; ++ch) {
                        float col = f[g * D + ch];
                        gc[ch] += w * vc[p * MAXD + ch];
                        v_al += (col * tt - behind[p * MAXD + ch] / om) * vc[p * MAXD + ch];
                        behind[p * MAXD + ch] += col * w;
                    }
                    T[p] = tt;
                    if (o * vis <= MAXA) {
                        gop += vis * v_al;
                        float vs = -o * vis * v_al;
                        ga += 0.5f * dx * dx * vs; gb += dx * dy * vs; gcc += 0.5f * dy * dy * vs;
                        gmx -= (a * dx + b * dy) * vs; gmy -= (b * dx + cc * dy) * vs;
                    }
                }
            }
            if (touched) {
                float *out = mine + g * G;
                out[0] += gmx; out[1] += gmy; out[2] += ga; out[3] += gb; out[4] += gcc;
                out[5] += gop;
                for (int ch = 0; ch < D; ++ch) out[6 + ch] += gc[ch];
            }
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
    feats = torch.cat([rgb, dep[..., None]], -1).contiguous()
    bins = bin_splats(m2.numpy(), radii.numpy(), dep.numpy(), size, size)
    offsets, ids = torch.from_numpy(bins.offsets), torch.from_numpy(bins.ids)
    shape = (1, size, size)
    acc = {k: np.empty((*shape, 4), np.float32) for k in ("numba", "c++")}
    trans = {k: np.empty(shape, np.float32) for k in acc}
    last = {k: np.empty(shape, np.int64) for k in acc}
    median = np.empty(shape, np.float32)
    g = torch.Generator().manual_seed(0)
    v_acc = torch.rand((*shape, 4), generator=g).numpy()
    v_alpha = torch.rand((*shape, 1), generator=g).numpy()
    grads = {k: np.zeros((2, 1, args.splats, 10), np.float32) for k in acc}
    a = [t.numpy() for t in (m2, con, feats, opa, dep, radii)]

    def numba_fwd():
        with rk.tiles_in_small_chunks():
            rk.rasterize_forward(*a, bins.offsets, bins.ids, bins.tiles_x, bins.tiles_y, size,
                                 size, acc["numba"], trans["numba"], last["numba"], median)

    def numba_bwd():
        grads["numba"].fill(0)
        with rk.tiles_in_small_chunks():
            rk.rasterize_backward(a[0], a[1], a[2], a[3], a[5], bins.offsets, bins.ids,
                                  bins.tiles_x, bins.tiles_y, size, size, trans["numba"],
                                  last["numba"], v_acc, v_alpha, grads["numba"])

    def cpp_fwd():
        ext.forward(m2, con, feats, opa, radii, offsets, ids, bins.tiles_x, bins.tiles_y, size,
                    size, *(torch.from_numpy(x["c++"]) for x in (acc, trans, last)))

    def cpp_bwd():
        grads["c++"].fill(0)
        ext.backward(m2, con, feats, opa, radii, offsets, ids, bins.tiles_x, bins.tiles_y,
                     size, size, torch.from_numpy(trans["c++"]), torch.from_numpy(last["c++"]),
                     torch.from_numpy(v_acc), torch.from_numpy(v_alpha),
                     torch.from_numpy(grads["c++"]))

    for f in (numba_fwd, numba_bwd, cpp_fwd, cpp_bwd):
        f()
    # numba computes in float64 registers, the C++ in float32: a few pixels differ where
    # a splat sits right at the alpha threshold
    image_diff = float(np.abs(acc["numba"] - acc["c++"]).mean())
    gn, gc = grads["numba"].sum(0), grads["c++"].sum(0)
    grad_diff = float(np.abs(gn - gc).max() / np.abs(gn).max())
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
          f"outputs agree (image mean abs diff {image_diff:.1e}, gradients {grad_diff:.1e} "
          "relative)")
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
