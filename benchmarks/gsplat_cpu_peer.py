"""The peer: gsplat's own PyTorch rendering path, made to run on a CPU.

``gsplat.rendering._rasterization`` is gsplat's autograd-only renderer, but it still
calls four CUDA-only helpers. ``install()`` replaces them, and nothing else:

* ``isect_tiles``: a vectorised PyTorch port of gsplat's ``_torch_impl._isect_tiles``
  (same 64-bit keys: image | tile | float depth bits; theirs is a Python loop per splat);
* ``isect_offset_encode`` and ``spherical_harmonics``: gsplat's own ``_torch_impl``
  functions;
* ``rasterize_to_indices_in_range`` (used by ``_torch_impl._rasterize_to_pixels``): a
  PyTorch port of the CUDA kernel, one dense (pixels x splats) pass per tile;
* ``nerfacc.render_weight_from_alpha`` / ``accumulate_along_rays`` (nerfacc is not
  installed, and needs CUDA for packed rays): segmented PyTorch equivalents.

Everything differentiable stays gsplat's code, differentiated by PyTorch autograd.
"""

from __future__ import annotations

import math
import sys
import types

import torch

ALPHA_THRESHOLD = 1.0 / 255.0


@torch.no_grad()
def isect_tiles(means2d, radii, depths, tile_size, tile_width, tile_height, sort=True,
                packed=False, n_images=None, image_ids=None, gaussian_ids=None):
    assert not packed
    image_dims = means2d.shape[:-2]
    n = means2d.shape[-2]
    images = math.prod(image_dims)
    m = means2d.reshape(images * n, 2) / tile_size
    r = radii.reshape(images * n, 2) / tile_size
    low = torch.floor(m - r).long()
    high = torch.ceil(m + r).long()
    limit = torch.tensor([tile_width, tile_height])
    low = torch.minimum(low.clamp_min(0), limit)
    high = torch.minimum(high.clamp_min(0), limit)
    span = high - low
    counts = span.prod(-1) * (radii.reshape(-1, 2) > 0).all(-1)
    hit = torch.nonzero(counts)[:, 0]
    flat = torch.repeat_interleave(hit, counts[hit])
    first = torch.cumsum(counts[hit], 0) - counts[hit]
    local = torch.arange(len(flat)) - torch.repeat_interleave(first, counts[hit])
    tx = low[flat, 0] + local % span[flat, 0]
    ty = low[flat, 1] + local // span[flat, 0]
    tile_bits = (tile_width * tile_height).bit_length()
    depth_bits = depths.reshape(-1)[flat].float().view(torch.int32).long() & 0xFFFFFFFF
    isect_ids = ((flat // n) << (tile_bits + 32)) | ((ty * tile_width + tx) << 32) | depth_bits
    if sort:
        isect_ids, order = torch.sort(isect_ids)
        flat = flat[order]
    return counts.reshape((*image_dims, n)).int(), isect_ids, flat.int()


def isect_offset_encode(isect_ids, n_images, tile_width, tile_height):
    from gsplat.cuda._torch_impl import _isect_offset_encode

    return _isect_offset_encode(isect_ids, n_images, tile_width, tile_height)


def spherical_harmonics(degrees_to_use, dirs, coeffs, masks=None):
    from gsplat.cuda._torch_impl import _spherical_harmonics

    return _spherical_harmonics(degrees_to_use, dirs, coeffs)


@torch.no_grad()
def rasterize_to_indices_in_range(range_start, range_end, transmittances, means2d, conics,
                                  opacities, image_width, image_height, tile_size,
                                  isect_offsets, flatten_ids):
    """(gaussian ids, pixel ids, image ids) of every contributing (splat, pixel) pair in
    batches [range_start, range_end) of each tile, as gsplat's CUDA kernel returns them."""
    n = means2d.shape[-2]
    tiles_y, tiles_x = isect_offsets.shape[-2:]
    per_image = tiles_x * tiles_y
    offsets = isect_offsets.reshape(-1).long()
    ends = torch.cat([offsets[1:], torch.tensor([len(flatten_ids)])])
    m2 = means2d.reshape(-1, n, 2)
    con = conics.reshape(-1, n, 3)
    opa = opacities.reshape(-1, n)
    trans = transmittances.reshape(-1, image_height * image_width)
    block = tile_size * tile_size
    out_g, out_p, out_i = [], [], []
    for tile in range(len(offsets)):
        start = int(offsets[tile]) + range_start * block
        end = min(int(ends[tile]), int(offsets[tile]) + range_end * block)
        if end <= start:
            continue
        image, local = divmod(tile, per_image)
        ty, tx = divmod(local, tiles_x)
        ys = torch.arange(ty * tile_size, min((ty + 1) * tile_size, image_height))
        xs = torch.arange(tx * tile_size, min((tx + 1) * tile_size, image_width))
        pix = (ys[:, None] * image_width + xs[None]).reshape(-1)
        g = flatten_ids[start:end].long() % n
        px = torch.stack([pix % image_width, pix // image_width], -1) + 0.5
        d = m2[image, g][None] - px[:, None].to(m2.dtype)
        c = con[image, g]
        sigma = (0.5 * (c[:, 0] * d[..., 0] ** 2 + c[:, 2] * d[..., 1] ** 2)
                 + c[:, 1] * d[..., 0] * d[..., 1])
        alpha = torch.clamp_max(opa[image, g] * torch.exp(-sigma), 0.999)
        valid = (sigma >= 0) & (alpha >= ALPHA_THRESHOLD)
        alpha = torch.where(valid, alpha, 0.0)
        before = trans[image, pix][:, None] * torch.cumprod(
            torch.cat([torch.ones_like(alpha[:, :1]), 1 - alpha[:, :-1]], 1), 1)
        keep = valid & (before * (1 - alpha) > 1e-4)
        p_idx, k_idx = torch.nonzero(keep, as_tuple=True)
        out_g.append(g[k_idx])
        out_p.append(pix[p_idx])
        out_i.append(torch.full_like(p_idx, image))
    if not out_g:
        empty = torch.zeros(0, dtype=torch.long)
        return empty, empty, empty
    return torch.cat(out_g), torch.cat(out_p), torch.cat(out_i)


def _segment_starts(ray_indices):
    new = torch.ones_like(ray_indices, dtype=torch.bool)
    new[1:] = ray_indices[1:] != ray_indices[:-1]
    return new


def render_weight_from_alpha(alphas, ray_indices, n_rays):
    """nerfacc's packed version: samples grouped by ray, front to back."""
    log_t = torch.log1p(-alphas)
    inclusive = torch.cumsum(log_t, 0)
    starts = _segment_starts(ray_indices)
    # exclusive cumulative sum within each ray
    base = torch.cummax(torch.where(starts, torch.arange(len(alphas)), 0), 0).values
    exclusive = inclusive - log_t - (inclusive[base] - log_t[base])
    trans = torch.exp(exclusive)
    return alphas * trans, trans


def accumulate_along_rays(weights, values, ray_indices, n_rays):
    src = weights[:, None] if values is None else weights[:, None] * values
    out = torch.zeros((n_rays, src.shape[-1]), dtype=src.dtype)
    return out.index_add(0, ray_indices, src)


def install() -> None:
    """Point gsplat's CUDA-only helpers at the CPU versions above."""
    import gsplat.cuda._wrapper as wrapper
    import gsplat.rendering as rendering

    rendering.isect_tiles = isect_tiles
    rendering.isect_offset_encode = isect_offset_encode
    rendering.spherical_harmonics = spherical_harmonics
    wrapper.rasterize_to_indices_in_range = rasterize_to_indices_in_range
    nerfacc = types.ModuleType("nerfacc")
    nerfacc.render_weight_from_alpha = render_weight_from_alpha
    nerfacc.accumulate_along_rays = accumulate_along_rays
    sys.modules["nerfacc"] = nerfacc


def rasterize(means, quats, scales, opacities, sh, viewmats, ks, width, height, sh_degree):
    """gsplat's ``_rasterization`` (RGB + expected depth), as the peer runs it."""
    from gsplat.rendering import _rasterization

    install()
    return _rasterization(means, quats, scales, opacities, sh, viewmats, ks, width, height,
                          sh_degree=sh_degree, render_mode="RGB+ED")
