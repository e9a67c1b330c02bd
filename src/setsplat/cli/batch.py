"""setsplat batch: many captures through `run`, as Ray tasks."""

from __future__ import annotations

import contextlib
import copy
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from setsplat.cli.common import console, emit, settings
from setsplat.cli.run import run as run_command
from setsplat.cli.run import run_config


def _for_batch(param: click.Parameter) -> click.Parameter:
    """run's option as batch means it: --publish names one asset per capture."""
    if param.name != "publish":
        return param
    param = copy.copy(param)
    param.help = ("Publish each capture's scene as the next version of the asset "
                  "NAME_<capture> in the library.")
    return param


# batch takes every option of `run` but its source and run folder, which are per capture
_RUN_PARAMS = [_for_batch(p) for p in run_command.params if p.name not in ("src", "out")]


@click.command()
@click.argument("sources", nargs=-1, type=click.Path(path_type=Path))
@click.option("--list", "list_file", type=click.Path(path_type=Path),
              help="A file naming a capture folder a line (# comments).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("setsplat-out"),
              show_default=True,
              help="Folder of the run folders (OUT/<capture>); on a cluster, storage every "
                   "host sees.")
@click.option("--address", metavar="auto|HOST:PORT",
              help="Join this Ray cluster (auto: the one `ray start` runs on this host) "
                   "instead of starting a local Ray.")
@click.option("--retries", type=click.IntRange(0), default=1, show_default=True,
              help="Further tries of a capture whose task failed or whose worker died.")
@click.option("--cpus-per-task", type=click.IntRange(1), default=1, show_default=True,
              help="Cores each task asks for (and the threads it uses).")
@click.option("--cpus", type=click.IntRange(1),
              help="Cores of the local Ray [all of this machine's].")
@click.option("--dashboard", is_flag=True,
              help="Start the local Ray's dashboard (needs ray[default]).")
def batch(sources: tuple[Path, ...], list_file: Path | None, out: Path, address: str | None,
          retries: int, cpus_per_task: int, cpus: int | None, dashboard: bool,
          force: tuple[str, ...], **options: Any) -> None:
    """Run many captures (folders of photos or videos) through `run` on Ray: a local Ray
    by default, or a cluster with --address. Takes every option of `run`. A capture that
    is up to date is skipped, a failed one tried again (--retries) and then reported
    while the others go on."""
    from setsplat.farm import BatchOptions, captures
    from setsplat.farm import batch as run_batch

    specs = captures(sources, out, list_file)
    screen = None if settings().quiet else _Screen()
    with _ray_chatter_aside():
        summary = run_batch(specs, run_config(options),
                            BatchOptions(address=address, retries=retries,
                                         cpus_per_task=cpus_per_task, local_cpus=cpus,
                                         dashboard=dashboard, force=force),
                            on_progress=screen.update if screen else None,
                            on_cluster=screen.cluster if screen else None)
    if screen:
        screen.stop()
    emit(summary, _done)
    for result in summary["captures"]:
        if result["status"] == "failed":
            named = result["source"] in result["error"]  # most errors name their file
            sys.stderr.write(f"error: {'' if named else result['capture'] + ': '}"
                             f"{result['error']}\n")
    if summary["failed"]:
        raise click.exceptions.Exit(1)


batch.params.extend(_RUN_PARAMS)


@contextlib.contextmanager
def _ray_chatter_aside() -> Iterator[None]:
    """Ray's driver prints its cluster's notices (a worker that died, ...) on stdout,
    where our JSON goes; the batch reports those itself. With --debug they go to
    stderr, otherwise nowhere."""
    if settings().debug:
        with contextlib.redirect_stdout(sys.stderr):
            yield
        return
    with open(os.devnull, "w") as nowhere, contextlib.redirect_stdout(nowhere):
        yield


class _Screen:
    """A line per capture on stderr, redrawn as the batch goes."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        # Live leaves sys.stdout alone: Ray's notices are steered aside meanwhile
        self.live = Live(console=Console(stderr=True, highlight=False),
                         refresh_per_second=2, transient=False, redirect_stdout=False,
                         redirect_stderr=False)

    def cluster(self, cluster: Any) -> None:
        where = "local Ray" if cluster.address.startswith("127.") else "Ray"
        self.live.console.print(f"{where} at {cluster.address}: {cluster.cpus:g} CPUs, "
                                f"{cluster.gpus:g} GPUs")
        if cluster.dashboard:
            self.live.console.print(f"dashboard: {cluster.dashboard}")
        self.live.start()

    def update(self, rows: list[dict[str, Any]]) -> None:
        from rich.table import Table

        table = Table(box=None, show_header=False, pad_edge=False)
        for row in rows:
            table.add_row(f"[bold]{row['capture']}[/]", *_cells(row))
        self.live.update(table)

    def stop(self) -> None:
        self.live.stop()


def _cells(row: dict[str, Any]) -> list[str]:
    status = row["status"]
    if status != "running":
        style = {"failed": "red", "done": "green"}.get(status, "dim")
        return [f"[{style}]{status}[/]", "", "", ""]
    count = ""
    if row.get("done") is not None:
        total = f"/{row['total']:g}" if row.get("total") else ""
        count = f"{row.get('step') or ''} {row['done']:g}{total}".strip()
    eta = f"eta {_clock(row['eta'])}" if row.get("eta") is not None else ""
    where = f"try {row['attempts']}" if row["attempts"] > 1 else ""
    return [row.get("stage") or "waiting", count, eta, where]


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds + 0.5), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}"


def _done(summary: dict[str, Any]) -> None:
    for result in summary["captures"]:
        if result["status"] == "failed":
            continue  # said on stderr
        train = result["stages"].get("train", {})
        psnr = f", held-out PSNR {train['psnr']:.2f} dB" if train.get("psnr") else ""
        console().print(f"{result['capture']}: {result['status']} "
                        f"({result['out']}/train/scene.ply{psnr})")
    console().print(f"{summary['landed']} landed, {summary['failed']} failed in "
                    f"{summary['seconds']:.0f} s")
