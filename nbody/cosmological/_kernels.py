"""Numba kernels of the particle-mesh code: cloud-in-cell assignment and interpolation on an x-slab.

Grids are local x-slabs ``rho[nxl + 1, n, n]`` whose last plane is a ghost (the first plane
of the next slab, periodic); positions are in grid units, x relative to the slab's first
plane, so ``0 <= gx < nxl`` for particles the slab owns. Cloud-in-cell (Hockney & Eastwood
1988, sec. 5-3): weight ``(1 - |d|)`` per axis to the two nearest grid points.

The kernels never index outside the grid: a particle with a non-finite coordinate or an x cell
outside ``[0, nxl)`` is skipped and counted (the return value; callers validate positions first
and treat a non-zero count as an error), y and z cells are wrapped with a floating-point modulo
(in ``[0, n)`` for any finite value).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange
from gpu.jit import refresh_stale_cache


@njit(cache=True)
def _cell(x, y, z, nxl, n):
    """(ok, i, j, k, dx, dy, dz): the CIC base cell of grid position (x, y, z) and the offsets in it;
    ok is False for a non-finite coordinate or an x cell outside [0, nxl)."""
    if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
        return False, 0, 0, 0, 0.0, 0.0, 0.0
    fx = np.floor(x)
    if fx < 0.0 or fx >= nxl:
        return False, 0, 0, 0, 0.0, 0.0, 0.0
    fy = np.floor(y)
    fz = np.floor(z)
    j = int(fy % n)  # fy integral: exact; in [0, n) for any finite fy (also beyond the int64 range)
    k = int(fz % n)
    if j >= n:
        j = 0
    if k >= n:
        k = 0
    return True, int(fx), j, k, x - fx, y - fy, z - fz


@njit(cache=True)
def cic_deposit(gpos, mass, grid):
    """Add ``mass`` of every particle to ``grid`` (shape (nxl + 1, n, n), y and z periodic).

    Returns the number of particles skipped (non-finite or outside the slab; nothing written for them).
    """
    nxl = grid.shape[0] - 1
    n = grid.shape[1]
    skipped = 0
    for p in range(gpos.shape[0]):
        ok, i, j, k, dx, dy, dz = _cell(gpos[p, 0], gpos[p, 1], gpos[p, 2], nxl, n)
        if not ok:
            skipped += 1
            continue
        j1 = (j + 1) % n
        k1 = (k + 1) % n
        m = mass[p]
        tx0 = 1.0 - dx
        ty0 = 1.0 - dy
        tz0 = 1.0 - dz
        grid[i, j, k] += m * tx0 * ty0 * tz0
        grid[i, j, k1] += m * tx0 * ty0 * dz
        grid[i, j1, k] += m * tx0 * dy * tz0
        grid[i, j1, k1] += m * tx0 * dy * dz
        grid[i + 1, j, k] += m * dx * ty0 * tz0
        grid[i + 1, j, k1] += m * dx * ty0 * dz
        grid[i + 1, j1, k] += m * dx * dy * tz0
        grid[i + 1, j1, k1] += m * dx * dy * dz
    return skipped


@njit(cache=True)
def central_difference(m2, m1, p1, p2, inv_d, fourth):
    """Derivative at a mesh point from its neighbours at -2d, -d, +d, +2d (``inv_d = 1 / d``): the two-point
    ``(p1 - m1) / 2d`` or, ``fourth``, the four-point ``[8 (p1 - m1) - (p2 - m2)] / 12d`` (Hockney & Eastwood 1988,
    sec. 5-4; GADGET-2's PM gradient, Springel 2005, MNRAS 364, 1105, sec. 2.3). Their Fourier transforms are
    ``i sin(k d) / d`` and ``i [8 sin(k d) - sin(2 k d)] / 6d``, the ``fd2`` / ``fd4`` kernels of
    :class:`nbody.cosmological.pm.ParticleMesh`."""
    if fourth:
        return (8.0 * (p1 - m1) - (p2 - m2)) * (inv_d / 12.0)
    return (p1 - m1) * (0.5 * inv_d)


@njit(cache=True)
def _wrapped(n):
    """Periodic neighbour indices (i - 2, i - 1, i + 1, i + 2) mod n of i = 0 .. n - 1, as an (n, 4) table."""
    w = np.empty((n, 4), dtype=np.int64)
    for i in range(n):
        w[i, 0], w[i, 1], w[i, 2], w[i, 3] = (i - 2) % n, (i - 1) % n, (i + 1) % n, (i + 2) % n
    return w


@njit(parallel=True, cache=True)
def gradient_force(phi, inv_d, fourth, field):
    """``field[i, j, k, c] = -d phi / dx_c`` on the periodic mesh ``phi`` (n0, n1, n2) by
    :func:`central_difference` along each axis (parallel over x planes; ``field`` has at least n0 planes)."""
    n0, n1, n2 = phi.shape
    wi, wj, wk = _wrapped(n0), _wrapped(n1), _wrapped(n2)
    for i in prange(n0):
        im2, im1, ip1, ip2 = wi[i, 0], wi[i, 1], wi[i, 2], wi[i, 3]
        for j in range(n1):
            jm2, jm1, jp1, jp2 = wj[j, 0], wj[j, 1], wj[j, 2], wj[j, 3]
            for k in range(n2):
                field[i, j, k, 0] = -central_difference(phi[im2, j, k], phi[im1, j, k], phi[ip1, j, k],
                                                        phi[ip2, j, k], inv_d, fourth)
                field[i, j, k, 1] = -central_difference(phi[i, jm2, k], phi[i, jm1, k], phi[i, jp1, k],
                                                        phi[i, jp2, k], inv_d, fourth)
                field[i, j, k, 2] = -central_difference(phi[i, j, wk[k, 0]], phi[i, j, wk[k, 1]], phi[i, j, wk[k, 2]],
                                                        phi[i, j, wk[k, 3]], inv_d, fourth)


@njit(parallel=True, cache=True)
def cic_interpolate(gpos, field, out):
    """CIC-interpolate ``field`` (shape (nxl + 1, n, n, 3)) to particles, ``out[p, :]`` (parallel over particles).

    Returns the number of particles skipped (non-finite or outside the slab; their ``out`` rows are NaN).
    """
    nxl = field.shape[0] - 1
    n = field.shape[1]
    skipped = 0
    for p in prange(gpos.shape[0]):
        ok, i, j, k, dx, dy, dz = _cell(gpos[p, 0], gpos[p, 1], gpos[p, 2], nxl, n)
        if not ok:
            skipped += 1
            for c in range(3):
                out[p, c] = np.nan
            continue
        j1 = (j + 1) % n
        k1 = (k + 1) % n
        tx0 = 1.0 - dx
        ty0 = 1.0 - dy
        tz0 = 1.0 - dz
        for c in range(3):
            out[p, c] = (field[i, j, k, c] * tx0 * ty0 * tz0 + field[i, j, k1, c] * tx0 * ty0 * dz
                         + field[i, j1, k, c] * tx0 * dy * tz0 + field[i, j1, k1, c] * tx0 * dy * dz
                         + field[i + 1, j, k, c] * dx * ty0 * tz0 + field[i + 1, j, k1, c] * dx * ty0 * dz
                         + field[i + 1, j1, k, c] * dx * dy * tz0 + field[i + 1, j1, k1, c] * dx * dy * dz)
    return skipped


refresh_stale_cache(globals())   # callees in other files are compiled in: see gpu.jit
