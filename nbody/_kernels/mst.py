"""Tree (minimum-spanning-tree / chain) coordinates of the regularized integrator (Numba).

Tree coordinates (Rantala et al. 2020, arXiv:2001.03180, Sect. 2.3): every
node ``c`` with a parent ``par[c] >= 0`` stores the edge vector
``Q[c] = x_c - x_par[c]`` (and ``P[c] = v_c - v_par[c]``); a root
(``par[c] == -1``) stores its absolute position and velocity.  ``order`` lists
the nodes so that a parent always precedes its children.  A chain (AR-CHAIN,
Mikkola & Merritt 2008) is the special tree with one child per node; a forest
of roots only is plain Cartesian coordinates.

Pair separations of bodies at tree distance <= 2 are summed from the edge
vectors (no cancellation against the large absolute coordinates), all others
from absolute positions -- the MSTAR rule. The state-vector layout is in
:mod:`nbody._kernels.state`.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from gpu.jit import refresh_stale_cache

from ..pn import _sep


@njit(cache=True)
def to_absolute(Q, par, order, out):
    """Absolute vectors from tree coordinates (positions or velocities)."""
    n = Q.shape[0]
    for k in range(n):
        c = order[k]
        p = par[c]
        if p < 0:
            for d in range(3):
                out[c, d] = Q[c, d]
        else:
            for d in range(3):
                out[c, d] = out[p, d] + Q[c, d]


@njit(cache=True)
def to_tree(x, par, out):
    """Tree coordinates from absolute vectors (used only when a tree is first built)."""
    n = x.shape[0]
    for c in range(n):
        p = par[c]
        if p < 0:
            for d in range(3):
                out[c, d] = x[c, d]
        else:
            for d in range(3):
                out[c, d] = x[c, d] - x[p, d]


@njit(cache=True, inline="always")
def pair_sep(i, j, Q, x, par, out):
    """out = x_j - x_i, summed along the tree when the tree distance is <= 2 (MSTAR rule)."""
    pi = par[i]
    pj = par[j]
    if pj == i:
        for d in range(3):
            out[d] = Q[j, d]
    elif pi == j:
        for d in range(3):
            out[d] = -Q[i, d]
    elif pi >= 0 and pi == pj:
        for d in range(3):
            out[d] = Q[j, d] - Q[i, d]
    elif pj >= 0 and par[pj] == i:
        for d in range(3):
            out[d] = Q[j, d] + Q[pj, d]
    elif pi >= 0 and par[pi] == j:
        for d in range(3):
            out[d] = -(Q[i, d] + Q[pi, d])
    else:
        for d in range(3):
            out[d] = x[j, d] - x[i, d]


@njit(cache=True, inline="always")
def pair_sep3(i, j, Q, x, par):
    """(dx, dy, dz) = x_j - x_i by the MSTAR rule, as scalars (hot loop version of pair_sep).

    The rule itself lives in :func:`nbody.pn._sep`, which the PN kernels share.
    """
    return _sep(i, j, x, Q, par)


@njit(cache=True)
def depths(par, order):
    n = par.shape[0]
    dep = np.zeros(n, dtype=np.int64)
    for k in range(n):
        c = order[k]
        if par[c] >= 0:
            dep[c] = dep[par[c]] + 1
    return dep


@njit(cache=True)
def path_sep(a, b, Q, par, dep, out):
    """out = x_b - x_a summed along tree paths (exact re-use of edge vectors; roots hold absolutes)."""
    for d in range(3):
        out[d] = 0.0
    while a != b:
        da = dep[a] if a >= 0 else -1
        db = dep[b] if b >= 0 else -1
        if da < 0 and db < 0:
            break
        if db >= da:
            for d in range(3):
                out[d] += Q[b, d]
            b = par[b]
        else:
            for d in range(3):
                out[d] -= Q[a, d]
            a = par[a]


@njit(cache=True)
def build_mst(x, mass, mode):
    """Prim's minimum spanning tree (mode 0), AR-CHAIN chain (mode 1) or Cartesian forest (mode 2).

    Returns (par, order). MST root: the body nearest the centre of mass
    (Rantala et al. 2020, Sect. 2.3). The chain follows Mikkola & Aarseth (1993):
    start from the closest pair and append at either end the nearest free body.

    Over 100 lines: the three constructions (MST, chain, forest) share their setup and return; each is a
    plain loop that reads best in one piece.
    """
    n = x.shape[0]
    par = -np.ones(n, dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    if mode == 2 or n == 1:
        for i in range(n):
            order[i] = i
        return par, order
    if mode == 0:
        com = np.zeros(3)
        mt = 0.0
        for i in range(n):
            mt += mass[i]
            for d in range(3):
                com[d] += mass[i] * x[i, d]
        root = 0
        best = np.inf
        for i in range(n):
            r2 = 0.0
            for d in range(3):
                r2 += (x[i, d] - com[d] / mt) ** 2
            if r2 < best:
                best = r2
                root = i
        intree = np.zeros(n, dtype=np.bool_)
        dist = np.full(n, np.inf)
        link = np.full(n, -1, dtype=np.int64)
        intree[root] = True
        order[0] = root
        for j in range(n):
            if j != root:
                dist[j] = (x[j, 0] - x[root, 0]) ** 2 + (x[j, 1] - x[root, 1]) ** 2 + (x[j, 2] - x[root, 2]) ** 2
                link[j] = root
        for k in range(1, n):
            best = np.inf
            nxt = -1
            for j in range(n):
                if not intree[j] and dist[j] < best:
                    best = dist[j]
                    nxt = j
            if nxt < 0:  # non-finite distances; attach the first free body
                for j in range(n):
                    if not intree[j]:
                        nxt = j
                        break
            intree[nxt] = True
            par[nxt] = link[nxt]
            order[k] = nxt
            for j in range(n):
                if not intree[j]:
                    r2 = (x[j, 0] - x[nxt, 0]) ** 2 + (x[j, 1] - x[nxt, 1]) ** 2 + (x[j, 2] - x[nxt, 2]) ** 2
                    if r2 < dist[j]:
                        dist[j] = r2
                        link[j] = nxt
        return par, order
    # chain: nodes in chain sequence c_0 ... c_{n-1}; root c_0, par[c_k] = c_{k-1}
    used = np.zeros(n, dtype=np.bool_)
    seq = np.empty(n, dtype=np.int64)
    best = np.inf
    a = 0
    b = 1
    for i in range(n):
        for j in range(i + 1, n):
            r2 = (x[j, 0] - x[i, 0]) ** 2 + (x[j, 1] - x[i, 1]) ** 2 + (x[j, 2] - x[i, 2]) ** 2
            if r2 < best:
                best = r2
                a = i
                b = j
    lo = n  # chain stored in seq[lo:hi] of a 2n buffer
    buf = np.empty(2 * n + 1, dtype=np.int64)
    buf[lo] = a
    buf[lo + 1] = b
    hi = lo + 2
    used[a] = True
    used[b] = True
    for k in range(2, n):
        ha = buf[lo]
        hb = buf[hi - 1]
        bestj = -1
        bestd = np.inf
        atfront = False
        for j in range(n):
            if used[j]:
                continue
            ra = (x[j, 0] - x[ha, 0]) ** 2 + (x[j, 1] - x[ha, 1]) ** 2 + (x[j, 2] - x[ha, 2]) ** 2
            rb = (x[j, 0] - x[hb, 0]) ** 2 + (x[j, 1] - x[hb, 1]) ** 2 + (x[j, 2] - x[hb, 2]) ** 2
            if ra < bestd:
                bestd = ra
                bestj = j
                atfront = True
            if rb < bestd:
                bestd = rb
                bestj = j
                atfront = False
        used[bestj] = True
        if atfront:
            lo -= 1
            buf[lo] = bestj
        else:
            buf[hi] = bestj
            hi += 1
    for k in range(n):
        seq[k] = buf[lo + k]
    for k in range(n):
        order[k] = seq[k]
        if k > 0:
            par[seq[k]] = seq[k - 1]
    return par, order


@njit(cache=True)
def retree(y, n, par_old, order_old, par_new):
    """Re-express the state in a new tree; edge vectors from exact old-tree path sums (MSTAR)."""
    dep = depths(par_old, order_old)
    Q = y[3:3 + 3 * n].reshape((n, 3))
    P = y[3 + 3 * n:3 + 6 * n].reshape((n, 3))
    x = np.empty((n, 3))
    v = np.empty((n, 3))
    to_absolute(Q, par_old, order_old, x)
    to_absolute(P, par_old, order_old, v)
    out = y.copy()
    Qn = out[3:3 + 3 * n].reshape((n, 3))
    Pn = out[3 + 3 * n:3 + 6 * n].reshape((n, 3))
    tmp = np.empty(3)
    for c in range(n):
        p = par_new[c]
        if p < 0:
            for d in range(3):
                Qn[c, d] = x[c, d]
                Pn[c, d] = v[c, d]
        else:
            path_sep(p, c, Q, par_old, dep, tmp)
            for d in range(3):
                Qn[c, d] = tmp[d]
            path_sep(p, c, P, par_old, dep, tmp)
            for d in range(3):
                Pn[c, d] = tmp[d]
    return out


@njit(cache=True)
def refresh_tree(y, n, par, order, mass, mode):
    """After an accepted step: rebuild the minimum spanning tree of the new positions (Rantala et al. 2020,
    arXiv:2001.03180, sect. 2.3) and, if it changed, re-express the state in it. Returns (y, par, order)."""
    xa = np.empty((n, 3))
    to_absolute(y[3:3 + 3 * n].reshape((n, 3)), par, order, xa)
    par_new, order_new = build_mst(xa, mass, mode)
    for i in range(n):
        if par_new[i] != par[i]:
            return retree(y, n, par, order, par_new), par_new, order_new
    return y, par, order


refresh_stale_cache(globals())   # callees in other files are compiled in: see gpu.jit
