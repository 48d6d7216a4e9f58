"""Gragg-Bulirsch-Stoer extrapolation of the time-transformed leapfrog (Numba).

Hairer, Norsett & Wanner, *Solving ODEs I*, sect. II.9 (HNW), as used by MSTAR (Rantala et al. 2020,
sect. 2.4): the error norm, the Aitken-Neville tableau in h^2, the step-size factor, one step attempt
with the ODEX convergence monitor, the order and step control, and the exact landing on output times
(Illinois regula falsi). The integration loop that drives them is :mod:`nbody._kernels.regularized`.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from gpu.jit import refresh_stale_cache

from .forces import energy_state, near_pairs
from .logh import leapfrog_into
from .state import F_KMAX, P_TOL


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
    """H_j / H from the column-j error (HNW sect. II.9, eqs. (9.19)-(9.21); ODEX's constants).

    H_j / H = 0.94 (0.65 / err_j)^(1/(2j-1)), limited to [fmin_j / 4, 1 / fmin_j] with
    fmin_j = 0.02^(1/(2j-1)) (ODEX: fac1 = 0.02, fac2 = 4, safe1 = 0.65, safe2 = 0.94). The limits
    are per column: a high column may grow the step by at most 0.02^(-1/(2j-1)) (1.54 at j = 5,
    1.23 at j = 10). Measured against the former fixed limits [0.02, 4] (the controller otherwise
    the same): 4 % fewer force evaluations at equal energy error, geometric mean over 24 rows of
    benchmarks/nbody_vs_rebound.py (Kepler, Pythagorean, triple, Plummer; targets 1e-6 ... 1e-12).
    A NaN or overflowing error gives the smallest factor.
    """
    expo = 1.0 / (2.0 * j - 1.0)
    fmin = 0.02 ** expo
    if not (err == err) or err > 1e300:
        return 0.25 * fmin
    if err <= 0.0:
        return 1.0 / fmin
    f = 0.94 * (0.65 / err) ** expo
    return min(1.0 / fmin, max(0.25 * fmin, f))


@njit(cache=True)
def gbs_step(y0, n, H, k, mass, isbh, par, order, prm, flg, nseq, table, errs, hfac):
    """One GBS step attempt (serial: sequences computed until the convergence monitor decides).

    Returns (accepted, kc, ncomp, nforce); the result is table[kc-1, kc-1] when accepted,
    with its time entry relative to the step start.

    Fourteen arguments: the state and the integrator's arrays (masses, BH flags, tree, parameter and flag
    vectors) and the tableau work arrays the loop allocates once; Numba kernels take plain arrays (no
    objects in nopython mode).
    """
    tol = prm[P_TOL]
    T0, U0 = energy_state(y0, n, par, order, mass)
    Escale = U0
    kmax = flg[F_KMAX]
    nf = 0
    yz = y0.copy()
    yz[0] = 0.0  # time relative to the step start: no round-off from a large absolute t
    wk = np.empty((11, n, 3))  # leapfrog work arrays and near-pair rows, shared by the sequences
    ws = np.empty((8, n))
    w3 = np.empty((5, 3))
    ptr, nidx, ncoef = near_pairs(par)
    for j in range(1, min(k + 1, kmax) + 1):
        row = table[j - 1, 0]
        for m in range(y0.shape[0]):
            row[m] = yz[m]
        leapfrog_into(row, n, nseq[j - 1], H, mass, isbh, par, order, prm, flg, wk, ws, w3, ptr, nidx, ncoef)
        nf += nseq[j - 1]
        if j >= 2:
            neville_row(table, j - 1, nseq)
            dec, kc = gbs_decide_scaled(table, j, k, H, yz, n, Escale, nseq, errs, hfac, tol, kmax)
            if dec != 0:
                return dec == 1, kc, j, nf
    return False, min(k + 1, kmax), min(k + 1, kmax), nf


@njit(cache=True)
def gbs_decide_scaled(table, j, k, H, y0, n, Escale, nseq, errs, hfac, tol, kmax):
    """Convergence monitor (HNW sect. II.9, "Order and step size control"; ODEX) on err_j = norm / tol.

    Returns (decision, column): 0 = compute the next column; 1 = accept the step at column j (the
    first column j >= k-1 with err_j <= 1: extrapolation stops as soon as the error is below the
    tolerance); -1 = reject at column j, where convergence is not expected by column k+1
    (err_{k-1} > (n_{k+1} n_k / n_1^2)^2, err_k > (n_{k+1} / n_1)^2, or err_{k+1} > 1).
    ODEX's further test, rejecting when err_j >= max(4 err_{j-1}, 1) (no convergence), is left out:
    at tolerances near round-off the column errors stall at ~1-3 x tol and it halved steps that
    the next column accepts (measured on Kepler e = 0.9 at tolerance 1e-12: the energy error rose
    from 1.3e-13 to 1.6e-12 over 30 orbits).

    Twelve arguments: the tableau, the column reached and the target order, the step, the state and its
    energy scale, and the monitor's work arrays, shared with the MPI driver (nbody.gbs), which calls it on
    its gathered tableau.
    """
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

    Eleven arguments: the bracket state is carried by the caller's loop as scalars (Numba loops keep
    scalars in registers; the MPI driver runs the same loop body).
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
def landing_guess(rem, slope0, hist_D, hist_H, m, H_lo, H_hi):
    """Fictitious step H with Delta t(H) = ``rem`` by inverse Hermite interpolation, or NaN.

    H(D) is interpolated (Newton divided differences, Hermite data at D = 0: H(0) = 0 and
    dH/dD(0) = ``slope0`` = alpha U + beta omega + gamma of the step start, the time transformation
    of :mod:`nbody._kernels.logh`) through the last (up to three) landing attempts (hist_D, hist_H)[:m],
    and evaluated at ``rem`` (inverse interpolation, e.g. Press et al., *Numerical Recipes* 3rd ed.,
    sect. 9.3). Delta t(H) of a Kepler step across pericentre is far from linear in H: regula falsi
    alone needed 7-21 GBS steps per landing (measured on Kepler e = 0.9, 0.999); the interpolant
    uses the curvature the attempts reveal. Returns NaN when the guess is not strictly inside the
    bracket (H_lo, H_hi) or two nodes coincide; the caller then keeps the regula falsi step.
    """
    q = min(m, 3)
    npt = q + 2
    z = np.zeros(npt)
    c = np.zeros(npt)
    for i in range(q):
        z[2 + i] = hist_D[m - q + i]
        c[2 + i] = hist_H[m - q + i]
    for i in range(2, npt):
        for j in range(1, i):
            if abs(z[i] - z[j]) <= 1e-15 * abs(z[i]):
                return math.nan
    for order in range(1, npt):
        for i in range(npt - 1, order - 1, -1):
            if order == 1 and i == 1:
                c[i] = slope0
            else:
                c[i] = (c[i] - c[i - 1]) / (z[i] - z[i - order])
    h = c[npt - 1]
    for i in range(npt - 2, -1, -1):
        h = h * (rem - z[i]) + c[i]
    if not ((h - H_lo) * (H_hi - h) > 0.0):
        return math.nan
    return h


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
def work_per_step(j, hfac):
    """W_j = A_j / H_j per unit fictitious step H (HNW sect. II.9, eq. (9.26)): A_j = sum_{i<=j} n_i
    = j (j + 1) leapfrog substeps (force evaluations) for n_i = 2i, H_j / H = ``hfac[j-1]``."""
    return j * (j + 1.0) / hfac[j - 1]


@njit(cache=True)
def choose_next(kc, k, accepted, after_reject, H, hfac, kmin, kmax):
    """Next column count k and step H after a GBS attempt: the order and step size control of HNW
    sect. II.9 (eqs. (9.25)-(9.27)) as in ODEX, with the work per unit step W_j of :func:`work_per_step`.

    Accepted at column kc (convergence monitor of :func:`gbs_decide_scaled`):

    * kc = 2: k_opt = 3 (2 after a rejection);
    * kc <= k: k_opt = kc; kc - 1 if W_{kc-1} < 0.8 W_kc; kc + 1 if W_kc < 0.9 W_{kc-1};
    * kc = k + 1: k_opt = kc - 1; kc - 2 if kc > 3 and W_{kc-2} < 0.8 W_{kc-1}; kc if W_kc < 0.9 W_{k_opt};
    * next step H_{k_opt} (:func:`step_factor`) when k_opt <= kc, else H_kc A_{k_opt} / A_kc
      (A_{k_opt+1} / A_kc when kc < k and the order rises);
    * after a rejected step neither order nor step may grow: k = min(k_opt, kc), H = min(H, H_k).

    Rejected at column kc: k = min(k, kc), one lower if W_{k-1} < 0.8 W_k, and H = H_k (at most 0.9 H);
    a departure from ODEX: when the monitor gave up at column k - 1 and the work does not ask for a lower
    order, k is kept (with H = H_{k-1} A_k / A_{k-1}). In close encounters the low columns' errors fall
    only ~H^2, not H^(2j-1) (measured on Plummer N = 10 and the Pythagorean problem), so each order drop
    predicted too short a step: rejections cascaded down to k = 2 and steps 1e-3 of the accepted one,
    which then took ~8 steps to regrow. Keeping k: 0.94 instead of 0.97 x the force evaluations of the
    previous controller at equal energy error (geometric means over the 24 rows above).
    kc = 0 (the step did not advance the time): the same k with H / 2 (ODEX's safe3).
    k stays in [kmin, kmax]; a k above kc (kmin) takes the step of column kc scaled by A_k / A_kc.
    """
    if kc < 2:
        return k, 0.5 * H
    if not accepted:
        knew = min(k, kc)
        if knew > 2 and knew - 1 >= kmin and work_per_step(knew - 1, hfac) < 0.8 * work_per_step(knew, hfac):
            knew -= 1
        if kc == k - 1 and knew == kc:
            knew = k  # keep the order: see the docstring
        knew = max(knew, kmin)
        jc = min(knew, kc)
        return knew, H * min(hfac[jc - 1] * (knew * (knew + 1.0)) / (jc * (jc + 1.0)), 0.9)
    if kc == 2:
        kopt = 2 if after_reject else 3
    elif kc <= k:
        kopt = kc
        if work_per_step(kc - 1, hfac) < 0.8 * work_per_step(kc, hfac):
            kopt = kc - 1
        if work_per_step(kc, hfac) < 0.9 * work_per_step(kc - 1, hfac):
            kopt = kc + 1
    else:
        kopt = kc - 1
        if kc > 3 and work_per_step(kc - 2, hfac) < 0.8 * work_per_step(kc - 1, hfac):
            kopt = kc - 2
        if work_per_step(kc, hfac) < 0.9 * work_per_step(kopt, hfac):
            kopt = kc
    kopt = max(kmin, min(kopt, kmax))
    if after_reject:
        knew = max(kmin, min(kopt, kc))
        jc = min(knew, kc)
        return knew, H * min(1.0, hfac[jc - 1] * (knew * (knew + 1.0)) / (jc * (jc + 1.0)))
    if kopt <= kc:
        return kopt, H * hfac[kopt - 1]
    a = kopt + 1 if (kc < k and work_per_step(kc, hfac) < 0.9 * work_per_step(kc - 1, hfac)) else kopt
    return kopt, H * hfac[kc - 1] * (a * (a + 1.0)) / (kc * (kc + 1.0))


refresh_stale_cache(globals())   # callees in other files are compiled in: see gpu.jit
