"""``export``: read a source, select splats, and write a target into a folder.

Targets: single files (ply, splat, spz, sog, gltf, usd, usdz), the proxy ``mesh``, and
the ``unreal``, ``unity`` and ``web`` packages; levels of detail (``lod``) and device
budgets (``budget``) for the web formats. Frames and units always change through
``core.frames``; an unscaled scene is announced in every export.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from setsplat.core.camera import Camera
from setsplat.core.errors import SetsplatError
from setsplat.core.frames import Frame, convert_scene, get_frame
from setsplat.core.io import read_scene
from setsplat.core.scene import GaussianScene
from setsplat.export.lod import LOD_TARGETS, budget_splats
from setsplat.export.package import Export, check_file_name
from setsplat.export.select import Crop, select
from setsplat.export.usd_cameras import CameraTrack
from setsplat.mesh import MeshOptions

TARGETS = ("ply", "splat", "spz", "sog", "gltf", "usd", "usdz", "mesh", "unreal", "unity",
           "web")
UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "ft": 0.3048, "in": 0.0254}
# Targets whose file format fixes the frame (and so the units): no --frame/--units there.
FIXED_FRAME = {"splat": "rdf", "spz": "spz", "sog": "rdf", "gltf": "yup", "usd": "yup",
               "usdz": "yup", "mesh": "yup", "web": "yup", "unity": "unity"}
DEFAULT_FRAME = {"ply": "rdf", "unreal": "rdf", **FIXED_FRAME}
ASSET_REFERENCE = re.compile(r"^[A-Za-z_][\w.-]*@(\d+|latest)$")


@dataclass
class ExportOptions:
    crop: Crop | None = None
    max_splats: int | None = None
    sh_degree: int | None = None
    frame: str | None = None        # ply only: the frame to write
    units: str | None = None        # ply / unreal: the length unit to write
    mesh: MeshOptions = field(default_factory=MeshOptions)
    cameras: Sequence[Camera] = ()  # written as USD cameras by the unreal package
    camera_tracks: Sequence[CameraTrack] = ()  # shots: animated USD cameras (unreal)
    name: str = "scene"             # base name of the files written
    proxy: bool = True              # engine packages include the proxy mesh
    asset_layer: Path | None = None  # the catalog asset's USD the scene came from, if any
    spz_version: int | None = None  # SPZ files: 2, 3 or 4 (default 4; 2 in the unity package)
    lod: int | None = None          # levels of detail (ply, splat, spz, sog)
    budget: str | None = None       # cap the splats to a device class's budget (export.lod)
    inputs: Sequence[Path] = ()     # files and folders read: never overwritten
    force: bool = False             # replace files in --out no export of ours wrote
    # web: writes the package's viewer page into the folder it is given, returns the names
    # of the files it wrote (the view area provides it: setsplat.view.page.WebPage)
    page: Callable[[Path, GaussianScene], list[str]] | None = None


def asset_reference(source: str) -> str | None:
    """``source`` when it names a catalog asset (``Name@3``, ``Name@latest``) rather than
    an existing file."""
    return source if ASSET_REFERENCE.match(source) and not Path(source).exists() else None


def load_source(source: str, library: str | os.PathLike | None = None
                ) -> tuple[GaussianScene, Path | None]:
    """The scene of a file (PLY, SPZ, .splat, glTF, USD) or of a catalog asset
    ``Name@version`` (in ``library``, else $SETSPLAT_LIBRARY, else ./setsplat-library),
    and for an asset its USD interface layer (usdz packs it whole)."""
    if asset_reference(source):
        from setsplat.assets import load, resolve

        return load(source, library), resolve(source, library)[1]
    return read_scene(Path(source)), None


def output_frame(target: str, options: ExportOptions) -> Frame:
    """The frame (axes and unit) the target is written in."""
    if target in FIXED_FRAME and (options.frame or options.units):
        fixed = get_frame(FIXED_FRAME[target])
        raise SetsplatError(f"{target} is always written in the {fixed.name} frame "
                            f"({fixed.description})", "drop --frame/--units for this target")
    if options.frame and target != "ply":
        raise SetsplatError(f"--frame applies to the ply target only, not {target}",
                            "drop --frame")
    frame = get_frame(options.frame or DEFAULT_FRAME[target])
    if options.units:
        if options.units not in UNITS:
            raise SetsplatError(f"unknown --units {options.units!r}",
                                f"use one of {', '.join(UNITS)}")
        frame = dataclasses.replace(frame, meters_per_unit=UNITS[options.units])
    return frame


def export(target: str, scene: GaussianScene, out: str | Path,
           options: ExportOptions | None = None) -> Export:
    """Write ``scene`` as ``target`` into the folder ``out`` (atomically, all or nothing)."""
    options = options or ExportOptions()
    if target not in TARGETS:
        raise SetsplatError(f"unknown export target {target!r}", f"use one of {', '.join(TARGETS)}")
    frame = output_frame(target, options)
    check_file_name(options.name)
    if len(scene) == 0:
        raise SetsplatError("the scene has no splats", "nothing to export")
    chosen = _selection(target, scene, options)
    converted = convert_scene(chosen, frame)
    if options.units:
        converted.meta["units"] = options.units
    module = importlib.import_module(f"setsplat.export.{_MODULES[target]}")
    result = Export(target=target, out=Path(out), splats=len(chosen), frame=frame.name,
                    units=options.units or _unit_symbol(frame),
                    unscaled=bool(scene.meta.get("unscaled", False)))
    if result.unscaled:
        result.notes.append("the scene is unscaled: its units are arbitrary, not metres")
    if isinstance(scene.meta.get("upright"), str):  # read back with the files (core/io)
        result.details["upright"] = scene.meta["upright"]
    module.write_target(target, chosen, converted, Path(out), options, result)
    return result


def _selection(target: str, scene: GaussianScene, options: ExportOptions) -> GaussianScene:
    """The splats to export: cropped, capped by --max-splats and --budget, SH cut."""
    if options.lod is not None and target not in LOD_TARGETS:
        raise SetsplatError(f"--lod applies to {', '.join(LOD_TARGETS)}, not {target}",
                            "drop --lod, or export one of those")
    limits = [options.max_splats, options.budget and budget_splats(options.budget)]
    return select(scene, region=options.crop, max_splats=min(filter(None, limits), default=None),
                  sh_degree=options.sh_degree)


def _unit_symbol(frame: Frame) -> str:
    return next((k for k, v in UNITS.items() if v == frame.meters_per_unit), "m")


_MODULES = {"ply": "scene_files", "splat": "scene_files", "spz": "scene_files",
            "sog": "scene_files", "gltf": "scene_files", "usd": "scene_files",
            "usdz": "scene_files", "mesh": "proxy", "unreal": "unreal", "unity": "unity",
            "web": "web"}
