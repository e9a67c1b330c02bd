"""numba kernels behind ``_unit_quats``: one pass over the quaternions, single-threaded
(a numba parallel region leaves its worker threads spinning, against the PLY reader's
own threads)."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, cache=True, inline="always")
def _norm(q):  # pragma: no cover - compiled
    w, x, y, z = np.float64(q[0]), np.float64(q[1]), np.float64(q[2]), np.float64(q[3])
    return np.sqrt((w * w + x * x) + (y * y + z * z))


@numba.njit(nogil=True, cache=True)
def count_off_unit(quats, tolerance):  # pragma: no cover - compiled
    """(zero quaternions, other quaternions further than ``tolerance`` from unit)."""
    zeros = 0
    off = 0
    for i in range(quats.shape[0]):
        norm = _norm(quats[i])
        if norm == 0.0:
            zeros += 1
        elif abs(norm - 1.0) > tolerance:
            off += 1
    return zeros, off


@numba.njit(nogil=True, cache=True)
def normalize(quats, tolerance, out):  # pragma: no cover - compiled
    """``out`` (which may be ``quats``) gets each quaternion at unit length, or as it was
    when within ``tolerance`` of it or zero; returns the number of zero ones."""
    zeros = 0
    for i in range(quats.shape[0]):
        norm = _norm(quats[i])
        zeros += norm == 0.0
        scale = norm != 0.0 and abs(norm - 1.0) > tolerance
        inverse = 1.0 / norm if scale else 1.0
        for j in range(4):
            out[i, j] = np.float32(np.float64(quats[i, j]) * inverse) if scale else quats[i, j]
    return zeros
