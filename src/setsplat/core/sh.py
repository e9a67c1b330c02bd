"""Real spherical harmonics as 3DGS uses them (degrees 0–3), and their rotation.

The basis and its signs are the ones of the original 3DGS code (and gsplat): the DC
coefficient maps to color by ``rgb = SH_C0 * dc + 0.5`` and a splat's color seen
along unit direction ``d`` (from the camera to the splat) is ``sum_k sh[k] * Y_k(d) + 0.5``.
"""

from __future__ import annotations

import functools

import numpy as np

SH_C0 = 0.28209479177387814
_C1 = 0.4886025119029199
_C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792,
       0.5462742152960396)
_C3 = (-0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154,
       -0.4570457994644658, 1.445305721320277, -0.5900435899266435)

MAX_DEGREE = 3


def num_coeffs(degree: int) -> int:
    return (degree + 1) ** 2


def degree_of(num: int) -> int:
    """Inverse of ``num_coeffs``; raises ValueError for counts that are not (d+1)^2, d<=3."""
    for degree in range(MAX_DEGREE + 1):
        if num_coeffs(degree) == num:
            return degree
    raise ValueError(f"{num} SH coefficients is not (d+1)^2 for a degree d in 0..{MAX_DEGREE}")


def sh_basis(degree: int, dirs: np.ndarray) -> np.ndarray:
    """Basis functions Y_k at unit directions (..., 3) -> (..., (degree+1)^2).

    Takes numpy arrays (computed in float64) or torch tensors (kept differentiable, for
    the reference renderer).
    """
    tensor = type(dirs).__module__.startswith("torch")
    if not tensor:
        dirs = np.asarray(dirs, dtype=np.float64)
    x, y, z = dirs[..., 0], dirs[..., 1], dirs[..., 2]
    out = [x * 0 + SH_C0]
    if degree >= 1:
        out += [-_C1 * y, _C1 * z, -_C1 * x]
    if degree >= 2:
        xx, yy, zz = x * x, y * y, z * z
        out += [_C2[0] * x * y, _C2[1] * y * z, _C2[2] * (2 * zz - xx - yy), _C2[3] * x * z,
                _C2[4] * (xx - yy)]
    if degree >= 3:
        out += [_C3[0] * y * (3 * xx - yy), _C3[1] * x * y * z, _C3[2] * y * (4 * zz - xx - yy),
                _C3[3] * z * (2 * zz - 3 * xx - 3 * yy), _C3[4] * x * (4 * zz - xx - yy),
                _C3[5] * z * (xx - yy), _C3[6] * x * (xx - 3 * yy)]
    if tensor:
        import torch

        return torch.stack(out, -1)
    return np.stack(out, -1)


def eval_sh(sh: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """Color (N, 3) of splats with coefficients (N, K, 3) seen along unit ``dirs`` (N, 3).

    Not clamped, so that it stays linear in the coefficients (the renderer clamps).
    """
    basis = sh_basis(degree_of(sh.shape[1]), dirs)
    return np.einsum("nk,nkc->nc", basis, sh) + 0.5


def dc_to_rgb(dc: np.ndarray) -> np.ndarray:
    return SH_C0 * dc + 0.5


def rgb_to_dc(rgb: np.ndarray) -> np.ndarray:
    return (rgb - 0.5) / SH_C0


@functools.lru_cache(maxsize=8)
def _sample_directions(count: int = 64) -> np.ndarray:
    """Well-spread unit directions (a Fibonacci sphere) for fitting the rotation."""
    i = np.arange(count) + 0.5
    phi = np.arccos(1 - 2 * i / count)
    theta = np.pi * (1 + 5**0.5) * i
    return np.stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)], -1)


def sh_transform_matrix(orthogonal: np.ndarray, degree: int) -> np.ndarray:
    """Matrix M (K, K) so that coefficients ``M @ c`` describe the same color field
    after the world is transformed by ``orthogonal`` (a rotation or a reflection).

    Real SH of each degree span a space that O(3) maps onto itself, so M is exact and
    block-diagonal. We obtain it by solving ``Y(d) M = Y(Q^T d)`` (row vectors) on well-spread
    directions: the same result as Wigner-D matrices (up to float precision, ~1e-14)
    for rotations, and correct for reflections too, with the 3DGS basis signs built in.
    """
    q = np.asarray(orthogonal, dtype=np.float64)
    dirs = _sample_directions()
    matrix = np.zeros((num_coeffs(degree), num_coeffs(degree)))
    before = sh_basis(degree, dirs @ q)  # rows: Y(Q^T d)
    after = sh_basis(degree, dirs)
    for band in range(degree + 1):
        block = slice(band * band, (band + 1) ** 2)
        solution, *_ = np.linalg.lstsq(after[:, block], before[:, block], rcond=None)
        matrix[block, block] = solution
    return matrix


def transform_sh(sh: np.ndarray, orthogonal: np.ndarray) -> np.ndarray:
    """Coefficients (N, K, 3) of splats after the world is transformed by ``orthogonal``."""
    if sh.shape[1] == 1:
        return sh.copy()
    matrix = sh_transform_matrix(orthogonal, degree_of(sh.shape[1]))
    signs = np.round(np.diag(matrix))
    if np.allclose(matrix, np.diag(signs), rtol=0, atol=1e-9):
        # Axis flips (RDF <-> Y-up, ...) only change signs: exact, and one cheap pass.
        return sh * signs.astype(np.float32)[None, :, None]
    matrix = matrix.astype(np.float32)
    out = np.empty_like(sh)
    out[:, 0] = sh[:, 0]
    np.matmul(matrix[1:, 1:], sh[:, 1:], out=out[:, 1:])
    return out
