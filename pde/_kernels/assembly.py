"""Numba kernels of the pde Galerkin forms: sparse bilinear-form assembly (COO triplets), load vectors and
interpolation of a coefficient vector, from shape-function values at quadrature points.

Kernels take plain float64/int64 arrays and are called by :mod:`pde.fem` (and through it by
:mod:`pde.td`, :mod:`pde.multilevel`).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange
from gpu.jit import refresh_stale_cache

@njit(cache=True)
def assemble_pairs(seg, conn1, v1, g1, conn2, v2, g2, w, cm, ck, rows, cols, data):
    """COO triplets of a(w, u) = sum_q w_q [cm_q phi_a phi_b + ck_q grad phi_a . grad phi_b].

    Points are split into segments ``seg`` (CSR offsets) sharing one row connectivity
    (``conn1``) and one column connectivity (``conn2``); each segment emits a dense
    P1 x P2 block (padding columns, index -1, are dropped by the caller via ``rows >= 0``).
    Returns the number of triplets written.
    Many arguments: Numba kernels take plain arrays and scalars (no objects in nopython mode).
    """
    P1 = conn1.shape[1]
    P2 = conn2.shape[1]
    d = g1.shape[2]
    pos = 0
    for s in range(seg.shape[0] - 1):
        a0 = seg[s]
        a1 = seg[s + 1]
        for i in range(P1):
            ri = conn1[a0, i]
            for j in range(P2):
                cj = conn2[a0, j]
                acc = 0.0
                if ri >= 0 and cj >= 0:
                    for q in range(a0, a1):
                        gg = 0.0
                        for t in range(d):
                            gg += g1[q, i, t] * g2[q, j, t]
                        acc += w[q] * (cm[q] * v1[q, i] * v2[q, j] + ck[q] * gg)
                rows[pos] = ri
                cols[pos] = cj
                data[pos] = acc
                pos += 1
    return pos


@njit(cache=True)
def assemble_vector(conn, v, wf, ndof):
    """b_i = sum_q wf_q phi_i(x_q) with the point-wise connectivity ``conn`` (-1 padded)."""
    b = np.zeros(ndof)
    for q in range(conn.shape[0]):
        for i in range(conn.shape[1]):
            c = conn[q, i]
            if c >= 0:
                b[c] += wf[q] * v[q, i]
    return b


@njit(cache=True, parallel=True)
def interpolate(conn, v, u, out):
    """u^h(x_q) = sum_i phi_i(x_q) u_i at every point."""
    for q in prange(conn.shape[0]):
        s = 0.0
        for i in range(conn.shape[1]):
            c = conn[q, i]
            if c >= 0:
                s += v[q, i] * u[c]
        out[q] = s


refresh_stale_cache(globals())   # callees in other files are compiled in: see gpu.jit
