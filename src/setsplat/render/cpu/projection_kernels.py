"""Numba kernels: EWA splatting of 3D Gaussians into each camera, and SH colour.

Per splat i and camera c the forward pass computes, in gsplat's conventions:
camera point p = W·μ + t; A = W·R(q)·S; Jacobian J of the pinhole at p (with the
view-frustum clamp of 3DGS); the 2D covariance B·Bᵀ (B = J·A) plus EPS2D; its
inverse (the conic); the opacity (times the antialiasing compensation when asked);
an opacity-aware footprint radius; and the colour from SH along μ − camera centre.
The backward pass recomputes these from the inputs and applies the chain rule by
hand, so nothing per (camera, splat) is kept between the two.
"""

import math

import numpy as np
from numba import njit, prange

from setsplat.render.conventions import ALPHA_THRESHOLD, EXTEND
from setsplat.render.cpu.sh_kernels import (
    sh_basis,
    sh_basis_grad,
    sh_colour,
    sh_colour_backward,
)


@njit(cache=True)
def _rotation(w, x, y, z):
    return (1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y - w * z), 2.0 * (x * z + w * y),
            2.0 * (x * y + w * z), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z - w * x),
            2.0 * (x * z - w * y), 2.0 * (y * z + w * x), 1.0 - 2.0 * (x * x + y * y))


@njit(cache=True)
def _unit_quat(q):
    norm = math.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
    return q[0] / norm, q[1] / norm, q[2] / norm, q[3] / norm, norm


@njit(cache=True)
def _rs_matrix(quat, scale):
    """M = R(q)·diag(s), row-major."""
    w, x, y, z, _ = _unit_quat(quat)
    r = _rotation(w, x, y, z)
    s0, s1, s2 = scale[0], scale[1], scale[2]
    return (r[0] * s0, r[1] * s1, r[2] * s2, r[3] * s0, r[4] * s1, r[5] * s2,
            r[6] * s0, r[7] * s1, r[8] * s2)


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
def _view_direction(w, t, mean):
    """Unit vector from the camera centre (−Wᵀt, valid for reflections too) to the mean."""
    dx = mean[0] + (w[0] * t[0] + w[3] * t[1] + w[6] * t[2])
    dy = mean[1] + (w[1] * t[0] + w[4] * t[1] + w[7] * t[2])
    dz = mean[2] + (w[2] * t[0] + w[5] * t[1] + w[8] * t[2])
    norm = math.sqrt(dx * dx + dy * dy + dz * dz)
    if norm == 0.0:
        return 0.0, 0.0, 0.0, 0.0
    return dx / norm, dy / norm, dz / norm, norm


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


