"""``shots new``: define a shot in a set asset and write its USD shot stage.

The asset reference is pinned to the version it resolves to, the camera path is
resolved against that version's splats (presets) and stored whole (keyframes), and
``<library>/shots/<Shot>/<Shot>.usda`` is written beside the catalog row.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from setsplat.assets import Library, load, resolve
from setsplat.assets.publish import CAMERAS_FILE
from setsplat.core.camera import Camera, read_cameras
from setsplat.core.errors import SetsplatError
from setsplat.core.fsutil import atomic_path

from . import paths, store
from .camera_data import shot_cameras
from .model import FILMBACK_WIDTH_MM, FOCAL_MM, FPS, FRAME_START, FRAMES, RESOLUTION, Lens, Shot
from .stage import write_shot_stage


@dataclass(frozen=True)
class ShotOptions:
    asset: str
    path: str | None = None          # a preset (orbit:degrees=90) or a keyframe file
    from_capture: str | None = None  # a scan photo's file name: the path starts there
    frame_start: int | None = None   # default 1001, or the first key's frame
    frame_end: int | None = None
    frames: int | None = None        # instead of frame_end
    fps: float = FPS
    focal_mm: float | None = None    # default 35, or the scan photo's field of view
    filmback_mm: tuple[float, float] | None = None  # default 36 mm wide, the image's shape
    resolution: tuple[int, int] = RESOLUTION
    notes: str = ""
    replace: bool = False


def new_shot(name: str, options: ShotOptions, library: Library | None = None
             ) -> dict[str, Any]:
    """Make (or with ``replace`` redefine) a shot; returns it with its stage's path."""
    library = library or Library.resolve()
    record, interface = resolve(options.asset, library)
    pinned = record["ref"]
    capture = _capture_camera(library, record, options.from_capture) \
        if options.from_capture else None
    parsed = paths.parse_path(options.path or "static")
    width, height = options.resolution
    filmback = options.filmback_mm or (FILMBACK_WIDTH_MM, FILMBACK_WIDTH_MM * height / width)
    focal = options.focal_mm or (capture.fx * filmback[0] / capture.width if capture
                                 else FOCAL_MM)
    if isinstance(parsed, Path):
        if capture is not None:
            raise SetsplatError("--from-capture starts a preset; keyframes say where the "
                                "camera is themselves", "leave out --from-capture or --path")
        spec = paths.load_keyframes(parsed)
        spec["source"] = os.fspath(parsed.absolute())
        first_key, last_key = spec["keys"][0]["frame"], spec["keys"][-1]["frame"]
    else:
        preset, params = parsed
        geometry = paths.SetGeometry.from_scene(load(pinned, library, lod="preview"))
        start = paths.Pose.of_camera(capture, focal) if capture else None
        if start is None and "azimuth" not in params:
            facing = paths.capture_azimuth(_kept_cameras(library, record), geometry)
            params = params if facing is None else {**params, "azimuth": facing}
        spec = paths.preset_spec(preset, params, geometry, start)
        if capture is not None:
            spec["capture"] = {"image": options.from_capture, "camera": capture.name}
        first_key = last_key = None
    start, end = _frame_range(options, first_key, last_key)
    shot = Shot(name=name, asset=pinned, path=spec, frame_start=start, frame_end=end,
                fps=options.fps, lens=Lens(focal, tuple(filmback)),
                resolution=(width, height), notes=options.notes)
    cameras = shot_cameras(shot)  # evaluates the path: bad keys fail here
    stage = store.shot_dir(library, shot.name) / f"{shot.name}.usda"
    with atomic_path(stage, doing="writing the shot stage") as tmp, \
            store.open_catalog(library) as catalog:
        write_shot_stage(tmp, shot, cameras, interface)
        store.save_shot(catalog, shot, record["id"], replace=options.replace)
    return {**shot.as_dict(), "stage": str(stage), "set_description": record["description"],
            "camera": paths.describe(spec)}


def _frame_range(options: ShotOptions, first_key: float | None,
                 last_key: float | None) -> tuple[int, int]:
    if options.frame_end is not None and options.frames is not None:
        raise SetsplatError("give --end or --frames, not both", "--frames 48 is --end 1048 "
                            "from 1001")
    if options.frames is not None and options.frames < 1:
        raise SetsplatError("--frames must be at least 1", None)
    keyed = first_key is not None and options.frame_start is None and \
        options.frame_end is None and options.frames is None
    if keyed:
        return round(first_key), round(last_key)
    start = FRAME_START if options.frame_start is None else options.frame_start
    if options.frame_end is not None:
        return start, options.frame_end
    return start, start + (options.frames or FRAMES) - 1


def _kept_cameras(library: Library, record: dict[str, Any]) -> list[Camera]:
    """The capture's cameras published with the asset (none for older versions)."""
    path = library.version_dir(record["name"], record["version"]) / CAMERAS_FILE
    return read_cameras(path) if path.is_file() else []


def _capture_camera(library: Library, record: dict[str, Any], image: str) -> Camera:
    """The camera a scan photo was taken with, from the cameras kept with the asset."""
    cameras = _kept_cameras(library, record)
    path = library.version_dir(record["name"], record["version"]) / CAMERAS_FILE
    if not cameras:
        raise SetsplatError(f"{record['ref']} was published without its capture's cameras",
                            "publish the training output folder (it has sfm/cameras.json), "
                            "or place the camera with --path", path)
    wanted = Path(image).name.lower()
    for camera in cameras:
        if Path(camera.name).name.lower() == wanted or \
                Path(camera.name).stem.lower() == Path(wanted).stem:
            return camera
    names = ", ".join(Path(c.name).name for c in cameras[:4])
    raise SetsplatError(f"no scan photo named {Path(image).name!r} in {record['ref']}",
                        f"photos are named like {names}{', ...' if len(cameras) > 4 else ''}",
                        path)



