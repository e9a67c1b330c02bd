"""Image losses and metrics: L1, SSIM (11x11 Gaussian window, as 3DGS), PSNR."""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F


@functools.lru_cache(maxsize=4)
def _taps(size: int, sigma: float, dtype: torch.dtype) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return (g / g.sum()).to(dtype)


def _blur(t: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur of (B, C, H, W), zero padded to the same size."""
    channels, size = t.shape[1], taps.numel()
    row = taps.view(1, 1, 1, size).expand(channels, 1, 1, size)
    col = taps.view(1, 1, size, 1).expand(channels, 1, size, 1)
    t = F.conv2d(t, row, padding=(0, size // 2), groups=channels)
    return F.conv2d(t, col, padding=(size // 2, 0), groups=channels)


def ssim(a: torch.Tensor, b: torch.Tensor, size: int = 11, sigma: float = 1.5,
         weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean SSIM of images (..., H, W, C) in 0..1, 11x11 Gaussian window with zero
    padding as in 3DGS; the five local moments are blurred in one separable pass.
    ``weights`` (H, W) average the SSIM map over the pixels they keep."""
    x = a.reshape(-1, *a.shape[-3:]).permute(0, 3, 1, 2)
    y = b.reshape(-1, *b.shape[-3:]).permute(0, 3, 1, 2)
    channels = x.shape[1]
    moments = _blur(torch.cat([x, y, x * x, y * y, x * y], 1), _taps(size, sigma, x.dtype))
    mu_x, mu_y, xx, yy, xy = moments.split(channels, 1)
    var_x, var_y, cov = xx - mu_x**2, yy - mu_y**2, xy - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    value = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    )
    return value.mean() if weights is None else _weighted_mean(value.permute(0, 2, 3, 1),
                                                              weights)


def _weighted_mean(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean of (..., H, W, C) values over the pixels (H, W) ``weights`` keep."""
    w = weights[..., None].expand_as(values)
    return (values * w).sum() / w.sum().clamp_min(1e-8)


def psnr(a: torch.Tensor, b: torch.Tensor, weights: torch.Tensor | None = None) -> float:
    """PSNR of images in 0..1; with ``weights`` (H, W), over the pixels they keep."""
    error = (a.clamp(0, 1) - b.clamp(0, 1)) ** 2
    mse = (error.mean() if weights is None else _weighted_mean(error, weights)).item()
    return float("inf") if mse == 0 else -10 * math.log10(mse)


def photometric_loss(render: torch.Tensor, truth: torch.Tensor, ssim_weight: float,
                     mask: torch.Tensor | None = None) -> torch.Tensor:
    """(1 - λ)·L1 + λ·(1 - SSIM): the 3DGS training loss, over the pixels ``mask`` (H, W)
    keeps when there is one (masked pixels give no gradient)."""
    difference = torch.abs(render - truth)
    l1 = difference.mean() if mask is None else _weighted_mean(difference, mask)
    if ssim_weight == 0:
        return l1
    return (1 - ssim_weight) * l1 + ssim_weight * (1 - ssim(render, truth, weights=mask))
