"""setsplat capture: photos and video in, a checked capture out; synthetic sample scans."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from setsplat.cli.common import console, emit


@click.group()
def capture() -> None:
    """Ingest photos or a video into a capture folder, with a QC report (blur, exposure,
    near-duplicates, mixed cameras) before any compute is spent; make synthetic sample
    scans with known truth."""


@capture.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(path_type=Path),
              help="Capture folder to create.")
@click.option("--max-size", type=int, default=None,
              help="Downscale so the longest side is at most this many pixels.")
@click.option("--frames", type=int, default=150, show_default=True,
              help="Video: how many frames to pick (the sharpest of each segment).")
@click.option("--jobs", type=int, default=2, show_default=True,
              help="Images decoded in parallel.")
@click.option("--overwrite", is_flag=True, help="Replace --out if it already exists.")
@click.option("--no-check", is_flag=True, help="Skip the QC check at the end.")
@click.option("--keep-all", is_flag=True, help="QC reports problems but culls nothing.")
@click.option("--masks", type=click.Path(path_type=Path),
              help="Folder of masks, one PNG per photo named like it (white = keep): "
                   "SfM and training ignore the black pixels.")
def ingest(src: Path, out: Path, max_size: int | None, frames: int, jobs: int,
           overwrite: bool, no_check: bool, keep_all: bool, masks: Path | None) -> None:
    """Copy a folder of photos (or pick sharp frames from a video) into a capture folder
    with capture.json, then run the QC check. SRC is never modified."""
    from setsplat.capture.check import check_capture
    from setsplat.capture.ingest import IngestOptions
    from setsplat.capture.ingest import ingest as run_ingest

    result = run_ingest(src, out, IngestOptions(max_size, frames, jobs, overwrite, masks))
    capture = result.capture
    data: dict[str, Any] = {
        "capture": str(capture.root), "kind": capture.kind, "source": capture.source,
        "images": len(capture.images), "files_seen": result.files_seen,
        "skipped": capture.skipped, "seconds": round(result.seconds, 2),
        "masks": sum(im.mask is not None for im in capture.images),
    }
    if not no_check:
        start = time.perf_counter()
        data["check"] = check_capture(capture.root, keep_all=keep_all).to_dict()
        data["check"]["seconds"] = round(time.perf_counter() - start, 2)
    emit(data, _print_ingest)


def _print_ingest(data: dict[str, Any]) -> None:
    out = console()
    what = "frames" if data["kind"] == "video" else "images"
    out.print(f"[bold]ingested[/] {data['images']} {what} from {data['source']} into "
              f"{data['capture']} in {data['seconds']:.1f} s")
    if data["skipped"]:
        from rich.table import Table

        table = Table(title=f"skipped {len(data['skipped'])} file(s)", title_justify="left")
        table.add_column("file")
        table.add_column("reason", style="red")
        for item in data["skipped"]:
            table.add_row(item["source"], item["reason"])
        out.print(table)
    if "check" in data:
        _print_check(data["check"])


@capture.command()
@click.argument("capture_dir", metavar="CAPTURE", type=click.Path(path_type=Path))
@click.option("--keep-all", is_flag=True, help="Report problems but cull nothing.")
@click.option("--blur-ratio", type=click.FloatRange(0, 1), default=None,
              help="Cull images less sharp than this fraction of the capture's median "
                   "(default 0.25).")
def check(capture_dir: Path, keep_all: bool, blur_ratio: float | None) -> None:
    """QC a capture: blur, exposure, near-duplicates, mixed cameras or sizes. Writes
    qc.json, a contact sheet PNG, and which images SfM should use into capture.json."""
    from setsplat.capture.check import check_capture
    from setsplat.capture.qc import Thresholds

    thresholds = Thresholds() if blur_ratio is None else Thresholds(blur_ratio=blur_ratio)
    start = time.perf_counter()
    data = check_capture(capture_dir, thresholds, keep_all).to_dict()
    data["seconds"] = round(time.perf_counter() - start, 2)
    emit(data, _print_check)


def _print_check(data: dict[str, Any]) -> None:
    from rich.table import Table

    out = console()
    s = data["summary"]
    if data["flagged"]:
        table = Table(title=f"QC: {s['flagged']} of {s['images']} images flagged",
                      title_justify="left")
        table.add_column("image")
        table.add_column("problem")
        table.add_column("why")
        table.add_column("action")
        for item in data["flagged"]:
            for k, flag in enumerate(item["flags"]):
                color = "red" if flag["severity"] == "cull" else "yellow"
                action = ("culled" if not item["use"] else "kept") if k == 0 else ""
                table.add_row(item["name"] if k == 0 else "", f"[{color}]{flag['kind']}[/]",
                              flag["reason"], action)
        out.print(table)
    else:
        out.print(f"[green]QC: no problems in {s['images']} images[/]")
    out.print(f"[bold]{s['used']}[/] of {s['images']} images will be used, "
              f"{s['culled']} culled; report {data['qc_json']}, contact sheet "
              f"{data['contact_sheet']}")


@capture.command()
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--like", type=click.Path(path_type=Path), default=None,
              help="Take every option from a scan's synth.json (reproduces it exactly).")
@click.option("--width", type=int, default=None, help="Image width [640].")
@click.option("--height", type=int, default=None, help="Image height [480].")
@click.option("--count", type=int, default=None, help="Number of images [40].")
@click.option("--seed", type=int, default=None, help="Texture seed [7].")
@click.option("--markers/--no-markers", default=None, help="ArUco markers on the floor [on].")
@click.option("--marker-size", type=float, default=None,
              help="Marker side in metres, a multiple of 0.02 [0.2].")
@click.option("--quality", type=int, default=None, help="JPEG quality [90].")
@click.option("--supersample", type=int, default=None, help="Samples per pixel side [2].")
@click.option("--prefix", default=None, help="Image file name prefix [stage].")
@click.option("--exposure-ev", type=click.FloatRange(0, 3), default=None,
              help="Shift each photo's exposure by a random amount up to this many stops [0].")
@click.option("--white-balance", type=click.FloatRange(0, 1), default=None,
              help="Shift each photo's red and blue by up to this many stops [0].")
@click.option("--crew", type=click.FloatRange(0, 1), default=None,
              help="Share of photos with a crew member in them; their masks go to masks/ [0].")
@click.option("--hide-wall", type=click.Choice(["front", "back", "left", "right"]),
              default=None, help="Leave out every view that would show this wall.")
@click.option("--only", default=None,
              help="Render only these image indices, e.g. '0,5,10-12' (truth is complete).")
@click.option("--jobs", type=int, default=2, show_default=True,
              help="Images rendered in parallel (the bytes do not depend on it).")
def synth(out: Path, like: Path | None, only: str | None, jobs: int, **options: Any) -> None:
    """Render a synthetic film-set scan with known truth: JPEGs with EXIF, truth.json
    (intrinsics, world-to-camera poses in RDF metres, markers) and synth.json."""
    from setsplat.capture.synth import SynthConfig, read_synth_record, synthesize

    base = read_synth_record(like)["options"] if like else {}
    base.update({k: v for k, v in options.items() if v is not None})
    config = SynthConfig.from_dict(base)
    start = time.perf_counter()
    record = synthesize(config, out, _indices(only) if only else None, jobs)
    images = [name for name in record["files"] if name.startswith("images/")]
    emit({"out": str(out), "images": len(images), "options": record["options"],
          "seconds": round(time.perf_counter() - start, 2)}, _print_synth)


def _indices(text: str) -> list[int]:
    try:
        result: list[int] = []
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            result.extend(range(int(lo), int(hi or lo) + 1))
        return result
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a list like '0,5,10-12'",
                                 param_hint="--only") from None


def _print_synth(data: dict[str, Any]) -> None:
    o = data["options"]
    console().print(f"rendered {data['images']} images ({o['width']}x{o['height']}, seed "
                    f"{o['seed']}) into {data['out']} in {data['seconds']:.1f} s; truth in "
                    f"{data['out']}/truth.json")
