"""Shot / capture cameras as a USD stage (Y up, metres), for Unreal and Omniverse.

Packages call this when they are given cameras; the shots area hands its shot cameras
to the packages through the same ``cameras`` argument."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

import numpy as np

from setsplat.core.camera import Camera
from setsplat.core.fsutil import atomic_write

SENSOR_WIDTH_MM = 36.0


def _prim_name(camera: Camera, index: int) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", camera.name or f"camera_{index:03d}")
    return name if name[:1].isalpha() else f"cam_{name}"


def write_cameras_usd(path: str | os.PathLike, cameras: Sequence[Camera]) -> None:
    """One UsdGeom.Camera per camera under /Cameras: pose converted to the ``yup`` frame
    with USD's camera axes (looking down -Z), focal length on a 36 mm wide sensor, the
    principal point's offset from the image centre (pixel centres at i + 0.5) as the
    aperture offset."""
    from pxr import Gf, Sdf, Usd, UsdGeom

    layer = Sdf.Layer.CreateAnonymous("usda")
    stage = Usd.Stage.Open(layer)
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    root = UsdGeom.Xform.Define(stage, "/Cameras")
    stage.SetDefaultPrim(root.GetPrim())
    used: set[str] = set()
    for index, camera in enumerate(cameras):
        name = _prim_name(camera, index)
        while name in used:
            name += "_"
        used.add(name)
        prim = UsdGeom.Camera.Define(stage, f"/Cameras/{name}")
        pose = camera.pose_in("yup", "RUB")
        prim.AddTransformOp().Set(Gf.Matrix4d(np.asarray(pose, np.float64).T.tolist()))
        aperture = SENSOR_WIDTH_MM
        prim.CreateFocalLengthAttr(float(camera.focal_length_mm(aperture)))
        prim.CreateHorizontalApertureAttr(aperture)
        prim.CreateVerticalApertureAttr(aperture * camera.height / camera.width * camera.fx
                                        / camera.fy)
        offset_x = (camera.cx - camera.width / 2) / camera.width * aperture
        offset_y = -(camera.cy - camera.height / 2) / camera.width * aperture
        prim.CreateHorizontalApertureOffsetAttr(float(offset_x))
        prim.CreateVerticalApertureOffsetAttr(float(offset_y))
    data = layer.ExportToString().encode("utf-8")
    with atomic_write(path) as f:
        f.write(data)
