"""Numba kernels: EWA splatting of 3D Gaussians into each camera, and SH color.

Per splat i and camera c the forward pass computes, in gsplat's conventions:
camera point p = W·μ + t; A = W·R(q)·S; Jacobian J of the pinhole at p (with the
view-frustum clamp of 3DGS); the 2D covariance B·Bᵀ (B = J·A) plus EPS2D; its
inverse (the conic); the opacity (times the antialiasing compensation when asked);
an opacity-aware footprint radius; and the color from SH along μ − camera centre.
The backward pass recomputes these from the inputs and applies the chain rule by
hand, so nothing per (camera, splat) is kept between the two.

Both passes take the splats BLOCK at a time into a scratch table with one splat per
column and one quantity per row, and run each step as a loop over the columns that
touches that table only: LLVM vectorises such loops, and left the same arithmetic done
splat by splat scalar (docs/decisions/0005-projection-kernels.md). Only the footprint
radius, the culling, the scatter of results and the SH color sums go splat by splat:
the sums read the coefficients where they lie, (N, K, 3), which costs less than copying
them into the table and back.
The kernels are compiled without fast-math: vectorising these loops needs none of it,
and with it a kernel freshly compiled and the same kernel loaded from numba's cache
formed different fused multiply-adds (quaternion gradients differed in the last bits,
so a resumed training run was not byte-identical to an uninterrupted one).
"""

import math

import numpy as np
from numba import njit, prange

from setsplat.render.conventions import ALPHA_THRESHOLD, EXTEND
from setsplat.render.cpu.sh_kernels import (
    sh_basis,
    sh_basis_grad,
    sh_color,
    sh_color_backward,
)


@njit(cache=True)
def _rotation(w, x, y, z):
    return (1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y - w * z), 2.0 * (x * z + w * y),
            2.0 * (x * y + w * z), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z - w * x),
            2.0 * (x * z - w * y), 2.0 * (y * z + w * x), 1.0 - 2.0 * (x * x + y * y))


@njit(cache=True)
def _mat3_mul(a, b):
    return (a[0] * b[0] + a[1] * b[3] + a[2] * b[6], a[0] * b[1] + a[1] * b[4] + a[2] * b[7],
            a[0] * b[2] + a[1] * b[5] + a[2] * b[8], a[3] * b[0] + a[4] * b[3] + a[5] * b[6],
            a[3] * b[1] + a[4] * b[4] + a[5] * b[7], a[3] * b[2] + a[4] * b[5] + a[5] * b[8],
            a[6] * b[0] + a[7] * b[3] + a[8] * b[6], a[6] * b[1] + a[7] * b[4] + a[8] * b[7],
            a[6] * b[2] + a[7] * b[5] + a[8] * b[8])


@njit(cache=True)
def _view(viewmat):
    w = (viewmat[0, 0], viewmat[0, 1], viewmat[0, 2], viewmat[1, 0], viewmat[1, 1],
         viewmat[1, 2], viewmat[2, 0], viewmat[2, 1], viewmat[2, 2])
    return w, (viewmat[0, 3], viewmat[1, 3], viewmat[2, 3])


@njit(cache=True)
def _camera_point(w, t, mean):
    return (w[0] * mean[0] + w[1] * mean[1] + w[2] * mean[2] + t[0],
            w[3] * mean[0] + w[4] * mean[1] + w[5] * mean[2] + t[1],
            w[6] * mean[0] + w[7] * mean[1] + w[8] * mean[2] + t[2])


