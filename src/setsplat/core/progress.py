"""Progress for long work: rich bars with ETA on stderr, silent when asked.

Library functions report through ``progress()``/``track()``; whoever drives them (the
CLI's ``--quiet``/``--json``, a test, a notebook) decides with ``set_quiet`` whether
anything is shown, and with ``set_sink`` where the counts go instead of a terminal (a
farm task forwards them to the machine that shows the batch).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

Sink = Callable[[str, float, "float | None"], None]  # (description, completed, total)

_quiet = contextvars.ContextVar("setsplat_quiet", default=False)
_sink: contextvars.ContextVar[Sink | None] = contextvars.ContextVar("setsplat_progress_sink",
                                                                   default=None)


def set_quiet(quiet: bool) -> None:
    _quiet.set(quiet)


def is_quiet() -> bool:
    return _quiet.get()


def set_sink(sink: Sink | None) -> None:
    """Send every progress update to ``sink`` instead of drawing bars (None: bars again)."""
    _sink.set(sink)


@contextlib.contextmanager
def progress(description: str, total: float | None = None) -> Iterator[Callable[..., None]]:
    """Yield ``advance(steps=1, **fields)``; fields (loss=..., psnr=...) show beside the bar."""
    sink = _sink.get()
    if sink is not None:
        yield _counting(sink, description, total)
        return
    if is_quiet():
        yield lambda steps=1, **fields: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=Console(stderr=True),
        transient=False,
    )
    with bar:
        task = bar.add_task(description, total=total, status="")

        def advance(steps: float = 1, **fields: Any) -> None:
            status = "  ".join(f"{k} {_fmt(v)}" for k, v in fields.items())
            bar.update(task, advance=steps, **({"status": status} if fields else {}))

        yield advance


def _counting(sink: Sink, description: str, total: float | None) -> Callable[..., None]:
    completed = 0.0
    sink(description, completed, total)

    def advance(steps: float = 1, **fields: Any) -> None:
        nonlocal completed
        completed += steps
        sink(description, completed, total)

    return advance


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress(description, total) as advance:
        for item in items:
            yield item
            advance()


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
