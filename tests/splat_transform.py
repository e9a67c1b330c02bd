"""Run PlayCanvas's splat-transform (npm ``@playcanvas/splat-transform``, installed by
``make install``) on files we write, and have it write files we read: a batch of
conversions in one node process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MODULES = ROOT / ".tools" / "node_modules"
PACKAGE = MODULES / "@playcanvas" / "splat-transform"
SCRIPT = Path(__file__).with_name("tools") / "splat_transform.mjs"


def convert(*jobs: tuple[str | os.PathLike, str | os.PathLike, dict[str, Any]],
            timeout: float = 600) -> list[float]:
    """Each ``(input, output, options)``: splat-transform reads ``input`` (format from its
    name) and writes ``output`` (likewise); ``options`` as its library takes them
    (``spzVersion``, ``lodSelect``, ``iterations``, ...). Returns the seconds each job
    took inside node (its start-up not counted). ``timeout``: seconds for the batch."""
    node = shutil.which("node")
    if node is None or not PACKAGE.is_dir():
        raise AssertionError("splat-transform is not installed: run `make install` "
                             "(needs node and npm)")
    listing = [{"input": str(i), "output": str(o), "options": opts} for i, o, opts in jobs]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(listing, f)
    try:
        done = subprocess.run([node, str(SCRIPT), f.name], capture_output=True, text=True,
                              env={**os.environ, "SPLAT_TRANSFORM": str(PACKAGE)}, timeout=timeout)
    finally:
        os.unlink(f.name)
    if done.returncode:
        raise AssertionError(f"splat-transform failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
