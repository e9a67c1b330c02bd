import numpy as np

from setsplat.core.rotation import (
    is_rotation,
    matrix_to_quat,
    quat_multiply,
    quat_to_matrix,
    random_rotations,
)


def test_matrix_quaternion_round_trip_including_half_turns():
    rng = np.random.default_rng(0)
    mats = np.concatenate([random_rotations(500, rng),
                           np.diag([1.0, -1, -1])[None], np.diag([-1.0, 1, -1])[None],
                           np.diag([-1.0, -1, 1])[None], np.eye(3)[None]])
    quats = matrix_to_quat(mats)
    np.testing.assert_allclose(np.linalg.norm(quats, axis=1), 1, atol=1e-12)
    assert np.all(quats[:, 0] >= 0)
    np.testing.assert_allclose(quat_to_matrix(quats), mats, atol=1e-12)
    assert all(is_rotation(m) for m in mats[:10])
    assert not is_rotation(-mats[0])


def test_quaternion_product_composes_rotations():
    rng = np.random.default_rng(1)
    a, b = random_rotations(2, rng)
    qa, qb = matrix_to_quat(a), matrix_to_quat(b)
    np.testing.assert_allclose(quat_to_matrix(quat_multiply(qa, qb)), a @ b, atol=1e-12)
