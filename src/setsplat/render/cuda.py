"""The CUDA backend: gsplat's fused kernels through its documented ``rasterization``."""

from __future__ import annotations

from setsplat.render.output import RenderOutput


def rasterize_cuda(means, quats, scales, opacities, colors, viewmats, Ks, width, height, *,
                   sh_degree, backgrounds, near_plane, far_plane, eps2d,
                   antialiased) -> RenderOutput:
    from gsplat import rasterization

    images, alphas, info = rasterization(
        means, quats, scales, opacities, colors, viewmats, Ks, width, height,
        near_plane=near_plane, far_plane=far_plane, eps2d=eps2d, sh_degree=sh_degree,
        backgrounds=backgrounds, render_mode="RGB+ED", packed=False,
        rasterize_mode="antialiased" if antialiased else "classic")
    # gsplat has no median depth for 3D Gaussians; callers that need it use the CPU path
    return RenderOutput(images[..., :-1], alphas, images[..., -1:], None, info, backend="cuda")
