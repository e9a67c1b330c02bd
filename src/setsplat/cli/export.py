"""setsplat export: scenes to files and engine packages."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from setsplat.cli.common import console, emit, mesh_options

if TYPE_CHECKING:
    from setsplat.mesh import MeshOptions

TARGETS = ("ply", "splat", "spz", "sog", "gltf", "usd", "usdz", "mesh", "unreal", "unity",
           "web")
BUDGETS = ("quest", "mobile", "desktop")  # setsplat.export.lod.BUDGETS, kept import-free


@click.command()
@click.argument("target", type=click.Choice(TARGETS, case_sensitive=False))
@click.argument("source")
@click.option("--out", "-o", required=True, type=click.Path(path_type=Path),
              help="Folder to write into (created; files appear only when all succeeded).")
@click.option("--crop", metavar="REGION",
              help="box:XMIN,YMIN,ZMIN,XMAX,YMAX,ZMAX or sphere:X,Y,Z,R, in the source's "
                   "frame and units.")
@click.option("--max-splats", type=click.IntRange(min=1),
              help="Keep the N most important splats (opacity × volume).")
@click.option("--sh-degree", type=click.IntRange(0, 3), help="Cut (or pad) SH to this degree.")
@click.option("--frame", help="ply only: frame to write (rdf, yup, unity, unreal, spz).")
@click.option("--units", type=click.Choice(["m", "cm", "mm", "ft", "in"]),
              help="ply / unreal: length unit to write.")
@click.option("--name", help="Base name of the files (default: the source's name).")
@click.option("--lod", type=click.IntRange(min=1), is_flag=False, flag_value=4,
              help="ply, splat, spz, sog: levels of detail (--lod alone: 4), each half the "
                   "splats of the one before; sog writes streamed SOG (lod-meta.json).")
@click.option("--budget", type=click.Choice(BUDGETS),
              help="Cap the splats to a device's budget (SuperSplat's published figures: "
                   "quest 1M, mobile 2M, desktop 4M).")
@click.option("--spz-version", type=click.Choice(["2", "3", "4"]),
              help="SPZ files (spz, web, unity): format version (default 4; 2 in unity, "
                   "the version its importer reads).")
@mesh_options("unreal / unity: leave out the proxy mesh.")
@click.option("--shots", "with_shots", is_flag=True,
              help="unreal, from an asset: add the shots made in that version as animated "
                   "USD cameras (shots/<Shot>.usda).")
@click.option("--library", type=click.Path(path_type=Path),
              help="Asset library for Name@version sources "
                   "(default: $SETSPLAT_LIBRARY or ./setsplat-library).")
@click.option("--force", is_flag=True,
              help="Replace files in --out that no earlier export wrote (never the source).")
def export(target: str, source: str, out: Path, crop: str | None, max_splats: int | None,
           sh_degree: int | None, frame: str | None, units: str | None, name: str | None,
           lod: int | None, budget: str | None, spz_version: str | None,
           mesh: MeshOptions | None, with_shots: bool, library: Path | None,
           force: bool) -> None:
    """Export SOURCE (a PLY/SPZ/SOG/.splat/glTF file or an asset Name@version) as TARGET:
    ply, splat, spz, sog, gltf, usd, usdz, mesh (proxy), or the unreal, unity and web
    packages, in the target's frame and units, with a README.txt and manifest.json."""
    from setsplat.export.select import Crop
    from setsplat.export.targets import ExportOptions, load_source
    from setsplat.export.targets import export as run_export
    from setsplat.mesh import MeshOptions

    options = ExportOptions(
        crop=Crop.parse(crop) if crop else None, max_splats=max_splats, sh_degree=sh_degree,
        frame=frame, units=units, proxy=mesh is not None,
        spz_version=int(spz_version) if spz_version else None, lod=lod, budget=budget,
        name=name or Path(source.split("@")[0]).stem or "scene", mesh=mesh or MeshOptions(),
        force=force)
    scene, options.asset_layer = load_source(source, library)
    options.inputs = (Path(source),) if options.asset_layer is None else (
        options.asset_layer.parent,)
    if target.lower() == "web":
        from setsplat.view.page import WebPage

        options.page = WebPage(source, library)
    if with_shots:
        from setsplat.core.errors import SetsplatError
        from setsplat.shots import asset_tracks

        if target.lower() != "unreal" or options.asset_layer is None:
            raise SetsplatError("--shots needs the unreal target and an asset source",
                                "e.g. setsplat export unreal Set_Office@3 --shots --out DIR")
        options.camera_tracks = asset_tracks(source, library)
    result = run_export(target.lower(), scene, out, options)
    if result.unscaled:
        sys.stderr.write(f"warning: {source}: the scene is unscaled (arbitrary units, not "
                         "metres); the export's README says so — scale it in reconstruct\n")
    emit(result.as_dict(), _print)


def _print(data: dict[str, Any]) -> None:
    out = console()
    out.print(f"[bold]{data['target']}[/bold]: {data['splats']:,} splats -> {data['out']}  "
              f"(frame {data['frame']}, units {data['units']})")
    for file in data["files"]:
        out.print(f"  {file}")
    if "mesh" in data:
        m = data["mesh"]
        out.print(f"  proxy mesh: {m['triangles']:,} triangles"
                  + (", watertight" if m["watertight"] else ""))
