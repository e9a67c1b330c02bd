"""Scratch arrays reused across render calls.

A training step needs tens of MB of scratch (per-pair splat records, per-contribution
records, per-thread gradients). Freshly allocated, every page of it faults on first
touch, every step, and the forward pass paid for those faults
(docs/decisions/0006-scratch-memory.md). The pool hands a released buffer out again
instead. A buffer goes back to the pool only when its owner is gone
(``weakref.finalize``), so two renders whose backward passes are still to come never
share one.
"""

from __future__ import annotations

import math
import threading
import weakref

import numpy as np

KEEP_PER_DTYPE = 8  # released buffers kept per dtype: what a render and its backward use


class BufferPool:
    def __init__(self, keep: int = KEEP_PER_DTYPE) -> None:
        self._keep = keep
        self._free: dict[np.dtype, list[np.ndarray]] = {}
        self._lock = threading.Lock()

    def take(self, shape: tuple[int, ...], dtype: np.dtype | type, owner: object = None,
             ) -> np.ndarray:
        """An uninitialised array; it returns to the pool when ``owner`` is collected, or
        at ``give_back`` if there is no owner."""
        dtype = np.dtype(dtype)
        size = math.prod(shape)
        with self._lock:
            free = self._free.setdefault(dtype, [])
            fitting = [i for i, b in enumerate(free) if b.size >= size]
            buffer = free.pop(min(fitting, key=lambda i: free[i].size)) if fitting else None
        if buffer is None:
            buffer = np.empty(size, dtype)
        view = buffer[:size].reshape(shape)
        if owner is not None:
            weakref.finalize(owner, self.give_back, view)
        return view

    def give_back(self, view: np.ndarray) -> None:
        buffer = view if view.base is None else view.base
        with self._lock:
            free = self._free.setdefault(buffer.dtype, [])
            free.append(buffer)
            if len(free) > self._keep:
                free.sort(key=lambda b: b.size)
                del free[0]


POOL = BufferPool()
