"""Our differentiable CPU rasterizer: numba kernels behind two autograd Functions.

Why it is built this way, and what was tried: ``docs/decisions/0001``–``0006``.

The kernels are compiled on first use and cached (``cache=True``): ``*.nbi`` (index)
and ``*.nbc`` (code) files in ``__pycache__`` beside these sources, in
``NUMBA_CACHE_DIR`` when that is set, or in ``~/.cache/numba`` when the sources are
read-only. numba checks only the source file that defines a kernel. A change to a
module a kernel imports does not reach the cached kernel, and nothing warns about it:
the constants of ``render/conventions.py``, which numba freezes into the code, the
row intrinsics of ``row_lanes.py``, the SH helpers of ``sh_kernels.py``. The old code
keeps running, and results and timings mislead. After changing such a module, clear
the cache:

    find src -name '*.nb[ic]' -delete

After any kernel change, run ``tests/render/test_cache.py``: a kernel compiled fresh
and the same kernel loaded from the cache must give the same bits.
"""
