"""The first splats: one per SfM point (or random points in the cameras' bounds)."""

from __future__ import annotations

import numpy as np

from setsplat.core.errors import SetsplatError
from setsplat.core.scene import GaussianScene
from setsplat.core.sh import num_coeffs, rgb_to_dc


def mean_neighbour_distance(points: np.ndarray, k: int = 3) -> np.ndarray:
    """Mean distance of each point to its k nearest neighbours (3DGS's initial scale)."""
    from scipy.spatial import cKDTree

    if len(points) <= 1:
        return np.full(len(points), 0.01)
    distances, _ = cKDTree(points).query(points, k=min(k, len(points) - 1) + 1)
    return np.maximum(distances[:, 1:].mean(1), 1e-7)


def splats_from_points(
    points: np.ndarray,
    colors: np.ndarray | None,
    sh_degree: int,
    opacity: float,
    rng: np.random.Generator,
) -> GaussianScene:
    """Isotropic splats at ``points`` sized by their neighbours, DC color from ``colors``."""
    if len(points) == 0:
        raise SetsplatError("no points to start training from",
                            "run sfm first or train with --init random")
    n = len(points)
    colors = np.full((n, 3), 0.5) if colors is None else np.asarray(colors, np.float64)
    sh = np.zeros((n, num_coeffs(sh_degree), 3), np.float32)
    sh[:, 0] = rgb_to_dc(colors)
    quats = rng.normal(size=(n, 4))  # random orientations, as 3DGS: no preferred axes
    logit = np.log(opacity / (1 - opacity))
    return GaussianScene(
        means=points,
        quats=quats / np.linalg.norm(quats, axis=1, keepdims=True),
        log_scales=np.repeat(np.log(mean_neighbour_distance(points))[:, None], 3, 1),
        opacity_logits=np.full(n, logit),
        sh=sh,
    )


def random_points(low: np.ndarray, high: np.ndarray, count: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points and random colors in a box (the fallback without SfM points)."""
    return rng.uniform(low, high, (count, 3)), rng.uniform(0, 1, (count, 3))
