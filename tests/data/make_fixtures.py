"""Regenerate the tiny fixtures in tests/data (deterministic): python tests/data/make_fixtures.py

room_corner.ply: 3000 splats, SH degree 1, in RDF metres: a 4 x 4 m floor at y = +1.5
(y points down) and two walls, colored by position so renders are easy to read.
"""

from pathlib import Path

import numpy as np

from setsplat.core.io import ply
from setsplat.core.scene import GaussianScene
from setsplat.core.sh import rgb_to_dc


def room_corner(seed: int = 0) -> GaussianScene:
    rng = np.random.default_rng(seed)
    n = 1000
    u, v = rng.uniform(-2, 2, (2, n))
    floor = np.c_[u, np.full(n, 1.5), v]
    wall_x = np.c_[np.full(n, -2.0), rng.uniform(-1.5, 1.5, n), rng.uniform(-2, 2, n)]
    wall_z = np.c_[rng.uniform(-2, 2, n), rng.uniform(-1.5, 1.5, n), np.full(n, 2.0)]
    means = np.r_[floor, wall_x, wall_z]
    normal_axis = np.repeat([1, 0, 2], n)
    log_scales = np.full((3 * n, 3), np.log(0.06))
    log_scales[np.arange(3 * n), normal_axis] = np.log(0.005)  # flat splats on surfaces
    color = (means - means.min(0)) / np.ptp(means, 0)
    sh = np.zeros((3 * n, 4, 3))
    sh[:, 0] = rgb_to_dc(0.2 + 0.6 * color)
    sh[:, 1:] = rng.normal(scale=0.05, size=(3 * n, 3, 3))
    quats = np.tile([1.0, 0, 0, 0], (3 * n, 1))
    return GaussianScene(means, quats, log_scales, np.full(3 * n, 2.0), sh,
                         meta={"unscaled": False, "source": "tests/data/make_fixtures.py"})


if __name__ == "__main__":
    ply.write(Path(__file__).with_name("room_corner.ply"), room_corner())