@njit(cache=True)
def _lenses(ks, width, height):
    """Per camera: fx, fy, cx, cy and the limits of 3DGS's frustum clamp (x+, x-, y+,
    y-), worked out once per call rather than once per splat."""
    lenses = np.empty((ks.shape[0], 8), ks.dtype)
    for c in range(ks.shape[0]):
        fx, fy, cx, cy = ks[c, 0, 0], ks[c, 1, 1], ks[c, 0, 2], ks[c, 1, 2]
        lenses[c, 0], lenses[c, 1], lenses[c, 2], lenses[c, 3] = fx, fy, cx, cy
        lenses[c, 4] = (width - cx) / fx + 0.3 * (0.5 * width / fx)
        lenses[c, 5] = cx / fx + 0.3 * (0.5 * width / fx)
        lenses[c, 6] = (height - cy) / fy + 0.3 * (0.5 * height / fy)
        lenses[c, 7] = cy / fy + 0.3 * (0.5 * height / fy)
    return lenses


@njit(cache=True)
def _jacobian(lens, px, py, pz):
    """Pinhole Jacobian entries (J00, J02, J11, J12) with 3DGS's frustum clamp, and
    whether x and y stayed unclamped."""
    fx, fy = lens[0], lens[1]
    lim_x_pos, lim_x_neg, lim_y_pos, lim_y_neg = lens[4], lens[5], lens[6], lens[7]
    rz = 1.0 / pz
    ux, uy = px * rz, py * rz
    free_x = -lim_x_neg <= ux <= lim_x_pos
    free_y = -lim_y_neg <= uy <= lim_y_pos
    tx = pz * min(lim_x_pos, max(-lim_x_neg, ux))
    ty = pz * min(lim_y_pos, max(-lim_y_neg, uy))
    return fx * rz, -fx * tx * rz * rz, fy * rz, -fy * ty * rz * rz, tx, ty, free_x, free_y


@njit(cache=True)
def _project_b(j00, j02, j11, j12, a):
    """B = J·A (2x3) for A = W·M, row-major."""
    return (j00 * a[0] + j02 * a[6], j00 * a[1] + j02 * a[7], j00 * a[2] + j02 * a[8],
            j11 * a[3] + j12 * a[6], j11 * a[4] + j12 * a[7], j11 * a[5] + j12 * a[8])


BLOCK = 64  # splats per task: the columns of its scratch table
SH_TERMS = 16  # degree 3 uses no more
# Rows of the table: the splats' inputs,
QW, QX, QY, QZ, S0, S1, S2, MU0, MU1, MU2, OPACITY = range(11)
# per camera the SH basis at the view direction, its gradient (x, y, z) and the
# direction (x, y, z, 1 / distance),
BASIS = OPACITY + 1
BASIS_GRAD, DIRECTION = BASIS + SH_TERMS, BASIS + 4 * SH_TERMS
# then, forward, the projected values,
MEAN_X, MEAN_Y, CONIC_A, CONIC_B, CONIC_C, DEPTH, ALPHA, COV_X, COV_Y, KEEP = range(
    DIRECTION + 4, DIRECTION + 14)
FORWARD_ROWS = KEEP + 1
# or, backward: seen by the camera, 10 rows of incoming gradients (mean 2D x, y; conic
# a, b/2, c; depth; opacity; color), and the gradients of the splat's parameters.
SEEN = DIRECTION + 4
GRAD = SEEN + 1
V_MEAN, V_M, V_OPACITY, V_QUAT, V_SCALE = GRAD + 10, GRAD + 13, GRAD + 22, GRAD + 23, GRAD + 27
BACKWARD_ROWS = V_SCALE + 3


@njit(cache=True)
def _load_splats(means, quats, scales, opacities, first, count, rows):
    """Splats first..first+count into rows QW..OPACITY of columns :count."""
    for lane in range(count):
        i = first + lane
        rows[QW, lane], rows[QX, lane] = quats[i, 0], quats[i, 1]
        rows[QY, lane], rows[QZ, lane] = quats[i, 2], quats[i, 3]
        rows[S0, lane], rows[S1, lane], rows[S2, lane] = scales[i, 0], scales[i, 1], scales[i, 2]
        rows[MU0, lane], rows[MU1, lane], rows[MU2, lane] = means[i, 0], means[i, 1], means[i, 2]
        rows[OPACITY, lane] = opacities[i]


