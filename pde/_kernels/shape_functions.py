"""Numba kernels of the pde bases: C-HiDeNN and tensor-product Lagrange shape functions and gradients.

Kernels take plain float64/int64 arrays (SI units, no objects) and are called by :mod:`pde.chidenn` and
:mod:`pde.fem`.

Conventions
-----------
* Elements are axis-aligned boxes of a structured mesh (lines, quads, hexes): an element is
  given by its lower corner ``x0[e]`` and edge lengths ``h[e]``; its ``2**d`` vertices are
  numbered by the bits of the local index (bit ``i`` set -> upper side along axis ``i``).
* Evaluation points are grouped by element through CSR offsets ``pstart`` (points of element
  ``e`` are ``pstart[e]:pstart[e+1]``), so per-node work (the RPI moment-matrix inverse) is
  done once per (element, vertex) and reused for all points in that element.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange
from gpu.jit import refresh_stale_cache

KERNEL_CUBIC = 0
KERNEL_GAUSS = 1


@njit(cache=True)
def radial(z, kind):
    """Radial kernel R(z) and dR/dz.

    Cubic spline (arXiv:2505.18141 App. A.1): R = 2/3 - 4z^2 + 4z^3 (z <= 1/2),
    4/3 - 4z + 4z^2 - 4/3 z^3 (1/2 < z <= 1), 0 beyond.  Gaussian: R = exp(-z^2).
    """
    if kind == KERNEL_CUBIC:
        if z <= 0.5:
            return 2.0 / 3.0 - 4.0 * z * z + 4.0 * z * z * z, -8.0 * z + 12.0 * z * z
        elif z <= 1.0:
            return (4.0 / 3.0 - 4.0 * z + 4.0 * z * z - 4.0 / 3.0 * z * z * z,
                    -4.0 + 8.0 * z - 4.0 * z * z)
        return 0.0, 0.0
    e = np.exp(-z * z)
    return e, -2.0 * z * e


@njit(cache=True)
def _vertex_shape(xq, x0, h, d, N, dN):
    """Multilinear vertex shape functions N_a and gradients of a box element at point xq."""
    nen = 1 << d
    for a in range(nen):
        val = 1.0
        for i in range(d):
            xi = (xq[i] - x0[i]) / h[i]
            if (a >> i) & 1:
                val *= xi
            else:
                val *= 1.0 - xi
        N[a] = val
        for k in range(d):
            g = 1.0
            for i in range(d):
                xi = (xq[i] - x0[i]) / h[i]
                if i == k:
                    g *= (1.0 / h[i]) if ((a >> i) & 1) else (-1.0 / h[i])
                else:
                    g *= xi if ((a >> i) & 1) else (1.0 - xi)
            dN[a, k] = g


@njit(cache=True, parallel=True)
def chidenn_eval(pts, pstart, elem_nodes, elem_x0, elem_h, X, patch, patch_n, elem_patch, elem_patch_n,
                 expo, node_a, kind, vals, grads):
    """C-HiDeNN shape functions and gradients at points grouped by element.

    u^h(x) = sum_{k in element vertices} N_k(x) sum_{j in patch_s(k)} W_j^k(x) u_j
    (arXiv:2505.18141 App. A.1).  W^k solves the radial point interpolation system
    [[R0, P0], [P0^T, 0]] [W; b] = [R(x); p(x)] on the patch of vertex k, with
    R0_ij = R(|x_i - x_j| / a_k), P0 the complete monomials of degree <= p (exponents
    ``expo``) evaluated at the patch nodes in the scaled local frame (x - x_k)/a_k
    (the span, hence the reproduction, is invariant to that affine map).

    Output ``vals[q, c]`` and ``grads[q, c, :]`` refer to the column ``c`` of the element's
    node list ``elem_patch[e]`` (padded with -1).
    Many arguments: Numba kernels take plain arrays and scalars (no objects in nopython mode). One parallel loop over elements in one piece: each element solves its patches' small systems in place.
    """
    ne = elem_nodes.shape[0]
    d = X.shape[1]
    nen = elem_nodes.shape[1]
    nm = expo.shape[0]
    for e in prange(ne):
        q0 = pstart[e]
        q1 = pstart[e + 1]
        if q1 == q0:
            continue
        for q in range(q0, q1):
            for c in range(vals.shape[1]):
                vals[q, c] = 0.0
                for i in range(d):
                    grads[q, c, i] = 0.0
        N = np.empty(nen)
        dN = np.empty((nen, d))
        for a in range(nen):
            k = elem_nodes[e, a]
            m = patch_n[k]
            ak = node_a[k]
            n = m + nm
            A = np.zeros((n, n))
            for i in range(m):
                pi = patch[k, i]
                for j in range(m):
                    pj = patch[k, j]
                    r = 0.0
                    for t in range(d):
                        r += (X[pi, t] - X[pj, t]) ** 2
                    A[i, j] = radial(np.sqrt(r) / ak, kind)[0]
                for t in range(nm):
                    v = 1.0
                    for s in range(d):
                        v *= ((X[pi, s] - X[k, s]) / ak) ** expo[t, s]
                    A[i, m + t] = v
                    A[m + t, i] = v
            Ainv = np.linalg.inv(A)
            # column of each patch node inside the element patch
            loc = np.empty(m, dtype=np.int64)
            for i in range(m):
                pi = patch[k, i]
                loc[i] = -1
                for c in range(elem_patch_n[e]):
                    if elem_patch[e, c] == pi:
                        loc[i] = c
                        break
            rhs = np.zeros((n, 1 + d))
            for q in range(q0, q1):
                _vertex_shape(pts[q], elem_x0[e], elem_h[e], d, N, dN)
                if N[a] == 0.0 and np.abs(dN[a]).max() == 0.0:
                    continue
                for i in range(m):
                    pi = patch[k, i]
                    r = 0.0
                    for t in range(d):
                        r += (pts[q, t] - X[pi, t]) ** 2
                    r = np.sqrt(r)
                    R, dR = radial(r / ak, kind)
                    rhs[i, 0] = R
                    for t in range(d):
                        rhs[i, 1 + t] = dR / ak * (pts[q, t] - X[pi, t]) / r if r > 0.0 else 0.0
                for t in range(nm):
                    v = 1.0
                    for s in range(d):
                        v *= ((pts[q, s] - X[k, s]) / ak) ** expo[t, s]
                    rhs[m + t, 0] = v
                    for g in range(d):
                        ex = expo[t, g]
                        if ex == 0:
                            rhs[m + t, 1 + g] = 0.0
                        else:
                            dv = ex / ak * ((pts[q, g] - X[k, g]) / ak) ** (ex - 1)
                            for s in range(d):
                                if s != g:
                                    dv *= ((pts[q, s] - X[k, s]) / ak) ** expo[t, s]
                            rhs[m + t, 1 + g] = dv
                for i in range(m):
                    W = 0.0
                    for j in range(n):
                        W += Ainv[i, j] * rhs[j, 0]
                    c = loc[i]
                    vals[q, c] += N[a] * W
                    for g in range(d):
                        dW = 0.0
                        for j in range(n):
                            dW += Ainv[i, j] * rhs[j, 1 + g]
                        grads[q, c, g] += dN[a, g] * W + N[a] * dW


@njit(cache=True)
def _lagrange_1d(xi, r, out, dout):
    """1D Lagrange polynomials of order r on equispaced nodes 0, 1/r, ..., 1 (and d/dxi)."""
    for a in range(r + 1):
        xa = a / r
        v = 1.0
        for b in range(r + 1):
            if b != a:
                v *= (xi - b / r) / (xa - b / r)
        out[a] = v
        dv = 0.0
        for c in range(r + 1):
            if c == a:
                continue
            t = 1.0 / (xa - c / r)
            for b in range(r + 1):
                if b != a and b != c:
                    t *= (xi - b / r) / (xa - b / r)
            dv += t
        dout[a] = dv


@njit(cache=True, parallel=True)
def lagrange_eval(pts, elem_of_pt, elem_x0, elem_h, r, d, vals, grads):
    """Tensor-product Lagrange (Q_r) shape functions on box elements; local dof index is
    C-ordered over the (r+1)^d element nodes (axis 0 slowest)."""
    npt = pts.shape[0]
    for q in prange(npt):
        e = elem_of_pt[q]
        L = np.empty((d, r + 1))
        dL = np.empty((d, r + 1))
        for i in range(d):
            xi = (pts[q, i] - elem_x0[e, i]) / elem_h[e, i]
            _lagrange_1d(xi, r, L[i], dL[i])
            for a in range(r + 1):
                dL[i, a] /= elem_h[e, i]
        nloc = (r + 1) ** d
        for c in range(nloc):
            rem = c
            idx = np.empty(d, dtype=np.int64)
            for i in range(d - 1, -1, -1):
                idx[i] = rem % (r + 1)
                rem //= (r + 1)
            v = 1.0
            for i in range(d):
                v *= L[i, idx[i]]
            vals[q, c] = v
            for g in range(d):
                dv = 1.0
                for i in range(d):
                    dv *= dL[i, idx[i]] if i == g else L[i, idx[i]]
                grads[q, c, g] = dv


refresh_stale_cache(globals())   # callees in other files are compiled in: see gpu.jit
