"""Kernels loaded from numba's on-disk cache compute the very bits that freshly compiled
ones do. A resumed training run relies on it: the run that wrote the checkpoint compiled
its kernels, the resumed one loads them. (With fast-math, fused multiply-adds once came
out differently in the two, and resumed runs were not byte-identical.) Training, renders
and exports run the float32 kernels, so those are compared: compiling the float64 ones
as well (for the reference tests only) would double the test's minutes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_cached_kernels_compute_what_fresh_ones_do(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}

    def fingerprint() -> str:
        done = subprocess.run([sys.executable, "-m", "tests.render.fingerprint", "float32"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
                              check=True)
        return done.stdout.strip()

    fresh = fingerprint()  # compiles every kernel, fills the empty cache
    assert any((tmp_path / "numba").rglob("*.nbc"))
    assert fingerprint() == fresh  # loads them all from it