@njit(cache=True, inline="always")
def _block_table(block, height, means, quats, scales, opacities):
    """A fresh table of ``height`` rows holding block ``block``'s splats: (first splat,
    splats in the block, table)."""
    first = block * BLOCK
    count = min(BLOCK, means.shape[0] - first)
    rows = np.empty((height, BLOCK))
    _load_splats(means, quats, scales, opacities, first, count, rows)
    return first, count, rows


@njit(cache=True)
def _sh_terms(sh, degree):
    """The SH terms the colors sum: those of ``degree``, as far as ``sh`` has them."""
    return min(sh.shape[1], (degree + 1) ** 2, SH_TERMS)


@njit(cache=True, inline="always")
def _direction(rows, lane, w, t):
    """Rows DIRECTION..+3: the unit vector from the camera centre (−Wᵀt, valid for
    reflections too) to the mean, and 1 / its length (0 at the centre itself, where the
    direction is 0)."""
    dx = rows[MU0, lane] + (w[0] * t[0] + w[3] * t[1] + w[6] * t[2])
    dy = rows[MU1, lane] + (w[1] * t[0] + w[4] * t[1] + w[7] * t[2])
    dz = rows[MU2, lane] + (w[2] * t[0] + w[5] * t[1] + w[8] * t[2])
    norm = math.sqrt(dx * dx + dy * dy + dz * dz)
    inverse = 1.0 / norm if norm > 0.0 else 0.0
    rows[DIRECTION, lane], rows[DIRECTION + 1, lane] = dx * inverse, dy * inverse
    rows[DIRECTION + 2, lane], rows[DIRECTION + 3, lane] = dz * inverse, inverse


@njit(cache=True, inline="always")
def _splat_in_camera(rows, lane, w, t, lens, eps2d, near, far):
    """The chain mean, rotation, scale -> 2D covariance of one table column, with the
    intermediate values the backward pass needs. Outside near..far, depth 1 stands in
    for the real one, so that nothing overflows in lanes whose results are dropped."""
    qw, qx, qy, qz = rows[QW, lane], rows[QX, lane], rows[QY, lane], rows[QZ, lane]
    norm = math.sqrt(qw * qw + qx * qx + qy * qy + qz * qz)
    r = _rotation(qw / norm, qx / norm, qy / norm, qz / norm)
    s0, s1, s2 = rows[S0, lane], rows[S1, lane], rows[S2, lane]
    m = (r[0] * s0, r[1] * s1, r[2] * s2, r[3] * s0, r[4] * s1, r[5] * s2,
         r[6] * s0, r[7] * s1, r[8] * s2)
    mean = (rows[MU0, lane], rows[MU1, lane], rows[MU2, lane])
    px, py, pz = _camera_point(w, t, mean)
    visible = (pz > near) & (pz < far)
    pz = pz if visible else 1.0
    a = _mat3_mul(w, m)
    j00, j02, j11, j12, tx, ty, free_x, free_y = _jacobian(lens, px, py, pz)
    b = _project_b(j00, j02, j11, j12, a)
    u00 = b[0] * b[0] + b[1] * b[1] + b[2] * b[2]
    u01 = b[0] * b[3] + b[1] * b[4] + b[2] * b[5]
    u11 = b[3] * b[3] + b[4] * b[4] + b[5] * b[5]
    det = (u00 + eps2d) * (u11 + eps2d) - u01 * u01
    return (visible, px, py, pz, a, (j00, j02, j11, j12, tx, ty, free_x, free_y), b,
            (u00, u01, u11), det)


