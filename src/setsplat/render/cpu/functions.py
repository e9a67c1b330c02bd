"""The CPU backend as two ``torch.autograd.Function``s: projection, then compositing.

Splitting like gsplat keeps ``means2d`` a real node of the graph, so ``retain_grad``
on it gives densification its screen-space gradients.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import torch

from setsplat.render.conventions import TILE_SIZE
from setsplat.render.cpu import projection_kernels as pk
from setsplat.render.cpu import raster_kernels as rk
from setsplat.render.cpu.binning import TileBins, bin_splats
from setsplat.render.cpu.buffers import POOL


@dataclass(frozen=True)
class ProjectionSettings:
    width: int
    height: int
    near_plane: float
    far_plane: float
    eps2d: float
    antialiased: bool
    sh_degree: int  # -1: colors are given, no SH


def _np(tensor: torch.Tensor | None) -> np.ndarray | None:
    return None if tensor is None else tensor.detach().contiguous().numpy()


def _numpy_backed(shape: tuple[int, ...], dtype: np.dtype) -> torch.Tensor:
    """An uninitialised tensor in memory from numpy, which asks Linux for huge pages for
    large arrays (torch does not). For the gradients the backward passes hand to the
    caller, fresh each step, so not from the buffer pool: the SH coefficients' is 57.6 MB
    at 300k splats, and torch's memory faulted it in 4 KB at a time, every step."""
    return torch.from_numpy(np.empty(shape, dtype))


class ProjectGaussians(torch.autograd.Function):
    """(means, quats, scales, opacities, sh) -> per camera (means2d, conics, depths,
    opacities, colors, radii); culled splats get radii 0 and zeros elsewhere."""

    @staticmethod
    def forward(ctx, means, quats, scales, opacities, sh, viewmats, ks, settings):
        dtype = means.dtype
        cameras, n = viewmats.shape[0], means.shape[0]
        means2d = torch.empty((cameras, n, 2), dtype=dtype)
        conics = torch.empty((cameras, n, 3), dtype=dtype)
        depths = torch.empty((cameras, n), dtype=dtype)
        opacities_out = torch.empty((cameras, n), dtype=dtype)
        colors = torch.empty((cameras, n, 3) if settings.sh_degree >= 0 else (0, 0, 3),
                             dtype=dtype)
        radii = torch.empty((cameras, n, 2), dtype=torch.int32)
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
        ctx.save_for_backward(means, quats, scales, opacities, radii, colors)
        ctx.has_sh = sh is not None
        ctx.mark_non_differentiable(radii)
        return means2d, conics, depths, opacities_out, colors, radii

    @staticmethod
    def backward(ctx, v_means2d, v_conics, v_depths, v_opacities_out, v_colors, _v_radii):
        means, quats, scales, opacities, radii, colors = ctx.saved_tensors
        view_np, ks_np, sh_np = ctx.arrays
        s = ctx.settings
        v_means = torch.empty_like(means)  # the kernel writes every entry
        v_quats = torch.empty_like(quats)
        v_scales = torch.empty_like(scales)
        v_opacities = torch.empty_like(opacities)
        v_sh = _numpy_backed(sh_np.shape, sh_np.dtype) if ctx.has_sh else None
        if len(means):
            pk.project_backward(
                _np(means), _np(quats), _np(scales), _np(opacities), sh_np, s.sh_degree,
                view_np, ks_np, s.width, s.height, s.eps2d, s.antialiased, radii.numpy(),
                colors.numpy(),
                _np(v_means2d), _np(v_conics), _np(v_depths), _np(v_opacities_out),
                _np(v_colors), v_means.numpy(), v_quats.numpy(), v_scales.numpy(),
                v_opacities.numpy(), pk.empty_sh(sh_np.dtype) if v_sh is None else v_sh.numpy())
        return v_means, v_quats, v_scales, v_opacities, v_sh, None, None, None


class _Replay:
    """What the forward pass leaves for the backward: the tile-splat pairs' splats, and
    per pair the span of each of its rows in the tile and the alpha of every pixel along
    them, tile by tile, within the room ``capacity`` gives each tile. No records when no
    gradient is wanted. Its arrays go back to the buffer pool when it is collected."""

    def __init__(self, bins: TileBins, channels: int, dtype: np.dtype) -> None:
        self.bins = bins
        self.pairs = POOL.take((len(bins.ids), rk.SPLAT_FIELDS + channels), dtype, self)
        self.capacity = np.empty(len(bins.offsets) - 1, np.int64)
        self.base = np.zeros(len(self.capacity), np.int64)
        self.end = np.empty(0, np.int64)
        self.alpha = np.empty(0, dtype)
        self.rows = np.empty((0, 2, TILE_SIZE), np.uint8)

    def make_room(self) -> None:
        """Room for the records, once ``capacity`` is filled in."""
        if len(self.capacity):
            np.cumsum(self.capacity[:-1], out=self.base[1:])
            size = int(self.base[-1] + self.capacity[-1])
            self.end = POOL.take((len(self.pairs),), np.int64, self)
            self.alpha = POOL.take((size,), self.pairs.dtype, self)
            self.rows = POOL.take((len(self.pairs), 2, TILE_SIZE), np.uint8, self)

    @property
    def records(self) -> tuple[np.ndarray, ...]:
        return self.base, self.end, self.alpha, self.rows


