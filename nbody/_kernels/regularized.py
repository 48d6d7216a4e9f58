"""The integration loop of the regularized integrator and its BH merger test (Numba, G = 1).

:func:`integrate_to` advances the state (:mod:`nbody._kernels.state`) to an output time with GBS steps
(:mod:`nbody._kernels.gbs`), rebuilding the minimum spanning tree after every accepted step
(:mod:`nbody._kernels.mst`) and stopping at the first BH merger condition (:func:`merger_check`).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from gpu.jit import refresh_stale_cache

from .forces import energy_state
from .gbs import choose_next, gbs_step, landing_bracket, landing_guess, landing_tolerance
from .mst import build_mst, pair_sep3, refresh_tree, to_absolute, to_tree
from .state import F_KMAX, F_KMIN, F_PHYSLAND, P_ALPHA, P_BETA, P_C, P_GAMMA, P_MERGE, P_TOL


@njit(cache=True)
def initial_state(pos, vel, mass, chi, c, t0, mode):
    """(y, par, order, U): the state vector of :mod:`nbody._kernels.state` at time ``t0`` in the tree
    coordinates of a new tree (:func:`nbody._kernels.mst.build_mst`), spins S = chi G m^2 / c when c is
    finite, binding-energy variable B = -(T - U) and U (LogH: Mikkola & Tanikawa 1999; Preto & Tremaine 1999).

    One kernel so that a short integration pays one call, not a dozen NumPy calls (seven arguments).
    """
    n = mass.shape[0]
    par, order = build_mst(pos, mass, mode)
    y = np.zeros(3 + 9 * n)
    y[0] = t0
    Q = y[3:3 + 3 * n].reshape((n, 3))
    P = y[3 + 3 * n:3 + 6 * n].reshape((n, 3))
    to_tree(pos, par, Q)
    to_tree(vel, par, P)
    if c < np.inf:
        for i in range(n):
            f = mass[i] * mass[i] / c
            for d in range(3):
                y[3 + 6 * n + 3 * i + d] = chi[i, d] * f
    T, U = energy_state(y, n, par, order, mass)
    y[1] = -(T - U)
    y[2] = U
    return y, par, order, U


@njit(cache=True)
def shortest_pair_time(pos, mass):
    """min over pairs of sqrt(r_ij^3 / (m_i + m_j)): the shortest two-body dynamical time (G = 1),
    which sets the first step (a fraction of it; the GBS step control adapts it from there)."""
    n = mass.shape[0]
    best = np.inf
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            dx = pos[i, 0] - pos[j, 0]
            dy = pos[i, 1] - pos[j, 1]
            dz = pos[i, 2] - pos[j, 2]
            r = math.sqrt(dx * dx + dy * dy + dz * dz)
            t = math.sqrt(math.pow(r, 3.0) / (mass[i] + mass[j]))
            if t < best:
                best = t
    return best


@njit(cache=True, inline="always")
def osculating_periapsis(dx, dy, dz, ux, uy, uz, r, M):
    """Periapsis r_p = h^2 / (G M (1 + e)) of the osculating two-body orbit (G = 1) of relative
    separation (dx, dy, dz), |.| = r, and relative velocity (ux, uy, uz), total mass M, with
    e^2 = 1 + 2 E h^2 / (G M)^2 and E = v^2 / 2 - G M / r: the two-body relations h^2 = G M a (1 - e^2),
    E = -G M / (2 a), r_p = a (1 - e) (Murray & Dermott 1999, Solar System Dynamics, ch. 2)."""
    hx = dy * uz - dz * uy
    hy = dz * ux - dx * uz
    hz = dx * uy - dy * ux
    h2 = hx * hx + hy * hy + hz * hz
    E = 0.5 * (ux * ux + uy * uy + uz * uz) - M / r
    e = math.sqrt(max(0.0, 1.0 + 2.0 * E * h2 / (M * M)))
    return h2 / (M * (1.0 + e))


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
                if rd >= 0.0 and osculating_periapsis(dx, dy, dz, ux, uy, uz, r, M) < Rm:
                    return i, j
    return -1, -1


@njit(cache=True)
def periapsis_passage(y0, par0, order0, y, par, order, n, mass, isbh, prm):
    """First BH pair (i, j) that passed its periapsis during the step from ``y0`` (tree ``par0``,
    ``order0``) to ``y`` with an osculating two-body periapsis r_p = h^2 / (G M (1 + e)) inside
    R_m = merger_radius_rs x 2 (m_i + m_j) / c^2, else (-1, -1).

    One GBS step of the time-transformed leapfrog may carry a pair from its approach through
    periapsis to beyond the 10 R_m within which :func:`merger_check` looks at receding pairs
    (LogH regularizes the passage; measured on a hyperbolic flyby with r_p = R_m / 2 at tolerance
    1e-6: one step from 1.7 R_m before periapsis to 30 R_m after it); the passage shows as rdot < 0
    at the step start and rdot >= 0 at its end. Ten arguments: both states with their trees, the
    masses, BH flags and parameters (plain arrays).
    """
    c = prm[P_C]
    if not (c < np.inf) or prm[P_MERGE] <= 0.0:
        return -1, -1
    nbh = 0
    for i in range(n):
        if isbh[i]:
            nbh += 1
    if nbh < 2:
        return -1, -1
    Q0 = y0[3:3 + 3 * n].reshape((n, 3))
    P0 = y0[3 + 3 * n:3 + 6 * n].reshape((n, 3))
    Q = y[3:3 + 3 * n].reshape((n, 3))
    P = y[3 + 3 * n:3 + 6 * n].reshape((n, 3))
    x0 = np.empty((n, 3))
    v0 = np.empty((n, 3))
    x = np.empty((n, 3))
    v = np.empty((n, 3))
    to_absolute(Q0, par0, order0, x0)
    to_absolute(P0, par0, order0, v0)
    to_absolute(Q, par, order, x)
    to_absolute(P, par, order, v)
    for i in range(n):
        if not isbh[i]:
            continue
        for j in range(i + 1, n):
            if not isbh[j]:
                continue
            dx, dy, dz = pair_sep3(i, j, Q0, x0, par0)
            ux, uy, uz = pair_sep3(i, j, P0, v0, par0)
            if dx * ux + dy * uy + dz * uz >= 0.0:
                continue
            dx, dy, dz = pair_sep3(i, j, Q, x, par)
            ux, uy, uz = pair_sep3(i, j, P, v, par)
            if dx * ux + dy * uy + dz * uz < 0.0:
                continue
            r = math.sqrt(dx * dx + dy * dy + dz * dz)
            M = mass[i] + mass[j]
            if osculating_periapsis(dx, dy, dz, ux, uy, uz, r, M) < prm[P_MERGE] * 2.0 * M / (c * c):
                return i, j
    return -1, -1


@njit(cache=True, nogil=True)
def integrate_to(y, n, t_target, H, k, mass, isbh, par, order, prm, flg, mode, max_steps, counters):
    """Advance ``y`` to physical time ``t_target`` (exact landing) with GBS steps.

    Returns (status, y, H, k, par, order): status 0 = reached, 1 = merger condition
    met (state at the step that triggered it), 2 = step budget exhausted,
    3 = step size underflow / landing failure. counters: [accepted, rejected, force evaluations,
    landing iterations, merging pair i, j when status is 1]; the rejected attempts include the landing iterations (steps retried with a
    fictitious step chosen to land on t_target), the others failed the error test.

    Landing: a step that would overshoot t_target is not taken; the fictitious
    step is found on Delta t(H) = t_target - t between H = 0 and the overshooting H by
    inverse Hermite interpolation of the attempts (:func:`nbody._kernels.gbs.landing_guess`),
    safeguarded by Illinois regula falsi on the bracket, and the time is set to t_target exactly once
    |Delta t(H) - (t_target - t)| <= tol |t_target - t| + 4e-16 |t_target| (the
    step's own relative time accuracy).

    Fourteen arguments and ~120 lines: the state and the integrator's arrays are plain arrays (no objects
    in nopython mode), and the loop carries the landing bracket and the step/order control as local
    scalars across iterations; the MPI driver (:func:`nbody.gbs.integrate_to_mpi`) runs this same body
    with its step attempt replaced, so splitting the loop would split the one copy both use.

    Numba's on-disk cache of this loop is keyed on this file alone, but the compiled loop contains the
    kernels it calls (nbody._kernels.gbs, .logh, .forces, .mst); the old compiled loop once kept running
    after an edit of the force kernel (measured), which :func:`gpu.jit.refresh_stale_cache` at the end
    of this module now prevents (tests/gpu/test_jit.py).
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
    hist_D = np.zeros(64)  # landing attempts (Delta t, H) for the interpolated guess (landing_guess)
    hist_H = np.zeros(64)
    nhist = 0
    slope0 = 1.0
    nsteps = 0
    rejected = False  # the last attempt failed the error test: the next step may not grow (choose_next)
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
                y_prev, par_prev, order_prev = y, par, order
                y = table[kc - 1, kc - 1].copy()
                y[0] = t_target
                if mode != 2:
                    y, par, order = refresh_tree(y, n, par, order, mass, mode)
                bi, bj = merger_check(y, n, par, order, mass, isbh, prm)
                if bi < 0:
                    bi, bj = periapsis_passage(y_prev, par_prev, order_prev, y, par, order, n, mass, isbh, prm)
                if bi >= 0:
                    counters[4] = bi
                    counters[5] = bj
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
            kc = 0  # no time advance: halve the step (choose_next)
        if not acc:
            counters[1] += 1
            landing = False
            rejected = True
            k, H = choose_next(kc, k, False, rejected, H, hfac, kmin, kmax)
            if abs(H) < 1e-300:
                return 3, y, H, k, par, order
            continue
        tol_t = landing_tolerance(prm[P_TOL], rem, t_target)
        snap = abs(D - rem) <= tol_t
        if (not snap and D > rem) or (landing and not snap):
            # over- or undershoot of the output time: bracket and iterate (Illinois regula falsi)
            counters[1] += 1
            counters[3] += 1
            if not landing:
                nhist = 0
                _, U0 = energy_state(y, n, par, order, mass)
                slope0 = (prm[P_ALPHA] * U0 + prm[P_BETA] * y[2] + prm[P_GAMMA]) * direction
            hist_D[nhist] = D
            hist_H[nhist] = H
            nhist += 1
            Hn, landing, Hsave, H_lo, D_lo, H_hi, D_hi, side, iters = landing_bracket(
                D, rem, H, landing, Hsave, H_lo, D_lo, H_hi, D_hi, side, iters)
            if iters > 60:
                return 3, y, H, k, par, order
            Hg = landing_guess(rem, slope0, hist_D, hist_H, nhist, H_lo, H_hi)
            H = Hg if Hg == Hg else Hn
            continue
        # accept
        counters[0] += 1
        nsteps += 1
        knext, Hnext = choose_next(kc, k, True, rejected, H, hfac, kmin, kmax)
        rejected = False
        t_old = y[0]
        y_prev, par_prev, order_prev = y, par, order
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
        if bi < 0:
            bi, bj = periapsis_passage(y_prev, par_prev, order_prev, y, par, order, n, mass, isbh, prm)
        if bi >= 0:
            counters[4] = bi
            counters[5] = bj
            return 1, y, H, k, par, order
        if snap:
            return 0, y, H, k, par, order


refresh_stale_cache(globals())   # callees in other files are compiled in: see gpu.jit
