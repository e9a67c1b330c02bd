"""``rasterize``: one function over our CPU backend and gsplat's CUDA kernels."""

from __future__ import annotations

import torch

from setsplat.core.errors import SetsplatError
from setsplat.render.conventions import EPS2D
from setsplat.render.output import RenderOutput

BACKENDS = ("auto", "cpu", "cuda")


def choose_backend(backend: str, device: torch.device) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        return "cuda" if device.type == "cuda" and torch.cuda.is_available() else "cpu"
    if backend == "cuda" and not torch.cuda.is_available():
        raise SetsplatError("the cuda backend was asked for, but there is no CUDA GPU",
                            "use the cpu (or auto) backend")
    if backend == "cpu" and device.type != "cpu":
        raise ValueError("the cpu backend needs CPU tensors; move them with .cpu()")
    return backend


def rasterize(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    colors: torch.Tensor,
    viewmats: torch.Tensor,
    Ks: torch.Tensor,
    width: int,
    height: int,
    *,
    sh_degree: int | None = None,
    backgrounds: torch.Tensor | None = None,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    eps2d: float = EPS2D,
    antialiased: bool = False,
    backend: str = "auto",
) -> RenderOutput:
    """Render N splats into C cameras, differentiably.

    Inputs follow gsplat: activated values (means (N,3); quats (N,4) w,x,y,z, any
    length; linear scales (N,3); opacities (N,) in 0..1), ``colors`` either SH
    coefficients (N,K,3) with ``sh_degree`` set, or features (N,D) / (C,N,D) with
    ``sh_degree=None``; world-to-camera ``viewmats`` (C,4,4) (a 3x3 part with
    determinant -1 is fine: a world in a left-handed frame), intrinsics ``Ks``
    (C,3,3), pixel centres at +0.5. ``backgrounds`` (C,D) or (D,).
    """
    _check_inputs(means, quats, scales, opacities, colors, viewmats, Ks, sh_degree)
    if backgrounds is not None and backgrounds.dim() == 1:
        backgrounds = backgrounds.expand(viewmats.shape[0], -1)
    chosen = choose_backend(backend, means.device)
    args = (means, quats, scales, opacities, colors, viewmats, Ks, int(width), int(height))
    options = dict(sh_degree=sh_degree, backgrounds=backgrounds, near_plane=near_plane,
                   far_plane=far_plane, eps2d=eps2d, antialiased=antialiased)
    if chosen == "cuda":
        from setsplat.render.cuda import rasterize_cuda

        return rasterize_cuda(*args, **options)
    from setsplat.render.cpu.rasterize import rasterize_cpu

    return rasterize_cpu(*args, **options)


def _check_inputs(means, quats, scales, opacities, colors, viewmats, Ks, sh_degree) -> None:
    n = means.shape[0]
    expected = {"means": (means, (n, 3)), "quats": (quats, (n, 4)),
                "scales": (scales, (n, 3)), "opacities": (opacities, (n,))}
    for name, (tensor, shape) in expected.items():
        if tuple(tensor.shape) != shape:
            raise ValueError(f"{name} has shape {tuple(tensor.shape)}, expected {shape}")
    cameras = viewmats.shape[0]
    if viewmats.shape != (cameras, 4, 4) or Ks.shape != (cameras, 3, 3):
        raise ValueError(f"viewmats {tuple(viewmats.shape)} and Ks {tuple(Ks.shape)} must be "
                         "(C,4,4) and (C,3,3)")
    if sh_degree is not None:
        if colors.dim() != 3 or colors.shape[0] != n or colors.shape[2] != 3 \
                or colors.shape[1] < (sh_degree + 1) ** 2:
            raise ValueError(f"SH coefficients of shape {tuple(colors.shape)} do not fit "
                             f"N={n}, sh_degree={sh_degree}")
    elif colors.shape[:-1] not in ((n,), (cameras, n)):
        raise ValueError(f"colors of shape {tuple(colors.shape)} must be (N,D) or (C,N,D)")
