"""Quaternions (w, x, y, z) and rotation matrices, vectorised over leading axes."""

from __future__ import annotations

import numpy as np


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Unit quaternions (..., 4) w,x,y,z -> rotation matrices (..., 3, 3)."""
    w, x, y, z = np.moveaxis(np.asarray(q), -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) -> unit quaternions (..., 4) w,x,y,z with w >= 0.

    Shepperd's method: pick the largest of the four squared components so the
    division is always well conditioned.
    """
    m = np.asarray(m, dtype=np.float64)
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    squares = np.stack(
        [1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1
    )
    pick = np.argmax(squares, axis=-1)
    big = np.sqrt(np.maximum(np.take_along_axis(squares, pick[..., None], -1)[..., 0], 1e-300))
    s = 0.5 / big
    t = np.swapaxes(m, -1, -2)
    d21, d02, d10 = (m - t)[..., 2, 1], (m - t)[..., 0, 2], (m - t)[..., 1, 0]
    s21, s02, s10 = (m + t)[..., 2, 1], (m + t)[..., 0, 2], (m + t)[..., 1, 0]
    candidates = np.stack(
        [
            np.stack([0.5 * big, d21 * s, d02 * s, d10 * s], -1),
            np.stack([d21 * s, 0.5 * big, s10 * s, s02 * s], -1),
            np.stack([d02 * s, s10 * s, 0.5 * big, s21 * s], -1),
            np.stack([d10 * s, s02 * s, s21 * s, 0.5 * big], -1),
        ],
        -2,
    )
    q = np.take_along_axis(candidates, pick[..., None, None], -2)[..., 0, :]
    return q * np.where(q[..., :1] < 0, -1.0, 1.0)


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a ⊗ b (rotation b first, then a)."""
    aw, ax, ay, az = np.moveaxis(np.asarray(a), -1, 0)
    bw, bx, by, bz = np.moveaxis(np.asarray(b), -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        -1,
    )


def random_rotations(n: int, rng: np.random.Generator) -> np.ndarray:
    """Uniformly distributed rotation matrices (n, 3, 3)."""
    q = rng.normal(size=(n, 4))
    return quat_to_matrix(q / np.linalg.norm(q, axis=-1, keepdims=True))


def is_rotation(m: np.ndarray, atol: float = 1e-5) -> bool:
    m = np.asarray(m, dtype=np.float64)
    return bool(np.allclose(m @ m.T, np.eye(3), atol=atol) and np.linalg.det(m) > 0)
