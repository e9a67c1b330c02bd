"""The row kernels' exp in SIMD lanes against numpy's, over the whole range it serves."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit, types
from numba.extending import intrinsic

from setsplat.render.cpu.row_lanes import EXP_CLAMP, LANES, _array_data, _Lanes


@intrinsic
def _exp_lanes(typingctx, values, at):
    """values[at : at + LANES] = exp(values[at : at + LANES]), through the row kernels' exp."""

    def codegen(context, builder, sig, args):
        v = _Lanes(context, builder, sig.args[0].dtype)
        pointer = v.pointer(_array_data(context, builder, sig.args[0], args[0]), args[1])
        v.store(v.exp_negative(v.load(pointer)), pointer)
        return context.get_dummy_value()

    return types.none(values, at), codegen


@njit
def _exp_all(values):
    for at in range(0, len(values), LANES):
        _exp_lanes(values, at)


@pytest.mark.parametrize("dtype, tolerance", [(np.float32, 4e-7), (np.float64, 1e-13)])
def test_exp_in_lanes_matches_numpy(dtype, tolerance):
    x = np.linspace(-EXP_CLAMP, 0.0, 100_000 * LANES).astype(dtype)
    result = x.copy()
    _exp_all(result)
    relative = np.abs(result / np.exp(x.astype(np.float64)) - 1.0)
    assert relative.max() <= tolerance
    below = np.full(LANES, -1e4, dtype)  # clamped, as masked lanes far outside a splat are
    _exp_all(below)
    assert np.allclose(below, np.exp(-EXP_CLAMP), rtol=tolerance, atol=0)
