"""setsplat shots: camera moves, plates and AI clips in a scanned set."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import click

from setsplat.cli.common import console, emit, library_options

_PAIR = re.compile(r"\s*(\d+(?:\.\d+)?)\s*[x×,]\s*(\d+(?:\.\d+)?)\s*")


@click.group()
def shots() -> None:
    """Camera paths through a set asset, rendered plates and depth for conditioning AI
    video models, USD shot stages, AI clips registered per shot, and OpenTimelineIO
    timelines. Shots are named EPISODE_SHOT (EP01_SH010) and live in the asset library
    (--library, else $SETSPLAT_LIBRARY, else ./setsplat-library)."""


def _pair(text: str | None, option: str, integers: bool) -> tuple | None:
    if text is None:
        return None
    match = _PAIR.fullmatch(text)
    values = (float(match[1]), float(match[2])) if match else (0.0, 0.0)
    if not (values[0] > 0 and values[1] > 0) or (integers and not all(v.is_integer()
                                                                       for v in values)):
        kind = "WIDTHxHEIGHT in pixels, e.g. 1280x720" if integers else \
            "WIDTHxHEIGHT in mm, e.g. 36x20.25"
        raise click.BadParameter(f"{text!r} is not {kind}", param_hint=option)
    return tuple(int(v) for v in values) if integers else values


# ----------------------------------------------------------------------------- new
@shots.command()
@click.argument("name")
@click.option("--asset", "-a", required=True, help="Set asset, e.g. Set_Office@3 (pinned to "
              "the version it resolves to).")
@click.option("--path", "path_spec", help="Camera path: a preset (static, dolly-in, truck, "
              "crane-up, orbit), with parameters as orbit:degrees=90,distance=2 (azimuth, "
              "distance, height, target_height, amount, degrees, ease), or a .json/.yaml "
              "file of keys {frame, position, look_at | rotation (w,x,y,z) | rotate_xyz, "
              "focal_mm} in the set's Y-up metres. Default: static.")
@click.option("--from-capture", "from_capture", metavar="IMAGE",
              help="Start the preset where this scan photo was taken.")
@click.option("--start", "frame_start", type=int, help="First frame (default 1001, or the "
              "first key's).")
@click.option("--end", "frame_end", type=int, help="Last frame.")
@click.option("--frames", type=int, help="Number of frames instead of --end (default 120).")
@click.option("--fps", type=click.FloatRange(min=0, min_open=True), default=24.0,
              show_default=True)
@click.option("--lens", "focal_mm", type=click.FloatRange(min=0, min_open=True),
              help="Focal length in mm (default 35, or the scan photo's field of view).")
@click.option("--filmback", help="Sensor WIDTHxHEIGHT in mm (default 36 wide, the image's "
              "shape).")
@click.option("--resolution", default="1280x720", show_default=True, help="Image WIDTHxHEIGHT.")
@click.option("--notes", default="", help="Notes for the shot (they go into the prompt stub).")
@click.option("--replace", is_flag=True, help="Redefine an existing shot (keeps its takes).")
@library_options
def new(name: str, asset: str, path_spec: str | None, from_capture: str | None,
        frame_start: int | None, frame_end: int | None, frames: int | None, fps: float,
        focal_mm: float | None, filmback: str | None, resolution: str, notes: str,
        replace: bool, library: Any) -> None:
    """Make shot NAME in a set asset and write its USD shot stage."""
    from setsplat.shots import ShotOptions, new_shot

    options = ShotOptions(
        asset=asset, path=path_spec, from_capture=from_capture, frame_start=frame_start,
        frame_end=frame_end, frames=frames, fps=fps, focal_mm=focal_mm,
        filmback_mm=_pair(filmback, "--filmback", False),
        resolution=_pair(resolution, "--resolution", True), notes=notes, replace=replace)
    emit(new_shot(name, options, library), lambda r: console().print(
        f"shot [bold]{r['name']}[/bold] in {r['asset']}: {r['camera']}, frames "
        f"{r['frame_start']}-{r['frame_end']} at {r['fps']:g} fps, {r['focal_mm']:.3g} mm\n"
        f"{r['stage']}"))


# ----------------------------------------------------------------------------- reading
@shots.command(name="list")
@click.argument("episode", required=False)
@library_options
def list_shots(episode: str | None, library: Any) -> None:
    """Shots in the library, or those of EPISODE (EP01), in order."""
    from setsplat.shots import store
    from setsplat.shots.paths import describe

    with store.open_catalog(library) as catalog:
        rows = []
        for shot, row in store.list_shots(catalog, episode=episode):
            selected = [t["take"] for t in store.takes(catalog, row["id"]) if t["selected"]]
            rows.append({**shot.as_dict(), "camera": describe(shot.path),
                         "selected_take": selected[0] if selected else None,
                         "renders": len(store.renders(catalog, row["id"]))})
    emit(rows, _print_list)


def _print_list(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(box=None)
    for column in ("shot", "set", "frames", "fps", "lens", "camera", "take", "renders"):
        table.add_column(column)
    for r in rows:
        table.add_row(r["name"], r["asset"], f"{r['frame_start']}-{r['frame_end']}",
                      f"{r['fps']:g}", f"{r['focal_mm']:.3g} mm", r["camera"],
                      str(r["selected_take"] or "—"), str(r["renders"]))
    console().print(table if rows else "no shots")


@shots.command()
@click.argument("name")
@library_options
def show(name: str, library: Any) -> None:
    """Everything about shot NAME: set, frames, lens, camera path, takes, renders."""
    from setsplat.shots import store
    from setsplat.shots.paths import describe

    with store.open_catalog(library) as catalog:
        shot, row = store.get_shot(catalog, name)
        record = {**shot.as_dict(), "camera": describe(shot.path),
                  "stage": str(store.shot_dir(library, shot.name) / f"{shot.name}.usda"),
                  "created_at": row["created_at"], "updated_at": row["updated_at"],
                  "takes": store.takes(catalog, row["id"]),
                  "renders": store.renders(catalog, row["id"])}
    for take in record["takes"]:
        take["path"] = str(library.root / take["path"])
    emit(record, _print_show)


def _print_show(r: dict[str, Any]) -> None:
    lines = [f"[bold]{r['name']}[/bold] in {r['asset']}  (episode {r['episode']})",
             f"frames {r['frame_start']}-{r['frame_end']} ({r['frames']}) at {r['fps']:g} fps, "
             f"{r['duration_s']:.2f} s; {r['resolution'][0]}x{r['resolution'][1]}",
             f"lens {r['focal_mm']:.4g} mm on {r['filmback_mm'][0]:g} x "
             f"{r['filmback_mm'][1]:.4g} mm", f"camera: {r['camera']}", f"stage: {r['stage']}"]
    if r["notes"]:
        lines.append(f"notes: {r['notes']}")
    for t in r["takes"]:
        lines.append(f"  take {t['take']}{' (selected)' if t['selected'] else ''}: "
                     f"{t['original_name']}, {t['frames']} frames at {t['fps']:g} fps, "
                     f"{t['width']}x{t['height']} — {t['source'] or 'no source given'}")
    lines += [f"  render {r2['created_at'][:19]}: {r2['folder']}" for r2 in r["renders"][:3]]
    console().print("\n".join(lines))


# ----------------------------------------------------------------------------- render
@shots.command()
@click.argument("name")
@click.option("--out", "-o", type=click.Path(path_type=Path),
              help="Folder for the render (default: <library>/shots/NAME/render); replaced "
                   "whole when the render succeeds.")
@click.option("--resolution", help="Render at WIDTHxHEIGHT instead (same shape as the shot).")
@click.option("--exr", is_flag=True, help="Color and depth as float EXR (linear RGBA, Z in "
              "metres) instead of PNG.")
@click.option("--lod", type=click.Choice(["full", "preview"]), default="full",
              show_default=True, help="Which of the set's splat LODs to render.")
@click.option("--sh-degree", type=click.IntRange(0, 3), help="Use SH bands up to this degree.")
@click.option("--backend", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True)
@library_options
def render(name: str, out: Path | None, resolution: str | None, exr: bool, lod: str,
           sh_degree: int | None, backend: str, library: Any) -> None:
    """Render shot NAME: RGB, depth and alpha plates, per-frame camera JSON, a preview
    MP4, the USD shot stage and the AI conditioning package (first/last frame, depth
    video, camera trajectory, prompt stub)."""
    from setsplat.shots import RenderOptions, render_shot

    options = RenderOptions(out=out, resolution=_pair(resolution, "--resolution", True),
                            exr=exr, lod=lod, sh_degree=sh_degree, backend=backend)
    manifest = render_shot(name, library, options)
    emit(manifest, lambda m: console().print(
        f"rendered [bold]{m['shot']['name']}[/bold]: {m['frames']} frames "
        f"{m['width']}x{m['height']} in {m['seconds']:.1f} s ({m['backend']})\n{m['folder']}"))


# ----------------------------------------------------------------------------- clips
@shots.command(name="add-clip")
@click.argument("name")
@click.argument("clip", type=click.Path(path_type=Path))
@click.option("--source", "-s", default="", help='What made it: "model name / prompt".')
@click.option("--select/--no-select", default=None,
              help="Make it the shot's selected take (default: only the first take is).")
@library_options
def add_clip(name: str, clip: Path, source: str, select: bool | None, library: Any) -> None:
    """Register the AI-generated video CLIP as the next take of shot NAME (probed,
    hashed and copied into the library)."""
    from setsplat.shots import add_clip as register

    take = register(name, clip, source, library, select)
    for warning in take["warnings"]:
        sys.stderr.write(f"warning: {clip}: {warning} — check the clip, or redefine the shot "
                         "with `shots new --replace`\n")
    emit(take, lambda t: console().print(
        f"{t['shot']} take {t['take']}{' (selected)' if t['selected'] else ''}: "
        f"{t['frames']} frames at {t['fps']:g} fps, {t['width']}x{t['height']}\n{t['path']}"))


@shots.command(name="select-take")
@click.argument("name")
@click.argument("take", type=click.IntRange(min=1))
@library_options
def select_take(name: str, take: int, library: Any) -> None:
    """Make TAKE the selected take of shot NAME (the one the timeline uses)."""
    from setsplat.shots import store

    with store.open_catalog(library) as catalog:
        _, row = store.get_shot(catalog, name)
        store.select_take(catalog, row["id"], take)
    emit({"shot": name, "selected_take": take},
         lambda r: console().print(f"{r['shot']}: take {r['selected_take']} selected"))


# ----------------------------------------------------------------------------- timeline
@shots.command()
@click.argument("episode")
@click.option("--out", "-o", required=True, type=click.Path(path_type=Path),
              help="EP01.otio (JSON), EP01.otioz (zip with the media) or EP01.otiod (folder).")
@library_options
def timeline(episode: str, out: Path, library: Any) -> None:
    """An OpenTimelineIO timeline of EPISODE's shots in order: the selected AI takes on
    one track, the rendered plates on another, a marker per shot."""
    from setsplat.shots import write_timeline

    summary = write_timeline(episode, out, library)
    for warning in summary["warnings"]:
        sys.stderr.write(f"warning: {warning}\n")
    emit(summary, lambda s: console().print(
        f"{s['episode']}: {len(s['shots'])} shots, {s['duration_s']:.2f} s -> {s['out']} "
        f"({s['adapter']})"))
