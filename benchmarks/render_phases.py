"""Where one fwd+bwd render step of `render.py`'s scenes spends its time, kernel by kernel.

    .venv/bin/python benchmarks/render_phases.py [--case 20k|100k] [--steps 60]

A profiling aid for `render.py`, not a comparison: each numba kernel the CPU backend
calls is wrapped with a timer, and the medians over the steps (after 5 warm-up steps)
are printed, with what is left of each pass (Python, torch, autograd).
"""

from __future__ import annotations

import argparse
import collections
import statistics
import time

from render import CASES, THREADS, case_named, make_scene

FORWARD = ["project_forward", "bin_splats", "splat_table", "gather_pairs", "rasterize_forward"]
BACKWARD = ["rasterize_backward", "sum_pairs", "project_backward"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", type=case_named, default=case_named("20k"))
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()

    import torch

    from setsplat.render import rasterize
    from setsplat.render.cpu import functions, projection_kernels, raster_kernels

    torch.set_num_threads(THREADS)
    spec = CASES[args.case]
    width, height = spec["width"], spec["height"]
    params, viewmats, ks = make_scene(spec["n"], width, height)
    spent: dict[str, float] = collections.defaultdict(float)

    def timed(module, name: str) -> None:
        kernel = getattr(module, name)

        def call(*a):
            start = time.perf_counter()
            result = kernel(*a)
            spent[name] += time.perf_counter() - start
            return result

        setattr(module, name, call)

    for module in (raster_kernels, projection_kernels, functions):
        for name in FORWARD + BACKWARD:
            if hasattr(module, name):
                timed(module, name)
    weights = torch.rand((1, height, width, 4), generator=torch.Generator().manual_seed(1))
    grads = [weights[..., :3].contiguous(), weights[..., 3:].contiguous()]
    for p in params:
        p.requires_grad_(True)
    samples = collections.defaultdict(list)
    for step in range(5 + args.steps):
        spent.clear()
        for p in params:
            p.grad = None
        t0 = time.perf_counter()
        out = rasterize(*params, viewmats, ks, width, height, sh_degree=3, backend="cpu")
        t1 = time.perf_counter()
        torch.autograd.backward([out.rgb, out.depth], grads)
        t2 = time.perf_counter()
        if step >= 5:
            for name in FORWARD + BACKWARD:
                samples[name].append(spent[name])
            samples["rest of the forward"].append(t1 - t0 - sum(spent[k] for k in FORWARD))
            samples["rest of the backward"].append(t2 - t1 - sum(spent[k] for k in BACKWARD))
            samples["whole step"].append(t2 - t0)
    print(f"{args.case}, {THREADS} threads, medians of {args.steps} steps:")
    for name, times in samples.items():
        print(f"  {name:22s} {statistics.median(times) * 1e3:7.2f} ms")


if __name__ == "__main__":
    main()
