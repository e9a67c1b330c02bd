"""SfM end to end on real photos (templering, with ground truth), and its errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from setsplat.core.camera import read_camera_meta, read_cameras
from setsplat.core.io.ply import read_points
from setsplat.reconstruct.align import pose_errors
from setsplat.reconstruct.colmap_io import cameras_of, read_model
from tests.reconstruct.helpers import STAGE, templering_truth


@pytest.fixture(scope="module")
def templering(tmp_path_factory):
    """One SfM run of templering through the CLI, shared by the tests below."""
    from setsplat.cli.main import run
    from tests.conftest import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside this checkout")
    out = tmp_path_factory.mktemp("templering") / "sfm"
    code = run(["--quiet", "reconstruct", "sfm", str(SHARED_DATA / "templering" / "images"),
                "-o", str(out)])
    assert code == 0
    return out, templering_truth(SHARED_DATA / "templering")


def test_templering_registers_and_matches_truth(templering):
    out, truth = templering
    report = json.loads((out / "sfm_report.json").read_text())
    assert report["registered"] >= 0.9 * report["images"] == 0.9 * 19
    cameras = read_cameras(out / "cameras.json")
    errors = pose_errors(cameras, [truth[c.name] for c in cameras])
    assert errors.rotation_deg.max() <= 1.0, errors.summary()
    assert errors.center.max() / errors.scene_size <= 0.01, errors.summary()


def test_templering_outputs_agree(templering):
    out, _ = templering
    report = json.loads((out / "sfm_report.json").read_text())
    cameras = read_cameras(out / "cameras.json")
    assert len(cameras) == report["registered"]
    assert all(c.model == "PINHOLE" and (out / "images" / c.name).is_file() for c in cameras)
    assert read_camera_meta(out / "cameras.json")["unscaled"] is True
    assert report["scale"]["unscaled"] is True and report["upright"]["method"] != "none"
    pinhole = cameras_of(read_model(out / "sparse" / "0"))
    distorted = cameras_of(read_model(out / "distorted" / "sparse" / "0"))
    for a, b, c in zip(cameras, pinhole, distorted):
        np.testing.assert_allclose(a.world_to_camera, b.world_to_camera, atol=1e-9)
        np.testing.assert_allclose(a.world_to_camera, c.world_to_camera, atol=1e-9)
    xyz, rgb = read_points(out / "points.ply")
    assert len(xyz) == report["points"] > 1000 and rgb is not None
    assert 2 < report["mean_track_length"] < 20
    assert 0 < report["mean_reprojection_error_px"] < 1.0
    # Points lie in front of the cameras that see them: same world as the cameras.
    camera = cameras[0]
    _, depth = camera.project(xyz)
    assert np.mean(depth > 0) > 0.9


def test_partial_registration_is_explained(tmp_path, cli, shared_data):
    """Two unrelated photos among templering's: they are listed with a reason."""
    images = tmp_path / "photos"
    shutil.copytree(shared_data / "templering" / "images", images)
    for name in ("im.001.png", "im.002.png"):
        shutil.copy(shared_data / "movi_house" / name, images / f"zz_{name}")
    result = cli("--json", "reconstruct", "sfm", images, "-o", tmp_path / "out",
                 "--matcher", "exhaustive")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["registered"] == 19 and report["images"] == 21
    reasons = {f["name"]: f["reason"] for f in report["failed"]}
    assert set(reasons) == {"zz_im.001.png", "zz_im.002.png"}
    for reason in reasons.values():
        assert "size 512x512 differs" in reason
        assert "matches only 1 other photo that could not be placed either" in reason


