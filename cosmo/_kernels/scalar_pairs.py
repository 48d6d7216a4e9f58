"""Numba kernel of the pairwise statistics of a per-particle scalar (e.g. a DTFE density contrast,
:func:`cosmo.pairwise.density_pair_statistics`): all auto pairs in separation bins, each unordered
pair once, with per-chunk accumulators summed by the driver."""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from gpu.jit import refresh_stale_cache

from .cells import half_shell_neighbour
from .pair_binning import NTAB, _mi, _r2_bin, r2_table


@njit(parallel=True, cache=True)
def scalar_pair_pass(pos, s, start, nc, ext, box, periodic, r2edges, bounds):
    """Auto pairs of one sample carrying a scalar ``s`` (e.g. a DTFE density contrast).

    Returns ``acc[nchunks, nb, 5]``: pair count, sum s_i s_j, sum (s_i + s_j)/2,
    sum (s_i^2 + s_j^2)/2 and sum (s_j - s_i)^2 per separation bin, each unordered pair
    once (half-shell cell walk, :func:`.cells.half_shell_neighbour`).
    """
    nb = r2edges.shape[0] - 1
    nchunks = bounds.shape[0] - 1
    acc = np.zeros((nchunks, nb, 5), dtype=np.float64)
    tab = r2_table(r2edges)
    half = 0.5 * box
    r2min = r2edges[0]
    r2max = r2edges[nb]
    tinv = NTAB / r2max
    for ch in prange(nchunks):
        for c in range(bounds[ch], bounds[ch + 1]):
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
                        j1 = start[c2 + 1]
                        same = dx == 0 and dy == 0 and dz == 0
                        for i in range(i0, i1):
                            j0 = i + 1 if same else start[c2]
                            for j in range(j0, j1):
                                rx = pos[j, 0] - pos[i, 0]
                                ry = pos[j, 1] - pos[i, 1]
                                rz = pos[j, 2] - pos[i, 2]
                                if periodic:
                                    rx = _mi(rx, box, half)
                                    ry = _mi(ry, box, half)
                                    rz = _mi(rz, box, half)
                                r2 = rx * rx + ry * ry + rz * rz
                                if r2 >= r2max:
                                    continue
                                if r2 < r2min or r2 == 0.0:
                                    continue
                                b = _r2_bin(r2, r2edges, tab, tinv)
                                a = s[i]
                                bb = s[j]
                                acc[ch, b, 0] += 1.0
                                acc[ch, b, 1] += a * bb
                                acc[ch, b, 2] += 0.5 * (a + bb)
                                acc[ch, b, 3] += 0.5 * (a * a + bb * bb)
                                acc[ch, b, 4] += (bb - a) * (bb - a)
    return acc


refresh_stale_cache(globals())   # callees in other files are compiled in: see gpu.jit
