"""Synthetic sample scans: byte-identical regeneration, truth that agrees with the pixels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from setsplat.capture.synth import SynthConfig, cameras, read_synth_record, synthesize
from setsplat.core.camera import Camera

SAMPLES = Path(__file__).resolve().parents[2] / "sample_scans"
STAGE, TINY = SAMPLES / "stage", SAMPLES / "tiny"


def _assert_same_bytes(generated: Path, committed: Path, names) -> None:
    for name in names:
        assert (generated / name).read_bytes() == (committed / name).read_bytes(), name


def test_stage_regenerates_byte_identically(tmp_path):
    """Photos from the start, middle and end of the bundled stage scan, and its truth, come
    out byte for byte (every photo is rendered alone, so these stand for the rest)."""
    record = read_synth_record(STAGE)
    config = SynthConfig.from_dict(record["options"])
    subset = synthesize(config, tmp_path / "some", indices=[0, 19, config.count - 1])
    assert len(subset["files"]) == 4 and "truth.json" in subset["files"]
    _assert_same_bytes(tmp_path / "some", STAGE, subset["files"])


def test_tiny_regenerates_and_any_subset_renders_identically(tmp_path, cli):
    record = read_synth_record(TINY)
    result = cli("--quiet", "capture", "synth", tmp_path / "all", "--like", TINY / "synth.json")
    assert result.code == 0, result.err
    regenerated = json.loads((tmp_path / "all" / "synth.json").read_text())
    assert regenerated["options"] == record["options"]
    assert regenerated["files"] == record["files"]
    _assert_same_bytes(tmp_path / "all", TINY, record["files"])
    config = SynthConfig.from_dict(record["options"])
    subset = synthesize(config, tmp_path / "some", indices=[7, 2])
    assert sorted(subset["files"]) == ["images/tiny_002.jpg", "images/tiny_007.jpg",
                                       "truth.json"]
    _assert_same_bytes(tmp_path / "some", TINY, subset["files"])
    assert not (tmp_path / "some" / "synth.json").exists()  # a subset is not a scan record


def test_stage_is_within_budget():
    record = read_synth_record(STAGE)
    options = record["options"]
    images = sorted((STAGE / "images").glob("*.jpg"))
    assert 30 <= len(images) <= 40 and options["count"] == len(images)
    assert (options["width"], options["height"]) == (640, 480) and options["markers"]
    total = sum(p.stat().st_size for p in STAGE.rglob("*") if p.is_file())
    assert total < 6_000_000, total
    tiny = sorted((TINY / "images").glob("*.jpg"))
    assert len(tiny) == 10 and sum(p.stat().st_size for p in tiny) < 300_000


def test_truth_cameras_are_in_the_room_and_level():
    truth = json.loads((STAGE / "truth.json").read_text())
    assert truth["frame"] == "rdf" and truth["units"] == "metres"
    assert truth["floor"] == {"normal": [0.0, -1.0, 0.0], "y": 0.0}
    assert truth["scene"]["room_size_m"] == [6.0, 2.7, 5.0]
    cams = [Camera.from_dict(c) for c in truth["cameras"]]
    assert [c.name for c in cams] == sorted(p.name for p in (STAGE / "images").glob("*.jpg"))
    for cam in cams:
        x, y, z = cam.center
        assert -3 < x < 3 and -2.7 < y < -1.0 and -2.5 < z < 2.5, cam.name
        # level: the camera's x axis has no vertical component
        assert abs(cam.rotation[0, 1]) < 1e-12
        assert cam.rotation[1, 1] > 0  # image down points world down (+y)
        np.testing.assert_allclose(cam.rotation @ cam.rotation.T, np.eye(3), atol=1e-12)
        assert (cam.fx, cam.cx, cam.cy) == (500.0, 320.0, 240.0)


def test_look_at_agrees_with_core_camera():
    for cam in cameras(SynthConfig())[:5]:
        target = cam.center + cam.rotation[2]
        ref = Camera.look_at(cam.center, target, width=640, height=480)
        np.testing.assert_allclose(cam.world_to_camera, ref.world_to_camera, atol=1e-12)


def test_markers_in_images_are_where_truth_projects_them():
    import cv2

    truth = json.loads((STAGE / "truth.json").read_text())
    markers = truth["markers"]
    assert markers["dictionary"] == "DICT_4X4_50" and markers["size_m"] == 0.2
    world = {m["id"]: np.array(m["corners_world"]) for m in markers["markers"]}
    for corners in world.values():
        assert np.all(corners[:, 1] == 0)  # on the floor
        sides = np.linalg.norm(np.roll(corners, -1, axis=0) - corners, axis=1)
        np.testing.assert_allclose(sides, 0.2, atol=1e-12)
    params = cv2.aruco.DetectorParameters()
    params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
    detector = cv2.aruco.ArucoDetector(
        cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50), params)
    errors, seen = [], set()
    for entry in truth["cameras"]:
        cam = Camera.from_dict(entry)
        found, ids, _ = detector.detectMarkers(cv2.imread(str(STAGE / "images" / cam.name)))
        for corners, marker_id in zip(found, [] if ids is None else ids.ravel()):
            assert int(marker_id) in world  # right id: the floor shows them unmirrored
            projected, _ = cam.project(world[int(marker_id)])
            # OpenCV puts pixel centres at integers, our cameras (COLMAP's) at +0.5
            errors.append(np.linalg.norm(corners[0] + 0.5 - projected, axis=1).max())
            seen.add(int(marker_id))
    assert seen == set(world) and len(errors) >= 12
    assert np.median(errors) < 1.0 and max(errors) < 4.0, (np.median(errors), max(errors))


def test_jpegs_carry_camera_exif():
    from PIL import Image

    from setsplat.capture.exif import read_camera_info

    with Image.open(STAGE / "images" / "stage_004.jpg") as image:
        info = read_camera_info(image)
    assert (info.make, info.model) == ("setsplat", "SynthCam S1")
    assert info.focal_length_mm == 5.0 and info.focal_length_35mm == 27
    assert info.sensor_width_mm == pytest.approx(6.4)
    assert info.timestamp == "2025-03-14T10:00:08"
    fx, source = info.focal_px(640, 480, rotated=False)
    assert fx == pytest.approx(500, rel=0.01) and "35mm" in source


@pytest.mark.parametrize(("args", "message"), [
    (["--marker-size", "0.21"], "marker size 0.21 m is not possible"),
    (["--count", "0"], "count must be at least 1"),
    (["--count", "3", "--only", "5"], "image indices [5] out of range"),
    (["--only", "a-b"], "--only"),
])
def test_synth_bad_options_are_one_line(cli, tmp_path, args, message):
    result = cli("capture", "synth", tmp_path / "out", *args)
    assert result.code == 2
    assert result.err.startswith("error: ") and message in result.err
    assert result.err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_shoot_options_record_their_truth(tmp_path):
    """Exposure drift changes the pixels by the recorded gains; the crew member's mask
    covers them; a hidden wall takes views away; the options off leave the record as it
    was."""
    base = SynthConfig(width=96, height=72, count=6, supersample=1, markers=False)
    plain = synthesize(base, tmp_path / "plain")
    assert not {"exposure_ev", "crew", "hide_wall"} & set(plain["options"])
    shot = SynthConfig.from_dict({**plain["options"], "exposure_ev": 1.0, "crew": 0.5})
    synthesize(shot, tmp_path / "shot")
    truth = json.loads((tmp_path / "shot" / "truth.json").read_text())["shoot"]
    assert len(truth["crew"]) == 3 and len(truth["linear_gains"]) == 6
    from PIL import Image

    for name, place in truth["crew"].items():
        keep = np.asarray(Image.open(tmp_path / "shot" / place["mask"])) > 127
        assert 0.02 < 1 - keep.mean() < 0.9, name  # the figure fills part of the frame
    name = next(n for n in truth["linear_gains"] if n not in truth["crew"])
    before = np.asarray(Image.open(tmp_path / "plain" / "images" / name), np.float64)
    after = np.asarray(Image.open(tmp_path / "shot" / "images" / name), np.float64)
    gains = np.asarray(truth["linear_gains"][name]) ** (1 / 2.2)
    unclipped = (before * gains < 240) & (before > 20)
    ratio = np.median(after[unclipped].reshape(-1) / before[unclipped].reshape(-1))
    assert ratio == pytest.approx(np.exp(np.log(gains).mean()), rel=0.05)
    assert len(cameras(SynthConfig(count=40, hide_wall="front"))) < 30
