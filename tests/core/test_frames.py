"""Frames and SH rotation: conversions are exact inverses and change nothing you can see."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from setsplat.core import frames, sh
from setsplat.core.camera import Camera
from setsplat.core.errors import SetsplatError
from setsplat.core.rotation import quat_to_matrix, random_rotations
from setsplat.core.scene import GaussianScene

FRAME_NAMES = sorted(frames.FRAMES)
PAIRS = list(itertools.product(FRAME_NAMES, FRAME_NAMES))
seeds = st.integers(0, 2**32 - 1)


def _scene(seed: int, frame: str = "rdf", n: int = 50, degree: int = 3) -> GaussianScene:
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(n, 4))
    return GaussianScene(rng.uniform(-3, 3, (n, 3)), q / np.linalg.norm(q, axis=1)[:, None],
                         rng.uniform(-3, 0, (n, 3)), rng.normal(size=n),
                         rng.normal(size=(n, (degree + 1) ** 2, 3)), frame=frame)


def _covariances(scene: GaussianScene) -> np.ndarray:
    r = quat_to_matrix(scene.quats.astype(np.float64))
    s2 = np.exp(2 * scene.log_scales.astype(np.float64))
    return np.einsum("nij,nj,nkj->nik", r, s2, r)


def test_frame_table_matches_design():
    assert frames.RDF.handedness == "right"
    assert frames.YUP.handedness == "right"
    assert frames.UNITY.handedness == "left"
    assert frames.UNREAL.handedness == "left"
    assert frames.UNREAL.meters_per_unit == 0.01
    np.testing.assert_array_equal(frames.RDF.up, [0, -1, 0])
    np.testing.assert_array_equal(frames.YUP.up, [0, 1, 0])
    np.testing.assert_array_equal(frames.UNREAL.up, [0, 0, 1])
    # A point 1 m forward and 2 m up of the origin, in each frame's own numbers.
    point = frames.convert_points(np.array([[0.0, -2.0, 1.0]]), "rdf", "yup")
    np.testing.assert_allclose(point, [[0, 2, -1]])
    np.testing.assert_allclose(frames.convert_points(point, "yup", "unity"), [[0, 2, 1]])
    np.testing.assert_allclose(frames.convert_points(point, "yup", "unreal"), [[100, 0, 200]])


def test_unknown_frame_is_a_clear_error():
    with pytest.raises(SetsplatError, match="unknown frame 'zup'.*use one of"):
        frames.get_frame("zup")


@settings(max_examples=25, deadline=None)
@given(seed=seeds, pair=st.sampled_from(PAIRS))
def test_round_trip_is_identity(seed, pair):
    src, dst = pair
    scene = _scene(seed, src)
    back = frames.convert_scene(frames.convert_scene(scene, dst), src)
    assert back.frame.name == src
    np.testing.assert_allclose(back.means, scene.means, atol=1e-5)
    np.testing.assert_allclose(back.log_scales, scene.log_scales, atol=1e-5)
    np.testing.assert_allclose(back.sh, scene.sh, atol=1e-5)
    # q and -q are the same rotation
    dots = np.abs(np.sum(back.quats * scene.quats, axis=1))
    np.testing.assert_allclose(dots, 1, atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(seed=seeds, pair=st.sampled_from(PAIRS))
def test_conversion_moves_geometry_and_color_together(seed, pair):
    """Covariances transform as s²QΣQᵀ, and SH seen along d equals SH seen along Q d."""
    src, dst = pair
    scene = _scene(seed, src)
    out = frames.convert_scene(scene, dst)
    scale, q = frames.frame_change(src, dst)
    np.testing.assert_allclose(out.means, scale * scene.means @ q.T, atol=1e-4)
    expected = scale**2 * np.einsum("ij,njk,lk->nil", q, _covariances(scene), q)
    error = np.abs(_covariances(out) - expected).max(axis=(1, 2))
    assert np.all(error <= 1e-5 * np.abs(expected).max(axis=(1, 2)))  # float32 storage
    dirs = np.random.default_rng(seed).normal(size=(len(scene), 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    np.testing.assert_allclose(sh.eval_sh(out.sh, dirs @ q.T), sh.eval_sh(scene.sh, dirs),
                               atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(seed=seeds, degree=st.integers(0, 3), reflect=st.booleans())
def test_sh_rotation_for_random_rotations(seed, degree, reflect):
    rng = np.random.default_rng(seed)
    q = random_rotations(1, rng)[0] * (-1 if reflect else 1)
    coeffs = rng.normal(size=(30, (degree + 1) ** 2, 3)).astype(np.float32)
    dirs = rng.normal(size=(30, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    rotated = sh.transform_sh(coeffs, q)
    np.testing.assert_allclose(sh.eval_sh(rotated, dirs @ q.T), sh.eval_sh(coeffs, dirs),
                               atol=1e-5)


def test_sh_matrices_are_an_exact_orthogonal_representation():
    rng = np.random.default_rng(1)
    a, b = random_rotations(2, rng)
    ma, mb = sh.sh_transform_matrix(a, 3), sh.sh_transform_matrix(b, 3)
    np.testing.assert_allclose(ma @ ma.T, np.eye(16), atol=1e-12)
    np.testing.assert_allclose(sh.sh_transform_matrix(a @ b, 3), ma @ mb, atol=1e-12)
    # A reflection through the origin flips odd bands only.
    parity = np.diag(sh.sh_transform_matrix(-np.eye(3), 3))
    np.testing.assert_allclose(parity, [1, -1, -1, -1] + [1] * 5 + [-1] * 7, atol=1e-12)


def test_degree_one_rotation_matches_the_closed_form():
    """Band 1 of the 3DGS basis is (-y, z, -x): it must rotate like a vector."""
    angle = 0.7
    rz = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0],
                   [0, 0, 1]])
    band = sh.sh_transform_matrix(rz, 1)[1:, 1:]
    to_vec = np.array([[0, 0, -1], [-1, 0, 0], [0, 1, 0]])  # (c_-1, c_0, c_1) -> (x, y, z)
    np.testing.assert_allclose(to_vec @ band @ np.linalg.inv(to_vec), rz, atol=1e-12)


@pytest.mark.parametrize(("src", "dst"), PAIRS)
def test_converted_camera_sees_the_same_image_geometry(src, dst):
    """Projected centres, 2D footprints and view-dependent color survive conversion."""
    scene = _scene(7, src, n=40)
    scene = scene.replace(means=scene.means * 0.2)
    camera = Camera.look_at([0.5, 0.3, -6.0], [0, 0, 0], width=64, height=48, frame="rdf")
    w2c = frames.convert_world_to_camera(camera.world_to_camera, "rdf", src)
    out = frames.convert_scene(scene, dst)
    w2c_out = frames.convert_world_to_camera(w2c, src, dst)

    def footprint(s: GaussianScene, view: np.ndarray):
        cam = s.means.astype(np.float64) @ view[:3, :3].T + view[:3, 3]
        px = cam[:, :2] / cam[:, 2:] * 50
        cov = np.einsum("ij,njk,lk->nil", view[:3, :3], _covariances(s), view[:3, :3])
        cov = cov / cam[:, 2, None, None] ** 2  # scale-free part of the EWA Jacobian
        dirs = s.means - (-view[:3, :3].T @ view[:3, 3])  # from the camera centre
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        return px, cov, sh.eval_sh(s.sh, dirs)

    for a, b in zip(footprint(scene, w2c), footprint(out, w2c_out)):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("frame", FRAME_NAMES)
def test_camera_pose_in_each_convention_is_a_rotation(frame):
    camera = Camera.look_at([1.0, -1.5, -4.0], [0, 0, 0], width=32, height=32)
    axes = "FRU" if frame == "unreal" else "RUF" if frame == "unity" else "RUB"
    pose = camera.pose_in(frame, axes)
    np.testing.assert_allclose(pose[:3, :3] @ pose[:3, :3].T, np.eye(3), atol=1e-12)
    assert np.linalg.det(pose[:3, :3]) == pytest.approx(1)
    # the camera's local forward axis points at the origin in every convention
    local_forward = frames.axes_basis(axes) @ np.array([0, 0, 1.0])
    forward = pose[:3, :3] @ local_forward
    to_origin = -pose[:3, 3] / np.linalg.norm(pose[:3, 3])
    np.testing.assert_allclose(forward, to_origin, atol=1e-9)


def test_guess_up_finds_a_floor():
    rng = np.random.default_rng(3)
    floor = np.c_[rng.uniform(-2, 2, 4000), np.full(4000, 1.5), rng.uniform(-2, 2, 4000)]
    stuff = rng.uniform(-2, 1.5, (2000, 3))
    up, confidence = frames.guess_up(np.r_[floor, stuff])
    np.testing.assert_array_equal(up, [0, -1, 0])  # floor at +y: RDF up is -y
    assert confidence > 2


def test_guess_up_finds_a_sharp_floor_among_fuzzy_walls():
    """A trained set in RDF (metres, floor at y = 0, up is -y), shaped like the trained
    stage scan: the floor a sheet about 1 cm thick; the back and side walls hold more
    splats, spread a few centimetres deep; faint fuzz in front of the back wall and
    faint floaters under the floor. Counting every splat in the bottom 5 % of each
    axis picked the back wall (-z)."""
    rng = np.random.default_rng(7)

    def spread(count, axis, centre, sigma, low=(-3, -2.4, -3), high=(4, 0, 3)):
        points = rng.uniform(low, high, (count, 3))
        points[:, axis] = rng.normal(centre, sigma, count)
        return points

    floor = np.r_[spread(2300, 1, 0.005, 0.003), spread(1600, 1, 0.005, 0.03)]
    walls = np.r_[spread(9000, 2, 3.12, 0.04), spread(6000, 0, 2.24, 0.04)]
    props = rng.uniform([-2, -2, -2], [2, 0, 2], (3000, 3))
    fuzz = rng.uniform([-3, -2.4, 2.8], [4, 0, 3.1], (3000, 3))
    below = rng.uniform([-3, 0.02, -3], [4, 0.5, 3], (300, 3))
    points = np.concatenate([floor, walls, props, fuzz, below])
    opacities = np.r_[np.full(len(floor) + len(walls) + len(props), 0.9),
                      np.full(len(fuzz) + len(below), 0.2)]
    up, confidence = frames.guess_up(points, opacities)
    np.testing.assert_array_equal(up, [0, -1, 0])
    assert confidence >= 1.5
