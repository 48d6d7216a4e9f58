"""Numba kernels of the regularized few-body integrator (MSTAR / AR-CHAIN family).

Everything that runs once per force evaluation or per GBS step lives here, in
G = 1 code units, on plain float64/int64 arrays.  Layout of the GBS state vector
``y`` for ``N`` bodies::

    y[0]            physical time t
    y[1]            binding-energy variable B (= -(T - U) on the exact solution)
    y[2]            TTL auxiliary variable omega (tracks Omega = U)
    y[3:3+3N]       Q: tree coordinates of positions (node-wise, see below)
    y[3+3N:3+6N]    P: tree coordinates of velocities
    y[3+6N:3+9N]    spin angular momenta S (absolute; zero when unused)

Tree coordinates (Rantala et al. 2020, arXiv:2001.03180, Sect. 2.3): every
node ``c`` with a parent ``par[c] >= 0`` stores the edge vector
``Q[c] = x_c - x_par[c]`` (and ``P[c] = v_c - v_par[c]``); a root
(``par[c] == -1``) stores its absolute position and velocity.  ``order`` lists
the nodes so that a parent always precedes its children.  A chain (AR-CHAIN,
Mikkola & Merritt 2008) is the special tree with one child per node; a forest
of roots only is plain Cartesian coordinates.

Pair separations of bodies at tree distance <= 2 are summed from the edge
vectors (no cancellation against the large absolute coordinates), all others
from absolute positions -- the MSTAR rule.

Time transformation (Mikkola & Tanikawa 1999; Preto & Tremaine 1999; Mikkola &
Aarseth 2002 for TTL): drift ``dt = h / (alpha (T + B) + beta omega + gamma)``,
kick ``dt = h / (alpha U + beta Omega + gamma)`` with Omega = U.  LogH is
(1, 0, 0), TTL is (0, 1, 0), the ordinary leapfrog (0, 0, 1).

Velocity-dependent (PN) forces use the auxiliary-velocity generalized midpoint
kick (Hellström & Mikkola 2010; Pihajoki 2015): ``w += dt/2 f(v); v += dt f(w);
w += dt/2 f(v)``, with B updated by the work of the non-Newtonian forces.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..pn import _sep, eih_accel, pn_pair_accel, spin_precession_pair

# indices into the float parameter vector ``prm``
P_ALPHA, P_BETA, P_GAMMA, P_C, P_TOL, P_MERGE, P_NPRM = 0, 1, 2, 3, 4, 5, 6
# indices into the integer flag vector ``flg``
F_1PN, F_2PN, F_25PN, F_3PN, F_35PN, F_SPIN, F_CROSS, F_KMIN, F_KMAX, F_ANYPN, F_PHYSLAND, F_NFLG = range(12)

MAXK = 12


# ----------------------------------------------------------------------------------------------
# tree utilities
# ----------------------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------------------
# forces and energies
# ----------------------------------------------------------------------------------------------
@njit(cache=True, fastmath={"reassoc", "contract", "nsz", "arcp"}, error_model="numpy")
def _far_rows(xs, ys, zs, mass, w, i, n, ax_, ay_, az_):
    """Row i of the pair sum over j > i in absolute coordinates, weighted by w[j] (0: pair skipped).

    Branch-free and contiguous (structure-of-arrays) so that LLVM vectorises it; only the order of
    the floating-point sums is free (reassociation/contraction), the arithmetic is that of the scalar
    loop. Returns (a_i, sum_j w m_i m_j / r) and subtracts the reaction from (ax_, ay_, az_)[j].
    """
    xi = xs[i]
    yi = ys[i]
    zi = zs[i]
    mi = mass[i]
    ax = 0.0
    ay = 0.0
    az = 0.0
    u = 0.0
    for j in range(i + 1, n):
        dx = xs[j] - xi
        dy = ys[j] - yi
        dz = zs[j] - zi
        r2 = dx * dx + dy * dy + dz * dz
        inv = w[j] / math.sqrt(r2)
        inv3 = inv * inv * inv
        mj = mass[j]
        u += mj * inv
        fj = mj * inv3
        fi = mi * inv3
        ax += fj * dx
        ay += fj * dy
        az += fj * dz
        ax_[j] -= fi * dx
        ay_[j] -= fi * dy
        az_[j] -= fi * dz
    return ax, ay, az, mi * u


@njit(cache=True)
def newton_acc(Q, x, par, mass, acc):
    """Newtonian accelerations (G = 1) into ``acc``; returns U = sum_{i<j} m_i m_j / r_ij.

    Allocates its work arrays; the leapfrog's substep loop calls :func:`newton_acc_ws` with
    arrays allocated once per leapfrog (same arithmetic, bitwise the same result).
    """
    return newton_acc_ws(Q, x, par, mass, acc, np.empty((7, mass.shape[0])))


@njit(cache=True)
def newton_acc_ws(Q, x, par, mass, acc, ws):
    """Newtonian accelerations (G = 1) into ``acc``; returns U = sum_{i<j} m_i m_j / r_ij.

    Pairs at tree distance <= 2 (the MSTAR rule, :func:`nbody.pn._sep`) take their separation from
    the tree edge vectors Q; all other pairs from the absolute positions x, in a vectorised row
    kernel (:func:`_far_rows`) with those near pairs weighted out. Same sums as the scalar pair
    loop up to the order of additions. ``ws`` is a (7, n) work array (its contents are overwritten).
    """
    n = mass.shape[0]
    xs = ws[0]
    ys = ws[1]
    zs = ws[2]
    ax_ = ws[3]
    ay_ = ws[4]
    az_ = ws[5]
    w = ws[6]
    for i in range(n):
        xs[i] = x[i, 0]
        ys[i] = x[i, 1]
        zs[i] = x[i, 2]
        ax_[i] = 0.0
        ay_[i] = 0.0
        az_[i] = 0.0
        w[i] = 1.0
    U = 0.0
    for i in range(n):
        pi = par[i]
        gi = par[pi] if pi >= 0 else -1
        # near partners j > i: parent, grandparent, children, grandchildren, siblings
        nnear = 0
        for j in range(i + 1, n):
            pj = par[j]
            if j == pi or j == gi or pj == i or (pi >= 0 and pj == pi) or (pj >= 0 and par[pj] == i):
                w[j] = 0.0
                nnear += 1
        ax, ay, az, u = _far_rows(xs, ys, zs, mass, w, i, n, ax_, ay_, az_)
        U += u
        if nnear > 0:
            mi = mass[i]
            for j in range(i + 1, n):
                if w[j] == 0.0:
                    w[j] = 1.0
                    dx, dy, dz = pair_sep3(i, j, Q, x, par)
                    r2 = dx * dx + dy * dy + dz * dz
                    inv = 1.0 / math.sqrt(r2)
                    inv3 = inv * inv * inv
                    mj = mass[j]
                    U += mi * mj * inv
                    fj = mj * inv3
                    fi = mi * inv3
                    ax += fj * dx
                    ay += fj * dy
                    az += fj * dz
                    ax_[j] -= fi * dx
                    ay_[j] -= fi * dy
                    az_[j] -= fi * dz
        ax_[i] += ax
        ay_[i] += ay
        az_[i] += az
    for i in range(n):
        acc[i, 0] = ax_[i]
        acc[i, 1] = ay_[i]
        acc[i, 2] = az_[i]
    return U


@njit(cache=True)
def kinetic(P, par, order, mass, v):
    to_absolute(P, par, order, v)
    T = 0.0
    for i in range(mass.shape[0]):
        T += 0.5 * mass[i] * (v[i, 0] ** 2 + v[i, 1] ** 2 + v[i, 2] ** 2)
    return T


@njit(cache=True)
def energy_state(y, n, par, order, mass):
    """(T, U) of a state vector in tree coordinates."""
    Q = y[3:3 + 3 * n].reshape((n, 3))
    P = y[3 + 3 * n:3 + 6 * n].reshape((n, 3))
    x = np.empty((n, 3))
    v = np.empty((n, 3))
    acc = np.empty((n, 3))
    to_absolute(Q, par, order, x)
    T = kinetic(P, par, order, mass, v)
    U = newton_acc(Q, x, par, mass, acc)
    return T, U


@njit(cache=True)
def extra_acc(Q, x, v, S, par, mass, isbh, prm, flg, acc, dS, wphi, waN, w3):
    """Non-Newtonian accelerations (PN) into ``acc`` and spin derivatives into ``dS``.

    1PN between BHs: N-body EIH with cross terms (flag F_CROSS) or pairwise two-body 1PN;
    2PN, 2.5PN, 3PN, 3.5PN, spin-orbit and spin-spin: pairwise between BHs
    (nbody.pn.pn_pair_accel), distributed with the mass ratios.
    """
    n = mass.shape[0]
    for i in range(n):
        for d in range(3):
            acc[i, d] = 0.0
            dS[i, d] = 0.0
    c = prm[P_C]
    if flg[F_1PN] and flg[F_CROSS]:
        eih_accel(x, v, mass, isbh, c, acc, Q, par, wphi, waN)
    pair1 = flg[F_1PN] and not flg[F_CROSS]
    if not (pair1 or flg[F_2PN] or flg[F_25PN] or flg[F_3PN] or flg[F_35PN] or flg[F_SPIN]):
        return
    dx = w3[0]
    dv = w3[1]
    arel = w3[2]
    w1 = w3[3]
    w2 = w3[4]
    for i in range(n):
        if not isbh[i]:
            continue
        for j in range(i + 1, n):
            if not isbh[j]:
                continue
            pair_sep(j, i, Q, x, par, dx)  # x_i - x_j
            for d in range(3):
                dv[d] = v[i, d] - v[j, d]
            mt = mass[i] + mass[j]
            pn_pair_accel(dx, dv, mass[i], mass[j], S[i], S[j], c, pair1, flg[F_2PN], flg[F_25PN],
                          flg[F_3PN], flg[F_35PN], flg[F_SPIN], arel)
            for d in range(3):
                acc[i, d] += mass[j] / mt * arel[d]
                acc[j, d] -= mass[i] / mt * arel[d]
            if flg[F_SPIN]:
                spin_precession_pair(dx, dv, mass[i], mass[j], S[i], S[j], c, w1, w2)
                for d in range(3):
                    dS[i, d] += w1[d]
                    dS[j, d] += w2[d]


# ----------------------------------------------------------------------------------------------
# the time-transformed leapfrog
# ----------------------------------------------------------------------------------------------
@njit(cache=True)
def leapfrog(y0, n, nsub, H, mass, isbh, par, order, prm, flg):
    """``nsub`` substeps of the time-transformed leapfrog over fictitious time H.

    D(h/2) [K(h) D(h)]^(nsub-1) K(h) D(h/2), h = H / nsub. Returns the new state.
    """
    y = y0.copy()
    alpha = prm[P_ALPHA]
    beta = prm[P_BETA]
    gamma = prm[P_GAMMA]
    Q = y[3:3 + 3 * n].reshape((n, 3))
    P = y[3 + 3 * n:3 + 6 * n].reshape((n, 3))
    S = y[3 + 6 * n:3 + 9 * n].reshape((n, 3))
    x = np.empty((n, 3))
    v = np.empty((n, 3))
    vn = np.empty((n, 3))
    acc = np.empty((n, 3))
    fpn = np.empty((n, 3))
    ktot = np.empty((n, 3))  # total acceleration of the kick (Newton + PN at the auxiliary velocities)
    dS = np.empty((n, 3))
    w = np.empty((n, 3))  # auxiliary velocities
    Z = np.empty((n, 3))  # auxiliary spins
    Sn = np.empty((n, 3))
    wphi = np.empty(n)  # PN work arrays
    waN = np.empty((n, 3))
    w3 = np.empty((5, 3))
    ws = np.empty((7, n))  # newton_acc_ws work arrays, allocated once for all substeps
    anypn = flg[F_ANYPN] != 0
    h = H / nsub
    if anypn:
        to_absolute(P, par, order, w)
        for i in range(n):
            for d in range(3):
                Z[i, d] = S[i, d]
    for step in range(nsub + 1):
        # ---- drift (half at both ends)
        hd = h if (step > 0 and step < nsub) else 0.5 * h
        T = kinetic(P, par, order, mass, v)
        dt = hd / (alpha * (T + y[1]) + beta * y[2] + gamma)
        y[0] += dt
        for i in range(n):
            for d in range(3):
                Q[i, d] += dt * P[i, d]
        if step == nsub:
            break
        # ---- kick
        to_absolute(Q, par, order, x)
        U = newton_acc_ws(Q, x, par, mass, acc, ws)
        dt = h / (alpha * U + beta * U + gamma)
        if not anypn:
            to_absolute(P, par, order, v)
            for i in range(n):
                for d in range(3):
                    ktot[i, d] = acc[i, d]
                    vn[i, d] = v[i, d] + dt * acc[i, d]
        else:
            to_absolute(P, par, order, v)
            # w += dt/2 f(v)
            extra_acc(Q, x, v, S, par, mass, isbh, prm, flg, fpn, dS, wphi, waN, w3)
            for i in range(n):
                for d in range(3):
                    w[i, d] += 0.5 * dt * (acc[i, d] + fpn[i, d])
                    Z[i, d] += 0.5 * dt * dS[i, d]
            # v += dt f(w); B -= dt sum m <v> . f_PN(w)
            extra_acc(Q, x, w, Z, par, mass, isbh, prm, flg, fpn, dS, wphi, waN, w3)
            work = 0.0
            for i in range(n):
                for d in range(3):
                    ktot[i, d] = acc[i, d] + fpn[i, d]
                    vn[i, d] = v[i, d] + dt * ktot[i, d]
                    Sn[i, d] = S[i, d] + dt * dS[i, d]
                    work += mass[i] * 0.5 * (v[i, d] + vn[i, d]) * fpn[i, d]
            y[1] -= dt * work
            for i in range(n):
                for d in range(3):
                    S[i, d] = Sn[i, d]
            # w += dt/2 f(v_new)
            extra_acc(Q, x, vn, S, par, mass, isbh, prm, flg, fpn, dS, wphi, waN, w3)
            for i in range(n):
                for d in range(3):
                    w[i, d] += 0.5 * dt * (acc[i, d] + fpn[i, d])
                    Z[i, d] += 0.5 * dt * dS[i, d]
        if beta != 0.0:
            dom = 0.0
            for i in range(n):
                for d in range(3):
                    dom += mass[i] * 0.5 * (v[i, d] + vn[i, d]) * acc[i, d]
            y[2] += dt * dom
        # velocities back to tree coordinates: P = tree(vn)
        for i in range(n):
            p = par[i]
            if p < 0:
                for d in range(3):
                    P[i, d] = vn[i, d]
            else:
                for d in range(3):
                    P[i, d] += dt * (ktot[i, d] - ktot[p, d])
    return y


# ----------------------------------------------------------------------------------------------
# Gragg-Bulirsch-Stoer extrapolation
# ----------------------------------------------------------------------------------------------
@njit(cache=True)
def error_norm(ya, yb, y0, n, Escale):
    """max over blocks of |ya - yb| / scale (Rantala et al. 2020 style relative norm).

    Scales: time -> |t_new - t_0|; B and omega -> |B| + Escale, |omega| + Escale;
    each tree edge (position, velocity) -> its vector length; roots -> own length
    + the largest edge length; spins -> |S_i| + 1e-6 max|S|.
    """
    e = abs(ya[0] - yb[0]) / (abs(ya[0] - y0[0]) + 1e-300)
    e = max(e, abs(ya[1] - yb[1]) / (abs(ya[1]) + Escale))
    e = max(e, abs(ya[2] - yb[2]) / (abs(ya[2]) + Escale))
    for blk in range(2):
        off = 3 + 3 * n * blk
        rmax = 0.0
        for i in range(n):
            r = math.sqrt(ya[off + 3 * i] ** 2 + ya[off + 3 * i + 1] ** 2 + ya[off + 3 * i + 2] ** 2)
            rmax = max(rmax, r)
        for i in range(n):
            r = math.sqrt(ya[off + 3 * i] ** 2 + ya[off + 3 * i + 1] ** 2 + ya[off + 3 * i + 2] ** 2)
            dr = math.sqrt((ya[off + 3 * i] - yb[off + 3 * i]) ** 2 + (ya[off + 3 * i + 1] - yb[off + 3 * i + 1]) ** 2
                           + (ya[off + 3 * i + 2] - yb[off + 3 * i + 2]) ** 2)
            e = max(e, dr / (r + 1e-6 * rmax + 1e-300))
    off = 3 + 6 * n
    smax = 0.0
    for i in range(n):
        smax = max(smax, math.sqrt(ya[off + 3 * i] ** 2 + ya[off + 3 * i + 1] ** 2 + ya[off + 3 * i + 2] ** 2))
    if smax > 0.0:
        for i in range(n):
            s = math.sqrt(ya[off + 3 * i] ** 2 + ya[off + 3 * i + 1] ** 2 + ya[off + 3 * i + 2] ** 2)
            ds = math.sqrt((ya[off + 3 * i] - yb[off + 3 * i]) ** 2 + (ya[off + 3 * i + 1] - yb[off + 3 * i + 1]) ** 2
                           + (ya[off + 3 * i + 2] - yb[off + 3 * i + 2]) ** 2)
            e = max(e, ds / (s + 1e-6 * smax))
    return e


@njit(cache=True)
def neville_row(table, j, nseq):
    """Aitken-Neville in h^2 (Hairer, Norsett & Wanner, Solving ODEs I, sect. II.9).

    ``table[j, 0]`` holds the leapfrog result of sequence j (n_j = nseq[j]);
    fills ``table[j, 1..j]``: T_{j,k+1} = T_{j,k} + (T_{j,k} - T_{j-1,k}) / ((n_j/n_{j-k})^2 - 1).
    """
    for k in range(1, j + 1):
        ratio = (nseq[j] / nseq[j - k]) ** 2 - 1.0
        for m in range(table.shape[2]):
            table[j, k, m] = table[j, k - 1, m] + (table[j, k - 1, m] - table[j - 1, k - 1, m]) / ratio


@njit(cache=True)
def step_factor(err, j):
    """H_j / H = 0.94 (0.65/err)^(1/(2j-1)), clamped to [0.02, 4] (HNW sect. II.9; MSTAR safety 0.94, 0.65)."""
    if not (err == err) or err > 1e300:
        return 0.1
    if err <= 0.0:
        return 4.0
    f = 0.94 * (0.65 / err) ** (1.0 / (2.0 * j - 1.0))
    return min(4.0, max(0.02, f))


@njit(cache=True)
def gbs_step(y0, n, H, k, mass, isbh, par, order, prm, flg, nseq, table, errs, hfac):
    """One GBS step attempt (serial: sequences computed until the convergence monitor decides).

    Returns (accepted, kc, ncomp, nforce); the result is table[kc-1, kc-1] when accepted,
    with its time entry relative to the step start.
    """
    tol = prm[P_TOL]
    T0, U0 = energy_state(y0, n, par, order, mass)
    Escale = U0
    kmax = flg[F_KMAX]
    nf = 0
    yz = y0.copy()
    yz[0] = 0.0  # time relative to the step start: no round-off from a large absolute t
    for j in range(1, min(k + 1, kmax) + 1):
        res = leapfrog(yz, n, nseq[j - 1], H, mass, isbh, par, order, prm, flg)
        nf += nseq[j - 1]
        for m in range(y0.shape[0]):
            table[j - 1, 0, m] = res[m]
        if j >= 2:
            neville_row(table, j - 1, nseq)
            dec, kc = gbs_decide_scaled(table, j, k, H, yz, n, Escale, nseq, errs, hfac, tol, kmax)
            if dec != 0:
                return dec == 1, kc, j, nf
    return False, min(k + 1, kmax), min(k + 1, kmax), nf


@njit(cache=True)
def gbs_decide_scaled(table, j, k, H, y0, n, Escale, nseq, errs, hfac, tol, kmax):
    """Convergence monitor (HNW ODEX) on the error norm divided by the tolerance."""
    e = error_norm(table[j - 1, j - 1], table[j - 1, j - 2], y0, n, Escale) / tol
    if not (e == e):
        e = 1e300
    errs[j - 1] = e
    hfac[j - 1] = step_factor(e, j)
    if j < k - 1:
        return 0, 0
    if e <= 1.0:
        return 1, j
    if j == kmax:
        return -1, j
    if j == k - 1:
        r = (nseq[k] * nseq[k - 1] / (nseq[0] * nseq[0])) ** 2 if k < kmax else 1e300
        if e > r:
            return -1, j
        return 0, 0
    if j == k:
        r = (nseq[k] / nseq[0]) ** 2 if k < kmax else 0.0
        if e > r:
            return -1, j
        return 0, 0
    return -1, j


@njit(cache=True)
def landing_bracket(D, rem, H, landing, Hsave, H_lo, D_lo, H_hi, D_hi, side, iters):
    """One Illinois regula-falsi update of the fictitious step H so that the physical time step D
    lands on the remaining interval ``rem`` (exact output times; Dowell & Jarratt 1971 Illinois
    modification of regula falsi). An accepted step that overshoots (D > rem) moves the upper bracket,
    an undershoot during landing moves the lower one; the retained end's function value is halved
    when the same side moves twice. Returns the new H and the updated bracket state. Shared by the
    serial step loop and the MPI driver in nbody.gbs.
    """
    if D > rem:
        if not landing:
            landing = True
            Hsave = H
            H_lo = 0.0
            D_lo = 0.0
            side = 0
            iters = 0
        H_hi = H
        D_hi = D
        if side == -1:
            D_lo = rem - 0.5 * (rem - D_lo)
        side = -1
    else:
        H_lo = H
        D_lo = D
        if side == 1:
            D_hi = rem + 0.5 * (D_hi - rem)
        side = 1
    iters += 1
    Hn = H_lo + (H_hi - H_lo) * (rem - D_lo) / (D_hi - D_lo)
    return Hn, landing, Hsave, H_lo, D_lo, H_hi, D_hi, side, iters


@njit(cache=True)
def landing_tolerance(tol, rem, t_target):
    """|Delta t(H) - rem| below which a step lands on ``t_target``: (tol + 2e-14) rem + 4e-16 |t_target|.

    Delta t(H) is a sum over the 2 n_j substeps of the extrapolated leapfrog, so its rounding
    error is ~ n_j eps rem (n_j <= 2 k_max = 20 substeps, eps = 2.2e-16: ~4e-15 rem); below a
    relative ~1e-14 the regula falsi cannot resolve Delta t(H) (measured: landings failing
    after 60 iterations at a local tolerance 1.05e-14 on a Kepler e = 0.7 orbit). 2e-14 keeps
    the landing criterion above that level; the time then lands to 2e-14 of the last step,
    far below the step's extrapolation error. 4e-16 |t_target| is the round-off of t itself.
    """
    return (tol + 2e-14) * rem + 4e-16 * abs(t_target)


@njit(cache=True)
def choose_next(kc, k, accepted, H, errs, hfac, nseq, kmin, kmax):
    """Next column count and step after a GBS attempt (HNW II.9 / ODEX order control).

    Work per unit step W_j = A_j / H_j with A_j = sum_{i<=j} n_i force evaluations;
    lower the order if W_{j-1} < 0.8 W_j, raise it if W_j < 0.9 W_{j-1}; a raised
    order gets the step H_j A_{j+1} / A_j.
    """
    A = np.empty(kmax + 2)
    s = 0.0
    A[0] = 0.0
    for j in range(1, kmax + 2):
        s += 2.0 * j
        A[j] = s
    if not accepted:
        if kc < 2:
            return k, H * 0.25
        knew = max(kmin, min(k, kc - 1)) if kc > 2 else 2
        knew = max(knew, 2)
        return knew, H * min(hfac[knew - 1], 0.9)
    if kc <= 2:
        knew = min(3, kmax) if kmin <= 3 else kmin
        Hn = H * hfac[1]
        if knew > kc:
            Hn *= A[knew] / A[kc]
        return max(knew, kmin), Hn
    w_lo = A[kc - 1] / hfac[kc - 2]
    w_hi = A[kc] / hfac[kc - 1]
    if w_lo < 0.8 * w_hi and kc - 1 >= kmin:
        return kc - 1, H * hfac[kc - 2]
    if w_hi < 0.9 * w_lo and kc < kmax:
        return kc + 1, H * hfac[kc - 1] * A[kc + 1] / A[kc]
    return kc, H * hfac[kc - 1]


# ----------------------------------------------------------------------------------------------
# the integration loop
# ----------------------------------------------------------------------------------------------
@njit(cache=True)
def merger_check(y, n, par, order, mass, isbh, prm):
    """First BH pair (i, j) to merge, else (-1, -1).

    A pair merges when its separation is below R_m = merger_radius_rs x 2 (m_i + m_j) / c^2,
    or when it is receding (rdot >= 0) within 10 R_m after a periapsis passage whose osculating
    two-body periapsis r_p = h^2 / (G M (1 + e)) was inside R_m -- so a fast passage between
    two step ends is not missed.
    """
    c = prm[P_C]
    if not (c < np.inf) or prm[P_MERGE] <= 0.0:
        return -1, -1
    Q = y[3:3 + 3 * n].reshape((n, 3))
    P = y[3 + 3 * n:3 + 6 * n].reshape((n, 3))
    x = np.empty((n, 3))
    v = np.empty((n, 3))
    to_absolute(Q, par, order, x)
    to_absolute(P, par, order, v)
    for i in range(n):
        if not isbh[i]:
            continue
        for j in range(i + 1, n):
            if not isbh[j]:
                continue
            dx, dy, dz = pair_sep3(i, j, Q, x, par)
            r = math.sqrt(dx * dx + dy * dy + dz * dz)
            M = mass[i] + mass[j]
            Rm = prm[P_MERGE] * 2.0 * M / (c * c)
            if r < Rm:
                return i, j
            if r < 10.0 * Rm:
                ux, uy, uz = pair_sep3(i, j, P, v, par)
                rd = (dx * ux + dy * uy + dz * uz) / r
                if rd >= 0.0:
                    hx = dy * uz - dz * uy
                    hy = dz * ux - dx * uz
                    hz = dx * uy - dy * ux
                    h2 = hx * hx + hy * hy + hz * hz
                    E = 0.5 * (ux * ux + uy * uy + uz * uz) - M / r
                    e = math.sqrt(max(0.0, 1.0 + 2.0 * E * h2 / (M * M)))
                    if h2 / (M * (1.0 + e)) < Rm:
                        return i, j
    return -1, -1


@njit(cache=True, nogil=True)
def integrate_to(y, n, t_target, H, k, mass, isbh, par, order, prm, flg, mode, max_steps, counters):
    """Advance ``y`` to physical time ``t_target`` (exact landing) with GBS steps.

    Returns (status, y, H, k, par, order): status 0 = reached, 1 = merger condition
    met (state at the step that triggered it), 2 = step budget exhausted,
    3 = step size underflow / landing failure. counters: [accepted, rejected, force evaluations].

    Landing: a step that would overshoot t_target is not taken; the fictitious
    step is found by Illinois regula falsi on Delta t(H) = t_target - t between
    H = 0 and the overshooting H, and the time is set to t_target exactly once
    |Delta t(H) - (t_target - t)| <= tol |t_target - t| + 4e-16 |t_target| (the
    step's own relative time accuracy).
    """
    kmin = flg[F_KMIN]
    kmax = flg[F_KMAX]
    nseq = np.empty(kmax, dtype=np.int64)
    for j in range(kmax):
        nseq[j] = 2 * (j + 1)
    table = np.empty((kmax, kmax, y.shape[0]))
    errs = np.zeros(kmax + 1)
    hfac = np.ones(kmax + 1)
    direction = 1.0 if t_target >= y[0] else -1.0
    if H * direction < 0:
        H = -H
    landing = False
    # physical-time landing (flg[F_PHYSLAND]): when the next step is predicted to pass t_target, first try
    # one GBS step of the untransformed leapfrog (alpha, beta, gamma) = (0, 0, 1) over exactly the
    # remaining physical time; if its extrapolation error passes the same test, it lands without the
    # regula-falsi iterations; else the time-transformed landing below takes over
    physland = flg[F_PHYSLAND] != 0
    prm_phys = prm.copy()
    prm_phys[P_ALPHA] = 0.0
    prm_phys[P_BETA] = 0.0
    prm_phys[P_GAMMA] = 1.0
    dh_ratio = 0.0  # physical time per fictitious time of the last accepted step
    tried_phys = False
    Hsave = H
    H_lo = 0.0
    D_lo = 0.0
    H_hi = 0.0
    D_hi = 0.0
    side = 0
    iters = 0
    nsteps = 0
    while True:
        rem = (t_target - y[0]) * direction
        if rem <= 0.0:
            y[0] = t_target
            return 0, y, H, k, par, order
        if nsteps >= max_steps:
            return 2, y, H, k, par, order
        if physland and not tried_phys and not landing and dh_ratio > 0.0 and abs(H) * dh_ratio >= rem:
            tried_phys = True
            acc, kc, ncomp, nf = gbs_step(y, n, rem * direction, k, mass, isbh, par, order, prm_phys, flg, nseq,
                                          table, errs, hfac)
            counters[2] += nf
            if acc:
                counters[0] += 1
                nsteps += 1
                y = table[kc - 1, kc - 1].copy()
                y[0] = t_target
                if mode != 2:
                    y, par, order = refresh_tree(y, n, par, order, mass, mode)
                bi, bj = merger_check(y, n, par, order, mass, isbh, prm)
                if bi >= 0:
                    return 1, y, H, k, par, order
                return 0, y, H, k, par, order
            counters[1] += 1
            continue
        acc, kc, ncomp, nf = gbs_step(y, n, H, k, mass, isbh, par, order, prm, flg, nseq, table, errs, hfac)
        counters[2] += nf
        ynew = table[max(kc, 1) - 1, max(kc, 1) - 1]
        D = ynew[0] * direction
        if acc and not (D > 0.0):
            acc = False
            kc = max(kc, 2)
            hfac[kc - 1] = 0.1
        if not acc:
            counters[1] += 1
            landing = False
            k, H = choose_next(kc, k, False, H, errs, hfac, nseq, kmin, kmax)
            if abs(H) < 1e-300:
                return 3, y, H, k, par, order
            continue
        tol_t = landing_tolerance(prm[P_TOL], rem, t_target)
        snap = abs(D - rem) <= tol_t
        if (not snap and D > rem) or (landing and not snap):
            # over- or undershoot of the output time: bracket and iterate (Illinois regula falsi)
            counters[1] += 1
            Hn, landing, Hsave, H_lo, D_lo, H_hi, D_hi, side, iters = landing_bracket(
                D, rem, H, landing, Hsave, H_lo, D_lo, H_hi, D_hi, side, iters)
            if iters > 60:
                return 3, y, H, k, par, order
            H = Hn
            continue
        # accept
        counters[0] += 1
        nsteps += 1
        knext, Hnext = choose_next(kc, k, True, H, errs, hfac, nseq, kmin, kmax)
        t_old = y[0]
        y = ynew.copy()
        y[0] += t_old
        dh_ratio = D / abs(H)
        tried_phys = False
        if landing:
            Hnext = max(abs(Hsave), abs(Hnext)) * direction
            landing = False
        k = knext
        H = Hnext
        if snap:
            y[0] = t_target
        # rebuild the tree (MSTAR coordinates) every step: exact path sums, cheap next to a GBS step
        if mode != 2:
            y, par, order = refresh_tree(y, n, par, order, mass, mode)
        bi, bj = merger_check(y, n, par, order, mass, isbh, prm)
        if bi >= 0:
            return 1, y, H, k, par, order
        if snap:
            return 0, y, H, k, par, order


# ----------------------------------------------------------------------------------------------
# plain N^2 force kernel (absolute coordinates), CPU twin of nbody._kernels.cuda
# ----------------------------------------------------------------------------------------------
@njit(cache=True, parallel=True)
def newton_accelerations(pos, mass):
    """(accelerations (N, 3), potentials (N,)) of N point masses, G = 1; one parallel loop over bodies."""
    return newton_accelerations_rows(pos, mass, 0, pos.shape[0])


@njit(cache=True, parallel=True)
def newton_accelerations_rows(pos, mass, lo, hi):
    """Rows lo..hi-1 of the N^2 accelerations/potentials (zeros elsewhere): the block of one MPI rank.

    Each row is summed over all j in index order, so the rows do not depend on the
    decomposition and an Allreduce of the blocks equals the serial result bitwise.
    """
    n = pos.shape[0]
    acc = np.zeros((n, 3))
    pot = np.zeros(n)
    for i in prange(lo, hi):
        ax = 0.0
        ay = 0.0
        az = 0.0
        p = 0.0
        for j in range(n):
            if j != i:
                dx = pos[j, 0] - pos[i, 0]
                dy = pos[j, 1] - pos[i, 1]
                dz = pos[j, 2] - pos[i, 2]
                r2 = dx * dx + dy * dy + dz * dz
                inv = 1.0 / math.sqrt(r2)
                inv3 = inv * inv * inv
                ax += mass[j] * dx * inv3
                ay += mass[j] * dy * inv3
                az += mass[j] * dz * inv3
                p -= mass[j] * inv
        acc[i, 0] = ax
        acc[i, 1] = ay
        acc[i, 2] = az
        pot[i] = p
    return acc, pot