# ----------------------------------------------------------------------------- bad input
def test_missing_and_empty_folders(tmp_path, cli):
    result = cli("reconstruct", "sfm", tmp_path / "nope", "-o", tmp_path / "o")
    assert result.code == 2
    assert result.err.strip() == (f"error: {tmp_path / 'nope'}: no such folder — give a "
                                  "capture folder or a folder of photos")
    (tmp_path / "empty").mkdir()
    result = cli("reconstruct", "sfm", tmp_path / "empty", "-o", tmp_path / "o")
    assert result.code == 2 and "SfM needs at least 3 photos, found 0 readable photos" in \
        result.err
    assert len(result.err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_unreadable_photos_do_not_count(tmp_path, cli, shared_data):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(shared_data / "movi_house" / "im.001.png", folder / "a.png")
    (folder / "b.png").write_bytes(b"not a png")
    (folder / "c.jpg").write_bytes(b"")
    result = cli("reconstruct", "sfm", folder, "-o", tmp_path / "o")
    assert result.code == 2 and "found 1 readable photo —" in result.err


def test_bad_options_are_one_line(tmp_path, cli, shared_data):
    photos = shared_data / "movi_house"
    for args, message in [
        (["--intrinsics", "1,2,3"], "--intrinsics '1,2,3' is neither fx,fy,cx,cy nor a file"),
        (["--marker-size", "0.1", "--marker-dict", "7X7_9"], "unknown marker dictionary"),
        (["--matcher", "bogus"], "Invalid value for '--matcher'"),
        (["--marker-size", "-1"], "marker size must be positive, got -1.0"),
        (["--distance", "a.png", "b.png", "0"], "--distance must be positive"),
    ]:
        result = cli("--quiet", "reconstruct", "sfm", photos, "-o", tmp_path / "o", *args)
        assert result.code == 2, (args, result.err)
        assert message in result.err and len(result.err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_import_errors(tmp_path, cli):
    result = cli("reconstruct", "import", tmp_path, "-o", tmp_path / "o")
    assert result.code == 2 and "no COLMAP model here" in result.err
    (tmp_path / "t.json").write_text("{")
    result = cli("reconstruct", "import", tmp_path / "t.json", "-o", tmp_path / "o")
    assert result.code == 2 and "cannot read it as JSON" in result.err


def test_capture_folder_and_global_mapper(tmp_path, cli, shared_data):
    """A capture folder (capture.json) is read through its manifest; the global mapper
    (GLOMAP in pycolmap) places the photos too."""
    capture = tmp_path / "capture"
    assert cli("--quiet", "capture", "ingest", shared_data / "movi_house", "--out",
               capture).code == 0
    result = cli("--json", "reconstruct", "sfm", capture, "--mapper", "global")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["out"] == str(capture / "sfm") and report["mapper"] == "global"
    assert report["registered"] == report["images"] == 9
    cameras = read_cameras(capture / "sfm" / "cameras.json")
    assert all((capture / "sfm" / "images" / c.name).is_file() for c in cameras)
    assert cameras[0].name == "im.001.png"


def test_distance_and_fixed_intrinsics(tmp_path, cli, shared_data):
    """--distance sets metres from two camera positions; --intrinsics holds the camera."""
    result = cli("--json", "reconstruct", "sfm", shared_data / "movi_house", "-o",
                 tmp_path / "o", "--distance", "im.001.png", "im.005.png", "2.5",
                 "--intrinsics", "640,640,256,256")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["scale"]["method"] == "distance" and report["scale"]["unscaled"] is False
    cameras = {c.name: c for c in read_cameras(tmp_path / "o" / "cameras.json")}
    a, b = cameras["im.001.png"], cameras["im.005.png"]
    assert np.linalg.norm(a.center - b.center) == pytest.approx(2.5, rel=1e-9)
    assert {(c.fx, c.fy, c.cx, c.cy) for c in cameras.values()} == {(640, 640, 256, 256)}
    result = cli("--quiet", "reconstruct", "sfm", shared_data / "movi_house", "-o",
                 tmp_path / "p", "--distance", "im.001.png", "nope.png", "1")
    assert result.code == 2 and "--distance names 'nope.png', which is not a placed photo" \
        in result.err


def test_timeout_is_one_line(tmp_path, cli, shared_data):
    result = cli("--quiet", "reconstruct", "sfm", shared_data / "movi_house", "-o",
                 tmp_path / "o", "--timeout", "0.3")
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "no result after 0.3 s, stopped" in lines[0]
    assert not (tmp_path / "o").exists() and (tmp_path / "o.colmap.log").is_file()


def test_cameras_are_grouped_by_size_and_focal_prior(tmp_path):
    """Photos of another size or focal get their own camera (COLMAP's single-camera mode
    would drop them silently), and EXIF focal priors become camera parameters."""
    from setsplat.reconstruct.inputs import CaptureImages
    from setsplat.reconstruct.sfm import SfmOptions, _sfm_job

    sizes = {"a.jpg": (640, 480), "b.jpg": (640, 480), "c.jpg": (640, 480),
             "d.jpg": (480, 640)}
    images = CaptureImages(tmp_path, tmp_path, list(sizes), sizes,
                           focal_priors={"a.jpg": 500.0, "b.jpg": 501.0, "c.jpg": 800.0})
    job = _sfm_job(images, tmp_path, SfmOptions())
    groups = {tuple(g["names"]): g.get("camera_params") for g in job["groups"]}
    assert groups == {("a.jpg", "b.jpg"): "500.5,320.0,240.0,0.0",
                      ("c.jpg",): "800.0,320.0,240.0,0.0", ("d.jpg",): None}


def test_unrelated_photos_are_explained(tmp_path, cli, shared_data):
    """Three photos of three different scenes: no pair matches, exit 1, one line."""
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(shared_data / "movi_house" / "im.001.png", folder / "a.png")
    shutil.copy(shared_data / "templering" / "images" / "templeR0013.png", folder / "b.png")
    shutil.copy(STAGE / "images" / "stage_000.jpg", folder / "c.jpg")
    result = cli("--quiet", "reconstruct", "sfm", folder, "-o", tmp_path / "o")
    assert result.code == 1
    assert result.err.startswith("error: no two photos match (no pair has enough common"), \
        result.err
    assert len(result.err.strip().splitlines()) == 1 and not (tmp_path / "o").exists()
