"""SfM on the synthetic stage scan (40 photos, ArUco markers on the floor, exact truth)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from setsplat.core.camera import read_camera_meta, read_cameras
from setsplat.reconstruct.align import align_cameras, pose_errors
from tests.reconstruct.helpers import STAGE, stage_truth


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    """One SfM run of the stage scan through the CLI, with its 0.2 m markers."""
    import contextlib
    import io

    from setsplat.cli.main import run

    out = tmp_path_factory.mktemp("stage") / "sfm"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = run(["--json", "reconstruct", "sfm", str(STAGE / "images"), "-o", str(out),
                    "--marker-size", "0.2", "--marker-dict", "4X4_50"])
    assert code == 0
    return out, json.loads(stdout.getvalue()), stage_truth()


def test_every_photo_registers(stage):
    out, report, truth = stage
    assert report["registered"] == report["images"] == len(truth) == 40
    assert report["failed"] == []
    assert {c.name for c in read_cameras(out / "cameras.json")} == set(truth)


def test_poses_match_truth(stage):
    out, _, truth = stage
    cameras = read_cameras(out / "cameras.json")
    errors = pose_errors(cameras, [truth[c.name] for c in cameras])
    assert errors.rotation_deg.max() <= 0.5, errors.summary()
    assert errors.center.max() <= 0.01 * errors.scene_size, errors.summary()


def test_metric_scale_from_markers(stage):
    out, report, truth = stage
    assert report["scale"]["method"] == "markers" and report["scale"]["unscaled"] is False
    assert [m["id"] for m in report["scale"]["markers"] if m["used"]]
    assert read_camera_meta(out / "cameras.json")["unscaled"] is False
    cameras = read_cameras(out / "cameras.json")
    similarity = align_cameras(cameras, [truth[c.name] for c in cameras])
    assert similarity.scale == pytest.approx(1.0, abs=0.02)


def test_upright_floor_down(stage):
    """Our up (-y) is the truth's up, and the floor is at y = 0."""
    out, report, truth = stage
    assert report["upright"]["method"] == "floor"
    cameras = read_cameras(out / "cameras.json")
    similarity = align_cameras(cameras, [truth[c.name] for c in cameras])
    up = similarity.rotation @ np.array([0.0, -1.0, 0.0])
    assert np.degrees(np.arccos(np.clip(up @ [0.0, -1.0, 0.0], -1, 1))) <= 2.0
    heights = np.array([-c.center[1] for c in cameras])  # metres above our floor
    true_heights = np.array([-truth[c.name].center[1] for c in cameras])
    np.testing.assert_allclose(heights, true_heights, atol=0.05)


def test_coverage_and_exposure_are_reported(stage):
    """Every side of the stage room was photographed often enough; one camera, one
    exposure: the photos agree."""
    out, report, _ = stage
    coverage = report["coverage"]
    assert coverage["reshoot"] == [] and coverage["resolution_unit"] == "px/cm"
    assert all(s["cameras"] >= 3 and s["resolution"] > 0.5 for s in coverage["sectors"])
    assert (out / "coverage.png").is_file()
    photometric = report["photometric"]
    assert not photometric["varies"] and max(photometric["spread_stops"]) < 0.05
    assert len(photometric["offsets_stops"]) == 40