@njit(parallel=True, cache=True, error_model="numpy")
def project_forward(means, quats, scales, opacities, sh, degree, viewmats, ks, width, height,
                    near, far, eps2d, antialiased,
                    means2d, conics, depths, opacities_out, colors, radii):
    """Fill every entry of the (C, N, ...) outputs (uninitialised on entry); culled
    splats get radii 0 and zeros elsewhere. ``degree`` < 0: no SH."""
    lenses = _lenses(ks, width, height)
    terms = _sh_terms(sh, degree)
    for block in prange((means.shape[0] + BLOCK - 1) // BLOCK):
        first, count, rows = _block_table(block, FORWARD_ROWS, means, quats, scales,
                                          opacities)
        for c in range(viewmats.shape[0]):
            w, t = _view(viewmats[c])
            lens = lenses[c]
            for lane in range(count):
                visible, px, py, pz, _, _, _, u, det = _splat_in_camera(rows, lane, w, t, lens,
                                                                       eps2d, near, far)
                c00, c01, c11 = u[0] + eps2d, u[1], u[2] + eps2d
                det = det if visible else 1.0
                opacity = rows[OPACITY, lane]
                if antialiased:
                    opacity *= math.sqrt(max(0.0, (u[0] * u[2] - u[1] * u[1]) / det))
                rows[KEEP, lane] = visible & (det > 0.0) & (opacity >= ALPHA_THRESHOLD)
                rows[MEAN_X, lane] = lens[0] * px / pz + lens[2]
                rows[MEAN_Y, lane] = lens[1] * py / pz + lens[3]
                rows[CONIC_A, lane] = c11 / det
                rows[CONIC_B, lane] = -c01 / det
                rows[CONIC_C, lane] = c00 / det
                rows[DEPTH, lane], rows[ALPHA, lane] = pz, opacity
                rows[COV_X, lane], rows[COV_Y, lane] = c00, c11
            if degree >= 0:
                _view_basis(rows, count, w, t, degree, False)
            for lane in range(count):
                i = first + lane
                rx = ry = 0
                mx, my, opacity = rows[MEAN_X, lane], rows[MEAN_Y, lane], rows[ALPHA, lane]
                if rows[KEEP, lane] != 0.0:
                    extend = min(EXTEND, math.sqrt(2.0 * math.log(opacity / ALPHA_THRESHOLD)))
                    rx = math.ceil(extend * math.sqrt(rows[COV_X, lane]))
                    ry = math.ceil(extend * math.sqrt(rows[COV_Y, lane]))
                    if mx + rx <= 0 or mx - rx >= width or my + ry <= 0 or my - ry >= height:
                        rx = ry = 0
                radii[c, i, 0], radii[c, i, 1] = rx, ry
                kept = rx > 0
                means2d[c, i, 0] = mx if kept else 0.0
                means2d[c, i, 1] = my if kept else 0.0
                conics[c, i, 0] = rows[CONIC_A, lane] if kept else 0.0
                conics[c, i, 1] = rows[CONIC_B, lane] if kept else 0.0
                conics[c, i, 2] = rows[CONIC_C, lane] if kept else 0.0
                depths[c, i] = rows[DEPTH, lane] if kept else 0.0
                opacities_out[c, i] = opacity if kept else 0.0
                if degree >= 0:
                    r = g = b = 0.0
                    if kept:
                        r, g, b = sh_color(rows, BASIS, lane, sh, i, terms)
                    colors[c, i, 0], colors[c, i, 1] = max(r, 0.0), max(g, 0.0)
                    colors[c, i, 2] = max(b, 0.0)


@njit(parallel=True, cache=True, error_model="numpy")
def project_backward(means, quats, scales, opacities, sh, degree, viewmats, ks, width, height,
                     eps2d, antialiased, radii, colors,
                     v_means2d, v_conics, v_depths, v_opacities_out, v_colors,
                     v_means, v_quats, v_scales, v_opacities, v_sh):
    """Gradients w.r.t. the splat parameters from those w.r.t. the projected values,
    written to every entry of the outputs (uninitialised on entry). ``colors``: the
    forward pass's, which tell where a color was clamped at 0 (one of exactly 0 counts
    as clamped: no gradient, where the reference's clamp would pass one)."""
    lenses = _lenses(ks, width, height)
    terms = _sh_terms(sh, degree)
    for block in prange((means.shape[0] + BLOCK - 1) // BLOCK):
        first, count, rows = _block_table(block, BACKWARD_ROWS, means, quats, scales,
                                          opacities)
        rows[V_MEAN:] = 0.0  # sums over the cameras
        if degree >= 0:
            v_sh[first:first + count] = 0.0
        for c in range(viewmats.shape[0]):
            w, t = _view(viewmats[c])
            lens = lenses[c]
            fx, fy = lens[0], lens[1]
            for lane in range(count):
                i = first + lane
                seen = radii[c, i, 0] != 0 or radii[c, i, 1] != 0
                rows[SEEN, lane] = seen
                rows[GRAD, lane] = v_means2d[c, i, 0] if seen else 0.0
                rows[GRAD + 1, lane] = v_means2d[c, i, 1] if seen else 0.0
                rows[GRAD + 2, lane] = v_conics[c, i, 0] if seen else 0.0
                rows[GRAD + 3, lane] = 0.5 * v_conics[c, i, 1] if seen else 0.0
                rows[GRAD + 4, lane] = v_conics[c, i, 2] if seen else 0.0
                rows[GRAD + 5, lane] = v_depths[c, i] if seen else 0.0
                rows[GRAD + 6, lane] = v_opacities_out[c, i] if seen else 0.0
                if degree >= 0:  # a color clamped at 0 passes no gradient
                    for ch in range(3):
                        rows[GRAD + 7 + ch, lane] = v_colors[c, i, ch] \
                            if seen and colors[c, i, ch] > 0.0 else 0.0
            for lane in range(count):
                _, px, py, pz, a, jac, b, u, det = _splat_in_camera(
                    rows, lane, w, t, lens, eps2d, 0.0, np.inf)  # seen ones lie in near..far
                j00, j02, j11, j12, tx, ty, free_x, free_y = jac
                u00, u01, u11 = u
                seen = rows[SEEN, lane] != 0.0
                det = det if seen else 1.0
                c00, c01, c11 = u00 + eps2d, u01, u11 + eps2d
                q00, q01, q11 = c11 / det, -c01 / det, c00 / det
                # conic = inverse(cov): dL/dcov = -Q·V·Q with V the (symmetric) dL/dQ
                v0, v1, v2 = rows[GRAD + 2, lane], rows[GRAD + 3, lane], rows[GRAD + 4, lane]
                t00, t01 = q00 * v0 + q01 * v1, q00 * v1 + q01 * v2
                t10, t11 = q01 * v0 + q11 * v1, q01 * v1 + q11 * v2
                g00 = -(t00 * q00 + t01 * q01)
                g01 = -(t00 * q01 + t01 * q11)
                g11 = -(t10 * q01 + t11 * q11)
                v_op = rows[GRAD + 6, lane]
                if antialiased:
                    det_orig = u00 * u11 - u01 * u01
                    comp = math.sqrt(max(0.0, det_orig / det))
                    rows[V_OPACITY, lane] += v_op * comp
                    # comp² = det(U)/det(U + εI): differentiate through both determinants
                    v_r = v_op * rows[OPACITY, lane] / (2.0 * comp) if comp > 0.0 else 0.0
                    d2 = det * det
                    g00 += v_r * (u11 / det - det_orig * c11 / d2)
                    g11 += v_r * (u00 / det - det_orig * c00 / d2)
                    g01 += v_r * (-u01 / det + det_orig * c01 / d2)
                else:
                    rows[V_OPACITY, lane] += v_op
                # cov2d = B·Bᵀ -> dL/dB = 2·G·B
                vb0 = 2.0 * (g00 * b[0] + g01 * b[3])
                vb1 = 2.0 * (g00 * b[1] + g01 * b[4])
                vb2 = 2.0 * (g00 * b[2] + g01 * b[5])
                vb3 = 2.0 * (g01 * b[0] + g11 * b[3])
                vb4 = 2.0 * (g01 * b[1] + g11 * b[4])
                vb5 = 2.0 * (g01 * b[2] + g11 * b[5])
                # B = J·A
                vj00 = vb0 * a[0] + vb1 * a[1] + vb2 * a[2]
                vj02 = vb0 * a[6] + vb1 * a[7] + vb2 * a[8]
                vj11 = vb3 * a[3] + vb4 * a[4] + vb5 * a[5]
                vj12 = vb3 * a[6] + vb4 * a[7] + vb5 * a[8]
                va = (j00 * vb0, j00 * vb1, j00 * vb2, j11 * vb3, j11 * vb4, j11 * vb5,
                      j02 * vb0 + j12 * vb3, j02 * vb1 + j12 * vb4, j02 * vb2 + j12 * vb5)
                # J and the 2D mean as functions of the camera point
                rz = 1.0 / pz
                rz2 = rz * rz
                rz3 = rz2 * rz
                vm0, vm1 = rows[GRAD, lane], rows[GRAD + 1, lane]
                vpx = fx * rz * vm0
                vpy = fy * rz * vm1
                vpz = -(fx * px * vm0 + fy * py * vm1) * rz2 + rows[GRAD + 5, lane]
                vpz += -fx * rz2 * vj00 - fy * rz2 * vj11
                vpx += -fx * rz2 * vj02 if free_x else 0.0
                vpz += (2.0 if free_x else 1.0) * fx * tx * rz3 * vj02
                vpy += -fy * rz2 * vj12 if free_y else 0.0
                vpz += (2.0 if free_y else 1.0) * fy * ty * rz3 * vj12
                # p = W·μ + t and A = W·M
                rows[V_MEAN, lane] += w[0] * vpx + w[3] * vpy + w[6] * vpz
                rows[V_MEAN + 1, lane] += w[1] * vpx + w[4] * vpy + w[7] * vpz
                rows[V_MEAN + 2, lane] += w[2] * vpx + w[5] * vpy + w[8] * vpz
                dm = _mat3_mul((w[0], w[3], w[6], w[1], w[4], w[7], w[2], w[5], w[8]), va)
                for e in range(9):
                    rows[V_M + e, lane] += dm[e]
            if degree >= 0:
                _colors_backward(rows, first, count, w, t, degree, sh, terms, v_sh)
        for lane in range(count):
            _rotation_scale_backward(rows, lane)
        for lane in range(count):
            i = first + lane
            for k in range(3):
                v_means[i, k] = rows[V_MEAN + k, lane]
                v_scales[i, k] = rows[V_SCALE + k, lane]
            for k in range(4):
                v_quats[i, k] = rows[V_QUAT + k, lane]
            v_opacities[i] = rows[V_OPACITY, lane]


@njit(cache=True, inline="always")
def _view_basis(rows, count, w, t, degree, with_gradient):
    """Rows DIRECTION.., BASIS.. and, if ``with_gradient``, BASIS_GRAD.. for one camera."""
    for lane in range(count):
        _direction(rows, lane, w, t)
        x, y, z = rows[DIRECTION, lane], rows[DIRECTION + 1, lane], rows[DIRECTION + 2, lane]
        sh_basis(rows, BASIS, lane, degree, x, y, z)
        if with_gradient:
            sh_basis_grad(rows, BASIS_GRAD, lane, degree, x, y, z)


@njit(cache=True, inline="always")
def _colors_backward(rows, first, count, w, t, degree, sh, terms, v_sh):
    """The SH colors' gradients (rows GRAD + 7..) in one camera: the coefficients'
    added to ``v_sh``, the view directions' to the means' rows."""
    _view_basis(rows, count, w, t, degree, True)
    for lane in range(count):
        vr, vg, vb = rows[GRAD + 7, lane], rows[GRAD + 8, lane], rows[GRAD + 9, lane]
        if vr == 0.0 and vg == 0.0 and vb == 0.0:
            continue
        vdx, vdy, vdz = sh_color_backward(rows, BASIS, BASIS_GRAD, lane, sh, first + lane,
                                           terms, vr, vg, vb, v_sh)
        dx, dy, dz = rows[DIRECTION, lane], rows[DIRECTION + 1, lane], rows[DIRECTION + 2, lane]
        dot = dx * vdx + dy * vdy + dz * vdz
        inverse = rows[DIRECTION + 3, lane]
        rows[V_MEAN, lane] += (vdx - dx * dot) * inverse
        rows[V_MEAN + 1, lane] += (vdy - dy * dot) * inverse
        rows[V_MEAN + 2, lane] += (vdz - dz * dot) * inverse


@njit(cache=True, inline="always")
def _rotation_scale_backward(rows, lane):
    """M = R·diag(s), R from the unit quaternion: dL/dM (rows V_M..) -> dL/dq, dL/ds."""
    vm = (rows[V_M, lane], rows[V_M + 1, lane], rows[V_M + 2, lane], rows[V_M + 3, lane],
          rows[V_M + 4, lane], rows[V_M + 5, lane], rows[V_M + 6, lane], rows[V_M + 7, lane],
          rows[V_M + 8, lane])
    qw, qx, qy, qz = rows[QW, lane], rows[QX, lane], rows[QY, lane], rows[QZ, lane]
    norm = math.sqrt(qw * qw + qx * qx + qy * qy + qz * qz)
    w_, x, y_, z = qw / norm, qx / norm, qy / norm, qz / norm
    r = _rotation(w_, x, y_, z)
    s = (rows[S0, lane], rows[S1, lane], rows[S2, lane])
    rows[V_SCALE, lane] = vm[0] * r[0] + vm[3] * r[3] + vm[6] * r[6]
    rows[V_SCALE + 1, lane] = vm[1] * r[1] + vm[4] * r[4] + vm[7] * r[7]
    rows[V_SCALE + 2, lane] = vm[2] * r[2] + vm[5] * r[5] + vm[8] * r[8]
    g = (vm[0] * s[0], vm[1] * s[1], vm[2] * s[2], vm[3] * s[0], vm[4] * s[1],
         vm[5] * s[2], vm[6] * s[0], vm[7] * s[1], vm[8] * s[2])
    vw = 2.0 * (-z * g[1] + y_ * g[2] + z * g[3] - x * g[5] - y_ * g[6] + x * g[7])
    vx = 2.0 * (y_ * g[1] + z * g[2] + y_ * g[3] - 2.0 * x * g[4] - w_ * g[5] + z * g[6]
                + w_ * g[7] - 2.0 * x * g[8])
    vy = 2.0 * (-2.0 * y_ * g[0] + x * g[1] + w_ * g[2] + x * g[3] + z * g[5] - w_ * g[6]
                + z * g[7] - 2.0 * y_ * g[8])
    vz = 2.0 * (-2.0 * z * g[0] - w_ * g[1] + x * g[2] + w_ * g[3] - 2.0 * z * g[4]
                + y_ * g[5] + x * g[6] + y_ * g[7])
    dot = w_ * vw + x * vx + y_ * vy + z * vz
    rows[V_QUAT, lane] = (vw - w_ * dot) / norm
    rows[V_QUAT + 1, lane] = (vx - x * dot) / norm
    rows[V_QUAT + 2, lane] = (vy - y_ * dot) / norm
    rows[V_QUAT + 3, lane] = (vz - z * dot) / norm


def empty_sh(dtype) -> np.ndarray:
    """Stand-in SH array for color-only rendering (never read when degree < 0)."""
    return np.zeros((1, 1, 3), dtype)
