"""A scene with structure for the export tests: the corner of a room (floor and two
walls) of flat, opaque splats in the RDF frame (floor down = +y), metric."""

from __future__ import annotations

import numpy as np
import pytest

from setsplat.core import sh as shlib
from setsplat.core.rotation import matrix_to_quat
from setsplat.core.scene import GaussianScene


def room_corner(n_per_plane: int = 1500, seed: int = 0, degree: int = 1) -> GaussianScene:
    rng = np.random.default_rng(seed)
    means, normals, colors = [], [], []
    for axis, level, color in ((1, 1.0, (0.6, 0.5, 0.4)),    # floor at y = +1 (down)
                                (0, -1.0, (0.8, 0.8, 0.75)),  # wall at x = -1
                                (2, 2.0, (0.3, 0.4, 0.7))):   # wall at z = +2
        p = rng.uniform([-1, -1, 0], [1, 1, 2], (n_per_plane, 3))
        p[:, axis] = level
        n = np.zeros((n_per_plane, 3))
        n[:, axis] = 1.0
        stripes = 0.15 * np.sign(np.sin(6 * p.sum(1)))[:, None]
        means.append(p)
        normals.append(n)
        colors.append(np.clip(np.array(color) + stripes, 0, 1))
    means, normals, colors = map(np.concatenate, (means, normals, colors))
    helper = np.where(np.abs(normals[:, :1]) > 0.5, [[0, 1, 0]], [[1, 0, 0]])
    x = np.cross(helper, normals)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    rotation = np.stack([x, np.cross(normals, x), normals], 2)
    count = len(means)
    sh = np.zeros((count, (degree + 1) ** 2, 3))
    sh[:, 0] = shlib.rgb_to_dc(colors)
    sh[:, 1:] = rng.normal(scale=0.05, size=sh[:, 1:].shape)
    return GaussianScene(
        means=means, quats=matrix_to_quat(rotation),
        log_scales=np.log(np.tile([0.04, 0.04, 0.004], (count, 1))),
        opacity_logits=np.full(count, 3.0), sh=sh, frame="rdf",
        meta={"unscaled": False})


@pytest.fixture
def room():
    return room_corner()
