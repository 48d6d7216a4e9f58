"""Forces and energies of the regularized integrator in tree coordinates (Numba, G = 1).

Newtonian accelerations and potential energy with pair separations by the MSTAR rule
(:mod:`nbody._kernels.mst`), the kinetic energy, and the post-Newtonian accelerations and spin
derivatives (:mod:`nbody.pn`: EIH, pairwise 1PN-3.5PN, spin-orbit and spin-spin) in the
parameter/flag layout of :mod:`nbody._kernels.state`.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from gpu.jit import refresh_stale_cache

from ..pn import eih_accel, pn_pair_accel, spin_precession_pair
from .mst import pair_sep, to_absolute
from .state import F_1PN, F_25PN, F_2PN, F_35PN, F_3PN, F_CROSS, F_SPIN, P_C


@njit(cache=True, fastmath={"reassoc", "contract", "nsz", "arcp"}, error_model="numpy")
def _far_rows(ws, mass, i, n):
    """Row i of the pair sum over j > i in absolute coordinates, weighted by ws[6, j] (0: pair skipped).

    ``ws`` rows 0-2 hold x, y, z and rows 3-5 the accelerations being summed (structure of arrays,
    indexed in place: no array views, whose reference counting costs more than a few-body force sum).
    Branch-free and contiguous so that LLVM vectorises it; only the order of the floating-point sums
    is free (reassociation/contraction), the arithmetic is that of the scalar loop. Returns
    (a_i, sum_j w m_i m_j / r) and subtracts the reaction from ws[3:6, j].
    """
    xi = ws[0, i]
    yi = ws[1, i]
    zi = ws[2, i]
    mi = mass[i]
    ax = 0.0
    ay = 0.0
    az = 0.0
    u = 0.0
    for j in range(i + 1, n):
        dx = ws[0, j] - xi
        dy = ws[1, j] - yi
        dz = ws[2, j] - zi
        r2 = dx * dx + dy * dy + dz * dz
        inv = ws[6, j] / math.sqrt(r2)
        inv3 = inv * inv * inv
        mj = mass[j]
        u += mj * inv
        fj = mj * inv3
        fi = mi * inv3
        ax += fj * dx
        ay += fj * dy
        az += fj * dz
        ws[3, j] -= fi * dx
        ws[4, j] -= fi * dy
        ws[5, j] -= fi * dz
    return ax, ay, az, mi * u


@njit(cache=True)
def near_pairs(par):
    """Near partners j > i of every body i and how their separations follow from the tree edges.

    Tree distance <= 2 (parent, grandparent, children, grandchildren, siblings): the MSTAR rule of
    :func:`nbody.pn._sep` (Rantala et al. 2020, arXiv:2001.03180, sect. 3), which sums the separation
    x_j - x_i from at most two edge vectors, ``s_a Q[a] + s_b Q[b]`` with signs s = +-1 (and s_b = 0 for
    a single edge). Returns (ptr, nidx, ncoef): the near partners of i are rows ptr[i]:ptr[i + 1] of
    ``nidx`` = (j, a, b) and ``ncoef`` = (s_a, s_b), in increasing j. The tree is fixed during a
    leapfrog, so the leapfrog makes these once and every substep's force sum (:func:`newton_acc_ws`)
    reads them instead of testing all pairs again.
    """
    n = par.shape[0]
    ptr = np.empty(n + 1, dtype=np.int64)
    cap = max(1, n * (n - 1) // 2)
    nidx = np.empty((cap, 3), dtype=np.int64)
    ncoef = np.empty((cap, 2))
    m = 0
    for i in range(n):
        ptr[i] = m
        pi = par[i]
        gi = par[pi] if pi >= 0 else -1
        for j in range(i + 1, n):
            pj = par[j]
            # the cases and their order as in nbody.pn._sep
            if pj == i:
                a, sa, b, sb = j, 1.0, j, 0.0
            elif pi == j:
                a, sa, b, sb = i, -1.0, i, 0.0
            elif pi >= 0 and pi == pj:
                a, sa, b, sb = j, 1.0, i, -1.0
            elif pj >= 0 and par[pj] == i:
                a, sa, b, sb = j, 1.0, pj, 1.0
            elif pi >= 0 and gi == j:
                a, sa, b, sb = i, -1.0, pi, -1.0
            else:
                continue
            nidx[m, 0] = j
            nidx[m, 1] = a
            nidx[m, 2] = b
            ncoef[m, 0] = sa
            ncoef[m, 1] = sb
            m += 1
    ptr[n] = m
    return ptr, nidx, ncoef


@njit(cache=True)
def newton_acc(Q, x, par, mass, acc):
    """Newtonian accelerations (G = 1) into ``acc``; returns U = sum_{i<j} m_i m_j / r_ij.

    Allocates its work arrays and the near-pair rows; the leapfrog's substep loop calls
    :func:`newton_acc_ws` with those made once per leapfrog (same arithmetic, bitwise the same result).
    """
    ptr, nidx, ncoef = near_pairs(par)
    return newton_acc_ws(Q, x, mass, acc, np.empty((7, mass.shape[0])), ptr, nidx, ncoef)


@njit(cache=True, inline="always")
def near_separation(Q, a, b, sa, sb):
    """Separation of a near pair from two tree edge vectors, d = sa Q_a + sb Q_b (the MSTAR rule:
    Rantala et al. 2020, arXiv:2001.03180, sect. 3), with 1/|d| and 1/|d|^3."""
    dx = sa * Q[a, 0] + sb * Q[b, 0]
    dy = sa * Q[a, 1] + sb * Q[b, 1]
    dz = sa * Q[a, 2] + sb * Q[b, 2]
    inv = 1.0 / math.sqrt(dx * dx + dy * dy + dz * dz)
    return dx, dy, dz, inv, inv * inv * inv


@njit(cache=True)
def newton_acc_near(Q, mass, acc, ptr, nidx, ncoef):
    """:func:`newton_acc_ws` when every pair is near (all few-body trees of N <= 3, and compact ones
    beyond): the same sums in the same order, accumulated directly into ``acc``.

    It and :func:`newton_acc_mixed` are what the leapfrog's substep loop calls directly: a Numba
    function that passes its array arguments on to another one increments and decrements their
    reference counts at every call (atomic operations; measured as more CPU time than the force sum of
    a few bodies), a leaf function does not.
    """
    n = mass.shape[0]
    for i in range(n):
        acc[i, 0] = 0.0
        acc[i, 1] = 0.0
        acc[i, 2] = 0.0
    U = 0.0
    for i in range(n):
        ax = 0.0
        ay = 0.0
        az = 0.0
        mi = mass[i]
        for m in range(ptr[i], ptr[i + 1]):
            j = nidx[m, 0]
            dx, dy, dz, inv, inv3 = near_separation(Q, nidx[m, 1], nidx[m, 2], ncoef[m, 0], ncoef[m, 1])
            mj = mass[j]
            U += mi * mj * inv
            fj = mj * inv3
            fi = mi * inv3
            ax += fj * dx
            ay += fj * dy
            az += fj * dz
            acc[j, 0] -= fi * dx
            acc[j, 1] -= fi * dy
            acc[j, 2] -= fi * dz
        acc[i, 0] += ax
        acc[i, 1] += ay
        acc[i, 2] += az
    return U


@njit(cache=True)
def newton_acc_ws(Q, x, mass, acc, ws, ptr, nidx, ncoef):
    """Newtonian accelerations (G = 1) into ``acc``; returns U = sum_{i<j} m_i m_j / r_ij.

    Pairs at tree distance <= 2 (the MSTAR rule, listed by :func:`near_pairs` as ``ptr``, ``nidx``,
    ``ncoef``) take their separation from the tree edge vectors Q; all other pairs from the absolute
    positions x, in a vectorised row kernel (:func:`_far_rows`) with those near pairs weighted out
    (skipped for a row without far partners). ``ws`` is indexed in place, never viewed (a view's
    reference counting costs more than a three-body force sum). Same sums as the scalar pair loop up to the order of
    additions. ``ws`` is a work array of at least 7 rows of n (rows 0-6 are overwritten).
    """
    n = mass.shape[0]
    if ptr[n] == n * (n - 1) // 2:
        return newton_acc_near(Q, mass, acc, ptr, nidx, ncoef)
    return newton_acc_mixed(Q, x, mass, acc, ws, ptr, nidx, ncoef)


@njit(cache=True)
def newton_acc_mixed(Q, x, mass, acc, ws, ptr, nidx, ncoef):
    """:func:`newton_acc_ws` with far pairs: the vectorised far rows plus the near pairs of each row
    (eight arguments: the state, the output, the work array and the near-pair rows, plain arrays)."""
    n = mass.shape[0]
    for i in range(n):
        ws[0, i] = x[i, 0]
        ws[1, i] = x[i, 1]
        ws[2, i] = x[i, 2]
        ws[3, i] = 0.0
        ws[4, i] = 0.0
        ws[5, i] = 0.0
        ws[6, i] = 1.0
    U = 0.0
    for i in range(n):
        m0 = ptr[i]
        m1 = ptr[i + 1]
        if n - 1 - i > m1 - m0:
            for m in range(m0, m1):
                ws[6, nidx[m, 0]] = 0.0
            ax, ay, az, u = _far_rows(ws, mass, i, n)
            U += u
            for m in range(m0, m1):
                ws[6, nidx[m, 0]] = 1.0
        else:
            ax = 0.0
            ay = 0.0
            az = 0.0
        mi = mass[i]
        for m in range(m0, m1):
            j = nidx[m, 0]
            dx, dy, dz, inv, inv3 = near_separation(Q, nidx[m, 1], nidx[m, 2], ncoef[m, 0], ncoef[m, 1])
            mj = mass[j]
            U += mi * mj * inv
            fj = mj * inv3
            fi = mi * inv3
            ax += fj * dx
            ay += fj * dy
            az += fj * dz
            ws[3, j] -= fi * dx
            ws[4, j] -= fi * dy
            ws[5, j] -= fi * dz
        ws[3, i] += ax
        ws[4, i] += ay
        ws[5, i] += az
    for i in range(n):
        acc[i, 0] = ws[3, i]
        acc[i, 1] = ws[4, i]
        acc[i, 2] = ws[5, i]
    return U


@njit(cache=True)
def kinetic(P, par, order, mass, v):
    """Kinetic energy of tree-coordinate velocities P; absolute velocities into ``v``."""
    to_absolute(P, par, order, v)
    return kinetic_abs(v, mass)


@njit(cache=True)
def kinetic_abs(v, mass):
    """T = sum m v^2 / 2 of absolute velocities (a leaf function: see :func:`newton_acc_near`)."""
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

    Fourteen arguments: the positions, velocities and spins, the tree, the parameter and flag vectors, the
    two outputs and the PN work arrays (allocated once per leapfrog, not per call); Numba kernels take
    plain arrays (no objects in nopython mode).
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


refresh_stale_cache(globals())   # callees in other files are compiled in: see gpu.jit
