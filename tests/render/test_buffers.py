"""The render scratch pool hands a buffer out again only once its owner is gone."""

from __future__ import annotations

import gc

import numpy as np

from setsplat.render.cpu.buffers import BufferPool


class _Owner:
    pass


def test_a_buffer_returns_when_its_owner_is_collected_and_is_reused():
    pool = BufferPool(keep=2)
    owner = _Owner()
    held = pool.take((100, 4), np.float32, owner)
    other = pool.take((10,), np.float32)
    assert not np.shares_memory(held, other)  # still owned: not handed out twice
    pool.give_back(other)
    del owner
    gc.collect()
    smaller = pool.take((50, 2), np.float32)  # the smallest free buffer that fits
    assert smaller.shape == (50, 2) and np.shares_memory(smaller, held)
    assert pool.take((3,), np.float32).base is other.base  # the 10-element one


def test_dtypes_do_not_mix_and_the_pool_keeps_only_so_many():
    pool = BufferPool(keep=2)
    buffers = [pool.take((n,), np.float64) for n in (10, 20, 30)]
    for b in buffers:
        pool.give_back(b)
    assert pool.take((5,), np.uint8).dtype == np.uint8  # a new one: no uint8 was given back
    kept = [pool.take((5,), np.float64) for _ in range(2)]
    assert {k.base.size for k in kept} == {20, 30}  # the smallest was dropped
    assert pool.take((5,), np.float64).base.size == 5  # none left: a new one