@njit(parallel=True, cache=True, fastmath=True)
def project_forward(means, quats, scales, opacities, sh, degree, viewmats, ks, width, height,
                    near, far, eps2d, antialiased,
                    means2d, conics, depths, opacities_out, colors, radii):
    """Fill every entry of the (C, N, ...) outputs (uninitialised on entry); culled
    splats get radii 0 and zeros elsewhere. ``degree`` < 0: no SH."""
    n = means.shape[0]
    lenses = _lenses(ks, width, height)
    for i in prange(n):
        m = _rs_matrix(quats[i], scales[i])
        for c in range(viewmats.shape[0]):
            radii[c, i, :] = 0
            means2d[c, i, :] = 0.0
            conics[c, i, :] = 0.0
            depths[c, i] = 0.0
            opacities_out[c, i] = 0.0
            if degree >= 0:
                colors[c, i, :] = 0.0
            w, t = _view(viewmats[c])
            px, py, pz = _camera_point(w, t, means[i])
            if not (near < pz < far):
                continue
            a = _mat3_mul(w, m)
            lens = lenses[c]
            j00, j02, j11, j12, _, _, _, _ = _jacobian(lens, px, py, pz)
            b = _project_b(j00, j02, j11, j12, a)
            c00 = b[0] * b[0] + b[1] * b[1] + b[2] * b[2]
            c01 = b[0] * b[3] + b[1] * b[4] + b[2] * b[5]
            c11 = b[3] * b[3] + b[4] * b[4] + b[5] * b[5]
            det_orig = c00 * c11 - c01 * c01
            c00 += eps2d
            c11 += eps2d
            det = c00 * c11 - c01 * c01
            if det <= 0.0:
                continue
            opacity = opacities[i]
            if antialiased:
                opacity *= math.sqrt(max(0.0, det_orig / det))
            if opacity < ALPHA_THRESHOLD:
                continue
            extend = min(EXTEND, math.sqrt(2.0 * math.log(opacity / ALPHA_THRESHOLD)))
            rx = math.ceil(extend * math.sqrt(c00))
            ry = math.ceil(extend * math.sqrt(c11))
            mx = lens[0] * px / pz + lens[2]
            my = lens[1] * py / pz + lens[3]
            if mx + rx <= 0 or mx - rx >= width or my + ry <= 0 or my - ry >= height:
                continue
            radii[c, i, 0] = rx
            radii[c, i, 1] = ry
            means2d[c, i, 0] = mx
            means2d[c, i, 1] = my
            conics[c, i, 0] = c11 / det
            conics[c, i, 1] = -c01 / det
            conics[c, i, 2] = c00 / det
            depths[c, i] = pz
            opacities_out[c, i] = opacity
            if degree >= 0:
                dx, dy, dz, _ = _view_direction(w, t, means[i])
                rgb = sh_colour(sh[i], sh_basis(degree, dx, dy, dz), (degree + 1) ** 2)
                for ch in range(3):
                    colors[c, i, ch] = max(rgb[ch], 0.0)


