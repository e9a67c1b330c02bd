"""Real SH basis (the 3DGS one, as in ``core.sh``) and its gradient, for numba kernels.

Values come as 16-tuples (unused higher bands are zero) so that they stay in
registers inside the per-splat loops.
"""

from numba import njit

from setsplat.core.sh import _C1, _C2, _C3, SH_C0


@njit(cache=True)
def sh_basis(degree, x, y, z):
    """Y_0..Y_15 at the unit direction (x, y, z); bands above ``degree`` are zero."""
    b1 = b2 = b3 = b4 = b5 = b6 = b7 = b8 = 0.0
    b9 = b10 = b11 = b12 = b13 = b14 = b15 = 0.0
    if degree >= 1:
        b1, b2, b3 = -_C1 * y, _C1 * z, -_C1 * x
    if degree >= 2:
        xx, yy, zz = x * x, y * y, z * z
        b4 = _C2[0] * x * y
        b5 = _C2[1] * y * z
        b6 = _C2[2] * (2.0 * zz - xx - yy)
        b7 = _C2[3] * x * z
        b8 = _C2[4] * (xx - yy)
        if degree >= 3:
            b9 = _C3[0] * y * (3.0 * xx - yy)
            b10 = _C3[1] * x * y * z
            b11 = _C3[2] * y * (4.0 * zz - xx - yy)
            b12 = _C3[3] * z * (2.0 * zz - 3.0 * xx - 3.0 * yy)
            b13 = _C3[4] * x * (4.0 * zz - xx - yy)
            b14 = _C3[5] * z * (xx - yy)
            b15 = _C3[6] * x * (xx - 3.0 * yy)
    return (SH_C0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15)


@njit(cache=True)
def sh_basis_grad(degree, x, y, z):
    """(dY/dx, dY/dy, dY/dz) as three 16-tuples, at (x, y, z) treated as free variables."""
    dx1 = dx2 = dx3 = dx4 = dx5 = dx6 = dx7 = dx8 = 0.0
    dx9 = dx10 = dx11 = dx12 = dx13 = dx14 = dx15 = 0.0
    dy1 = dy2 = dy3 = dy4 = dy5 = dy6 = dy7 = dy8 = 0.0
    dy9 = dy10 = dy11 = dy12 = dy13 = dy14 = dy15 = 0.0
    dz1 = dz2 = dz3 = dz4 = dz5 = dz6 = dz7 = dz8 = 0.0
    dz9 = dz10 = dz11 = dz12 = dz13 = dz14 = dz15 = 0.0
    if degree >= 1:
        dy1, dz2, dx3 = -_C1, _C1, -_C1
    if degree >= 2:
        xx, yy, zz = x * x, y * y, z * z
        dx4, dy4 = _C2[0] * y, _C2[0] * x
        dy5, dz5 = _C2[1] * z, _C2[1] * y
        dx6, dy6, dz6 = -2.0 * _C2[2] * x, -2.0 * _C2[2] * y, 4.0 * _C2[2] * z
        dx7, dz7 = _C2[3] * z, _C2[3] * x
        dx8, dy8 = 2.0 * _C2[4] * x, -2.0 * _C2[4] * y
        if degree >= 3:
            dx9, dy9 = 6.0 * _C3[0] * x * y, _C3[0] * (3.0 * xx - 3.0 * yy)
            dx10, dy10, dz10 = _C3[1] * y * z, _C3[1] * x * z, _C3[1] * x * y
            dx11 = -2.0 * _C3[2] * x * y
            dy11 = _C3[2] * (4.0 * zz - xx - 3.0 * yy)
            dz11 = 8.0 * _C3[2] * y * z
            dx12, dy12 = -6.0 * _C3[3] * x * z, -6.0 * _C3[3] * y * z
            dz12 = _C3[3] * (6.0 * zz - 3.0 * xx - 3.0 * yy)
            dx13 = _C3[4] * (4.0 * zz - 3.0 * xx - yy)
            dy13, dz13 = -2.0 * _C3[4] * x * y, 8.0 * _C3[4] * x * z
            dx14, dy14 = 2.0 * _C3[5] * x * z, -2.0 * _C3[5] * y * z
            dz14 = _C3[5] * (xx - yy)
            dx15, dy15 = _C3[6] * (3.0 * xx - 3.0 * yy), -6.0 * _C3[6] * x * y
    return (
        (0.0, dx1, dx2, dx3, dx4, dx5, dx6, dx7, dx8, dx9, dx10, dx11, dx12, dx13, dx14, dx15),
        (0.0, dy1, dy2, dy3, dy4, dy5, dy6, dy7, dy8, dy9, dy10, dy11, dy12, dy13, dy14, dy15),
        (0.0, dz1, dz2, dz3, dz4, dz5, dz6, dz7, dz8, dz9, dz10, dz11, dz12, dz13, dz14, dz15),
    )


@njit(cache=True)
def sh_colour(coeffs, basis, count):
    """0.5 + the first ``count`` (K, 3) ``coeffs`` weighted by ``basis``, per channel. The
    loop runs over all 16 slots so that it unrolls and the tuple indices become constants
    (a tuple indexed at run time goes through the stack on every access)."""
    r = g = b = 0.5
    for k in range(16):
        if k < count:
            r += basis[k] * coeffs[k, 0]
            g += basis[k] * coeffs[k, 1]
            b += basis[k] * coeffs[k, 2]
    return r, g, b


@njit(cache=True)
def sh_colour_backward(coeffs, basis, grad_x, grad_y, grad_z, count, vr, vg, vb, v_coeffs):
    """Adds the colour gradient (vr, vg, vb) to ``v_coeffs`` and returns its gradient with
    respect to the direction (x, y, z), unrolled like ``sh_colour``."""
    vx = vy = vz = 0.0
    for k in range(16):
        if k < count:
            v_coeffs[k, 0] += basis[k] * vr
            v_coeffs[k, 1] += basis[k] * vg
            v_coeffs[k, 2] += basis[k] * vb
            along = coeffs[k, 0] * vr + coeffs[k, 1] * vg + coeffs[k, 2] * vb
            vx += grad_x[k] * along
            vy += grad_y[k] * along
            vz += grad_z[k] * along
    return vx, vy, vz
