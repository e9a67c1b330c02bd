"""Moving columns between a row-interleaved table (a PLY's vertex block) and arrays.

Big tables go through numba kernels, parallel and in one pass over memory; small ones
through numpy, so that a small file never pays numba's import. Both give the same
bytes (tests check).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Below this many values the numpy path is faster than importing numba.
NUMBA_THRESHOLD = 4_000_000


def use_numba(size: int) -> bool:
    return size >= NUMBA_THRESHOLD


def split_columns(
    raw: np.ndarray, groups: Sequence[Sequence[int]], fast: bool | None = None
) -> list[np.ndarray]:
    """Contiguous (N, len(g)) float32 arrays holding the columns ``g`` of ``raw`` (N, P).

    ``fast`` picks the numba kernel (default: by size)."""
    if use_numba(raw.size) if fast is None else fast:
        outputs = [np.empty((raw.shape[0], len(g)), np.float32) for g in groups]
        _kernels().split(raw, _index_table(groups), _pack(outputs))
        return outputs
    return [np.ascontiguousarray(raw[:, list(g)]) for g in groups]


def join_columns(
    arrays: Sequence[np.ndarray],
    groups: Sequence[Sequence[int]],
    out: np.ndarray,
    fast: bool | None = None,
) -> None:
    """Write each (N, len(g)) float32 array into the columns ``g`` of ``out`` (N, P)."""
    if use_numba(out.size) if fast is None else fast:
        _kernels().join(_pack(arrays), _index_table(groups), out)
        return
    for array, g in zip(arrays, groups):
        out[:, list(g)] = array


def _index_table(groups: Sequence[Sequence[int]]) -> np.ndarray:
    """(G, W) column indices, -1 padded, so one kernel handles any set of groups."""
    width = max((len(g) for g in groups), default=0)
    table = np.full((len(groups), max(width, 1)), -1, np.int64)
    for i, g in enumerate(groups):
        table[i, : len(g)] = g
    return table


def _pack(arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    """A homogeneous tuple of 2-D float32 arrays: numba indexes it without typed-List costs."""
    return tuple(np.ascontiguousarray(a, dtype=np.float32).reshape(a.shape[0], -1)
                 for a in arrays)


_KERNELS = None


def _kernels():
    global _KERNELS
    if _KERNELS is None:
        from setsplat.core.io import _numba_columns

        _KERNELS = _numba_columns
    return _KERNELS
