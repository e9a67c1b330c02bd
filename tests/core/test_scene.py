from __future__ import annotations

import numpy as np
import pytest

from setsplat.core.errors import SetsplatError
from setsplat.core.rotation import quat_to_matrix
from setsplat.core.scene import GaussianScene


def test_validation_coerces_and_normalises(scene_factory):
    scene = scene_factory(10, degree=1)
    doubled = GaussianScene(scene.means.astype(np.float64), scene.quats * 3, scene.log_scales,
                            scene.opacity_logits, scene.sh)
    assert doubled.means.dtype == np.float32 and doubled.means.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(doubled.quats, axis=1), 1, atol=1e-6)
    np.testing.assert_allclose(doubled.quats, scene.quats, atol=1e-6)
    # already-unit quaternions are left bit-for-bit alone (idempotent normalisation)
    again = GaussianScene(doubled.means, doubled.quats, doubled.log_scales,
                          doubled.opacity_logits, doubled.sh)
    assert again.quats.tobytes() == doubled.quats.tobytes()
    assert scene.sh_degree == 1 and len(scene) == 10


def test_numba_and_numpy_normalise_to_the_same_bits(monkeypatch):
    from setsplat.core import _unit_quats

    rng = np.random.default_rng(5)
    quats = (rng.normal(size=(20_000, 4)) * rng.uniform(0.01, 100, (20_000, 1))
             ).astype(np.float32)
    quats[:100] /= np.linalg.norm(quats[:100], axis=1, keepdims=True)  # near unit: kept
    quats[100:103] = 0
    slow, slow_zeros = _unit_quats.unit_quaternions(quats, 1e-6)
    monkeypatch.setattr(_unit_quats, "NUMBA_THRESHOLD", 1)
    fast, fast_zeros = _unit_quats.unit_quaternions(quats, 1e-6)
    assert slow_zeros == fast_zeros == 3
    assert slow.tobytes() == fast.tobytes()
    assert fast[:103].tobytes() == quats[:103].tobytes()
    np.testing.assert_allclose(np.linalg.norm(fast[103:], axis=1), 1, atol=1e-6)
    unit, _ = _unit_quats.unit_quaternions(fast[103:], 1e-6)
    assert unit.tobytes() == fast[103:].tobytes()  # idempotent


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"means": np.zeros((10, 2))}, r"means has shape \(10, 2\), expected \(N, 3\)"),
        ({"quats": np.ones((9, 4))}, r"quats has shape \(9, 4\), expected \(N, 4\) with N=10"),
        ({"sh": np.zeros((10, 5, 3))}, r"sh has shape \(10, 5, 3\).*SH degree must be 0..3"),
        ({"sh": np.zeros((10, 25, 3))}, r"25 SH coefficients.*SH degree must be 0..3"),
        ({"opacity_logits": np.full(10, np.nan)}, "10 splats have NaN or infinite opacity"),
        ({"quats": np.zeros((10, 4))}, "10 splats have a zero rotation quaternion"),
        ({"means": [["a", "b", "c"]] * 10}, "means is not numeric"),
    ],
)
def test_validation_errors_say_what_is_wrong(scene_factory, change, message):
    scene = scene_factory(10, degree=1)
    fields = {k: getattr(scene, k) for k in ("means", "quats", "log_scales", "opacity_logits",
                                             "sh")}
    fields.update(change)
    with pytest.raises(SetsplatError, match=message):
        GaussianScene(**fields)


def test_inf_in_one_splat_is_found_even_when_the_fast_sum_overflows(scene_factory):
    scene = scene_factory(10)
    means = scene.means.copy()
    means[3, 1] = np.inf
    with pytest.raises(SetsplatError, match="1 splats have NaN or infinite means"):
        scene.replace(means=means)
    huge = np.full((10, 3), 3e38, np.float32)  # finite, but sums to inf
    assert np.array_equal(scene.replace(means=huge).means, huge)


def test_subset_and_concat(scene_factory):
    a = scene_factory(30, degree=3, seed=1)
    b = scene_factory(20, degree=1, seed=2)
    mask = np.arange(30) % 3 == 0
    picked = a.subset(mask)
    assert len(picked) == 10
    np.testing.assert_array_equal(picked.sh, a.sh[mask])
    both = GaussianScene.concat([a, b])
    assert len(both) == 50 and both.sh_degree == 3
    np.testing.assert_array_equal(both.sh[30:, :4], b.sh)
    assert not both.sh[30:, 4:].any()
    with pytest.raises(SetsplatError, match="different frames"):
        GaussianScene.concat([a, scene_factory(5, frame="yup")])
    with pytest.raises(SetsplatError, match="mask has"):
        a.subset(np.ones(3, bool))


def test_extras_follow_subset_and_concat(scene_factory):
    a = scene_factory(4)
    a.extras["label"] = np.arange(4, dtype=np.uint8)
    assert a.subset([3, 1]).extras["label"].tolist() == [3, 1]
    assert GaussianScene.concat([a, a]).extras["label"].tolist() == [0, 1, 2, 3] * 2
    assert "label" not in GaussianScene.concat([a, scene_factory(2)]).extras


def test_transform_matrix_equals_parts(scene_factory):
    scene = scene_factory(50, seed=4)
    angle = 0.3
    rotation = np.array([[1, 0, 0], [0, np.cos(angle), -np.sin(angle)],
                         [0, np.sin(angle), np.cos(angle)]])
    matrix = np.eye(4)
    matrix[:3, :3] = 2.5 * rotation
    matrix[:3, 3] = [1, 2, 3]
    by_matrix = scene.transform(matrix)
    by_parts = scene.transform(rotation=rotation, translation=[1, 2, 3], scale=2.5)
    np.testing.assert_allclose(by_matrix.means, by_parts.means, atol=1e-6)
    np.testing.assert_allclose(by_matrix.means, 2.5 * scene.means @ rotation.T + [1, 2, 3],
                               atol=1e-5)
    np.testing.assert_allclose(by_matrix.log_scales, scene.log_scales + np.log(2.5), atol=1e-6)
    np.testing.assert_allclose(quat_to_matrix(by_matrix.quats),
                               rotation @ quat_to_matrix(scene.quats), atol=1e-5)
    assert by_matrix.frame == scene.frame
    shear = np.eye(4)
    shear[0, 1] = 0.5
    with pytest.raises(SetsplatError, match="shear or non-uniform scale"):
        scene.transform(shear)


def test_bounds(scene_factory):
    scene = scene_factory(1000, spread=1.0)
    low, high = scene.bounds()
    np.testing.assert_array_equal(low, scene.means.min(0))
    robust_low, robust_high = scene.bounds(percentile=5)
    assert np.all(robust_low > low) and np.all(robust_high < high)
    with pytest.raises(SetsplatError, match="no splats"):
        GaussianScene.empty().bounds()


def test_torch_round_trip_is_exact(scene_factory):
    scene = scene_factory(64, degree=2)
    tensors = scene.to_torch()
    assert tensors["sh"].shape == (64, 9, 3)
    back = GaussianScene.from_torch(tensors, frame=scene.frame)
    for name in ("means", "quats", "log_scales", "opacity_logits", "sh"):
        assert getattr(back, name).tobytes() == getattr(scene, name).tobytes()


def test_with_sh_degree(scene_factory):
    scene = scene_factory(5, degree=2)
    assert scene.with_sh_degree(0).sh.shape == (5, 1, 3)
    padded = scene.with_sh_degree(3)
    assert padded.sh.shape == (5, 16, 3)
    np.testing.assert_array_equal(padded.sh[:, :9], scene.sh)
