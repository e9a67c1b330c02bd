"""setsplat view: a scene, run, training output or asset in the browser; and the live
training view behind `reconstruct train --view` and `run --view`."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from setsplat.cli.common import settings

DEFAULT_BUDGET = 500_000  # setsplat.view.splats.DEFAULT_BUDGET, without importing it


@click.command()
@click.argument("target")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to serve on (0.0.0.0: every network the machine is on).")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port to serve on (0: any free port).")
@click.option("--max-splats", type=click.IntRange(min=1), default=DEFAULT_BUDGET,
              show_default=True,
              help="Splats sent to the browser, the most important first (opacity × volume).")
@click.option("--crop-file", type=click.Path(path_type=Path), default=Path("crop.txt"),
              show_default=True, help="Where the crop tool's Save writes its --crop argument.")
@click.option("--library", type=click.Path(path_type=Path),
              help="Asset library for Name@version targets "
                   "(default: $SETSPLAT_LIBRARY or ./setsplat-library).")
def view(target: str, host: str, port: int, max_splats: int, crop_file: Path,
         library: Path | None) -> None:
    """Show TARGET in the browser: a scene file (PLY, SPZ, .splat, GLB), a `setsplat run`
    folder, a training folder or an asset Name@version, with its capture cameras and
    photos, SfM points, a floor grid and scale bar, a crop box and a tape measure (and
    for an asset its proxy, LODs, provenance and shots). Ctrl-C stops the server."""
    from setsplat.view import ViewOptions, serve_forever
    from setsplat.view import view as open_view

    say = _sayer(settings().json, sys.stdout)
    viewer = open_view(target, ViewOptions(host=host, port=port, max_splats=max_splats,
                                           crop_file=crop_file), library, say=say)
    shown = viewer.shown
    say(f"viewer: {viewer.url}  (Ctrl-C stops it)", url=viewer.url,
        splats_shown=shown.shown, splats_total=shown.total)
    serve_forever(viewer)
    say("viewer stopped")


@contextlib.contextmanager
def live_view(enabled: bool, port: int) -> Iterator[tuple[Any, ...]]:
    """The training observers for ``--view``: none, or a live viewer on 127.0.0.1:PORT,
    stopped when training ends."""
    if not enabled:
        yield ()
        return
    from setsplat.view import LiveTraining, Viewer, ViewOptions

    say = _sayer(settings().json, sys.stderr)  # stdout keeps the command's own result
    viewer = Viewer(ViewOptions(port=port), say=say)
    try:
        say(f"viewer: {viewer.url}  (live training view)", url=viewer.url)
        yield (LiveTraining(viewer),)
    finally:
        viewer.stop()


def view_options(command: Any) -> Any:
    """``--view`` and ``--view-port``: watch training in the browser (not a training
    setting: it changes nothing that is computed)."""
    command = click.option("--view-port", type=click.IntRange(0, 65535), default=8080,
                           show_default=True, help="Port of the --view viewer (0: any free "
                                                   "port).")(command)
    return click.option("--view", "live", is_flag=True,
                        help="Watch training live in the browser (the URL is printed); "
                             "closing the browser does not stop training.")(command)


def _sayer(as_json: bool, stream: Any) -> Callable[..., None]:
    """Lines for the terminal (the viewer's tools speak from its threads, so the choice of
    JSON is made here, not read from click's context later)."""

    def say(text: str, **fields: Any) -> None:
        line = json.dumps({"message": text, **fields}) if as_json else text
        stream.write(line + "\n")
        stream.flush()

    return say
