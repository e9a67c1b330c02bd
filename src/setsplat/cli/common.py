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
