"""Moving columns between a row-interleaved table (a PLY's vertex block) and arrays.

Big tables go through numba kernels a block of rows at a time, one thread per core on
its own share of the rows; a block stays in cache between the file (``pread`` /
``pwrite``) and the arrays, so the copy costs little more than the read or write
itself. Small tables go through numpy, so that a small file never pays numba's import.
Both give the same bytes (tests check).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# Below this many values the numpy path is faster than importing numba.
NUMBA_THRESHOLD = 4_000_000
BLOCK_ROWS = 8192  # ~2 MB of a SH-3 PLY: one core's L2
THREADS = min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
              else os.cpu_count() or 1)  # macOS has no affinity call


def use_numba(size: int) -> bool:
    return size >= NUMBA_THRESHOLD


def split_columns(
    read_rows: Callable[[int, np.ndarray], None],
    count: int,
    width: int,
    groups: Sequence[Sequence[int]],
    fast: bool | None = None,
    unit_group: int | None = None,
) -> tuple[list[np.ndarray], bool]:
    """Contiguous (count, len(g)) float32 arrays holding the columns ``g`` of a table of
    ``count`` rows of ``width`` float32, which ``read_rows(first, out)`` copies into
    ``out``; and whether the data was verified on the way. The numba path verifies in
    the same pass, while each block is in cache: every value finite, and the rows of
    group ``unit_group`` (quaternions) brought to unit length with none zero. The numpy
    path neither verifies nor normalises and says False. ``fast`` picks the path
    (default: by size)."""
    if not (use_numba(count * width) if fast is None else fast):
        table = np.empty((count, width), np.float32)
        read_rows(0, table)
        return [np.ascontiguousarray(table[:, list(g)]) for g in groups], False
    kernels = _kernels()
    outputs = [np.empty((count, len(g)), np.float32) for g in groups]
    table, packed = _index_table(groups), _pack(outputs)
    unit = -1 if unit_group is None else unit_group
    scratch = threading.local()

    def split(first: int, stop: int) -> bool:
        rows = _block(scratch, width)[: stop - first]
        read_rows(first, rows)
        return kernels.split_block(rows, first, table, packed, unit)

    return outputs, all(_in_blocks(count, split))


def join_columns(
    arrays: Sequence[np.ndarray],
    groups: Sequence[Sequence[int]],
    width: int,
    emit: Callable[[int, np.ndarray], None],
    fast: bool | None = None,
) -> None:
    """Interleave the (N, len(g)) arrays into rows of ``width`` float32 columns (array i
    into the columns ``groups[i]``), handing each block of rows to ``emit(first_row,
    rows)``; on the numba path from several threads at once, so ``emit`` must be
    thread-safe (``os.pwrite`` is) and must not keep ``rows``."""
    n = arrays[0].shape[0]
    if not (use_numba(n * width) if fast is None else fast):
        rows = np.empty((n, width), np.float32)
        for array, g in zip(arrays, groups):
            rows[:, list(g)] = array
        emit(0, rows)
        return
    kernels = _kernels()
    table, packed = _index_table(groups), _pack(arrays)
    scratch = threading.local()

    def join(first: int, stop: int) -> None:
        rows = _block(scratch, width)[: stop - first]
        kernels.join_block(packed, first, table, rows)
        emit(first, rows)

    _in_blocks(n, join)


def _in_blocks(n: int, work: Callable[[int, int], object]) -> list:
    """``work(first, stop)`` over blocks of rows: each thread takes one contiguous share,
    so its file offsets and array rows move forwards."""
    shares = np.linspace(0, n, THREADS + 1).astype(int)

    def share(low: int, high: int) -> list:
        return [work(first, min(high, first + BLOCK_ROWS))
                for first in range(low, high, BLOCK_ROWS)]

    with ThreadPoolExecutor(THREADS) as pool:
        return [r for results in pool.map(share, shares[:-1], shares[1:]) for r in results]


def _block(scratch: threading.local, width: int) -> np.ndarray:
    """This thread's block buffer, reused block after block."""
    if not hasattr(scratch, "rows"):
        scratch.rows = np.empty((BLOCK_ROWS, width), np.float32)
    return scratch.rows


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
