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

from ..pn import eih_accel, pn_pair_accel, spin_precession_pair
from .mst import pair_sep, pair_sep3, to_absolute
from .state import F_1PN, F_25PN, F_2PN, F_35PN, F_3PN, F_CROSS, F_SPIN, P_C


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
