"""A row of a tile in SIMD lanes: the compositing kernels' innermost step, as LLVM IR.

A splat covers ~6 pixels of a row of a tile on average. Stepped pixel by pixel, each
cost ~35 instructions and the loop's exit was a mispredicted branch; LLVM does not
vectorise that loop, because every pixel reads and writes its own state under
conditions, and numba has no vector types. Written here as branch-free operations on
vectors of LANES pixels, a row takes one pass or two: masked lanes leave their pixel as
it was. LLVM splits the vectors into what the machine has. 8 lanes beat 16 (a whole
row in one AVX-512 register, but most rows are shorter than 9 pixels and a 512-bit
operation costs two 256-bit ones on Zen 4) and 4 (docs/decisions/0004-simd-row-lanes.md).

The tile's state sits in one array of planes of PLANE values, so that the lanes past a
row's end (up to LANES - 1 past the tile's last pixel) stay in bounds.

numba's on-disk cache keys a kernel on its own file only: after changing this one,
clear the cache (see ``setsplat.render.cpu``), or the kernels that call it keep the old
code.
"""

from __future__ import annotations

import math

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from setsplat.render.conventions import (
    ALPHA_THRESHOLD,
    MAX_ALPHA,
    MEDIAN_TRANSMITTANCE,
    MIN_TRANSMITTANCE,
    TILE_SIZE,
)

LANES = 8
PLANE = TILE_SIZE * TILE_SIZE + LANES  # one per-pixel quantity of a tile, padded
EXP_CLAMP = 30.0  # exp's argument is clamped to [-EXP_CLAMP, 0]: masked lanes are far out


class _Lanes:
    """An IR builder for vectors of LANES reals, all flagged fast-math."""

    FAST = ("fast",)

    def __init__(self, context, builder, real_type: types.Float) -> None:
        self.builder = builder
        self.real = context.get_value_type(real_type)
        self.vector = ir.VectorType(self.real, LANES)
        self.align = real_type.bitwidth // 8
        self.double = real_type.bitwidth == 64

    def const(self, value: float) -> ir.Constant:
        return ir.Constant(self.vector, [ir.Constant(self.real, value)] * LANES)

    def splat(self, scalar: ir.Value, vector: ir.VectorType | None = None) -> ir.Value:
        """The scalar in every lane (of a vector of reals, or of ``vector``)."""
        b, vector = self.builder, vector or self.vector
        one = b.insert_element(ir.Constant(vector, ir.Undefined), scalar,
                               ir.Constant(ir.IntType(32), 0))
        return b.shuffle_vector(one, one, ir.Constant(ir.VectorType(ir.IntType(32), LANES),
                                                      [0] * LANES))

    def index(self) -> ir.Value:
        return ir.Constant(self.vector, [ir.Constant(self.real, float(i)) for i in range(LANES)])

    def live(self, count: ir.Value) -> ir.Value:
        """Lanes 0..count-1."""
        lanes = ir.VectorType(count.type, LANES)
        return self.builder.icmp_signed("<", ir.Constant(lanes, list(range(LANES))),
                                        self.splat(count, lanes))

    def add(self, a, b):
        return self.builder.fadd(a, b, flags=self.FAST)

    def sub(self, a, b):
        return self.builder.fsub(a, b, flags=self.FAST)

    def mul(self, a, b):
        return self.builder.fmul(a, b, flags=self.FAST)

    def div(self, a, b):
        return self.builder.fdiv(a, b, flags=self.FAST)

    def less(self, a, b):
        return self.builder.fcmp_ordered("<", a, b)

    def less_equal(self, a, b):
        return self.builder.fcmp_ordered("<=", a, b)

    def select(self, mask, a, b):
        return self.builder.select(mask, a, b)

    def min(self, a, b):
        return self.select(self.less(a, b), a, b)

    def pointer(self, array_data: ir.Value, offset: ir.Value) -> ir.Value:
        return self.builder.bitcast(self.builder.gep(array_data, [offset]),
                                    self.vector.as_pointer())

    def in_plane(self, tile_data: ir.Value, plane: int, pixel: ir.Value) -> ir.Value:
        """A pointer to ``pixel``'s lanes in the tile's ``plane``."""
        offset = self.builder.add(pixel, ir.Constant(pixel.type, PLANE * plane))
        return self.pointer(tile_data, offset)

    def load(self, pointer):
        return self.builder.load(pointer, align=self.align)

    def store(self, value, pointer) -> None:
        self.builder.store(value, pointer, align=self.align)

    def intrinsic(self, name: str, result: ir.Type, *arguments: ir.Type) -> ir.Function:
        """An LLVM intrinsic over this builder's vectors (its name gets their suffix)."""
        name += f".v{LANES}f{64 if self.double else 32}"
        module = self.builder.module
        return module.globals.get(name) or ir.Function(
            module, ir.FunctionType(result, list(arguments)), name)

    def count(self, mask) -> ir.Value:
        """How many lanes are set, as an int64."""
        b = self.builder
        bits = b.bitcast(mask, ir.IntType(LANES))
        popcount = b.module.declare_intrinsic("llvm.ctpop", [ir.IntType(LANES)])
        return b.zext(b.call(popcount, [bits]), ir.IntType(64))

    def exp_negative(self, x):
        """exp(x) for x in [-EXP_CLAMP, 0], as 2^k · exp(r) with k = x / ln 2 rounded and
        |r| <= ln 2 / 2, exp(r) by its Taylor series (to degree 6 for float32, 11 for
        float64) and 2^k put straight into the exponent's bits. Relative error 3e-7 in
        float32, 1e-14 in float64 (``tests/render/test_row_lanes.py``)."""
        b = self.builder
        x = self.select(self.less(x, self.const(-EXP_CLAMP)), self.const(-EXP_CLAMP), x)
        k = b.call(self.intrinsic("llvm.rint", self.vector, self.vector),
                   [self.mul(x, self.const(1.0 / math.log(2.0)))])
        ln2_hi = float.fromhex("0x1.62e4p-1") if not self.double else float.fromhex(
            "0x1.62e42fee00000p-1")
        ln2_lo = math.log(2.0) - ln2_hi
        r = self.sub(self.sub(x, self.mul(k, self.const(ln2_hi))), self.mul(k, self.const(ln2_lo)))
        degree = 11 if self.double else 6
        p = self.const(1.0 / math.factorial(degree))
        for n in range(degree - 1, -1, -1):
            p = self.add(self.mul(p, r), self.const(1.0 / math.factorial(n)))
        width, mantissa, bias = (64, 52, 1023) if self.double else (32, 23, 127)
        integers = ir.VectorType(ir.IntType(width), LANES)
        exponent = b.shl(b.add(b.fptosi(k, integers), ir.Constant(integers, [bias] * LANES)),
                         ir.Constant(integers, [mantissa] * LANES))
        return self.mul(p, b.bitcast(exponent, self.vector))


