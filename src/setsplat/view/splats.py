"""Splats as the browser draws them: viser's Gaussian splat arrays, within a budget.

viser's splat renderer takes, per splat, a centre, the 3D covariance R S² Rᵀ, an RGB
color and an opacity. It has no spherical harmonics, so the color is the DC term
(what every view agrees on). A browser with software WebGL cannot sort and draw millions
of splats smoothly, so the viewer sends the most important ones first (opacity ×
volume, the order ``export --max-splats`` keeps) up to a budget.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from setsplat.core.rotation import quat_to_matrix
from setsplat.core.scene import GaussianScene
from setsplat.export import decimate

DEFAULT_BUDGET = 500_000


@dataclass(frozen=True)
class SplatArrays:
    """What ``viser``'s ``add_gaussian_splats`` takes, and how many of the scene's
    splats they are."""

    centers: np.ndarray      # (N, 3) float32
    covariances: np.ndarray  # (N, 3, 3) float32
    rgbs: np.ndarray         # (N, 3) float32 in 0..1
    opacities: np.ndarray    # (N, 1) float32 in 0..1
    total: int               # splats in the scene before the budget

    @property
    def shown(self) -> int:
        return len(self.centers)


def splat_arrays(scene: GaussianScene, budget: int | None = DEFAULT_BUDGET) -> SplatArrays:
    """The scene's splats for the browser: at most ``budget`` (None: all)."""
    chosen = scene if budget is None else decimate(scene, budget)
    rotations = quat_to_matrix(chosen.quats / np.linalg.norm(chosen.quats, axis=1,
                                                              keepdims=True))
    scaled = rotations * chosen.scales[:, None, :]
    covariances = np.einsum("nij,nkj->nik", scaled, scaled)
    return SplatArrays(
        centers=np.ascontiguousarray(chosen.means, dtype=np.float32),
        covariances=covariances.astype(np.float32),
        rgbs=chosen.colors.astype(np.float32),
        opacities=chosen.opacities.astype(np.float32)[:, None],
        total=len(scene),
    )
