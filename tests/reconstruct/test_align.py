"""Similarity alignment, levelling and floor fitting on synthetic cameras and points."""

from __future__ import annotations

import numpy as np
import pytest

from setsplat.core.camera import Camera
from setsplat.core.rotation import random_rotations
from setsplat.reconstruct import align
from setsplat.reconstruct.colmap_io import cameras_of, model_from_cameras


def room_cameras(n: int = 12, seed: int = 0) -> list[Camera]:
    """Cameras at eye height (y = -1.6, RDF: y down) around a room, looking inwards."""
    rng = np.random.default_rng(seed)
    cameras = []
    for i in range(n):
        angle = 2 * np.pi * i / n
        eye = [2.5 * np.cos(angle), -1.6 + rng.normal(0, 0.1), 2.5 * np.sin(angle)]
        target = [rng.normal(0, 0.3), -0.8, rng.normal(0, 0.3)]
        cameras.append(Camera.look_at(eye, target, width=64, height=48, name=f"{i:02d}"))
    return cameras


def room_points(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    floor = np.column_stack([rng.uniform(-3, 3, 600), rng.normal(0, 0.002, 600),
                             rng.uniform(-3, 3, 600)])
    clutter = np.column_stack([rng.uniform(-1, 1, 300), rng.uniform(-1.5, 0, 300),
                               rng.uniform(-1, 1, 300)])
    return np.vstack([floor, clutter])


def moved(cameras, sim: align.Similarity):
    model = model_from_cameras(cameras).transformed(sim.scale, sim.rotation, sim.translation)
    return cameras_of(model)


def test_align_recovers_a_similarity():
    cameras = room_cameras()
    truth = align.Similarity(0.37, random_rotations(1, np.random.default_rng(3))[0],
                             np.array([1.0, -2.0, 0.5]))
    estimate = moved(cameras, truth)
    errors = align.pose_errors(estimate, cameras)
    assert errors.rotation_deg.max() < 1e-9
    assert errors.center.max() < 1e-9
    sim = align.align_cameras(estimate, cameras)
    assert sim.scale == pytest.approx(1 / 0.37)


def test_pose_errors_see_a_tilted_camera():
    cameras = room_cameras()
    tilted = room_cameras()
    tilt = np.eye(4)
    tilt[:3, :3] = align.rotation_between([0, 0, 1], [np.sin(0.01), 0, np.cos(0.01)])
    tilted[0].world_to_camera = tilt @ tilted[0].world_to_camera
    errors = align.pose_errors(tilted, cameras)
    assert errors.rotation_deg.max() == pytest.approx(np.degrees(0.01), rel=0.1)


def test_level_brings_the_floor_down():
    cameras, points = room_cameras(), room_points()
    tumble = align.Similarity(2.0, random_rotations(1, np.random.default_rng(5))[0],
                              np.array([3.0, 1.0, -2.0]))
    cams = moved(cameras, tumble)
    pts = tumble.apply(points)
    up = align.camera_up(cams)
    true_up = tumble.rotation @ np.array([0, -1.0, 0])
    assert angle_deg(up, true_up) < 5
    centers = np.stack([c.center for c in cams])
    floor = align.fit_floor(pts, up, centers, threshold=0.02)
    assert floor is not None and floor.inliers >= 580
    assert np.degrees(np.arccos(floor.normal @ true_up)) < 0.2
    rotation = align.level(floor.normal, cams[0].rotation[2])
    assert np.degrees(np.arccos((rotation @ true_up) @ [0, -1.0, 0])) < 0.2
    forward = rotation @ cams[0].rotation[2]
    assert forward[0] == pytest.approx(0, abs=1e-9) and forward[2] > 0


def test_level_turns_a_camera_facing_backwards():
    rotation = align.level(np.array([0, -1.0, 0]), np.array([0, 0, -1.0]))
    np.testing.assert_allclose(rotation @ [0, 0, -1.0], [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(rotation @ [0, -1.0, 0], [0, -1, 0], atol=1e-12)


def pitched_cameras(headings) -> list[Camera]:
    """Cameras all pitched 35° down, at the given headings (radians)."""
    cameras = []
    for i, yaw in enumerate(headings):
        eye = np.array([3 * np.sin(yaw) + 0.1 * i, -1.7, -3 * np.cos(yaw)])
        forward = np.array([-np.sin(yaw) * np.cos(0.61), np.sin(0.61),
                            np.cos(yaw) * np.cos(0.61)])
        cameras.append(Camera.look_at(eye, eye + forward, width=64, height=48))
    return cameras


def angle_deg(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.degrees(np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b),
                                              -1, 1))))


def test_camera_up_ignores_a_common_pitch():
    cameras = pitched_cameras(np.linspace(-0.5, 0.5, 7))
    assert angle_deg(align.camera_up(cameras), [0, -1, 0]) < 1e-6
    mean_of_ups = np.mean([-c.rotation[1] for c in cameras], 0)
    assert angle_deg(mean_of_ups, [0, -1, 0]) > 20  # what averaging the -y axes gives


def test_camera_up_from_one_heading_falls_back_to_the_mean():
    """One heading leaves the pitch unknowable from the cameras (the floor fixes it)."""
    cameras = pitched_cameras(np.zeros(5))
    mean_of_ups = np.mean([-c.rotation[1] for c in cameras], 0)
    assert angle_deg(align.camera_up(cameras), mean_of_ups) < 1e-6


def test_no_floor_without_points_below_the_cameras():
    cameras = room_cameras()
    ceiling = room_points()
    ceiling[:, 1] = -3.0 - ceiling[:, 1]  # everything above the cameras
    centers = np.stack([c.center for c in cameras])
    assert align.fit_floor(ceiling, np.array([0, -1.0, 0]), centers, 0.02) is None


def test_a_sparse_floor_beats_a_busy_table_top():
    """A scan of the walls: 8% of the points on the floor, twice as many on a table top
    (which, lying above a fifth of the points, cannot be the floor)."""
    rng = np.random.default_rng(4)
    floor = np.c_[rng.uniform(-2, 2, 240), np.zeros(240), rng.uniform(-2, 2, 240)]
    table = np.c_[rng.uniform(-0.5, 0.5, 480), np.full(480, -0.75), rng.uniform(-0.5, 0.5, 480)]
    walls = np.c_[rng.choice([-2.0, 2.0], 2280), rng.uniform(-2.5, 0, 2280),
                  rng.uniform(-2, 2, 2280)]
    points = np.concatenate([floor, table, walls])
    centers = np.c_[rng.uniform(-1, 1, 20), np.full(20, -1.6), rng.uniform(-1, 1, 20)]
    for seed in range(5):
        plane = align.fit_floor(points, np.array([0, -1.0, 0]), centers, 0.02, seed=seed)
        assert plane is not None and 240 <= plane.inliers < 300, seed  # + wall feet
        assert abs(plane.offset) < 0.005 and angle_deg(plane.normal, [0, -1.0, 0]) < 0.1
