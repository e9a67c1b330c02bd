"""setsplat render: views of a scene from a cameras file, as PNG color and PNG/EXR depth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from setsplat.cli.common import console, emit


@click.command()
@click.argument("scene_file", metavar="SCENE", type=click.Path(path_type=Path))
@click.option("--cameras", "cameras_file", required=True, type=click.Path(path_type=Path),
              help="cameras.json (as setsplat writes it).")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="Folder for the images (made if missing).")
@click.option("--depth", type=click.Choice(["expected", "median", "none"]), default="expected",
              show_default=True, help="Depth to write (+ its scale and units as JSON).")
@click.option("--depth-format", type=click.Choice(["png16", "exr"]), default="png16",
              show_default=True, help="16-bit PNG, or float32 EXR (channel Z) for compositing.")
@click.option("--alpha", is_flag=True, help="Write RGBA instead of RGB.")
@click.option("--background", default="0,0,0", show_default=True,
              help="Background color r,g,b in 0..1.")
@click.option("--sh-degree", type=click.IntRange(0, 3), default=None,
              help="Use SH bands up to this degree (default: all in the scene).")
@click.option("--backend", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True)
def render(scene_file: Path, cameras_file: Path, out_dir: Path, depth: str, depth_format: str,
           alpha: bool, background: str, sh_degree: int | None, backend: str) -> None:
    """Render SCENE from every camera in --cameras into --out (PNG per view)."""
    from setsplat.core.camera import read_cameras
    from setsplat.core.errors import SetsplatError
    from setsplat.core.io import read_scene
    from setsplat.render.image_files import ViewOptions, render_views

    options = ViewOptions(depth=depth, depth_format=depth_format, alpha=alpha,
                          background=_color(background), sh_degree=sh_degree, backend=backend)
    scene = read_scene(scene_file)
    cameras = read_cameras(cameras_file)
    if not cameras:
        raise SetsplatError("the cameras file lists no cameras", "add at least one camera",
                            cameras_file)
    emit({"scene": str(scene_file), **render_views(scene, cameras, out_dir, options)}, _print)


def _color(text: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or not all(0 <= v <= 1 for v in values):
        raise click.BadParameter(f"{text!r} is not r,g,b in 0..1", param_hint="--background")
    return values  # type: ignore[return-value]


def _print(data: dict[str, Any]) -> None:
    console().print(f"rendered {len(data['views'])} views of {data['splats']:,} splats into "
                    f"{data['out']} in {data['seconds']:.1f} s ({data['backend']})")
