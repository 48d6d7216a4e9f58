"""Cell-list helpers shared by the pair kernels: the half-shell neighbour walk (FoF links, scalar pair
statistics) and the z-order of each cell (the exact z-windows of :mod:`.pair_scan`)."""
from __future__ import annotations

import numpy as np
from numba import njit, prange
from gpu.jit import refresh_stale_cache


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


@njit(parallel=True, cache=True)
def zsort_cells(order, z, start):
    """Sort the particle indices ``order[start[c]:start[c+1]]`` of every cell ``c`` by ``z[order]``
    in place (stable), so that each (x, y) column of a cell list (consecutive z-cells) is sorted
    by z: :func:`.pair_scan.pair_pass` then finds the exact z-window of a particle by binary search."""
    nc3 = start.shape[0] - 1
    for c in prange(nc3):
        s0 = start[c]
        s1 = start[c + 1]
        if s1 - s0 < 2:
            continue
        if s1 - s0 <= 32:
            # small cell: stable insertion sort in place (no allocations)
            for q in range(s0 + 1, s1):
                oq = order[q]
                zq = z[oq]
                r = q
                while r > s0 and z[order[r - 1]] > zq:
                    order[r] = order[r - 1]
                    r -= 1
                order[r] = oq
            continue
        seg = order[s0:s1].copy()
        zz = z[seg]
        k = np.argsort(zz, kind="mergesort")
        for q in range(s1 - s0):
            order[s0 + q] = seg[k[q]]
    return order


@njit(cache=True, inline="always")
def wrap_cell(j, nc, box, periodic):
    """Neighbour cell index ``j`` (one of ``ix + dx``, possibly outside 0..nc-1) on a grid of ``nc``
    cells: ``(j, shift, inside)``. In a periodic box ``j`` is wrapped into the grid and ``shift`` (-box,
    0 or +box) is the displacement of the image it stands for (the minimum-image convention); in an
    open box a cell outside the grid has ``inside`` False. One scalar function for the CPU scan and the
    CUDA kernel (compiled there as a device function)."""
    if periodic:
        if j < 0:
            return j + nc, -box, True
        if j >= nc:
            return j - nc, box, True
        return j, 0.0, True
    return j, 0.0, j >= 0 and j < nc


refresh_stale_cache(globals())   # callees in other files are compiled in: see gpu.jit
