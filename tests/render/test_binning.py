"""Tile binning: the depth order the compositing relies on."""

import numpy as np
import pytest

from setsplat.render.cpu.binning import bin_splats


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("largest_radius", [8, 40])  # footprints of up to 2x2 tiles; larger
def test_tiles_list_visible_splats_front_to_back_ties_in_index_order(dtype, largest_radius):
    rng = np.random.default_rng(3)
    n = 5000
    depths = rng.uniform(-2, 50, (1, n)).astype(dtype)
    depths[0, ::5] = depths[0, 1]  # many equal depths
    means2d = rng.uniform(0, 64, (1, n, 2)).astype(dtype)
    radii = rng.integers(0, largest_radius + 1, (1, n, 2)).astype(np.int32)  # some 0: culled
    bins = bin_splats(means2d, radii, depths, 64, 48)
    order = np.argsort(depths[0], kind="stable")
    visible = (radii[0, :, 0] > 0) & (radii[0, :, 1] > 0)
    assert bins.tiles_x == 4 and bins.tiles_y == 3
    mx, my = means2d[0, :, 0].astype(float), means2d[0, :, 1].astype(float)
    rx, ry = radii[0, :, 0], radii[0, :, 1]

    def reaches(centre, radius, lo, hi):  # a pixel centre in [lo, hi) within the radius
        centres = np.arange(lo, hi)[:, None] + 0.5
        return (np.abs(centres - centre) <= radius).any(axis=0)

    for tile in range(12):
        x0, y0 = 16 * (tile % 4), 16 * (tile // 4)
        touches = visible & reaches(mx, rx, x0, x0 + 16) & reaches(my, ry, y0, min(y0 + 16, 48))
        expected = order[touches[order]]
        got = bins.ids[bins.offsets[tile]:bins.offsets[tile + 1]]
        np.testing.assert_array_equal(got, expected)
    assert len(bins.ids) > 5000
    # a splat whose mean ± radius reaches into a tile but no pixel centre of it
    edge = bin_splats(np.array([[[15.4, 8.0]]], dtype), np.array([[[1, 1]]], np.int32),
                      np.ones((1, 1), dtype), 64, 48)
    assert list(np.diff(edge.offsets)[:4]) == [1, 0, 0, 0]


def test_pair_gradients_add_up_per_splat_in_pair_order():
    from setsplat.render.cpu.raster_kernels import sum_pairs

    rng = np.random.default_rng(4)
    cameras, n = 2, 3000
    means2d = rng.uniform(0, 96, (cameras, n, 2)).astype(np.float32)
    radii = rng.integers(0, 20, (cameras, n, 2)).astype(np.int32)
    bins = bin_splats(means2d, radii, rng.uniform(0.1, 5, (cameras, n)).astype(np.float32),
                      96, 80)
    pair_grads = rng.standard_normal((len(bins.ids), 10)).astype(np.float32)
    tiles = bins.tiles_x * bins.tiles_y
    camera_of_pair = np.repeat(np.arange(cameras * tiles) // tiles, np.diff(bins.offsets))
    expected = np.zeros((cameras * n, 10), np.float32)
    np.add.at(expected, camera_of_pair * n + bins.ids, pair_grads)  # one by one, in order
    for parts in (1, 2, 3):  # splat ranges summed in parallel
        # means2d, conics, opacities, colors (3 channels), depths
        got = [np.full((cameras, n, *tail), np.nan, np.float32)
               for tail in ((2,), (3,), (), (3,), ())]
        sum_pairs(pair_grads, bins.offsets, bins.ids, tiles, parts, *got)
        means2d, conics, opacities, colors, depths = (g.reshape(cameras * n, -1) for g in got)
        fields = np.concatenate([means2d, conics, opacities, colors, depths], axis=1)
        np.testing.assert_array_equal(fields.view(np.uint32), expected.view(np.uint32))


def test_tile_counts_do_not_depend_on_how_many_parts_count_them():
    """Machines with more threads count with more parts (one per thread beside the sort)."""
    from setsplat.render.cpu.binning import _order_and_count

    rng = np.random.default_rng(5)
    cameras, n, tiles_x, tiles_y = 2, 4000, 6, 5
    means2d = rng.uniform(-10, 100, (cameras, n, 2)).astype(np.float32)
    radii = rng.integers(0, 30, (cameras, n, 2)).astype(np.int32)
    bits = rng.uniform(0.1, 5, (cameras, n)).astype(np.float32).view(np.uint32)
    results = []
    for parts in (1, 3):
        order = np.empty((cameras, n), np.int32)
        rects = np.empty((cameras, n, 4), np.int32)
        counts = np.zeros((parts, 4, cameras * tiles_x * tiles_y), np.int64)
        _order_and_count(bits, means2d, radii, 96, 80, tiles_x, tiles_y, order, rects, counts)
        results.append((order, rects, counts.sum((0, 1))))
    for one, three in zip(*results):
        np.testing.assert_array_equal(one, three)
    assert results[0][2].sum() > n
