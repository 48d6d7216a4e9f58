"""Numba kernels for friends-of-friends: union-find over all pairs closer than the linking length."""
from __future__ import annotations

import numpy as np
from numba import njit

from gpu.jit import refresh_stale_cache

from .cells import half_shell_neighbour


@njit(cache=True, inline="always")
def _find(parent, i):
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:  # path compression
        nxt = parent[i]
        parent[i] = root
        i = nxt
    return root


@njit(cache=True, inline="always")
def _union(parent, a, b):
    ra = _find(parent, a)
    rb = _find(parent, b)
    if ra == rb:
        return
    # the smaller index becomes the root: deterministic labels
    if ra < rb:
        parent[rb] = ra
    else:
        parent[ra] = rb


@njit(cache=True)
def fof_link(pos, idx, start, nc, ext, box, periodic, ll2, cell_lo, cell_hi, parent):
    """Union all pairs with |x_j - x_i|^2 <= ll2 whose first particle lies in cells [cell_lo, cell_hi).

    ``pos`` is sorted by cell (``start`` as in the pair kernel), ``idx`` maps sorted
    positions to original particle indices, and ``parent`` (original indexing) is the
    union-find forest, updated in place. Half-shell neighbour walk: every pair once.
    Many arguments: Numba kernels take plain arrays and scalars (no objects in nopython mode).
    """
    half = 0.5 * box
    for c in range(cell_lo, cell_hi):
        i0 = start[c]
        i1 = start[c + 1]
        if i1 == i0:
            continue
        ix = c // (nc * nc)
        iy = (c // nc) % nc
        iz = c % nc
        for dx in range(-ext, ext + 1):
            for dy in range(-ext, ext + 1):
                for dz in range(-ext, ext + 1):
                    c2 = half_shell_neighbour(ix, iy, iz, dx, dy, dz, nc, periodic)
                    if c2 < 0:
                        continue
                    same = dx == 0 and dy == 0 and dz == 0
                    for i in range(i0, i1):
                        j0 = i + 1 if same else start[c2]
                        for j in range(j0, start[c2 + 1]):
                            rx = pos[j, 0] - pos[i, 0]
                            ry = pos[j, 1] - pos[i, 1]
                            rz = pos[j, 2] - pos[i, 2]
                            if periodic:
                                if rx > half:
                                    rx -= box
                                elif rx < -half:
                                    rx += box
                                if ry > half:
                                    ry -= box
                                elif ry < -half:
                                    ry += box
                                if rz > half:
                                    rz -= box
                                elif rz < -half:
                                    rz += box
                            if rx * rx + ry * ry + rz * rz <= ll2:
                                _union(parent, idx[i], idx[j])


@njit(cache=True)
def merge_forests(parent, roots):
    """Union particle i with ``roots[k, i]`` for every forest k (stitching MPI domains)."""
    for k in range(roots.shape[0]):
        for i in range(roots.shape[1]):
            if roots[k, i] != i:
                _union(parent, i, roots[k, i])


@njit(cache=True)
def resolve_roots(parent):
    """Root of every particle (fully compressed)."""
    out = np.empty_like(parent)
    for i in range(parent.shape[0]):
        out[i] = _find(parent, i)
    return out


refresh_stale_cache(globals())   # callees in other files are compiled in: see gpu.jit
