"""The CPU backend as two ``torch.autograd.Function``s: projection, then compositing.

Splitting like gsplat keeps ``means2d`` a real node of the graph, so ``retain_grad``
on it gives densification its screen-space gradients.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from setsplat.render.cpu import projection_kernels as pk
from setsplat.render.cpu import raster_kernels as rk
from setsplat.render.cpu.binning import bin_splats


@dataclass(frozen=True)
class ProjectionSettings:
    width: int
    height: int
    near_plane: float
    far_plane: float
    eps2d: float
    antialiased: bool
    sh_degree: int  # -1: colours are given, no SH


def _np(tensor: torch.Tensor | None) -> np.ndarray | None:
    return None if tensor is None else tensor.detach().contiguous().numpy()


class ProjectGaussians(torch.autograd.Function):
    """(means, quats, scales, opacities, sh) -> per camera (means2d, conics, depths,
    opacities, colours, radii); culled splats get radii 0 and zeros elsewhere."""

    @staticmethod
    def forward(ctx, means, quats, scales, opacities, sh, viewmats, ks, settings):
        dtype = means.dtype
        cameras, n = viewmats.shape[0], means.shape[0]
        means2d = torch.zeros((cameras, n, 2), dtype=dtype)
        conics = torch.zeros((cameras, n, 3), dtype=dtype)
        depths = torch.zeros((cameras, n), dtype=dtype)
        opacities_out = torch.zeros((cameras, n), dtype=dtype)
        colors = torch.zeros((cameras, n, 3) if settings.sh_degree >= 0 else (0, 0, 3),
                             dtype=dtype)
        radii = torch.zeros((cameras, n, 2), dtype=torch.int32)
        sh_np = _np(sh) if sh is not None else pk.empty_sh(means.numpy().dtype)
        view_np = _np(viewmats.to(dtype))
        ks_np = _np(ks.to(dtype))
        if n:
            pk.project_forward(
                _np(means), _np(quats), _np(scales), _np(opacities), sh_np, settings.sh_degree,
                view_np, ks_np, settings.width, settings.height, settings.near_plane,
                settings.far_plane, settings.eps2d, settings.antialiased,
                means2d.numpy(), conics.numpy(), depths.numpy(), opacities_out.numpy(),
                colors.numpy(), radii.numpy())
        ctx.settings = settings
        ctx.arrays = (view_np, ks_np, sh_np)
        ctx.save_for_backward(means, quats, scales, opacities, radii)
        ctx.has_sh = sh is not None
        ctx.mark_non_differentiable(radii)
        return means2d, conics, depths, opacities_out, colors, radii

    @staticmethod
    def backward(ctx, v_means2d, v_conics, v_depths, v_opacities_out, v_colors, _v_radii):
        means, quats, scales, opacities, radii = ctx.saved_tensors
        view_np, ks_np, sh_np = ctx.arrays
        s = ctx.settings
        v_means = torch.zeros_like(means)
        v_quats = torch.zeros_like(quats)
        v_scales = torch.zeros_like(scales)
        v_opacities = torch.zeros_like(opacities)
        v_sh = torch.zeros(sh_np.shape, dtype=means.dtype) if ctx.has_sh else None
        if len(means):
            pk.project_backward(
                _np(means), _np(quats), _np(scales), _np(opacities), sh_np, s.sh_degree,
                view_np, ks_np, s.width, s.height, s.eps2d, s.antialiased, radii.numpy(),
                _np(v_means2d), _np(v_conics), _np(v_depths), _np(v_opacities_out),
                _np(v_colors), v_means.numpy(), v_quats.numpy(), v_scales.numpy(),
                v_opacities.numpy(), pk.empty_sh(sh_np.dtype) if v_sh is None else v_sh.numpy())
        return v_means, v_quats, v_scales, v_opacities, v_sh, None, None, None


class _Workspace:
    """One growing scratch buffer for per-thread gradients, reused across calls: fresh
    large allocations cost page faults on every training step."""

    def __init__(self) -> None:
        self.buffers: dict[np.dtype, np.ndarray] = {}

    def zeros(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        size = int(np.prod(shape))
        buffer = self.buffers.get(dtype)
        if buffer is None or buffer.size < size:
            buffer = self.buffers[dtype] = np.empty(size, dtype)
        view = buffer[:size].reshape(shape)
        view.fill(0)
        return view


_WORKSPACE = _Workspace()


class RasterizeTiles(torch.autograd.Function):
    """Per-camera (means2d, conics, colours (C,N,D), opacities, depths, backgrounds (C,D))
    -> colour over the background (C,H,W,D), alpha, expected depth and median depth
    (C,H,W,1 each; the median is not differentiable). All per-pixel work happens in the
    kernels: small torch ops on whole images are costly on a busy 2-core machine."""

    @staticmethod
    def forward(ctx, means2d, conics, colors, opacities, depths, backgrounds, radii, width,
                height):
        dtype = means2d.dtype
        cameras, channels = means2d.shape[0], colors.shape[-1]
        m2, con, opa, dep, rad = (_np(t) for t in (means2d, conics, opacities, depths, radii))
        features = np.concatenate([_np(colors), dep[..., None]], -1)
        bins = bin_splats(m2, rad, dep, width, height)
        acc = np.empty((cameras, height, width, channels + 1), m2.dtype)
        transmittance = np.empty((cameras, height, width), m2.dtype)
        last = np.empty((cameras, height, width), np.int64)
        median = torch.empty((cameras, height, width, 1), dtype=dtype)
        with rk.tiles_in_small_chunks():
            rk.rasterize_forward(m2, con, features, opa, dep, rad, bins.offsets, bins.ids,
                                 bins.tiles_x, bins.tiles_y, width, height, acc, transmittance,
                                 last, median.numpy()[..., 0])
        bg = np.zeros((cameras, channels), m2.dtype) if backgrounds is None else _np(backgrounds)
        rgb = torch.empty((cameras, height, width, channels), dtype=dtype)
        alpha = torch.empty((cameras, height, width, 1), dtype=dtype)
        depth = torch.empty((cameras, height, width, 1), dtype=dtype)
        rk.finish_images(acc, transmittance, bg, rgb.numpy(), alpha.numpy(), depth.numpy())
        ctx.state = (m2, con, features, opa, rad, bg, bins, acc, transmittance, last, width,
                     height, backgrounds is not None)
        ctx.mark_non_differentiable(median)
        return rgb, alpha, depth, median

    @staticmethod
    def backward(ctx, v_rgb, v_alpha, v_depth, _v_median):
        (m2, con, features, opa, rad, bg, bins, acc, transmittance, last, width, height,
         has_bg) = ctx.state
        cameras, n, channels = features.shape
        v_acc = np.empty_like(acc)
        v_alpha_acc = np.empty((*transmittance.shape, 1), acc.dtype)
        v_rgb_np = _np(v_rgb)
        rk.image_gradients(v_rgb_np, _np(v_alpha), _np(v_depth), acc, transmittance, bg, v_acc,
                           v_alpha_acc)
        grads = _WORKSPACE.zeros((rk.thread_count(), cameras, n, 6 + channels), m2.dtype)
        with rk.tiles_in_small_chunks():
            rk.rasterize_backward(m2, con, features, opa, rad, bins.offsets, bins.ids,
                                  bins.tiles_x, bins.tiles_y, width, height, transmittance, last,
                                  v_acc, v_alpha_acc, grads)
        total = torch.from_numpy(grads.sum(0))
        v_bg = (torch.from_numpy(np.einsum("chwd,chw->cd", v_rgb_np, transmittance))
                if has_bg and ctx.needs_input_grad[5] else None)
        return (total[..., 0:2], total[..., 2:5], total[..., 6:-1], total[..., 5],
                total[..., -1], v_bg, None, None, None)
