"""Exports end to end (library): files per target, frames and units, the equivalence of
what a reader gets back, manifests and READMEs, validator-clean GLBs."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from setsplat.core import sh as shlib
from setsplat.core.camera import Camera
from setsplat.core.errors import SetsplatError
from setsplat.core.frames import FRAMES, convert_scene
from setsplat.core.fsutil import sha256_file
from setsplat.core.io import read_scene
from setsplat.export.targets import ExportOptions, export
from setsplat.mesh import MeshOptions, read_glb
from tests.gltf_validator import validate

FAST_MESH = MeshOptions(triangles=2000, depth=7)
# Each importer's documented mapping into Unreal (cm): Unreal's glTF importers read glTF
# (x, y, z) as 100·(x, z, y) (GLTFCore: right-handed Y-up metres to left-handed Z-up
# centimetres); the package README maps the PLY's (x, y, z) to 100·(z, x, -y).
GLTF_TO_UNREAL = 100.0 * np.array([[1, 0, 0], [0, 0, 1], [0, 1, 0]])
PLY_TO_UNREAL = 100.0 * np.array([[0, 0, 1], [1, 0, 0], [0, -1, 0]])


def _color_along(scene, directions):
    return shlib.eval_sh(scene.sh.astype(np.float64), directions)


def assert_same_scene(back, original, *, atol_pos=1e-5, atol_color=1e-5):
    """``back`` (any frame) describes the same splats as ``original``: positions,
    covariances and view-dependent color along matched directions."""
    back = convert_scene(back, original.frame)
    np.testing.assert_allclose(back.means, original.means, atol=atol_pos)
    from setsplat.core.rotation import quat_to_matrix

    def cov(s):
        r = quat_to_matrix(s.quats.astype(np.float64))
        return r @ (np.exp(2 * s.log_scales.astype(np.float64))[:, :, None] * r.transpose(0, 2, 1))

    np.testing.assert_allclose(cov(back), cov(original), atol=1e-6, rtol=1e-4)
    rng = np.random.default_rng(0)
    d = rng.normal(size=(len(original), 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    np.testing.assert_allclose(_color_along(back, d), _color_along(original, d),
                               atol=atol_color)


@pytest.mark.parametrize("frame", sorted(FRAMES))
def test_ply_in_every_frame_is_the_same_scene(tmp_path, room, frame):
    result = export("ply", room, tmp_path / frame, ExportOptions(frame=frame, name="set"))
    back = read_scene(tmp_path / frame / "set.ply")
    assert back.frame.name == frame == result.frame
    assert_same_scene(back, room, atol_pos=1e-4 if frame == "unreal" else 1e-5)


def test_ply_units(tmp_path, room):
    export("ply", room, tmp_path, ExportOptions(units="cm", name="set"))
    back = read_scene(tmp_path / "set.ply")
    np.testing.assert_allclose(back.means, room.means * 100, rtol=1e-6, atol=1e-4)
    assert back.meta["units"] == "cm"
    # the file says its unit, so reading it back and converting gives metres again
    assert back.frame.name == "rdf" and back.frame.meters_per_unit == 0.01
    assert_same_scene(convert_scene(back, "rdf"), room, atol_pos=1e-6)


@pytest.mark.parametrize("target, name, atol_pos, atol_color", [
    ("gltf", "set.glb", 1e-6, 1e-5),
    ("spz", "set.spz", 1 / 8192 + 1e-6, 0.2),
])
def test_compact_targets_read_back(tmp_path, room, target, name, atol_pos, atol_color):
    export(target, room, tmp_path, ExportOptions(name=name.split(".")[0]))
    back = read_scene(tmp_path / name)
    if target == "spz":  # quantised: check positions and DC color only
        back = convert_scene(back, "rdf")
        np.testing.assert_allclose(back.means, room.means, atol=atol_pos)
        np.testing.assert_allclose(back.colors, room.colors, atol=0.5 / (0.15 * 255) * 0.29)
    else:
        assert_same_scene(back, room, atol_pos=atol_pos, atol_color=atol_color)


def test_manifest_and_readme(tmp_path, room):
    unscaled = room.replace(meta={"unscaled": True})
    result = export("spz", unscaled, tmp_path, ExportOptions(name="set", max_splats=500))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["splats"] == 500 and manifest["unscaled"] is True
    for file, digest in manifest["sha256"].items():
        assert sha256_file(tmp_path / file) == digest
    assert "UNSCALED" in (tmp_path / "README.txt").read_text()
    assert result.notes and sorted(result.files) == sorted(
        ["README.txt", "set.spz", "manifest.json"])


def test_unreal_package(tmp_path, room):
    camera = Camera.look_at([0, -0.5, -2], [0, 0.5, 1], width=64, height=48, fov_x_deg=60)
    result = export("unreal", room, tmp_path, ExportOptions(name="set", mesh=FAST_MESH,
                                                            cameras=[camera]))
    assert sorted(result.files) == sorted(["README.txt", "set.ply", "set.spz",
                                           "set_proxy.glb", "cameras.usda", "manifest.json"])
    splats = read_scene(tmp_path / "set.ply")
    assert splats.frame.name == "rdf" and splats.sh_degree == 3
    assert {"nx", "ny", "nz"} <= set(splats.extras)
    assert_same_scene(splats.with_sh_degree(1), room)
    # The placement matrix maps PLY coordinates to Unreal's (cm, Z up)
    matrix = np.array(result.details["placement"])
    in_unreal = convert_scene(room, "unreal")
    np.testing.assert_allclose(room.means @ matrix[:3, :3].T, in_unreal.means, atol=1e-3)
    readme = (tmp_path / "README.txt").read_text()
    assert "X = 100·z, Y = 100·x" in readme and "Z = -100·y" in readme
    for importer in ("UEFN", "XV3DGS", "GaussianSplattingRenderer", "Cesium for Unreal"):
        assert importer in readme
    packed = (tmp_path / "set.spz").read_bytes()  # version 2: every SPZ reader takes it
    assert gzip.decompress(packed)[4:8] == (2).to_bytes(4, "little")
    assert "Niantic SPZ version 2" in readme
    compact = convert_scene(read_scene(tmp_path / "set.spz"), "rdf")
    np.testing.assert_allclose(compact.means, room.means, atol=1 / 8192 + 1e-6)
    assert validate(tmp_path / "set_proxy.glb") == []
    # imported with each importer's own mapping, the proxy lies on the opaque splats
    opaque = splats.means[splats.opacities > 0.5]
    proxy = read_glb(tmp_path / "set_proxy.glb").vertices
    assert _median_distance(proxy @ GLTF_TO_UNREAL.T, opaque @ PLY_TO_UNREAL.T) < 5.0
    from pxr import Usd, UsdGeom

    stage = Usd.Stage.Open(str(tmp_path / "cameras.usda"))
    assert stage.GetCompositionErrors() == []
    cameras = [p for p in stage.Traverse() if p.IsA(UsdGeom.Camera)]
    assert len(cameras) == 1
    pose = np.array(UsdGeom.Xformable(cameras[0]).ComputeLocalToWorldTransform(0)).T
    np.testing.assert_allclose(pose[:3, 3], [0, 0.5, 2], atol=1e-9)  # RDF (0,-.5,-2) in yup
    np.testing.assert_allclose(pose[:3, :3], camera.pose_in("yup", "RUB")[:3, :3], atol=1e-9)
    usd_camera = UsdGeom.Camera(cameras[0])
    assert usd_camera.GetHorizontalApertureOffsetAttr().Get() == pytest.approx(0, abs=1e-9)
    # UsdGeomCamera's lens unit is a tenth of a scene unit: 1/100 of a mm-value in metres
    assert usd_camera.GetFocalLengthAttr().Get() == pytest.approx(
        camera.focal_length_mm() / 100, rel=1e-6)
    assert usd_camera.GetHorizontalApertureAttr().Get() == pytest.approx(0.36)


def _median_distance(vertices, points) -> float:
    """Median distance from (a sample of) the vertices to the nearest point."""
    sample = vertices[:: max(1, len(vertices) // 400)].astype(np.float64)
    points = np.asarray(points, np.float64)
    return float(np.median(np.sqrt(((sample[:, None] - points[None]) ** 2).sum(-1).min(1))))


def _assert_proxy_on_surfaces(vertices, scene_yup):
    """Most proxy vertices lie near a splat (within 5 cm)."""
    assert _median_distance(vertices, scene_yup.means) < 0.05


def test_unity_package(tmp_path, room):
    result = export("unity", room, tmp_path, ExportOptions(name="set", mesh=FAST_MESH))
    splats = read_scene(tmp_path / "set.ply")
    assert splats.frame.name == "unity" and result.frame == "unity"
    in_unity = convert_scene(room, "unity")
    np.testing.assert_allclose(splats.means, in_unity.means, atol=1e-6)
    # upright: the floor (RDF y = +1, i.e. 1 m down) is at Unity y = -1
    assert np.isclose(np.percentile(splats.means[:, 1], 1), -1.0, atol=1e-5)
    assert_same_scene(splats.with_sh_degree(1), room)
    packed = tmp_path / "set.spz"  # version 2: the one UnityGaussianSplatting reads
    assert gzip.decompress(packed.read_bytes())[4:8] == (2).to_bytes(4, "little")
    np.testing.assert_allclose(convert_scene(read_scene(packed), "rdf").means, room.means,
                               atol=1 / 8192 + 1e-6)
    # glTF importers in Unity mirror X: after that the proxy must land in Unity coordinates
    vertices = read_glb(tmp_path / "set_proxy.glb").vertices * [-1, 1, 1]
    _assert_proxy_on_surfaces(vertices, in_unity)
    assert validate(tmp_path / "set_proxy.glb") == []


def test_web_package(tmp_path, room):
    result = export("web", room, tmp_path, ExportOptions(name="set", sh_degree=0))
    assert sorted(result.files) == sorted(["README.txt", "set.spz", "set.glb", "set.splat",
                                           "manifest.json"])
    assert (tmp_path / "set.spz").read_bytes()[:4] == b"NGSP"  # SPZ version 4
    for name in ("set.spz", "set.splat"):  # metric again: the manifest lists them
        assert read_scene(tmp_path / name).meta["unscaled"] is False
    for name in ("set.spz", "set.glb", "set.splat"):
        back = convert_scene(read_scene(tmp_path / name), "rdf")
        assert len(back) == len(room)
        np.testing.assert_allclose(np.sort(back.means, axis=0), np.sort(room.means, axis=0),
                                   atol=2e-4)
    assert validate(tmp_path / "set.glb") == []


def test_mesh_target(tmp_path, room):
    result = export("mesh", room, tmp_path, ExportOptions(name="set", mesh=FAST_MESH))
    assert sorted(result.files) == sorted(["README.txt", "set_proxy.glb", "set_proxy.obj",
                                           "set_proxy.usda", "manifest.json"])
    assert 1000 <= result.details["mesh"]["triangles"] <= 2000
    assert validate(tmp_path / "set_proxy.glb") == []
    from pxr import Usd, UsdGeom

    stage = Usd.Stage.Open(str(tmp_path / "set_proxy.usda"))
    assert stage.GetCompositionErrors() == []
    assert UsdGeom.GetStageUpAxis(stage) == "Y"
    mesh = UsdGeom.Mesh(stage.GetPrimAtPath("/Proxy/Mesh"))
    assert len(mesh.GetFaceVertexCountsAttr().Get()) == result.details["mesh"]["triangles"]


@pytest.mark.parametrize("orientation", ["inward", "propagate"])
def test_watertight_mesh(tmp_path, room, orientation):
    options = MeshOptions(triangles=2000, depth=6, watertight=True, orientation=orientation)
    result = export("mesh", room, tmp_path, ExportOptions(mesh=options))
    assert result.details["mesh"]["watertight"] is True
    _assert_proxy_on_surfaces(read_glb(tmp_path / "scene_proxy.glb").vertices,
                              convert_scene(room, "yup"))


def test_empty_scene_is_refused(tmp_path):
    from setsplat.core.scene import GaussianScene

    with pytest.raises(SetsplatError, match="no splats"):
        export("gltf", GaussianScene.empty(), tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("target, options, what", [
    ("gltf", ExportOptions(frame="rdf"), "always written in the yup frame"),
    ("spz", ExportOptions(units="cm"), "always written"),
    ("unreal", ExportOptions(frame="yup"), "--frame applies to the ply target only"),
    ("nope", ExportOptions(), "unknown export target"),
])
def test_bad_options(tmp_path, room, target, options, what):
    with pytest.raises(SetsplatError, match=what):
        export(target, room, tmp_path / "out", options)
    assert not (tmp_path / "out").exists()


def test_mesh_trim_trades_holes_for_bulges(tmp_path, room):
    """Less trimming keeps more of Poisson's surface: here it bulges past the corner's
    open edges (in the proxy's Y-up frame the splats end at x = 1, y = 1 and z = 0)."""
    def reach(trim: float) -> float:
        out = tmp_path / f"trim{trim}"
        export("mesh", room, out, ExportOptions(name="set", mesh=MeshOptions(
            triangles=2000, depth=7, trim=trim)))
        vertices = read_glb(out / "set_proxy.glb").vertices
        return float(max(vertices[:, 0].max() - 1, vertices[:, 1].max() - 1,
                         vertices[:, 2].max()))

    kept, trimmed = reach(0.0), reach(0.05)
    assert trimmed < 0.05 < kept
