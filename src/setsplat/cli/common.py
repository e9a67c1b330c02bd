"""What every command shares: the global options and how results are printed."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
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


def library_options(command: Callable) -> Callable:
    """--library and --json on a subcommand; it receives ``library`` as a Library."""

    @click.option("--library", type=click.Path(path_type=Path), default=None,
                  help="Library folder (default: $SETSPLAT_LIBRARY or ./setsplat-library).")
    @click.option("--catalog", metavar="URL", default=None,
                  help="The library's catalog in PostgreSQL, postgresql://USER@HOST/DB, for "
                       "a library many hosts share (default: $SETSPLAT_CATALOG, else the "
                       "folder's catalog.sqlite).")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")
    @functools.wraps(command)
    def wrapper(*args: Any, library: Path | None, catalog: str | None, as_json: bool,
                **kwargs: Any) -> Any:
        from setsplat.assets import Library
        from setsplat.core.progress import set_quiet

        if as_json:
            settings().json = True
            set_quiet(True)
        return command(*args, library=Library.resolve(library, catalog), **kwargs)

    return wrapper


def mesh_options(no_mesh_help: str) -> Callable[[Callable], Callable]:
    """The proxy-mesh options; the command receives ``mesh``: MeshOptions, or None with
    --no-mesh."""

    def decorate(command: Callable) -> Callable:
        @click.option("--mesh-triangles", type=click.IntRange(min=100), default=20_000,
                      show_default=True, help="Proxy mesh size in triangles.")
        @click.option("--watertight", is_flag=True, help="Closed proxy mesh, for collision.")
        @click.option("--mesh-trim", type=click.FloatRange(0, 0.5), default=0.05,
                      show_default=True,
                      help="Share of the least supported surface cut away: lower closes "
                           "holes in sparse areas, higher cuts surface that bulges past "
                           "open edges.")
        @click.option("--mesh-orientation", type=click.Choice(["inward", "outward", "propagate"]),
                      default="inward", show_default=True,
                      help="Without capture cameras, which way surfaces face: a set scanned "
                           "from inside (inward), an object scanned from around (outward), "
                           "or no assumption (propagate; slow).")
        @click.option("--no-mesh", is_flag=True, help=no_mesh_help)
        @functools.wraps(command)
        def wrapper(*args: Any, mesh_triangles: int, watertight: bool, mesh_trim: float,
                    mesh_orientation: str, no_mesh: bool, **kwargs: Any) -> Any:
            from setsplat.mesh import MeshOptions

            mesh = None if no_mesh else MeshOptions(
                triangles=mesh_triangles, watertight=watertight, trim=mesh_trim,
                orientation=mesh_orientation)
            return command(*args, mesh=mesh, **kwargs)

        return wrapper

    return decorate


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
