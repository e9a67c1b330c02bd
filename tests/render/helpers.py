"""Small random splat sets and cameras for the render tests."""

from __future__ import annotations

import torch

W, H = 64, 48
PARAMS = ("means", "quats", "scales", "opacities", "colors")


def splats(n: int = 300, *, degree: int = 3, seed: int = 0, dtype=torch.float64,
           depth: float = 4.0, max_opacity: float = 1.0) -> dict[str, torch.Tensor]:
    """Splats in front of an identity camera, with a spread of sizes; leaf tensors."""
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(n, 3, generator=g, dtype=dtype)
    means[:, 2] += depth
    return {
        "means": means,
        "quats": torch.randn(n, 4, generator=g, dtype=dtype),
        "scales": torch.exp(torch.rand(n, 3, generator=g, dtype=dtype) * 3 - 4.5),
        "opacities": torch.rand(n, generator=g, dtype=dtype) * max_opacity,
        "colors": torch.randn(n, (degree + 1) ** 2, 3, generator=g, dtype=dtype) * 0.5,
    }


def intrinsics(cameras: int = 1, dtype=torch.float64, f: float = 60.0) -> torch.Tensor:
    k = torch.tensor([[f, 0.0, W / 2 - 0.3], [0.0, f, H / 2 + 0.2], [0.0, 0.0, 1.0]],
                     dtype=dtype)
    return k.repeat(cameras, 1, 1)


def views(dtype=torch.float64) -> torch.Tensor:
    """Three cameras: identity, a side view, and a mirrored (det -1) side view."""
    v = torch.eye(4, dtype=dtype).repeat(3, 1, 1)
    side = torch.tensor([[0.0, 0, 1], [0, 1, 0], [-1, 0, 0]], dtype=dtype)
    v[1, :3, :3] = side
    v[1, :3, 3] = torch.tensor([-4.0, 0.3, 4.5], dtype=dtype)
    v[2] = v[1]
    v[2, 0] *= -1
    return v


def leaves(params: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    return [params[k].detach().clone().requires_grad_() for k in PARAMS]
