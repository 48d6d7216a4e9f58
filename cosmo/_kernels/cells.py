"""Cell-list neighbour walk shared by the pair kernels (FoF links, scalar pair statistics)."""
from __future__ import annotations

from numba import njit


@njit(cache=True, inline="always")
def half_shell_neighbour(ix, iy, iz, dx, dy, dz, nc, periodic):
    """Index of cell (ix + dx, iy + dy, iz + dz) of an nc^3 grid, or -1 if it is skipped: offsets in the
    lower half shell (each unordered cell pair is visited once; (0, 0, 0) is the cell itself) and, without
    periodic wrap, cells outside the grid."""
    if dx < 0 or (dx == 0 and (dy < 0 or (dy == 0 and dz < 0))):
        return -1
    jx = ix + dx
    jy = iy + dy
    jz = iz + dz
    if periodic:
        jx %= nc
        jy %= nc
        jz %= nc
    elif jx < 0 or jx >= nc or jy < 0 or jy >= nc or jz < 0 or jz >= nc:
        return -1
    return (jx * nc + jy) * nc + jz
