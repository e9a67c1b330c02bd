"""Camera paths: keyframe interpolation, presets against the set's bounds, camera
conventions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from setsplat.core.errors import SetsplatError
from setsplat.core.rotation import matrix_to_quat
from setsplat.shots.model import Lens
from setsplat.shots.paths import (
    Pose,
    SetGeometry,
    evaluate,
    keyframe_spec,
    look_rotation,
    parse_path,
    preset_spec,
)

from .conftest import known_set

FRAMES = range(1001, 1025)


@pytest.fixture(scope="module")
def geometry():
    return SetGeometry.from_scene(known_set())


def _forward(pose: Pose) -> np.ndarray:
    return -pose.rotation[:, 2]


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return math.degrees(math.atan2(np.linalg.norm(np.cross(a, b)), np.dot(a, b)))


def test_geometry_of_the_known_set(geometry):
    assert geometry.floor == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose(geometry.low[[0, 2]], [-1.975, -2.975], atol=0.06)
    np.testing.assert_allclose(geometry.high[[0, 1]], [1.975, 2.475], atol=0.06)
    assert geometry.reach == pytest.approx(1.95, abs=0.06)


def test_keyframes_pass_through_keys_and_ease(geometry):
    spec = keyframe_spec({"keys": [
        {"frame": 1001, "position": [0, 1, 0], "look_at": [0, 1, -3], "focal_mm": 24},
        {"frame": 1011, "position": [1, 1.5, -1], "look_at": [0.5, 1, -3]},
        {"frame": 1021, "position": [2, 1, 0], "look_at": [1, 1, -3], "focal_mm": 50}]})
    poses = evaluate(spec, range(1001, 1022), 35.0)
    for index, key in ((0, spec["keys"][0]), (10, spec["keys"][1]), (20, spec["keys"][2])):
        np.testing.assert_allclose(poses[index].position, key["position"], atol=1e-12)
        target = np.array(key["look_at"]) - key["position"]
        assert _angle_deg(_forward(poses[index]), target) < 1e-6
    assert [poses[0].focal_mm, poses[10].focal_mm, poses[20].focal_mm] == pytest.approx(
        [24, 35, 50])
    # easing: the first and last steps are much shorter than the middle ones
    steps = np.linalg.norm(np.diff([p.position for p in poses], axis=0), axis=1)
    assert steps[0] < 0.4 * steps[9] and steps[-1] < 0.4 * steps[9]
    # every rotation is proper and level (no roll: the camera's x axis stays horizontal)
    for pose in poses:
        np.testing.assert_allclose(pose.rotation.T @ pose.rotation, np.eye(3), atol=1e-12)
        assert np.linalg.det(pose.rotation) == pytest.approx(1)
        assert abs(pose.rotation[1, 0]) < 1e-12


def test_rotation_keys_are_slerped():
    quarter = matrix_to_quat(look_rotation(np.zeros(3), np.array([-1.0, 0, 0])))
    spec = keyframe_spec({"ease": False, "keys": [
        {"frame": 0, "position": [0, 0, 0], "rotation": [1, 0, 0, 0]},
        {"frame": 10, "position": [0, 0, 0], "rotation": quarter.tolist()},
        {"frame": 20, "position": [0, 0, 0], "rotate_xyz": [0, 180, 0]}]})
    poses = evaluate(spec, range(21), 35.0)
    # constant angular speed of 9 degrees a frame around +Y, and the keys are met
    for frame, pose in enumerate(poses):
        expected = np.array([-math.sin(math.radians(9 * frame)), 0,
                             -math.cos(math.radians(9 * frame))])
        np.testing.assert_allclose(_forward(pose), expected, atol=1e-9)


def test_presets_move_as_named(geometry):
    focal = 35.0
    static = evaluate(preset_spec("static", {}, geometry), FRAMES, focal)
    assert all(np.allclose(p.position, static[0].position) for p in static)
    pivot_height = min(1.2, 0.4 * geometry.height)
    assert _forward(static[0])[1] < 0  # eye above the target: looking slightly down

    dolly = evaluate(preset_spec("dolly-in", {"amount": 0.8}, geometry), FRAMES, focal)
    travel = dolly[-1].position - dolly[0].position
    assert np.linalg.norm(travel) == pytest.approx(0.8)
    assert travel[1] == pytest.approx(0) and travel[2] < 0  # towards the wall, on the level
    assert np.allclose(dolly[0].rotation, dolly[-1].rotation)

    truck = evaluate(preset_spec("truck", {"amount": 0.5, "azimuth": 90}, geometry), FRAMES,
                     focal)
    side = truck[-1].position - truck[0].position
    np.testing.assert_allclose(side / 0.5, truck[0].rotation[:, 0] * [1, 0, 1] /
                               np.linalg.norm(truck[0].rotation[[0, 2], 0]), atol=1e-9)

    crane = preset_spec("crane-up", {"amount": 0.5}, geometry)
    poses = evaluate(crane, FRAMES, focal)
    assert poses[-1].position[1] - poses[0].position[1] == pytest.approx(0.5)
    for pose in poses:  # the pivot stays in the middle of the frame
        assert _angle_deg(_forward(pose), np.array(crane["pivot"]) - pose.position) < 1e-6

    orbit = preset_spec("orbit", {"degrees": 90, "distance": 1.0}, geometry)
    poses = evaluate(orbit, FRAMES, focal)
    pivot = np.array(orbit["pivot"])
    assert pivot[1] == pytest.approx(geometry.floor + pivot_height)
    radii = [np.linalg.norm((p.position - pivot)[[0, 2]]) for p in poses]
    np.testing.assert_allclose(radii, 1.0, atol=1e-9)
    turned = _angle_deg((poses[0].position - pivot) * [1, 0, 1],
                        (poses[-1].position - pivot) * [1, 0, 1])
    assert turned == pytest.approx(90)
    for pose in poses:
        assert _angle_deg(_forward(pose), pivot - pose.position) < 1e-6


def test_pose_camera_round_trips_through_conventions():
    rotation = look_rotation(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, -2.0]))
    pose = Pose(np.array([1.0, 2.0, 3.0]), rotation, 50.0)
    camera = pose.camera(64, 36, Lens(50.0, (36.0, 20.25)))
    usd = camera.pose_in("yup", "RUB")
    np.testing.assert_allclose(usd[:3, :3], rotation, atol=1e-12)
    np.testing.assert_allclose(usd[:3, 3], pose.position, atol=1e-12)
    assert camera.focal_length_mm(36.0) == pytest.approx(50.0)
    assert (camera.cx, camera.cy) == (32, 18) and camera.fx == pytest.approx(camera.fy)
    # a point straight ahead projects to the image centre
    pixel, depth = camera.project((pose.position - 2 * rotation[:, 2])[None])
    np.testing.assert_allclose(pixel[0], [32, 18], atol=1e-9)
    assert depth[0] == pytest.approx(2)


@pytest.mark.parametrize(("keys", "message"), [
    ([], "no keyframes"),
    ([{"frame": 1, "position": [0, 0, 0]}], "exactly one of"),
    ([{"frame": 1, "position": [0, 0], "look_at": [0, 0, -1]}], "position must be 3"),
    ([{"frame": 2, "position": [0, 0, 0], "look_at": [0, 0, -1]},
      {"frame": 1, "position": [0, 0, 0], "look_at": [0, 0, -1]}], "must increase"),
    ([{"frame": 1, "position": [0, 0, 0], "look_at": [0, 5, 0]}], "straight up or down"),
    ([{"frame": 1, "position": [0, 0, 0], "look_at": [0, 0, -1], "fov": 3}], "unknown field"),
])
def test_bad_keyframes(keys, message):
    with pytest.raises(SetsplatError, match=message):
        keyframe_spec({"keys": keys})


def test_path_argument_parsing(tmp_path):
    assert parse_path("orbit:degrees=90, distance=2") == ("orbit", {"degrees": 90.0,
                                                                     "distance": 2.0})
    assert parse_path("Dolly-In") == ("dolly-in", {})
    assert parse_path(str(tmp_path / "keys.yaml")) == tmp_path / "keys.yaml"
    with pytest.raises(SetsplatError, match="orbit takes no parameter"):
        parse_path("orbit:amount=2")
    with pytest.raises(SetsplatError, match="neither a preset"):
        parse_path("spin")


def test_presets_face_the_set_from_where_it_was_scanned(geometry):
    from setsplat.core.camera import Camera
    from setsplat.shots.paths import capture_azimuth

    def photo(x, z):
        return Camera.look_at([x, 1.5, z], [0, 1, -1], width=64, height=48, frame="yup")

    from_the_left = [photo(-2.0, -0.5), photo(-1.8, -1.5), photo(-1.9, -1.0)]
    assert capture_azimuth(from_the_left, geometry) == pytest.approx(-90, abs=3)
    around = [photo(1.5, -1), photo(-1.5, -1), photo(0, 0.5), photo(0, -2.5)]
    assert capture_azimuth(around, geometry) is None
    assert capture_azimuth([], geometry) is None
