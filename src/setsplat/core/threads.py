"""How many CPU threads this process's heavy work may use.

By default every pool (torch's, numba's, COLMAP's, OpenMP's) takes all cores. A farm
task that asked its scheduler for N cores must stay within N, or tasks sharing a host
slow each other down; ``cpu_threads`` holds the pools to that number while a block runs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

_OPENMP = "OMP_NUM_THREADS"  # read by OpenMP in child processes (COLMAP, OpenCV)


@contextlib.contextmanager
def cpu_threads(count: int | None) -> Iterator[None]:
    """Hold torch's and numba's thread pools, and OpenMP in child processes, to
    ``count`` threads inside the block; None leaves everything as it is."""
    if count is None:
        yield
        return
    import numba
    import torch

    before = (torch.get_num_threads(), numba.get_num_threads(), os.environ.get(_OPENMP))
    torch.set_num_threads(count)
    numba.set_num_threads(min(count, numba.config.NUMBA_NUM_THREADS))
    os.environ[_OPENMP] = str(count)
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        numba.set_num_threads(before[1])
        if before[2] is None:
            os.environ.pop(_OPENMP, None)
        else:
            os.environ[_OPENMP] = before[2]
