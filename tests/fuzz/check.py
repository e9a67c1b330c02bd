"""The property every reader must keep, for one input: it reads, or fails with a
SetsplatError whose message is one line — never another exception — and its traced
memory stays under ``ALLOWANCE`` plus the target's ``multiple`` times the input size.

Memory is what tracemalloc traces: numpy's and Python's allocations, not what C
libraries (SQLite, Pillow, zlib) keep for themselves. ``SETSPLAT_MAX_MEMORY`` is set to
256 MiB while fuzzing, so any size a header declares beyond it must be refused.
"""

from __future__ import annotations

import shutil
import tempfile
import tracemalloc
from pathlib import Path

from setsplat.core.errors import SetsplatError
from tests.fuzz.targets import SCRATCH_PARENT, Target

ALLOWANCE = 16 << 20
MAX_MEMORY = str(256 << 20)
_SCRATCH = Path(tempfile.mkdtemp(prefix="setsplat-fuzz-", dir=SCRATCH_PARENT))


def check(target: Target, sample) -> str:
    """'read' or 'refused'; an AssertionError (or the reader's own exception) otherwise."""
    folder = _SCRATCH / "case"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        try:
            size = target.read(sample, folder)
            outcome = "read"
        except SetsplatError as exc:
            assert exc.what and "\n" not in exc.line(), exc.line()
            size, outcome = _size(sample), "refused"
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak <= ALLOWANCE + target.multiple * size, f"{peak} bytes for a {size}-byte input"
    return outcome


def _size(sample) -> int:
    if isinstance(sample, bytes):
        return len(sample)
    if isinstance(sample, tuple) and isinstance(sample[1], bytes):  # (name or kind, bytes)
        return len(sample[1])
    return 1 << 16  # catalog rows: the catalog file's own size bounds them
