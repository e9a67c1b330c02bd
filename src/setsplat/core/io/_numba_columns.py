"""numba kernels behind ``_columns``: one block of rows per call, small enough to stay in
cache, GIL released so that a thread per core runs them side by side."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, cache=True, fastmath={"reassoc"})
def _all_finite(values):  # pragma: no cover - compiled
    # x * 0 is 0 for every finite x and NaN otherwise; reassociation lets the sum vectorise
    total = np.float32(0)
    for x in values:
        total += x * np.float32(0)
    return total == 0


@numba.njit(nogil=True, cache=True)
def split_block(raw, first, table, outputs):  # pragma: no cover - compiled
    """Copy the rows of ``raw`` into rows ``first``.. of ``outputs`` (column ``table[g, j]``
    into ``outputs[g][:, j]``); True when every value of the block is finite."""
    finite = _all_finite(raw.ravel())
    for g in range(len(outputs)):
        out = outputs[g]
        for i in range(raw.shape[0]):
            for j in range(out.shape[1]):
                out[first + i, j] = raw[i, table[g, j]]
    return finite


@numba.njit(nogil=True, cache=True)
def join_block(arrays, first, table, out):  # pragma: no cover - compiled
    """The inverse: rows ``first``.. of ``arrays`` into the columns of the block ``out``."""
    for g in range(len(arrays)):
        array = arrays[g]
        for i in range(out.shape[0]):
            for j in range(array.shape[1]):
                out[i, table[g, j]] = array[first + i, j]
