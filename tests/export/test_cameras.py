"""USD cameras: UsdGeomCamera's own projection (focal length, apertures and offsets in
tenths of a scene unit) must put points where the camera's K does."""

from __future__ import annotations

import numpy as np
import pytest

from setsplat.core.camera import Camera
from setsplat.export.usd_cameras import CameraTrack, write_camera_track_usd, write_cameras_usd

pytest.importorskip("pxr")


def _usd_pixels(gf_camera, width: int, height: int, opencv: np.ndarray) -> np.ndarray:
    projection = np.array(gf_camera.frustum.ComputeProjectionMatrix()).T
    clip = np.column_stack([opencv * [1, -1, -1], np.ones(len(opencv))]) @ projection.T
    ndc = clip[:, :2] / clip[:, 3:]
    return np.column_stack([(ndc[:, 0] + 1) * width / 2, (1 - ndc[:, 1]) * height / 2])


def test_off_centre_principal_point_and_unequal_focals(tmp_path):
    from pxr import Usd, UsdGeom

    camera = Camera(640, 360, 500.0, 520.0, 300.0, 200.0, name="odd")
    write_cameras_usd(tmp_path / "c.usda", [camera])
    stage = Usd.Stage.Open(str(tmp_path / "c.usda"))
    usd_camera = UsdGeom.Camera(stage.GetPrimAtPath("/Cameras/odd"))
    assert usd_camera.GetFocalLengthAttr().Get() == pytest.approx(500 * 36 / 640 / 100)
    assert usd_camera.GetHorizontalApertureAttr().Get() == pytest.approx(0.36)
    points = np.random.default_rng(1).uniform([-2, -1, 1], [2, 1, 6], (30, 3))
    expected = (points @ camera.K.T)[:, :2] / points[:, 2:]
    np.testing.assert_allclose(_usd_pixels(usd_camera.GetCamera(), 640, 360, points),
                               expected, atol=1e-3)


def test_track_is_animated_with_frame_range_and_rate(tmp_path):
    from pxr import Usd, UsdGeom

    cameras = [Camera.look_at([0.1 * i, 1, 2], [0, 1, -3], width=64, height=36, frame="yup",
                              fov_x_deg=40 + i) for i in range(5)]
    write_camera_track_usd(tmp_path / "t.usda", CameraTrack("EP01_SH010", cameras, 1001, 25.0))
    stage = Usd.Stage.Open(str(tmp_path / "t.usda"))
    assert (stage.GetStartTimeCode(), stage.GetEndTimeCode()) == (1001, 1005)
    assert stage.GetTimeCodesPerSecond() == stage.GetFramesPerSecond() == 25
    prim = stage.GetPrimAtPath("/EP01_SH010/Camera")
    for i, camera in enumerate(cameras):
        pose = np.array(UsdGeom.Xformable(prim).ComputeLocalToWorldTransform(1001 + i)).T
        np.testing.assert_allclose(pose, camera.pose_in("yup", "RUB"), atol=1e-9)
        focal = UsdGeom.Camera(prim).GetFocalLengthAttr().Get(1001 + i)
        assert focal * 100 == pytest.approx(camera.focal_length_mm(), rel=1e-6)
