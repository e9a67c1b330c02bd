"""The USD shot stage ``<Shot>.usda``: the set asset by reference, the animated camera,
the frame range and rate, so Unreal's Sequencer and Omniverse open the same move.

::

    /EP01_SH010            Xform, kind assembly, the default prim
        Set                references the set's interface layer, variant lod=preview
        Camera             UsdGeom.Camera, a time sample per frame
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from setsplat.assets import Library
from setsplat.core.camera import Camera
from setsplat.core.errors import SetsplatError
from setsplat.core.fsutil import atomic_write
from setsplat.export.usd_cameras import CameraTrack, track_stage

from .model import Shot

SET_PRIM = "Set"


def camera_track(shot: Shot, cameras: Sequence[Camera]) -> CameraTrack:
    return CameraTrack(shot.name, cameras, shot.frame_start, shot.fps, shot.lens.filmback_mm[0])


def write_shot_stage(path: str | os.PathLike, shot: Shot, cameras: Sequence[Camera],
                     set_layer: str | os.PathLike | None, *, lod: str = "preview",
                     representation: str = "splats") -> None:
    """Write the shot stage; the set is referenced by a path relative to ``path``."""
    from pxr import Kind, Sdf, Usd

    path = Path(path)
    stage = track_stage(camera_track(shot, cameras))
    root = stage.GetDefaultPrim()
    Usd.ModelAPI(root).SetKind(Kind.Tokens.assembly)
    root.SetCustomDataByKey("setsplat:shot", shot.name)
    root.SetCustomDataByKey("setsplat:asset", shot.asset)
    root.SetCustomDataByKey("setsplat:lens", f"{shot.lens.focal_mm:g} mm on a "
                            f"{shot.lens.filmback_mm[0]:g} x {shot.lens.filmback_mm[1]:.4g} mm "
                            "filmback")
    if shot.notes:
        root.SetDocumentation(shot.notes)
    layer = stage.GetRootLayer()
    root_path = root.GetPath()
    del stage, root  # edit the layer alone: no recomposition against an anonymous anchor
    if set_layer is not None:
        spec = Sdf.PrimSpec(layer.GetPrimAtPath(root_path), SET_PRIM, Sdf.SpecifierDef)
        spec.referenceList.Prepend(Sdf.Reference(_relative(Path(set_layer), path.parent)))
        spec.variantSelections["representation"] = representation
        spec.variantSelections["lod"] = lod
    data = layer.ExportToString().encode("utf-8")
    with atomic_write(path) as f:
        f.write(data)


def _relative(target: Path, folder: Path) -> str:
    """``./``-style relative path when both are on one drive, else absolute."""
    try:
        relative = os.path.relpath(target.absolute(), folder.absolute())
    except ValueError:
        return target.absolute().as_posix()
    relative = Path(relative).as_posix()
    return relative if relative.startswith("../") else f"./{relative}"


def asset_tracks(ref: str, library: Library | None = None) -> list[CameraTrack]:
    """The animated cameras of every shot made in this asset version (for packages)."""
    from setsplat.assets import resolve

    from . import store
    from .camera_data import shot_cameras

    library = library or Library.resolve()
    record, _ = resolve(ref, library)
    with store.open_catalog(library) as catalog:
        shots = store.list_shots(catalog, version_id=record["id"])
        if not shots:
            others = sorted({s.asset for s, _ in store.list_shots(catalog)
                             if s.asset.split("@")[0] == record["name"]})
            raise SetsplatError(f"no shots are made in {record['ref']}",
                                f"shots of this set are in {', '.join(others)}" if others
                                else "make one with `setsplat shots new`")
    return [camera_track(shot, shot_cameras(shot)) for shot, _ in shots]
