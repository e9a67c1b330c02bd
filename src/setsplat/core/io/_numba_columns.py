"""numba kernels behind ``_columns``: one block of rows per call, small enough to stay in
cache, GIL released so that a thread per core runs them side by side."""

from __future__ import annotations

import numba
import numpy as np

from setsplat.core._numba_quats import normalize
from setsplat.core._unit_quats import UNIT_TOLERANCE


@numba.njit(nogil=True, cache=True)
def _all_finite(values):  # pragma: no cover - compiled
    # NaN and inf are the floats whose exponent bits are all ones; an integer max of the
    # exponent fields vectorises (a float reduction would need fast-math, which may
    # assume there are no NaNs and fold the test away)
    bits = values.view(np.uint32)
    exponents = np.uint32(0)
    for k in range(bits.size):
        exponents = max(exponents, bits[k] & np.uint32(0x7F800000))
    return exponents != np.uint32(0x7F800000)


@numba.njit(nogil=True, cache=True)
def split_block(raw, first, table, outputs, unit_group):  # pragma: no cover - compiled
    """Copy the rows of ``raw`` into rows ``first``.. of ``outputs`` (column ``table[g, j]``
    into ``outputs[g][:, j]``) and bring the quaternion rows of ``outputs[unit_group]``
    to unit length (none when it is -1); True when every value of the block is finite
    and no quaternion is zero."""
    valid = _all_finite(raw.ravel())
    for g in range(len(outputs)):
        out = outputs[g]
        for i in range(raw.shape[0]):
            for j in range(out.shape[1]):
                out[first + i, j] = raw[i, table[g, j]]
    if unit_group >= 0:
        quats = outputs[unit_group][first:first + raw.shape[0]]
        valid &= normalize(quats, UNIT_TOLERANCE, quats) == 0
    return valid


@numba.njit(nogil=True, cache=True)
def join_block(arrays, first, table, out):  # pragma: no cover - compiled
    """The inverse: rows ``first``.. of ``arrays`` into the columns of the block ``out``."""
    for g in range(len(arrays)):
        array = arrays[g]
        for i in range(out.shape[0]):
            for j in range(array.shape[1]):
                out[i, table[g, j]] = array[first + i, j]
