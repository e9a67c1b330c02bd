"""Cameras as USD (Y up, metres): still cameras for packages, animated shot cameras.

UsdGeomCamera measures lens and filmback in tenths of a scene unit (millimetres only on
a centimetre stage). Our stages are in metres, so a 35 mm lens is authored as 0.35 and
a 36 mm filmback as 0.36. The principal point's distance from the image centre becomes
the aperture offset, which shifts the film window (a positive vertical offset moves the
window up, so the optical axis lands below the image centre).

Packages call ``write_cameras_usd`` with still cameras; the shots area hands its shot
cameras over as ``CameraTrack`` objects (``write_camera_track_usd``) and authors its
shot stages with ``define_camera``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from setsplat.core.camera import Camera
from setsplat.core.fsutil import atomic_write

SENSOR_WIDTH_MM = 36.0
METERS_PER_UNIT = 1.0
CLIPPING_RANGE = (0.01, 10_000.0)  # metres


def tenths_of_unit(mm: float, meters_per_unit: float = METERS_PER_UNIT) -> float:
    """A length in millimetres in UsdGeomCamera's lens unit on a stage of that scale."""
    return mm * 1e-3 / (0.1 * meters_per_unit)


def lens_mm(camera: Camera, sensor_width_mm: float = SENSOR_WIDTH_MM) -> dict[str, float]:
    """Focal length, apertures and aperture offsets in millimetres for a pinhole camera
    whose image is ``sensor_width_mm`` wide (pixel centres at i + 0.5)."""
    focal = camera.fx * sensor_width_mm / camera.width
    vertical = camera.height * focal / camera.fy
    return {"focalLength": focal, "horizontalAperture": sensor_width_mm,
            "verticalAperture": vertical,
            "horizontalApertureOffset": (camera.width / 2 - camera.cx) * sensor_width_mm
            / camera.width,
            "verticalApertureOffset": (camera.cy - camera.height / 2) * vertical
            / camera.height}


@dataclass(frozen=True)
class CameraTrack:
    """An animated camera: one ``Camera`` per frame from ``start_frame`` on."""

    name: str
    cameras: Sequence[Camera]
    start_frame: int
    fps: float
    sensor_width_mm: float = SENSOR_WIDTH_MM

    @property
    def end_frame(self) -> int:
        return self.start_frame + len(self.cameras) - 1


def new_stage() -> Any:
    """An in-memory stage, Y up and in metres."""
    from pxr import Sdf, Usd, UsdGeom

    stage = Usd.Stage.Open(Sdf.Layer.CreateAnonymous("usda"))
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
    UsdGeom.SetStageMetersPerUnit(stage, METERS_PER_UNIT)
    return stage


def set_time_range(stage: Any, start: int, end: int, fps: float) -> None:
    stage.SetStartTimeCode(start)
    stage.SetEndTimeCode(end)
    stage.SetTimeCodesPerSecond(fps)
    stage.SetFramesPerSecond(fps)


def define_camera(stage: Any, path: str, cameras: Sequence[Camera],
                  frames: Sequence[int] | None = None,
                  sensor_width_mm: float = SENSOR_WIDTH_MM) -> Any:
    """A UsdGeom.Camera at ``path``: still from one camera, or with a time sample per
    frame (``frames[i]`` for ``cameras[i]``). Pose in the ``yup`` frame with USD's
    camera axes (looking down -Z)."""
    from pxr import Gf, Usd, UsdGeom

    prim = UsdGeom.Camera.Define(stage, path)
    prim.CreateClippingRangeAttr(Gf.Vec2f(*CLIPPING_RANGE))
    times = [Usd.TimeCode.Default()] if frames is None else [Usd.TimeCode(f) for f in frames]
    if len(times) != len(cameras):
        raise ValueError(f"{len(cameras)} cameras for {len(times)} frames")
    transform = prim.AddTransformOp()
    for time, camera in zip(times, cameras):
        pose = np.asarray(camera.pose_in("yup", "RUB"), np.float64)
        transform.Set(Gf.Matrix4d(pose.T.tolist()), time)
    lenses = [lens_mm(camera, sensor_width_mm) for camera in cameras]
    for name in lenses[0]:
        attribute = getattr(prim, f"Create{name[0].upper()}{name[1:]}Attr")()
        values = [tenths_of_unit(lens[name]) for lens in lenses]
        if all(v == values[0] for v in values):  # a fixed lens needs no time samples
            attribute.Set(values[0])
            continue
        for time, value in zip(times, values):
            attribute.Set(value, time)
    return prim


def export_stage(stage: Any, path: str | os.PathLike) -> None:
    """Write a stage's root layer to ``path`` atomically."""
    data = stage.GetRootLayer().ExportToString().encode("utf-8")
    with atomic_write(path) as f:
        f.write(data)


def prim_name(text: str, fallback: str) -> str:
    """A valid USD prim name made from ``text``."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text or fallback)
    return name if name[:1].isalpha() or name[:1] == "_" else f"cam_{name}"


def write_cameras_usd(path: str | os.PathLike, cameras: Sequence[Camera]) -> None:
    """One still UsdGeom.Camera per camera under /Cameras."""
    from pxr import UsdGeom

    stage = new_stage()
    root = UsdGeom.Xform.Define(stage, "/Cameras")
    stage.SetDefaultPrim(root.GetPrim())
    used: set[str] = set()
    for index, camera in enumerate(cameras):
        name = prim_name(camera.name, f"camera_{index:03d}")
        while name in used:
            name += "_"
        used.add(name)
        define_camera(stage, f"/Cameras/{name}", [camera])
    export_stage(stage, path)


def track_stage(track: CameraTrack) -> Any:
    """An in-memory stage with the animated camera ``/<name>/Camera`` (the default prim
    is ``/<name>``), its frame range and rate set, for Unreal's Sequencer and Omniverse."""
    from pxr import UsdGeom

    stage = new_stage()
    root = UsdGeom.Xform.Define(stage, f"/{prim_name(track.name, 'Shot')}")
    stage.SetDefaultPrim(root.GetPrim())
    set_time_range(stage, track.start_frame, track.end_frame, track.fps)
    define_camera(stage, f"{root.GetPath()}/Camera", track.cameras,
                  range(track.start_frame, track.end_frame + 1), track.sensor_width_mm)
    return stage


def write_camera_track_usd(path: str | os.PathLike, track: CameraTrack) -> None:
    export_stage(track_stage(track), path)
