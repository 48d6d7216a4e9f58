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
    """Convergence monitor (HNW ODEX) on the error norm divided by the tolerance.

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


refresh_stale_cache(globals())   # callees in other files are compiled in: see gpu.jit
