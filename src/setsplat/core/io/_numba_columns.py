"""numba kernels behind ``_columns``: blocks of rows in parallel, cache-resident."""

from __future__ import annotations

import numba

_BLOCK = 2048  # rows per work item: a few hundred KB of a PLY, stays in L2


@numba.njit(parallel=True, nogil=True, cache=True)
def split(raw, table, outputs):  # pragma: no cover - compiled
    n = raw.shape[0]
    blocks = (n + _BLOCK - 1) // _BLOCK
    for b in numba.prange(blocks):
        start = b * _BLOCK
        stop = min(n, start + _BLOCK)
        for g in range(len(outputs)):
            out = outputs[g]
            width = out.shape[1]
            for i in range(start, stop):
                for j in range(width):
                    out[i, j] = raw[i, table[g, j]]


@numba.njit(parallel=True, nogil=True, cache=True)
def join(arrays, table, out):  # pragma: no cover - compiled
    n = out.shape[0]
    blocks = (n + _BLOCK - 1) // _BLOCK
    for b in numba.prange(blocks):
        start = b * _BLOCK
        stop = min(n, start + _BLOCK)
        for g in range(len(arrays)):
            array = arrays[g]
            width = array.shape[1]
            for i in range(start, stop):
                for j in range(width):
                    out[i, table[g, j]] = array[i, j]

