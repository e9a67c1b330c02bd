"""The coverage map on synthetic scans whose truth we know: SfM's points stand in as the
surface points two or more photos see (ray cast, occlusion included)."""

from __future__ import annotations

import numpy as np
import pytest

from setsplat.capture.synth import SynthConfig, cameras
from setsplat.reconstruct.coverage import coverage_map, draw_coverage


def _seen_points(boxes, cams, rays=(48, 36), depth_size=(96, 72)):
    """Surface points on a coarse grid of rays from every photo, and which photos see each
    (in frame, not hidden: its depth agrees with that photo's depth map)."""
    from setsplat.capture.raycast import nearest
    from setsplat.capture.synth import _view

    def depth_map(camera, width):
        coarse = camera.scaled(width / camera.width)
        t, _ = nearest(boxes, _view(coarse, 1))
        return coarse, t

    maps = [depth_map(c, depth_size[0]) for c in cams]
    points = []
    for camera in cams:
        coarse, t = depth_map(camera, rays[0])
        v, u = np.nonzero(np.isfinite(t))
        rays_cam = np.stack([(u + 0.5 - coarse.cx) / coarse.fx, (v + 0.5 - coarse.cy) / coarse.fy,
                             np.ones(len(u))], 1) * t[v, u][:, None]
        points.append((rays_cam - coarse.world_to_camera[:3, 3]) @ coarse.world_to_camera[:3, :3])
    points = np.concatenate(points)
    observers = [[] for _ in points]
    for index, (coarse, t) in enumerate(maps):
        pixels, depth = coarse.project(points)
        u, v = np.floor(pixels).astype(int).T
        inside = (depth > 0) & (u >= 0) & (v >= 0) & (u < coarse.width) & (v < coarse.height)
        ok = np.zeros(len(points), bool)
        ok[inside] = np.abs(t[v[inside], u[inside]] - depth[inside]) < 0.03 * depth[inside]
        for i in np.flatnonzero(ok):
            observers[i].append(index)
    kept = [i for i, seen in enumerate(observers) if len(seen) >= 2]
    return points[kept], [np.array(observers[i]) for i in kept]


@pytest.fixture(scope="module")
def boxes():
    from setsplat.capture.stage_set import build_stage

    return build_stage(7).boxes


def _where_the_room_is_met(centre, bearing_deg: float) -> np.ndarray:
    """Where a level ray from ``centre`` along ``bearing_deg`` (0 along +z, 90 along +x)
    meets the stage room's walls (x = +-3, z = +-2.5)."""
    direction = np.array([np.sin(np.radians(bearing_deg)), np.cos(np.radians(bearing_deg))])
    reach = min((limit - np.sign(d) * c) / abs(d) for c, d, limit in
                zip(centre, direction, (3.0, 2.5)) if abs(d) > 1e-9)
    return np.asarray(centre) + reach * direction


PLANES = {"front": (1, -2.5), "right": (0, 3.0)}  # the wall's axis in (x, z) and where


@pytest.mark.parametrize("wall", ["front", "right"])
def test_a_wall_never_photographed_is_flagged_there_and_nowhere_else(boxes, wall, tmp_path):
    cams = cameras(SynthConfig(width=160, height=120, count=40, hide_wall=wall))
    points, observers = _seen_points(boxes, cams)
    coverage = coverage_map(cams, points, observers, metric=True)
    flagged = [s for s in coverage["sectors"] if s["status"] != "ok"]
    assert len(flagged) >= 3 and len(coverage["reshoot"]) == 1, coverage["reshoot"]
    axis, level = PLANES[wall]
    for sector in flagged:  # each looks at the hidden wall (or the corners beside it)
        met = _where_the_room_is_met(coverage["centre_xz"], np.mean(sector["bearing_deg"]))
        assert abs(met[axis] - level) < 1.0, (sector, met)
    run = coverage["reshoot"][0]
    assert abs(run["around_xz"][axis] - level) < 0.5, run  # named where the wall is
    assert run["side"] == {"front": "near", "right": "right"}[wall]
    draw_coverage(coverage, cams, tmp_path / "coverage.png")
    assert (tmp_path / "coverage.png").stat().st_size > 1000


def test_the_whole_scan_needs_no_reshoot(boxes):
    cams = cameras(SynthConfig(width=160, height=120, count=40))
    points, observers = _seen_points(boxes, cams)
    coverage = coverage_map(cams, points, observers, metric=True)
    assert coverage["reshoot"] == [], coverage["reshoot"]
    assert all(s["cameras"] >= 6 for s in coverage["sectors"])
    # 500 px focal length at 160 px wide is 125 px: 0.3-0.8 px/cm at 1.5-4 m
    assert all(0.2 < s["resolution"] < 1.5 for s in coverage["sectors"]), coverage["sectors"]
