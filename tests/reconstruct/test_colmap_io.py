"""COLMAP models and transforms.json: exact round trips, pycolmap agrees, imports agree."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from setsplat.core.camera import Camera, read_camera_meta, read_cameras
from setsplat.core.errors import SetsplatError
from setsplat.reconstruct.colmap_io import (
    ColmapModel,
    cameras_of,
    model_from_cameras,
    read_model,
    write_model,
)
from setsplat.reconstruct.transforms_json import read_transforms, write_transforms
from tests.reconstruct.helpers import STAGE, stage_truth


def ring_cameras(n: int = 6, model: str = "OPENCV") -> list[Camera]:
    cameras = []
    for i in range(n):
        angle = 2 * np.pi * i / n
        camera = Camera.look_at([3 * np.cos(angle), -1.2, 3 * np.sin(angle)], [0, 0, 0],
                                width=320, height=240, fov_x_deg=55, name=f"img_{i:03d}.png")
        camera.model = model
        camera.distortion = {"k1": -0.05, "k2": 0.01, "p1": 1e-4, "p2": -2e-4}
        cameras.append(camera)
    return cameras


def model_with_points(cameras: list[Camera], seed: int = 0) -> ColmapModel:
    rng = np.random.default_rng(seed)
    model = model_from_cameras(cameras)
    n = 40
    model.point_ids = np.arange(1, n + 1)
    model.xyz = rng.normal(size=(n, 3))
    model.rgb = rng.integers(0, 256, (n, 3)).astype(np.uint8)
    model.errors = rng.uniform(0.1, 1.0, n)
    model.tracks = []
    for image in model.images.values():
        image.xy = rng.uniform(0, 300, (n, 2))
        image.point3d_ids = np.where(rng.random(n) < 0.5, model.point_ids, -1)
    for k in range(n):
        seen = [i for i in model.images.values() if i.point3d_ids[k] == k + 1]
        model.tracks.append(np.array([[i.image_id, k] for i in seen], np.int64).reshape(-1, 2))
    return model


def assert_same_model(a: ColmapModel, b: ColmapModel, atol: float = 0.0) -> None:
    assert a.cameras.keys() == b.cameras.keys() and a.images.keys() == b.images.keys()
    for key in a.cameras:
        assert a.cameras[key].model == b.cameras[key].model
        np.testing.assert_allclose(a.cameras[key].params, b.cameras[key].params, atol=atol)
    for key in a.images:
        ia, ib = a.images[key], b.images[key]
        assert (ia.name, ia.camera_id) == (ib.name, ib.camera_id)
        np.testing.assert_allclose(ia.world_to_camera, ib.world_to_camera, atol=1e-12 + atol)
        np.testing.assert_allclose(ia.xy, ib.xy, atol=atol)
        np.testing.assert_array_equal(ia.point3d_ids, ib.point3d_ids)
    np.testing.assert_array_equal(a.point_ids, b.point_ids)
    np.testing.assert_allclose(a.xyz, b.xyz, atol=atol)
    np.testing.assert_array_equal(a.rgb, b.rgb)
    for ta, tb in zip(a.tracks, b.tracks):
        np.testing.assert_array_equal(ta, tb)


def test_binary_round_trip_is_exact(tmp_path):
    model = model_with_points(ring_cameras())
    write_model(tmp_path, model)
    assert_same_model(read_model(tmp_path), model)
    cameras = cameras_of(read_model(tmp_path))
    for ours, original in zip(cameras, ring_cameras()):
        assert ours.distortion == original.distortion
        assert (ours.fx, ours.cx, ours.cy) == pytest.approx((original.fx, original.cx,
                                                             original.cy), abs=1e-12)


def test_pycolmap_reads_ours_and_we_read_its_text(tmp_path):
    """pycolmap loads our binary model and writes it as text; we read that text back."""
    model = model_with_points(ring_cameras())
    write_model(tmp_path / "bin", model)
    code = f"""
from setsplat.reconstruct.colmap_stages import load_pycolmap
pycolmap = load_pycolmap()
rec = pycolmap.Reconstruction({str(tmp_path / 'bin')!r})
print(rec.num_reg_images(), rec.num_points3D())
(__import__('pathlib').Path({str(tmp_path / 'txt')!r})).mkdir()
rec.write_text({str(tmp_path / 'txt')!r})
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-800:]
    assert done.stdout.split() == [b"6", b"40"]
    text = read_model(tmp_path / "txt")
    assert_same_model(text, model, atol=1e-9)


