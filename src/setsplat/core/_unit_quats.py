"""Quaternions to unit length, the same bits on the numpy and the numba path.

Both compute the norm as sqrt((w² + x²) + (y² + z²)) in float64 (spelled out: numpy's
own reductions group the four terms differently on different CPUs) and multiply by its
reciprocal in float64 (one division per quaternion instead of four: divisions were
most of the reader's normalising time). Quaternions within ``tolerance`` of unit length
keep their bits, so that normalising on load is idempotent and our files round-trip
byte-identically.
"""

from __future__ import annotations

import numpy as np

# Below this many quaternions numpy is faster than importing numba.
NUMBA_THRESHOLD = 250_000
# Quaternions within this distance of unit length keep their bits.
UNIT_TOLERANCE = 1e-6


def unit_quaternions(quats: np.ndarray, tolerance: float = UNIT_TOLERANCE
                     ) -> tuple[np.ndarray, int]:
    """``quats`` (N, 4) float32 scaled to unit length (the same array when all were
    within ``tolerance``), and how many were zero (left as they are)."""
    if len(quats) >= NUMBA_THRESHOLD:
        from setsplat.core import _numba_quats as kernels

        zeros, off = kernels.count_off_unit(quats, tolerance)
        if not off:
            return quats, zeros
        out = np.empty_like(quats)
        kernels.normalize(quats, tolerance, out)
        return out, zeros
    q = quats.astype(np.float64)
    q *= q
    norms = np.sqrt((q[:, 0] + q[:, 1]) + (q[:, 2] + q[:, 3]))
    zero = norms == 0
    off = (np.abs(norms - 1) > tolerance) & ~zero
    if not off.any():
        return quats, int(zero.sum())
    return (np.where(off[:, None], quats * (1 / np.where(zero, 1, norms))[:, None], quats)
            .astype(np.float32), int(zero.sum()))