@njit(parallel=True, cache=True, fastmath=True)
def project_backward(means, quats, scales, opacities, sh, degree, viewmats, ks, width, height,
                     eps2d, antialiased, radii,
                     v_means2d, v_conics, v_depths, v_opacities_out, v_colors,
                     v_means, v_quats, v_scales, v_opacities, v_sh):
    """Gradients w.r.t. the splat parameters from those w.r.t. the projected values,
    written to every entry of the outputs (uninitialised on entry: zeroing them here, per
    splat, saves a pass over memory)."""
    n = means.shape[0]
    lenses = _lenses(ks, width, height)
    for i in prange(n):
        v_opacities[i] = 0.0
        if degree >= 0:
            v_sh[i] = 0.0
        m = _rs_matrix(quats[i], scales[i])
        vm = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)  # dL/dM, summed over cameras
        vmx = vmy = vmz = 0.0
        for c in range(viewmats.shape[0]):
            if radii[c, i, 0] == 0 and radii[c, i, 1] == 0:
                continue
            w, t = _view(viewmats[c])
            lens = lenses[c]
            fx, fy = lens[0], lens[1]
            px, py, pz = _camera_point(w, t, means[i])
            a = _mat3_mul(w, m)
            j00, j02, j11, j12, tx, ty, free_x, free_y = _jacobian(lens, px, py, pz)
            b = _project_b(j00, j02, j11, j12, a)
            u00 = b[0] * b[0] + b[1] * b[1] + b[2] * b[2]
            u01 = b[0] * b[3] + b[1] * b[4] + b[2] * b[5]
            u11 = b[3] * b[3] + b[4] * b[4] + b[5] * b[5]
            c00, c01, c11 = u00 + eps2d, u01, u11 + eps2d
            det = c00 * c11 - c01 * c01
            q00, q01, q11 = c11 / det, -c01 / det, c00 / det
            # conic = inverse(cov): dL/dcov = -Q·V·Q with V the (symmetric) dL/dQ
            v0, v1, v2 = v_conics[c, i, 0], 0.5 * v_conics[c, i, 1], v_conics[c, i, 2]
            t00, t01 = q00 * v0 + q01 * v1, q00 * v1 + q01 * v2
            t10, t11 = q01 * v0 + q11 * v1, q01 * v1 + q11 * v2
            g00 = -(t00 * q00 + t01 * q01)
            g01 = -(t00 * q01 + t01 * q11)
            g11 = -(t10 * q01 + t11 * q11)
            v_op = v_opacities_out[c, i]
            if antialiased:
                det_orig = u00 * u11 - u01 * u01
                comp = math.sqrt(max(0.0, det_orig / det))
                v_opacities[i] += v_op * comp
                if comp > 0.0:
                    # comp² = det(U)/det(U + εI): differentiate through both determinants
                    v_r = v_op * opacities[i] / (2.0 * comp)
                    d2 = det * det
                    g00 += v_r * (u11 / det - det_orig * c11 / d2)
                    g11 += v_r * (u00 / det - det_orig * c00 / d2)
                    g01 += v_r * (-u01 / det + det_orig * c01 / d2)
            else:
                v_opacities[i] += v_op
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
            vm0, vm1 = v_means2d[c, i, 0], v_means2d[c, i, 1]
            vpx = fx * rz * vm0
            vpy = fy * rz * vm1
            vpz = -(fx * px * vm0 + fy * py * vm1) * rz2 + v_depths[c, i]
            vpz += -fx * rz2 * vj00 - fy * rz2 * vj11
            if free_x:
                vpx += -fx * rz2 * vj02
                vpz += 2.0 * fx * tx * rz3 * vj02
            else:
                vpz += fx * tx * rz3 * vj02
            if free_y:
                vpy += -fy * rz2 * vj12
                vpz += 2.0 * fy * ty * rz3 * vj12
            else:
                vpz += fy * ty * rz3 * vj12
            # p = W·μ + t and A = W·M
            vmx += w[0] * vpx + w[3] * vpy + w[6] * vpz
            vmy += w[1] * vpx + w[4] * vpy + w[7] * vpz
            vmz += w[2] * vpx + w[5] * vpy + w[8] * vpz
            wt = (w[0], w[3], w[6], w[1], w[4], w[7], w[2], w[5], w[8])
            dm = _mat3_mul(wt, va)
            vm = (vm[0] + dm[0], vm[1] + dm[1], vm[2] + dm[2], vm[3] + dm[3], vm[4] + dm[4],
                  vm[5] + dm[5], vm[6] + dm[6], vm[7] + dm[7], vm[8] + dm[8])
            if degree >= 0:
                dx, dy, dz, dnorm = _view_direction(w, t, means[i])
                y = sh_basis(degree, dx, dy, dz)
                gx, gy, gz = sh_basis_grad(degree, dx, dy, dz)
                count = (degree + 1) ** 2
                red, green, blue = sh_colour(sh[i], y, count)  # clamped: no gradient
                vdx, vdy, vdz = sh_colour_backward(
                    sh[i], y, gx, gy, gz, count, v_colors[c, i, 0] if red >= 0.0 else 0.0,
                    v_colors[c, i, 1] if green >= 0.0 else 0.0,
                    v_colors[c, i, 2] if blue >= 0.0 else 0.0, v_sh[i])
                if dnorm > 0.0:
                    dot = dx * vdx + dy * vdy + dz * vdz
                    vmx += (vdx - dx * dot) / dnorm
                    vmy += (vdy - dy * dot) / dnorm
                    vmz += (vdz - dz * dot) / dnorm
        v_means[i, 0] = vmx
        v_means[i, 1] = vmy
        v_means[i, 2] = vmz
        # M = R·diag(s), R from the unit quaternion
        w_, x, y_, z, norm = _unit_quat(quats[i])
        r = _rotation(w_, x, y_, z)
        s = scales[i]
        v_scales[i, 0] = vm[0] * r[0] + vm[3] * r[3] + vm[6] * r[6]
        v_scales[i, 1] = vm[1] * r[1] + vm[4] * r[4] + vm[7] * r[7]
        v_scales[i, 2] = vm[2] * r[2] + vm[5] * r[5] + vm[8] * r[8]
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
        v_quats[i, 0] = (vw - w_ * dot) / norm
        v_quats[i, 1] = (vx - x * dot) / norm
        v_quats[i, 2] = (vy - y_ * dot) / norm
        v_quats[i, 3] = (vz - z * dot) / norm


def empty_sh(dtype) -> np.ndarray:
    """Stand-in SH array for colour-only rendering (never read when degree < 0)."""
    return np.zeros((1, 1, 3), dtype)
