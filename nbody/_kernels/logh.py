"""The time-transformed (LogH / TTL) leapfrog of the regularized integrator (Numba, G = 1).

Time transformation (Mikkola & Tanikawa 1999; Preto & Tremaine 1999; Mikkola &
Aarseth 2002 for TTL): drift ``dt = h / (alpha (T + B) + beta omega + gamma)``,
kick ``dt = h / (alpha U + beta Omega + gamma)`` with Omega = U.  LogH is
(1, 0, 0), TTL is (0, 1, 0), the ordinary leapfrog (0, 0, 1).

Velocity-dependent (PN) forces use the auxiliary-velocity generalized midpoint
kick (Hellström & Mikkola 2010; Pihajoki 2015): ``w += dt/2 f(v); v += dt f(w);
w += dt/2 f(v)``, with B updated by the work of the non-Newtonian forces.
State layout: :mod:`nbody._kernels.state`.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from gpu.jit import refresh_stale_cache

from .forces import extra_acc, kinetic_abs, near_pairs, newton_acc_mixed, newton_acc_near
from .mst import to_absolute
from .state import F_ANYPN, P_ALPHA, P_BETA, P_GAMMA


@njit(cache=True)
def leapfrog(y0, n, nsub, H, mass, isbh, par, order, prm, flg):
    """``nsub`` substeps of the time-transformed leapfrog over fictitious time H.

    D(h/2) [K(h) D(h)]^(nsub-1) K(h) D(h/2), h = H / nsub. Returns the new state
    (:func:`leapfrog_into` on a copy of ``y0`` with its own work buffer and near-pair rows).
    """
    y = y0.copy()
    ptr, nidx, ncoef = near_pairs(par)
    leapfrog_into(y, n, nsub, H, mass, isbh, par, order, prm, flg, np.empty((11, n, 3)), np.empty((8, n)),
                  np.empty((5, 3)), ptr, nidx, ncoef)
    return y


@njit(cache=True)
def leapfrog_into(y, n, nsub, H, mass, isbh, par, order, prm, flg, wk, ws, w3, ptr, nidx, ncoef):
    """:func:`leapfrog` in place on ``y``, with the work arrays ``wk`` (11, n, 3), ``ws`` (8, n) and
    ``w3`` (5, 3) and the tree's near-pair rows (:func:`nbody._kernels.forces.near_pairs`) made once by
    the caller for all the substep sequences of a GBS step (the blocks of ``wk`` are taken by integer
    index: no reshape per call).

    Sixteen arguments and ~120 lines: the state, the integrator's plain arrays (no objects in nopython
    mode) and the caller's work arrays; one substep loop in one piece (drift, kick, PN midpoint kick).
    """
    alpha = prm[P_ALPHA]
    beta = prm[P_BETA]
    gamma = prm[P_GAMMA]
    Q = y[3:3 + 3 * n].reshape((n, 3))
    P = y[3 + 3 * n:3 + 6 * n].reshape((n, 3))
    S = y[3 + 6 * n:3 + 9 * n].reshape((n, 3))
    # work arrays: blocks of the caller's arrays
    x = wk[0]
    v = wk[1]  # absolute velocities of the current P (set by each drift)
    vn = wk[2]
    acc = wk[3]
    fpn = wk[4]
    ktot = wk[5]  # total acceleration of the kick (Newton + PN at the auxiliary velocities)
    dS = wk[6]
    w = wk[7]  # auxiliary velocities
    Z = wk[8]  # auxiliary spins
    Sn = wk[9]
    waN = wk[10]  # PN work arrays
    wphi = ws[7]
    anypn = flg[F_ANYPN] != 0
    allnear = ptr[n] == n * (n - 1) // 2
    h = H / nsub
    if anypn:
        to_absolute(P, par, order, w)
        for i in range(n):
            for d in range(3):
                Z[i, d] = S[i, d]
    for step in range(nsub + 1):
        # ---- drift (half at both ends)
        hd = h if (step > 0 and step < nsub) else 0.5 * h
        to_absolute(P, par, order, v)
        T = kinetic_abs(v, mass)
        dt = hd / (alpha * (T + y[1]) + beta * y[2] + gamma)
        y[0] += dt
        for i in range(n):
            for d in range(3):
                Q[i, d] += dt * P[i, d]
        if step == nsub:
            break
        # ---- kick
        to_absolute(Q, par, order, x)
        # the two leaf kernels of nbody._kernels.forces.newton_acc_ws, called directly (no reference
        # counting of forwarded arrays per substep)
        if allnear:
            U = newton_acc_near(Q, mass, acc, ptr, nidx, ncoef)
        else:
            U = newton_acc_mixed(Q, x, mass, acc, ws, ptr, nidx, ncoef)
        dt = h / (alpha * U + beta * U + gamma)
        # v = to_absolute(P) is still that of the drift's kinetic energy (a drift changes Q only)
        if not anypn:
            for i in range(n):
                for d in range(3):
                    ktot[i, d] = acc[i, d]
                    vn[i, d] = v[i, d] + dt * acc[i, d]
        else:
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


refresh_stale_cache(globals())   # callees in other files are compiled in: see gpu.jit
