"""Numba kernels of the particle-mesh code: cloud-in-cell assignment and interpolation on an x-slab.

Grids are local x-slabs ``rho[nxl + 1, n, n]`` whose last plane is a ghost (the first plane
of the next slab, periodic); positions are in grid units, x relative to the slab's first
plane, so ``0 <= gx < nxl`` for particles the slab owns. Cloud-in-cell (Hockney & Eastwood
1988, sec. 5-3): weight ``(1 - |d|)`` per axis to the two nearest grid points.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def cic_deposit(gpos, mass, grid):
    """Add ``mass`` of every particle to ``grid`` (shape (nxl + 1, n, n), y and z periodic)."""
    n = grid.shape[1]
    for p in range(gpos.shape[0]):
        x = gpos[p, 0]
        y = gpos[p, 1]
        z = gpos[p, 2]
        i = int(np.floor(x))
        j = int(np.floor(y))
        k = int(np.floor(z))
        dx = x - i
        dy = y - j
        dz = z - k
        j %= n
        k %= n
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


@njit(cache=True)
def cic_interpolate(gpos, field, out):
    """CIC-interpolate ``field`` (shape (nxl + 1, n, n, 3)) to particles, ``out[p, :]``."""
    n = field.shape[1]
    for p in range(gpos.shape[0]):
        x = gpos[p, 0]
        y = gpos[p, 1]
        z = gpos[p, 2]
        i = int(np.floor(x))
        j = int(np.floor(y))
        k = int(np.floor(z))
        dx = x - i
        dy = y - j
        dz = z - k
        j %= n
        k %= n
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
