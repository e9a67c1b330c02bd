"""setsplat reconstruct: camera poses and the splat scene."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from setsplat.cli.common import console, emit
from setsplat.cli.options import config_options, given_settings
from setsplat.cli.view import live_view, view_options
from setsplat.reconstruct.sfm import CAMERA_MODELS, MAPPERS, MATCHERS


@click.group()
def reconstruct() -> None:
    """Structure-from-motion with pycolmap (or import COLMAP / transforms.json poses),
    upright and metric scale, then Gaussian-splat training on CPU or CUDA."""


def _scale_options(command):
    """Options shared by `sfm` and `import`: orientation, scale, undistortion, timeout."""
    options = [
        click.option("--out", "-o", type=click.Path(path_type=Path),
                     help="Output folder (default: CAPTURE/sfm for a capture, ./sfm else)."),
        click.option("--marker-size", type=float, metavar="METRES",
                     help="Side of the printed ArUco markers: sets metric scale."),
        click.option("--marker-dict", default="4X4_50", show_default=True,
                     help="ArUco dictionary of the markers (OpenCV name, e.g. 5X5_100)."),
        click.option("--distance", nargs=3, metavar="IMG_A IMG_B METRES",
                     type=(str, str, float),
                     help="Metric scale from the distance between two photos' cameras."),
        click.option("--no-upright", is_flag=True,
                     help="Keep the world as it comes (no levelling, no new origin)."),
        click.option("--no-undistort", is_flag=True,
                     help="Skip undistortion (images are linked as they are)."),
        click.option("--timeout", type=float, metavar="SECONDS",
                     help="Stop a pycolmap stage after this long (default: from the count "
                          "of photos)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@reconstruct.command()
@click.argument("capture", type=click.Path(path_type=Path))
@click.option("--matcher", type=click.Choice(MATCHERS), default="auto", show_default=True,
              help="Which pairs to match. auto: exhaustive for a handful of photos, "
                   "retrieval (similar-looking pairs) otherwise, plus neighbours for video "
                   "frames.")
@click.option("--mapper", type=click.Choice(MAPPERS), default="incremental",
              show_default=True, help="COLMAP's incremental mapper, or GLOMAP's global one.")
@click.option("--intrinsics", metavar="fx,fy,cx,cy|FILE",
              help="Known intrinsics (pixels), held fixed; or a JSON / cameras.json file.")
@click.option("--camera-model", default="SIMPLE_RADIAL", show_default=True,
              type=click.Choice(CAMERA_MODELS),
              help="Lens model to fit when intrinsics are not given.")
@click.option("--masks", type=click.Path(path_type=Path),
              help="Folder of masks, one PNG per photo named like it (white = keep): no "
                   "features on black pixels (a capture folder brings its own).")
@_scale_options
def sfm(capture: Path, out: Path | None, matcher: str, mapper: str, intrinsics: str | None,
        camera_model: str, masks: Path | None, marker_size: float | None, marker_dict: str,
        distance: tuple[str, str, float] | None, no_upright: bool, no_undistort: bool,
        timeout: float | None) -> None:
    """Camera poses and sparse points from the photos of CAPTURE (a capture folder or any
    folder of photos), with pycolmap on the CPU. Writes OUT: undistorted images, COLMAP
    model, cameras.json, points.ply, transforms.json and sfm_report.json."""
    from setsplat.reconstruct.inputs import MANIFEST
    from setsplat.reconstruct.sfm import SfmOptions, parse_intrinsics, run_sfm

    options = SfmOptions(matcher=matcher, mapper=mapper, camera_model=camera_model,
                         intrinsics=parse_intrinsics(intrinsics) if intrinsics else None,
                         masks=masks, **_common(marker_size, marker_dict, distance, no_upright,
                                   no_undistort, timeout))
    if out is None:
        out = capture / "sfm" if (capture / MANIFEST).is_file() else Path("sfm")
    report = run_sfm(capture, out, options)
    emit({**report, "out": str(out)}, _print)


@reconstruct.command(name="import")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--images", type=click.Path(path_type=Path),
              help="Folder of the photos (default: images/ beside a COLMAP model; the "
                   "file paths in a transforms.json).")
@click.option("--metric", is_flag=True, help="The poses are in metres already.")
@_scale_options
def import_(source: Path, images: Path | None, metric: bool, out: Path | None,
            marker_size: float | None, marker_dict: str,
            distance: tuple[str, str, float] | None, no_upright: bool, no_undistort: bool,
            timeout: float | None) -> None:
    """Poses from elsewhere: SOURCE is a COLMAP model folder (binary or text) or a
    nerfstudio / instant-ngp transforms.json. Writes the same outputs as `sfm`."""
    from setsplat.reconstruct.sfm import SfmOptions, import_poses

    options = SfmOptions(metric=metric, **_common(marker_size, marker_dict, distance,
                                                  no_upright, no_undistort, timeout))
    out = out or Path("sfm")
    report = import_poses(source, out, images, options)
    emit({**report, "out": str(out)}, _print)


def _common(marker_size, marker_dict, distance, no_upright, no_undistort, timeout
            ) -> dict[str, Any]:
    return {"marker_size": marker_size, "marker_dict": marker_dict,
            "distance": tuple(distance) if distance else None, "upright": not no_upright,
            "undistort": not no_undistort, "timeout": timeout}


def _print(report: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    registered = f"{report['registered']} of {report['images']}"
    if report["registered"] == report["images"]:
        registered += "  (all)"
    rows = [("out", report["out"]), ("registered", registered)]
    if report["source"] == "sfm":
        pairs = f", {report['pairs']} pairs" if report.get("pairs") else ""
        rows.append(("matching", f"{report['matcher']}{pairs}; mapper {report['mapper']}"))
    error = report.get("mean_reprojection_error_px")
    rows += [
        ("points", f"{report['points']:,}  (mean track length "
                   f"{report['mean_track_length']:.2f})"),
        ("reprojection error", "—" if error is None else f"{error:.3f} px (mean)"),
        ("upright", _upright(report["upright"])),
        ("scale", _scale(report["scale"])),
    ]
    photometric = report.get("photometric")
    if photometric and photometric.get("spread_stops"):
        verdict = "vary" if photometric["varies"] else "agree"
        spread = ", ".join(f"{v:.2f}" for v in photometric["spread_stops"])
        rows.append(("exposure", f"the photos {verdict} (spread {spread} stops R, G, B)"))
    timings = report.get("timings", {})
    if timings:
        rows.append(("time", ", ".join(f"{k.removesuffix('_s')} {v:.1f} s"
                                       for k, v in timings.items() if "_cpu" not in k)))
    for key, value in rows:
        table.add_row(key, value)
    out = console()
    out.print(table)
    if report["failed"]:
        out.print(f"[bold yellow]{len(report['failed'])} photos were not placed:[/]")
        for failure in report["failed"]:
            out.print(f"  {failure['name']}: {failure['reason']}")
    coverage = report.get("coverage") or {}
    for run in coverage.get("reshoot", []):
        out.print(f"[bold yellow]reshoot[/] {run['where']}")
    if coverage.get("png"):
        out.print(f"coverage map: {Path(report['out']) / coverage['png']}")


def _upright(info: dict[str, Any]) -> str:
    if info["method"] == "floor":
        return (f"levelled on the floor ({info['floor_points']} points; the cameras' "
                f"mean up is {info['cameras_vs_floor_deg']:.1f}° off its normal)")
    if info["method"] == "cameras":
        return "levelled from the cameras' up directions (no floor found)"
    return "kept as given"


def _scale(info: dict[str, Any]) -> str:
    if info["method"] == "markers":
        used = sum(1 for m in info["markers"] if m.get("used"))
        return (f"metric from {used} ArUco markers ({info['metres_per_unit']:.4g} m per "
                f"unit, spread {100 * (info['spread'] or 0):.1f}%)")
    if info["method"] == "distance":
        return f"metric from the given distance ({info['metres_per_unit']:.4g} m per unit)"
    if info["method"] == "given":
        return "metric (as given)"
    why = f": {info['why']}" if info.get("why") else ""
    return f"[yellow]unscaled[/]{why} (give --marker-size or --distance)"


def train_options(command):
    """The training options, shared by `reconstruct train` and `run`: the settings of
    TrainConfig, and a saved config.json to start from."""
    from setsplat.reconstruct.train.config import TrainConfig

    command = config_options(TrainConfig)(command)
    return click.option(
        "--config", "config_file", type=click.Path(path_type=Path),
        help="Start from a saved training config.json; options here override it.")(command)


def train_config(options: dict[str, Any]):
    """A TrainConfig from ``--config`` and the options given (popped from ``options``)."""
    from setsplat.reconstruct.train import TrainConfig

    config_file = options.pop("config_file", None)
    given = given_settings(TrainConfig, options)
    if config_file:
        return TrainConfig.load(config_file, **given)
    return TrainConfig(**given)


@reconstruct.command()
@click.argument("capture", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path),
              help="Output folder [train/ beside the sfm folder].")
@click.option("--resume", is_flag=True,
              help="Continue from the last checkpoint, with the config saved beside it.")
@click.option("--force", is_flag=True, help="With --resume: apply options that differ from "
                                            "the saved config.")
@train_options
@view_options
def train(capture: Path, out: Path | None, resume: bool, force: bool, live: bool,
          view_port: int, **options: Any) -> None:
    """Train a Gaussian-splat scene from SfM results: CAPTURE is a capture folder with
    sfm/ inside, or an sfm folder."""
    from setsplat.reconstruct.train import train_capture
    from setsplat.reconstruct.train.job import resume_config, train_folder

    if resume:
        from setsplat.reconstruct.train import TrainConfig

        options.pop("config_file", None)
        config = resume_config(train_folder(capture, out), given_settings(TrainConfig, options),
                               force)
    else:
        config = train_config(options)
    with live_view(live, view_port) as observers:
        metrics = train_capture(capture, config, out, resume=resume, observers=observers)
    emit(metrics, print_metrics)


def print_metrics(metrics: dict[str, Any]) -> None:
    out = console()
    held = (f"held-out PSNR {metrics['psnr']:.2f} dB, SSIM {metrics['ssim']:.3f} "
            f"on {metrics['held_out_views']} views" if "psnr" in metrics
            else "no held-out views")
    if "psnr_compensated" in metrics:
        held += (f" ({metrics['psnr_compensated']:.2f} dB with each view's exposure "
                 "fitted)")
    removed = metrics["floaters_removed"]
    out.print(f"[bold]trained[/] {metrics['steps']} steps in {metrics['wall_seconds']:.0f} s "
              f"on {metrics['device']}: {metrics['splats']:,} splats; {held}; removed "
              f"{removed['outside_bounds']} splats outside the set, {removed['unseen']} "
              f"no camera sees and {removed['grazed']} the cameras only graze")
