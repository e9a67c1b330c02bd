"""Real SH basis (the 3DGS one, as in ``core.sh``) and its gradient, for numba kernels.

The basis and its gradient go to a table of splats, one splat per column and one
quantity per row (the projection kernels' scratch table), from loops over the columns
that LLVM vectorises; unused higher bands get basis 0. The color sums then go splat by
splat over the coefficients as the caller holds them, (N, K, 3).
"""

from numba import njit

from setsplat.core.sh import _C1, _C2, _C3, SH_C0


@njit(cache=True, inline="always")
def _store(table, row, lane, v):
    """A 16-tuple into rows row..row+15 (constant tuple indices: a tuple indexed at run
    time goes through a switch, which stops vectorisation)."""
    table[row, lane], table[row + 1, lane], table[row + 2, lane], table[row + 3, lane] = \
        v[0], v[1], v[2], v[3]
    table[row + 4, lane], table[row + 5, lane], table[row + 6, lane], table[row + 7, lane] = \
        v[4], v[5], v[6], v[7]
    table[row + 8, lane], table[row + 9, lane], table[row + 10, lane], table[row + 11, lane] = \
        v[8], v[9], v[10], v[11]
    table[row + 12, lane], table[row + 13, lane], table[row + 14, lane], \
        table[row + 15, lane] = v[12], v[13], v[14], v[15]


@njit(cache=True, inline="always")
def sh_basis(table, row, lane, degree, x, y, z):
    """Y_0..Y_15 at the unit direction (x, y, z) into rows row..row+15; bands above
    ``degree`` are zero."""
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
    _store(table, row, lane,
           (SH_C0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15))


@njit(cache=True, inline="always")
def sh_basis_grad(table, row, lane, degree, x, y, z):
    """dY/dx, dY/dy, dY/dz into rows row.., row+16.., row+32.., at (x, y, z) treated as
    free variables."""
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
    _store(table, row, lane,
           (0.0, dx1, dx2, dx3, dx4, dx5, dx6, dx7, dx8, dx9, dx10, dx11, dx12, dx13, dx14, dx15))
    _store(table, row + 16, lane,
           (0.0, dy1, dy2, dy3, dy4, dy5, dy6, dy7, dy8, dy9, dy10, dy11, dy12, dy13, dy14, dy15))
    _store(table, row + 32, lane,
           (0.0, dz1, dz2, dz3, dz4, dz5, dz6, dz7, dz8, dz9, dz10, dz11, dz12, dz13, dz14, dz15))


@njit(cache=True, inline="always")
def sh_color(table, basis, lane, sh, i, terms):
    """Splat i's color, 0.5 + its first ``terms`` coefficients weighted by the basis
    (rows basis + k of column ``lane``), unclamped. The coefficients are read where they
    lie, three channels to a term: copying them into the table's rows first cost more
    than vectorising their sums over the columns saved."""
    r = g = b = 0.5
    for k in range(terms):
        y = table[basis + k, lane]
        r += y * sh[i, k, 0]
        g += y * sh[i, k, 1]
        b += y * sh[i, k, 2]
    return r, g, b


@njit(cache=True, inline="always")
def sh_color_backward(table, basis, basis_grad, lane, sh, i, terms, vr, vg, vb, v_sh):
    """Adds the color gradient (vr, vg, vb) of splat i to its coefficients' (``v_sh[i]``)
    and returns the gradient of the view direction (x, y, z) treated as free."""
    dx = dy = dz = 0.0
    for k in range(terms):
        y = table[basis + k, lane]
        v_sh[i, k, 0] += y * vr
        v_sh[i, k, 1] += y * vg
        v_sh[i, k, 2] += y * vb
        along = sh[i, k, 0] * vr + sh[i, k, 1] * vg + sh[i, k, 2] * vb
        dx += table[basis_grad + k, lane] * along
        dy += table[basis_grad + 16 + k, lane] * along
        dz += table[basis_grad + 32 + k, lane] * along
    return dx, dy, dz