def _array_data(context, builder, array_type, value) -> ir.Value:
    return context.make_array(array_type)(context, builder, value).data


@intrinsic
def composite_row(typingctx, tile, base, count, first, sigma0, slope, half_a, opacity,
                  features, records, cursor, recording_flag):
    """Composite one splat over pixels ``base .. base + min(count, LANES) - 1`` of a tile,
    front to back, and return how many of them it saturated.

    ``tile`` (float, planes of PLANE): transmittance (negated once saturated), median
    depth, then the accumulated feature channels. With i = ``first`` + lane (the pixel's
    place in its row's span), sigma = ``sigma0`` + i · (``slope`` + ``half_a`` · i)
    and the alpha before its clamp is ``opacity`` · exp(-sigma). With records
    (``recording_flag``), each lane's alpha before the clamp, or 0 where the splat does
    not contribute, goes to ``records[cursor + lane]``; LANES slots are written."""
    channels = len(features)
    real_type = tile.dtype
    recording = len(recording_flag) > 0
    signature = types.int64(tile, base, count, first, sigma0, slope, half_a, opacity,
                            features, records, cursor, recording_flag)

    def codegen(context, builder, sig, args):
        (tile_v, base_v, count_v, first_v, sigma0_v, slope_v, half_a_v, opacity_v,
         features_v, records_v, cursor_v, _) = args
        v = _Lanes(context, builder, real_type)
        data = _array_data(context, builder, sig.args[0], tile_v)

        def at(plane: int):
            return v.in_plane(data, plane, base_v)

        lane = v.add(v.index(), v.splat(first_v))
        sigma = v.add(v.splat(sigma0_v),
                      v.mul(lane, v.add(v.splat(slope_v), v.mul(v.splat(half_a_v), lane))))
        raw_alpha = v.mul(v.splat(opacity_v), v.exp_negative(v.sub(v.const(0.0), sigma)))
        alpha = v.min(v.const(MAX_ALPHA), raw_alpha)
        trans_at = at(0)
        t = v.load(trans_at)
        contributes = builder.and_(
            builder.and_(v.live(count_v), v.less(v.const(0.0), t)),
            builder.not_(v.less(alpha, v.const(ALPHA_THRESHOLD))))
        next_t = v.mul(t, v.sub(v.const(1.0), alpha))
        saturates = builder.and_(contributes, v.less_equal(next_t, v.const(MIN_TRANSMITTANCE)))
        contributes = builder.and_(contributes, builder.not_(saturates))
        weight = v.select(contributes, v.mul(alpha, t), v.const(0.0))
        for ch in range(channels):
            feature = v.splat(builder.extract_value(features_v, ch))
            acc_at = at(2 + ch)
            v.store(v.add(v.load(acc_at), v.mul(feature, weight)), acc_at)
        median_at = at(1)
        crosses = builder.and_(
            contributes, builder.and_(v.less(v.const(MEDIAN_TRANSMITTANCE), t),
                                      v.less_equal(next_t, v.const(MEDIAN_TRANSMITTANCE))))
        depth = v.splat(builder.extract_value(features_v, channels - 1))
        v.store(v.select(crosses, depth, v.load(median_at)), median_at)
        v.store(v.select(saturates, v.sub(v.const(0.0), t),
                         v.select(contributes, next_t, t)), trans_at)
        if recording:
            records_data = _array_data(context, builder, sig.args[9], records_v)
            v.store(v.select(contributes, raw_alpha, v.const(0.0)),
                    v.pointer(records_data, cursor_v))
        return v.count(saturates)

    return signature, codegen


