"""What every command shares: the global options and how results are printed."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click


@dataclass
class Settings:
    debug: bool = False
    quiet: bool = False
    json: bool = False


def settings() -> Settings:
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        if isinstance(ctx.obj, Settings):
            return ctx.obj
        ctx = ctx.parent
    return Settings()


def emit(data: Any, human: Callable[[Any], None]) -> None:
    """Print a result: JSON on stdout with ``--json``, else the human rendering."""
    if settings().json:
        json.dump(data, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        human(data)


def console():
    from rich.console import Console

    return Console(highlight=False)


def keep_freed_memory() -> None:
    """Let glibc reuse freed big buffers instead of handing them back to the kernel.

    Commands allocate and free several copies of big splat arrays (PLY columns, frame
    conversions, USD arrays); by default each is unmapped on free and faulted in again,
    which on VMs costs about a second of kernel time per GB. A CLI process is ours, so
    we tune it; the library leaves the allocator alone.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return  # not glibc: nothing to tune
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_mmap_threshold, 1 << 30)
    mallopt(m_trim_threshold, (1 << 31) - 1)  # C int
