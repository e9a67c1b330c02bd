"""A plain PyTorch renderer: the truth our fast backend is tested against.

Dense and short on purpose: every splat is evaluated at every pixel (no tiles, no
footprints, no culling beyond the near/far planes), sorted by depth, composited with
a cumulative product, and differentiated by autograd. Only for small images.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from setsplat.core.sh import sh_basis
from setsplat.render.conventions import (
    ALPHA_THRESHOLD,
    EPS2D,
    MAX_ALPHA,
    MEDIAN_TRANSMITTANCE,
    MIN_TRANSMITTANCE,
)


def quat_to_rotmat(quats: torch.Tensor) -> torch.Tensor:
    w, x, y, z = F.normalize(quats, dim=-1).unbind(-1)
    rows = [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]
    return torch.stack(rows, -1).reshape(*quats.shape[:-1], 3, 3)


def project(means, quats, scales, viewmat, K, width, height, eps2d=EPS2D):
    """EWA projection into one camera: (means2d, cov2d with blur, unblurred det, depths)."""
    rs = quat_to_rotmat(quats) * scales[:, None, :]
    w, t = viewmat[:3, :3], viewmat[:3, 3]
    p = means @ w.T + t
    a = w @ rs
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    x, y, z = p.unbind(-1)
    # 3DGS clamps the Jacobian's point to 1.3x the view frustum
    lim_x = (width - cx) / fx + 0.15 * width / fx, cx / fx + 0.15 * width / fx
    lim_y = (height - cy) / fy + 0.15 * height / fy, cy / fy + 0.15 * height / fy
    tx = z * torch.clamp(x / z, -lim_x[1], lim_x[0])
    ty = z * torch.clamp(y / z, -lim_y[1], lim_y[0])
    zero = torch.zeros_like(z)
    jac = torch.stack([fx / z, zero, -fx * tx / z**2, zero, fy / z, -fy * ty / z**2], -1)
    b = jac.reshape(-1, 2, 3) @ a
    cov = b @ b.transpose(1, 2)
    det_orig = cov[:, 0, 0] * cov[:, 1, 1] - cov[:, 0, 1] * cov[:, 1, 0]
    cov = cov + eps2d * torch.eye(2, dtype=cov.dtype)
    means2d = torch.stack([fx * x / z + cx, fy * y / z + cy], -1)
    return means2d, cov, det_orig, z


def sh_colors(sh, degree, means, viewmat):
    """Colors seen from the camera centre −Rᵀt (also right for reflections)."""
    centre = -viewmat[:3, :3].T @ viewmat[:3, 3]
    dirs = F.normalize(means - centre, dim=-1)
    k = (degree + 1) ** 2
    return torch.clamp_min((sh_basis(degree, dirs)[..., None] * sh[:, :k]).sum(1) + 0.5, 0.0)


def composite(means2d, conics, opacities, features, depths, width, height):
    """Front-to-back compositing of all splats at all pixels (already depth-sorted)."""
    ys, xs = torch.meshgrid(torch.arange(height, dtype=means2d.dtype),
                            torch.arange(width, dtype=means2d.dtype), indexing="ij")
    pix = torch.stack([xs, ys], -1).reshape(-1, 1, 2) + 0.5
    d = pix - means2d[None]
    sigma = (0.5 * (conics[:, 0] * d[..., 0] ** 2 + conics[:, 2] * d[..., 1] ** 2)
             + conics[:, 1] * d[..., 0] * d[..., 1])
    alpha = torch.clamp_max(opacities * torch.exp(-sigma), MAX_ALPHA)
    alpha = torch.where((sigma >= 0) & (alpha >= ALPHA_THRESHOLD), alpha, 0.0)
    before = torch.cumprod(torch.cat([torch.ones_like(alpha[:, :1]), 1 - alpha[:, :-1]], 1), 1)
    after = before * (1 - alpha)
    weight = alpha * before * (after > MIN_TRANSMITTANCE)
    image = (weight @ features).reshape(height, width, -1)
    acc = weight.sum(1).reshape(height, width, 1)
    crossing = (weight > 0) & (before > MEDIAN_TRANSMITTANCE) & (after <= MEDIAN_TRANSMITTANCE)
    median = (crossing * depths).sum(1).reshape(height, width, 1)
    return image, acc, median


def render(means, quats, scales, opacities, colors, viewmats, Ks, width, height, *,
           sh_degree=None, backgrounds=None, near_plane=0.01, far_plane=1e10, eps2d=EPS2D,
           antialiased=False):
    """Same inputs as ``render.rasterize``; returns (rgb, alpha, depth, median, means2d),
    each stacked over cameras; ``means2d`` (C, N, 2) is retained for its gradient."""
    outs, all_means2d = [], []
    for c in range(viewmats.shape[0]):
        means2d, cov, det_orig, z = project(means, quats, scales, viewmats[c], Ks[c], width,
                                            height, eps2d)
        means2d.retain_grad()
        all_means2d.append(means2d)
        det = cov[:, 0, 0] * cov[:, 1, 1] - cov[:, 0, 1] * cov[:, 1, 0]
        conics = torch.stack([cov[:, 1, 1], -cov[:, 0, 1], cov[:, 0, 0]], -1) / det[:, None]
        opac = opacities * torch.sqrt(torch.clamp_min(det_orig / det, 0)) if antialiased \
            else opacities
        if sh_degree is None:
            feats = colors if colors.dim() == 2 else colors[c]
        else:
            feats = sh_colors(colors, sh_degree, means, viewmats[c])
        feats = torch.cat([feats, z[:, None]], -1)
        keep = torch.nonzero((z > near_plane) & (z < far_plane) & (det > 0))[:, 0]
        keep = keep[torch.argsort(z[keep], stable=True)]
        image, acc, median = composite(means2d[keep], conics[keep], opac[keep], feats[keep],
                                       z[keep], width, height)
        rgb = image[..., :-1]
        if backgrounds is not None:
            rgb = rgb + (1 - acc) * backgrounds[c]
        outs.append((rgb, acc, image[..., -1:] / acc.clamp_min(1e-10), median))
    rgb, alpha, depth, median = (torch.stack(x) for x in zip(*outs))
    return rgb, alpha, depth, median, all_means2d
