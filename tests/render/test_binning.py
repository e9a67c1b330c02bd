"""Tile binning: the depth order the compositing relies on."""

import numpy as np
import pytest

from setsplat.render.cpu.binning import bin_splats


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tiles_list_visible_splats_front_to_back_ties_in_index_order(dtype):
    rng = np.random.default_rng(3)
    n = 5000
    depths = rng.uniform(-2, 50, (1, n)).astype(dtype)
    depths[0, ::5] = depths[0, 1]  # many equal depths
    means2d = rng.uniform(0, 64, (1, n, 2)).astype(dtype)
    radii = rng.integers(0, 9, (1, n, 2)).astype(np.int32)  # some 0: culled
    bins = bin_splats(means2d, radii, depths, 64, 48)
    order = np.argsort(depths[0], kind="stable")
    visible = (radii[0, :, 0] > 0) & (radii[0, :, 1] > 0)
    assert bins.tiles_x == 4 and bins.tiles_y == 3
    for tile in range(12):
        x0, y0 = 16 * (tile % 4), 16 * (tile // 4)
        mx, my, rx, ry = means2d[0, :, 0], means2d[0, :, 1], radii[0, :, 0], radii[0, :, 1]
        touches = (visible
                   & (np.floor((mx - rx) / 16) * 16 <= x0) & (np.ceil((mx + rx) / 16) * 16 > x0)
                   & (np.floor((my - ry) / 16) * 16 <= y0) & (np.ceil((my + ry) / 16) * 16 > y0))
        expected = order[touches[order]]
        got = bins.ids[bins.offsets[tile]:bins.offsets[tile + 1]]
        np.testing.assert_array_equal(got, expected)
    assert len(bins.ids) > 5000
