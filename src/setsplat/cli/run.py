"""setsplat run: the whole flow on a folder of photos or a video."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from setsplat.cli.common import console, emit, settings
from setsplat.cli.reconstruct import train_config, train_options


@click.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path),
              help="Run folder [setsplat-out/<name of SRC>].")
@click.option("--force", multiple=True, metavar="STAGE",
              help="Redo this stage (ingest, check, sfm, train) and all after it; repeatable.")
@click.option("--max-size", type=click.IntRange(64), help="Shrink photos to this long side.")
@click.option("--keep-all", is_flag=True, help="QC reports problems but culls nothing.")
@click.option("--matcher", type=click.Choice(["auto", "exhaustive", "sequential", "spatial",
                                              "retrieval"]), default="auto", show_default=True)
@click.option("--marker-size", type=click.FloatRange(0, min_open=True),
              help="Side of the ArUco markers in the photos, in metres (metric scale).")
@train_options
def run(src: Path, out: Path | None, force: tuple[str, ...], max_size: int | None,
        keep_all: bool, matcher: str, marker_size: float | None, **options: Any) -> None:
    """Photos (a folder) or a video in, a trained splat scene out: ingest, check, sfm and
    train, each skipped when it is already up to date (see --force)."""
    from setsplat.pipeline import run as run_pipeline

    config = run_config(max_size=max_size, keep_all=keep_all, matcher=matcher,
                        marker_size=marker_size, **options)
    out = out or Path("setsplat-out") / src.resolve().name
    results = run_pipeline(src, out, config, force, report=None if settings().quiet
                           else _say)
    emit({"out": str(out), "stages": results}, lambda data: _done(data))


def run_config(max_size: int | None, keep_all: bool, matcher: str, marker_size: float | None,
               **options: Any):
    """The RunConfig that run's options (all but SRC, --out and --force) describe."""
    from setsplat.pipeline import RunConfig

    return RunConfig(max_size=max_size, keep_all=keep_all, matcher=matcher,
                     marker_size=marker_size, train=train_config(options))


def _say(stage: str, status: str, details: dict[str, Any]) -> None:
    if status == "skipped":
        console().print(f"[dim]{stage}: up to date, skipped[/]")
    elif status == "running":
        console().print(f"[bold]{stage}[/] …")
    else:
        console().print(f"[green]{stage}[/]: done in {details['seconds']:.1f} s")


def _done(data: dict[str, Any]) -> None:
    train = data["stages"].get("train", {})
    if train.get("psnr") is not None:
        console().print(f"scene: {data['out']}/train/scene.ply  (held-out PSNR "
                        f"{train['psnr']:.2f} dB, {train['splats']:,} splats)")
    else:
        console().print(f"scene: {data['out']}/train/scene.ply")