@intrinsic
def replay_row(typingctx, tile, base, count, x_first, dy, features, records, cursor):
    """Undo one splat's contributions to pixels ``base .. base + min(count, LANES) - 1`` of
    a tile, back to front, and add up its gradients lane by lane.

    ``tile`` (planes of PLANE): transmittance in front of the splats replayed so far, R
    (what the splats behind contribute per unit of transmittance), the gradients of the
    feature channels, then the splat's sums so far, one per lane (planes from
    ``2 + channels``): its features' gradients, then u, dx·u, dy·u, dx²·u, dx·dy·u and
    dy²·u, where u is (alpha before its clamp) x (the loss gradient of alpha), 0 where
    alpha is clamped, and dx = ``x_first`` + lane. The lanes' alphas before the clamp
    are ``records[cursor:]``."""
    channels = len(features)
    real_type = tile.dtype
    signature = types.none(tile, base, count, x_first, dy, features, records, cursor)

    def codegen(context, builder, sig, args):
        tile_v, base_v, count_v, x_first_v, dy_v, features_v, records_v, cursor_v = args
        v = _Lanes(context, builder, real_type)
        data = _array_data(context, builder, sig.args[0], tile_v)

        def at(plane: int):
            return v.in_plane(data, plane, base_v)

        def add_to_sum(index: int, value) -> None:
            sum_at = v.in_plane(data, 2 + channels, base_v.type(LANES * index))
            v.store(v.add(v.load(sum_at), value), sum_at)

        live = v.live(count_v)
        records_data = _array_data(context, builder, sig.args[6], records_v)
        raw_alpha = v.select(live, v.load(v.pointer(records_data, cursor_v)), v.const(0.0))
        alpha = v.min(v.const(MAX_ALPHA), raw_alpha)
        keep = v.sub(v.const(1.0), alpha)
        trans_at = at(0)
        t_behind = v.load(trans_at)
        t = v.div(t_behind, keep)
        v.store(v.select(live, t, t_behind), trans_at)
        weight = v.select(live, v.mul(alpha, t), v.const(0.0))
        dot = v.const(0.0)
        for ch in range(channels):
            gradient = v.load(at(2 + ch))
            add_to_sum(ch, v.mul(weight, gradient))
            feature = v.splat(builder.extract_value(features_v, ch))
            dot = v.add(dot, v.mul(feature, gradient))
        behind_at = at(1)
        behind = v.load(behind_at)
        v_alpha = v.mul(t, v.add(dot, behind))
        v.store(v.select(live, v.sub(v.mul(behind, keep), v.mul(alpha, dot)), behind),
                behind_at)
        unclamped = builder.and_(live, v.less_equal(raw_alpha, v.const(MAX_ALPHA)))
        u = v.select(unclamped, v.mul(raw_alpha, v_alpha), v.const(0.0))
        dx = v.add(v.splat(x_first_v), v.index())
        dy = v.splat(dy_v)
        dx_u, dy_u = v.mul(dx, u), v.mul(dy, u)
        for index, value in enumerate((u, dx_u, dy_u, v.mul(dx, dx_u), v.mul(dx, dy_u),
                                       v.mul(dy, dy_u))):
            add_to_sum(channels + index, value)
        return context.get_dummy_value()

    return signature, codegen
