"""setsplat run: the whole flow on a folder of photos or a video."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from setsplat.cli.common import console, emit, settings
from setsplat.cli.options import config_options, given_settings
from setsplat.cli.reconstruct import train_config, train_options
from setsplat.cli.view import live_view, view_options
from setsplat.pipeline import RunConfig


@click.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path),
              help="Run folder [setsplat-out/<name of SRC>].")
@click.option("--force", multiple=True, metavar="STAGE",
              help="Redo this stage (ingest, check, sfm, train, publish, export) and all after "
                   "it; repeatable.")
@config_options(RunConfig)
@train_options
@view_options
def run(src: Path, out: Path | None, force: tuple[str, ...], live: bool, view_port: int,
        **options: Any) -> None:
    """Photos (a folder) or a video in, a trained splat scene out: ingest, check, sfm and
    train, then with --publish a new asset version in the library and with --export its
    engine packages; each stage is skipped when it is already up to date (see --force)."""
    from setsplat.pipeline import Hooks
    from setsplat.pipeline import run as run_pipeline

    config = run_config(options)
    out = out or Path("setsplat-out") / src.resolve().name
    with live_view(live, view_port) as observers:
        results = run_pipeline(src, out, config, force, report=None if settings().quiet
                               else _say, hooks=Hooks(train_observers=observers))
    emit({"out": str(out), "stages": results}, lambda data: _done(data))


def run_config(options: dict[str, Any]) -> RunConfig:
    """The RunConfig that run's options (all but SRC, --out and --force) describe."""
    return RunConfig(**given_settings(RunConfig, options), train=train_config(options))


def _say(stage: str, status: str, details: dict[str, Any]) -> None:
    if status == "skipped":
        console().print(f"[dim]{stage}: up to date, skipped[/]")
    elif status == "running":
        console().print(f"[bold]{stage}[/] …")
    else:
        console().print(f"[green]{stage}[/]: done in {details['seconds']:.1f} s")


def _done(data: dict[str, Any]) -> None:
    reshoot = data["stages"].get("sfm", {}).get("reshoot") or []
    for where in reshoot:
        console().print(f"[bold yellow]reshoot[/] {where}")
    if reshoot:
        console().print(f"  coverage map: {data['out']}/sfm/coverage.png")
    train = data["stages"].get("train", {})
    if train.get("psnr") is not None:
        console().print(f"scene: {data['out']}/train/scene.ply  (held-out PSNR "
                        f"{train['psnr']:.2f} dB, {train['splats']:,} splats)")
    else:
        console().print(f"scene: {data['out']}/train/scene.ply")
    if "publish" in data["stages"]:
        console().print(f"asset: {data['stages']['publish']['ref']}")
    for target, package in data["stages"].get("export", {}).items():
        if isinstance(package, dict):
            console().print(f"{target}: {package['out']}")