def test_broken_models_are_one_line_errors(tmp_path):
    write_model(tmp_path, model_with_points(ring_cameras()))
    data = (tmp_path / "images.bin").read_bytes()
    (tmp_path / "images.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(SetsplatError, match="file ends too early"):
        read_model(tmp_path)
    with pytest.raises(SetsplatError, match="no COLMAP model here"):
        read_model(tmp_path / "..")


def test_transforms_round_trip(tmp_path):
    cameras = ring_cameras(model="OPENCV")
    write_transforms(tmp_path / "transforms.json", cameras, "images")
    back, paths = read_transforms(tmp_path / "transforms.json")
    assert [p.name for p in paths] == [c.name for c in cameras]
    for a, b in zip(back, cameras):
        np.testing.assert_allclose(a.world_to_camera, b.world_to_camera, atol=1e-12)
        assert (a.fx, a.fy, a.cx, a.cy) == pytest.approx((b.fx, b.fy, b.cx, b.cy), abs=1e-12)
        assert a.model == "OPENCV" and a.distortion == pytest.approx(b.distortion)


def test_instant_ngp_angle_and_3x4(tmp_path):
    camera = ring_cameras(1)[0]
    c2w = camera.pose_in("rdf", "RUB")  # OpenGL camera axes
    data = {"camera_angle_x": camera.fov_x, "w": 320, "h": 240,
            "frames": [{"file_path": "./a", "transform_matrix": c2w[:3].tolist()}]}
    (tmp_path / "t.json").write_text(json.dumps(data))
    (back,), _ = read_transforms(tmp_path / "t.json")
    np.testing.assert_allclose(back.world_to_camera, camera.world_to_camera, atol=1e-12)
    assert back.fx == pytest.approx(camera.fx) and back.model == "PINHOLE"


def test_colmap_and_transforms_imports_agree(tmp_path, cli):
    """The sample scan's truth, written as a COLMAP model and as a transforms.json,
    imports to the same cameras (within 1e-6) through the CLI."""
    images = STAGE / "images"
    cameras = list(stage_truth().values())
    write_model(tmp_path / "model", model_from_cameras(cameras))
    write_transforms(tmp_path / "transforms.json", cameras, str(images))
    for source, out in ((tmp_path / "model", "a"), (tmp_path / "transforms.json", "b")):
        result = cli("--quiet", "reconstruct", "import", source, "--images", images,
                     "--no-upright", "--metric", "-o", tmp_path / out)
        assert result.code == 0, result.err
    a, b = read_cameras(tmp_path / "a" / "cameras.json"), read_cameras(tmp_path / "b" /
                                                                       "cameras.json")
    assert [c.name for c in a] == [c.name for c in b] == sorted(c.name for c in cameras)
    truth = {c.name: c for c in cameras}
    for ca, cb in zip(a, b):
        ct = truth[ca.name]
        for ours in (ca, cb):
            np.testing.assert_allclose(ours.world_to_camera, ct.world_to_camera, atol=1e-6)
            assert (ours.fx, ours.fy, ours.cx, ours.cy) == pytest.approx(
                (ct.fx, ct.fy, ct.cx, ct.cy), abs=1e-6)
    assert read_camera_meta(tmp_path / "a" / "cameras.json")["unscaled"] is False
    imported = tmp_path / "b" / "images" / cameras[0].name
    assert imported.is_file()
    # a copy, not a hard link: editing the output must not edit the photo
    assert imported.stat().st_nlink == 1 and (images / cameras[0].name).stat().st_nlink == 1


def test_import_levels_a_tilted_world(tmp_path, cli):
    """Poses from elsewhere in a tumbled, scaled world come out upright (cameras only)."""
    from setsplat.core.rotation import random_rotations
    from setsplat.reconstruct.align import align_cameras

    cameras = list(stage_truth().values())
    tumble = random_rotations(1, np.random.default_rng(2))[0]
    model = model_from_cameras(cameras).transformed(3.0, tumble, np.array([1.0, 2.0, 3.0]))
    write_model(tmp_path / "model", model)
    result = cli("--quiet", "reconstruct", "import", tmp_path / "model", "--images",
                 STAGE / "images", "-o", tmp_path / "out")
    assert result.code == 0, result.err
    ours = read_cameras(tmp_path / "out" / "cameras.json")
    truth = {c.name: c for c in cameras}
    similarity = align_cameras(ours, [truth[c.name] for c in ours])
    up = similarity.rotation @ np.array([0.0, -1.0, 0.0])
    assert np.degrees(np.arccos(np.clip(up @ [0.0, -1.0, 0.0], -1, 1))) < 1.0


def test_points_ply_and_camera_meta_round_trip(tmp_path):
    from setsplat.core.camera import write_cameras
    from setsplat.core.io.ply import read_points, write_points

    rng = np.random.default_rng(0)
    xyz = rng.normal(size=(50, 3)).astype(np.float32)
    rgb = rng.integers(0, 256, (50, 3)).astype(np.uint8)
    write_points(tmp_path / "p.ply", xyz, rgb)
    back_xyz, back_rgb = read_points(tmp_path / "p.ply")
    np.testing.assert_array_equal(back_xyz, xyz)
    np.testing.assert_array_equal(np.round(back_rgb * 255).astype(np.uint8), rgb)
    write_cameras(tmp_path / "c.json", ring_cameras(2), {"unscaled": True, "source": "x"})
    assert read_camera_meta(tmp_path / "c.json") == {"unscaled": True, "source": "x"}
    write_cameras(tmp_path / "d.json", ring_cameras(2))
    assert read_camera_meta(tmp_path / "d.json") == {}
    assert len(read_cameras(tmp_path / "d.json")) == 2
