"""Prints a hash of the CPU backend's images and gradients over the cases the kernels
branch on (SH degrees, plain features, several cameras, antialiasing, backgrounds,
float32 and float64, or the dtypes named). Run by ``test_cache.py`` in fresh processes:

    python -m tests.render.fingerprint [float32] [float64]
"""

from __future__ import annotations

import hashlib
import sys

import torch

from setsplat.render import rasterize
from tests.render.helpers import H, W, intrinsics, leaves, splats, views


def fingerprint(dtypes: tuple[torch.dtype, ...] = (torch.float32, torch.float64)) -> str:
    digest = hashlib.sha256()
    cases = [dict(degree=d, cameras=1) for d in (0, 1, 2, 3)]
    cases += [dict(degree=3, cameras=3, antialiased=True, background=True),
              dict(degree=None, cameras=2)]
    for dtype in dtypes:
        for case in cases:
            degree, cameras = case["degree"], case["cameras"]
            params = splats(400, degree=3 if degree is None else degree, dtype=dtype)
            if degree is None:
                params["colors"] = params["colors"][:, 0, :].contiguous()
            inputs = leaves(params)
            background = torch.full((cameras, 3), 0.25, dtype=dtype, requires_grad=True) \
                if case.get("background") else None
            out = rasterize(*inputs, views(dtype)[:cameras], intrinsics(cameras, dtype), W, H,
                            sh_degree=degree, backgrounds=background,
                            antialiased=case.get("antialiased", False))
            out.means2d.retain_grad()
            g = torch.Generator().manual_seed(1)
            loss = sum((o * torch.randn(o.shape, generator=g, dtype=dtype)).sum()
                       for o in (out.rgb, out.alpha, out.depth))
            loss.backward()
            tensors = [out.rgb, out.alpha, out.depth, out.median_depth, out.means2d.grad,
                       *(p.grad for p in inputs)]
            for tensor in tensors + ([background.grad] if background is not None else []):
                digest.update(tensor.detach().contiguous().numpy().tobytes())
    return digest.hexdigest()


if __name__ == "__main__":
    torch.set_num_threads(2)
    named = tuple(getattr(torch, name) for name in sys.argv[1:])
    print(fingerprint(named) if named else fingerprint())
