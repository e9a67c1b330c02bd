"""SfM's coverage in the viewer: the outline at the photos' height with the places to
reshoot where the report puts them, the top-down map in the panel, and a report someone
tampered with never read from outside its folder nor refusing the view."""

from __future__ import annotations

import json
import shutil

import numpy as np

from setsplat.core.camera import read_cameras
from setsplat.core.io import ply
from setsplat.reconstruct.coverage import coverage_map, draw_coverage


def _run_with_coverage(trained_scan, root):
    """A copy of the trained scan whose SfM report says nothing saw the set's +x side."""
    sfm, train = root / "sfm", root / "train"
    shutil.copytree(trained_scan.parent / "sfm", sfm)
    train.mkdir()
    for name in ("scene.ply", "config.json"):
        shutil.copy(trained_scan / name, train / name)
    cameras = read_cameras(sfm / "cameras.json")
    points, _ = ply.read_points(sfm / "points.ply")
    middle = np.median(points[:, [0, 2]], axis=0)
    bearing = np.degrees(np.arctan2(*(points[:, [0, 2]] - middle).T)) % 360
    points = points[(bearing < 60) | (bearing > 120)]  # the +x side: as if never seen
    observers = [np.arange(len(cameras))] * len(points)
    coverage = coverage_map(cameras, points, observers, metric=True)
    draw_coverage(coverage, cameras, sfm / "coverage.png")
    coverage["png"] = "coverage.png"
    (sfm / "sfm_report.json").write_text(json.dumps({"coverage": coverage}))
    return root, cameras, coverage


def test_coverage_sits_in_the_scene_where_sfm_reported_it(trained_scan, tmp_path):
    from setsplat.view import Viewer, ViewOptions, open_target, show_target

    run, cameras, coverage = _run_with_coverage(trained_scan, tmp_path / "run")
    assert coverage["reshoot"], "the hidden side must be named"
    target = open_target(run / "train")
    overlay = target.coverage
    height = np.median([c.center[1] for c in cameras])
    assert overlay.segments.shape == (24, 2, 3)
    np.testing.assert_allclose(overlay.segments[:, :, 1], height)
    np.testing.assert_allclose(overlay.segments[:, 0, [0, 2]],
                               [s["outline_xz"] for s in coverage["sectors"]])
    assert overlay.status == [s["status"] for s in coverage["sectors"]]
    assert [text for text, _ in overlay.reshoot] == [r["where"] for r in coverage["reshoot"]]
    for (_, where), place in zip(overlay.reshoot, coverage["reshoot"]):
        assert where[0] > 0  # the +x side, the one no photo saw
        np.testing.assert_allclose(where[[0, 2]], place["around_xz"])
    assert overlay.top_down.shape[2] == 3 and overlay.top_down.shape[1] >= 640

    viewer = Viewer(ViewOptions(port=0), say=lambda _: None)
    try:
        show_target(viewer, target)
        outline = viewer.server.scene.get_handle_by_name("/coverage/outline")
        assert outline is not None and outline.visible
        assert viewer.server.scene.get_handle_by_name("/coverage/reshoot_0") is not None
    finally:
        viewer.stop()


def test_a_tampered_report_is_read_only_inside_its_folder(trained_scan, tmp_path):
    from setsplat.view import open_target

    run, _, coverage = _run_with_coverage(trained_scan, tmp_path / "run")
    report = run / "sfm" / "sfm_report.json"
    outside = tmp_path / "elsewhere.png"
    shutil.copy(run / "sfm" / "coverage.png", outside)
    coverage["png"] = "../../elsewhere.png"
    report.write_text(json.dumps({"coverage": coverage}))
    overlay = open_target(run / "train").coverage
    assert overlay is not None and overlay.top_down is None

    coverage["sectors"][3] = {"status": "ok"}  # no outline: the map is left out, not the view
    report.write_text(json.dumps({"coverage": coverage}))
    assert open_target(run / "train").coverage is None
    report.write_text("{not json")
    assert open_target(run / "train").coverage is None