class RasterizeTiles(torch.autograd.Function):
    """Per-camera (means2d, conics, colors (C,N,D), opacities, depths, backgrounds (C,D))
    -> color over the background (C,H,W,D), alpha, expected depth and median depth
    (C,H,W,1 each; the median is not differentiable). All per-pixel work happens in the
    kernels: small torch ops on whole images are costly on a busy 2-core machine."""

    @staticmethod
    def forward(ctx, means2d, conics, colors, opacities, depths, backgrounds, radii, width,
                height):
        dtype = means2d.dtype
        cameras, channels = means2d.shape[0], colors.shape[-1]
        m2, con, opa, dep, rad = (_np(t) for t in (means2d, conics, opacities, depths, radii))
        replay = _Replay(bin_splats(m2, rad, dep, width, height), channels + 1, m2.dtype)
        bins = replay.bins
        table = POOL.take((*dep.shape, replay.pairs.shape[1]), m2.dtype)
        rk.splat_table(m2, con, opa, rad, _np(colors), dep, table)
        rk.gather_pairs(table, bins.offsets, bins.ids, bins.tiles_x, bins.tiles_y, width,
                        height, replay.pairs, replay.capacity)
        POOL.give_back(table)
        if any(ctx.needs_input_grad):
            replay.make_room()
        bg = np.zeros((cameras, channels), m2.dtype) if backgrounds is None else _np(backgrounds)
        rgb = torch.empty((cameras, height, width, channels), dtype=dtype)
        alpha, depth, median = (torch.empty((cameras, height, width, 1), dtype=dtype)
                                for _ in range(3))
        transmittance, depth_sum = (POOL.take((cameras, height, width), m2.dtype, replay)
                                    for _ in range(2))
        with rk.tiles_in_small_chunks():
            rk.rasterize_forward(replay.pairs, rk.channel_slots(channels + 1, m2.dtype),
                                 bins.offsets, bins.tiles_x, bins.tiles_y, width, height,
                                 *replay.records, rk.record_flag(len(replay.end) > 0), bg,
                                 rgb.numpy(), alpha.numpy(), depth.numpy(), median.numpy(),
                                 transmittance, depth_sum)
        ctx.state = (replay, bg, transmittance, depth_sum, width, height, m2.shape[1],
                     backgrounds is not None)
        ctx.mark_non_differentiable(median)
        ctx.set_materialize_grads(False)  # no zero images for outputs the loss leaves out
        return rgb, alpha, depth, median

    @staticmethod
    def backward(ctx, v_rgb, v_alpha, v_depth, _v_median):
        replay, bg, transmittance, depth_sum, width, height, n, has_bg = ctx.state
        bins = replay.bins
        dtype = transmittance.dtype
        cameras, channels = bg.shape[0], bg.shape[1] + 1  # color, then depth
        unused = np.empty((0, 0, 0, 0), dtype)
        v_rgb_np, v_alpha_np, v_depth_np = (unused if v is None else _np(v)
                                            for v in (v_rgb, v_alpha, v_depth))
        pair_grads = POOL.take((len(bins.ids), rk.GRAD_FIELDS + channels), dtype)
        with rk.tiles_in_small_chunks():
            rk.rasterize_backward(replay.pairs, rk.channel_slots(channels, dtype), bins.offsets,
                                  bins.tiles_x, bins.tiles_y, width, height, *replay.records,
                                  transmittance, depth_sum, bg, v_rgb_np, v_alpha_np,
                                  v_depth_np, pair_grads)
        grads = [_numpy_backed((cameras, n, *tail), dtype)
                 for tail in ((2,), (3,), (), (channels - 1,), ())]
        rk.sum_pairs(pair_grads, bins.offsets, bins.ids, bins.tiles_x * bins.tiles_y,
                     numba.get_num_threads(), *(g.numpy() for g in grads))
        POOL.give_back(pair_grads)
        v_means2d, v_conics, v_opacities, v_colors, v_depths = grads
        v_bg = (torch.from_numpy(np.einsum("chwd,chw->cd", v_rgb_np, transmittance))
                if has_bg and ctx.needs_input_grad[5] and v_rgb is not None else None)
        return v_means2d, v_conics, v_colors, v_opacities, v_depths, v_bg, None, None, None
