"""Gragg-Bulirsch-Stoer extrapolation of the time-transformed leapfrog (serial and MPI drivers).

Hairer, Norsett & Wanner, *Solving ODEs I*, sect. II.9, as used by MSTAR
(Rantala et al. 2020, sect. 2.4):

* substep sequences n_k = 2k (k = 1 ... k_max); the leapfrog is symmetric, so
  its error expands in even powers of the substep and the tableau is built with
  Aitken-Neville in h^2:
  T_{j,k+1} = T_{j,k} + (T_{j,k} - T_{j-1,k}) / ((n_j / n_{j-k})^2 - 1);
* error estimate err_j = || T_{j,j} - T_{j,j-1} || / tol in a relative max norm
  (each tree edge relative to its own length; time relative to the step's time
  increment; see :func:`nbody._kernels.cpu.error_norm`);
* new step H_j = H * 0.94 (0.65 / err_j)^(1/(2j-1)), clamped to [0.02, 4] H;
* order control by work per unit step W_j = A_j / H_j, A_j = sum_{i<=j} n_i,
  with the ODEX convergence monitor at columns k-1, k, k+1;
* output times are hit exactly by a secant iteration on the fictitious step
  (t(H) is monotonic for the LogH transformation).

The serial loop runs entirely in Numba (:func:`nbody._kernels.cpu.integrate_to`).
With an MPI communicator of several ranks, :func:`integrate_to_mpi` runs the
same decisions in Python (the regula-falsi landing and the physical-time
landing step included), but the substep sequences of one step are shared
among ranks (as MSTAR does) and gathered before the extrapolation, so the
result is bitwise identical to the serial one (tested on 2 and 3 ranks).
"""
from __future__ import annotations

import numpy as np

from ._kernels import cpu as K

neville_row = K.neville_row
step_factor = K.step_factor
error_norm = K.error_norm


def assign_sequences(kk: int, size: int) -> list[list[int]]:
    """Share substep sequences 1..kk (cost n_j = 2j) among ``size`` ranks, largest first to the least loaded."""
    load = [0] * size
    owned = [[] for _ in range(size)]
    for j in range(kk, 0, -1):
        r = min(range(size), key=lambda i: (load[i], i))
        owned[r].append(j)
        load[r] += 2 * j
    return owned


def gbs_step_mpi(y0, n, H, k, mass, isbh, par, order, prm, flg, nseq, table, errs, hfac, comm):
    """One GBS step with the sequences 1..min(k+1, k_max) computed in parallel over ``comm``.

    The decisions are those of :func:`nbody._kernels.cpu.gbs_step` applied to the
    same tableau, so the accepted state is bitwise identical to the serial one.
    """
    tol = prm[K.P_TOL]
    _, U0 = K.energy_state(y0, n, par, order, mass)
    kmax = int(flg[K.F_KMAX])
    kk = min(k + 1, kmax)
    yz = y0.copy()
    yz[0] = 0.0
    mine = assign_sequences(kk, comm.size)[comm.rank]
    local = {j: K.leapfrog(yz, n, int(nseq[j - 1]), H, mass, isbh, par, order, prm, flg) for j in mine}
    allres = {}
    for part in comm.allgather(local):
        allres.update(part)
    nf = 0
    for j in range(1, kk + 1):
        table[j - 1, 0, :] = allres[j]
        nf += int(nseq[j - 1])
        if j >= 2:
            K.neville_row(table, j - 1, nseq)
            dec, kc = K.gbs_decide_scaled(table, j, k, H, yz, n, U0, nseq, errs, hfac, tol, kmax)
            if dec != 0:
                return dec == 1, kc, j, nf
    return False, kk, kk, nf


def integrate_to_mpi(y, n, t_target, H, k, mass, isbh, par, order, prm, flg, mode, max_steps, counters, comm):
    """MPI twin of :func:`nbody._kernels.cpu.integrate_to`: the same control flow, statement for statement
    (exact landing by Illinois regula falsi, and the physical-time landing step of ``flg[F_PHYSLAND]``),
    with the substep sequences of each GBS step shared among the ranks of ``comm``. Every decision is
    taken on the same tableau as in the serial loop, so the result is bitwise the serial one
    (tests/nbody/test_mpi_regularized.py, tests/nbody/test_simulation.py)."""
    kmin, kmax = int(flg[K.F_KMIN]), int(flg[K.F_KMAX])
    nseq = np.array([2 * (j + 1) for j in range(kmax)], dtype=np.int64)
    table = np.empty((kmax, kmax, y.shape[0]))
    errs = np.zeros(kmax + 1)
    hfac = np.ones(kmax + 1)
    direction = 1.0 if t_target >= y[0] else -1.0
    if H * direction < 0:
        H = -H
    landing = False
    # physical-time landing: as in the serial loop, one GBS step of the untransformed leapfrog
    # (alpha, beta, gamma) = (0, 0, 1) over exactly the remaining time when the next step would pass t_target
    physland = int(flg[K.F_PHYSLAND]) != 0
    prm_phys = prm.copy()
    prm_phys[K.P_ALPHA] = 0.0
    prm_phys[K.P_BETA] = 0.0
    prm_phys[K.P_GAMMA] = 1.0
    dh_ratio = 0.0
    tried_phys = False
    Hsave = H
    H_lo = D_lo = H_hi = D_hi = 0.0
    side = iters = nsteps = 0
    while True:
        rem = (t_target - y[0]) * direction
        if rem <= 0.0:
            y[0] = t_target
            return 0, y, H, k, par, order
        if nsteps >= max_steps:
            return 2, y, H, k, par, order
        if physland and not tried_phys and not landing and dh_ratio > 0.0 and abs(H) * dh_ratio >= rem:
            tried_phys = True
            acc, kc, ncomp, nf = gbs_step_mpi(y, n, rem * direction, k, mass, isbh, par, order, prm_phys, flg, nseq,
                                              table, errs, hfac, comm)
            counters[2] += nf
            if acc:
                counters[0] += 1
                nsteps += 1
                y = table[kc - 1, kc - 1].copy()
                y[0] = t_target
                if mode != 2:
                    y, par, order = K.refresh_tree(y, n, par, order, mass, mode)
                bi, _ = K.merger_check(y, n, par, order, mass, isbh, prm)
                if bi >= 0:
                    return 1, y, H, k, par, order
                return 0, y, H, k, par, order
            counters[1] += 1
            continue
        acc, kc, ncomp, nf = gbs_step_mpi(y, n, H, k, mass, isbh, par, order, prm, flg, nseq, table, errs, hfac, comm)
        counters[2] += nf
        kq = max(kc, 1)
        ynew = table[kq - 1, kq - 1]
        D = ynew[0] * direction
        if acc and not (D > 0.0):
            acc = False
            kc = max(kc, 2)
            hfac[kc - 1] = 0.1
        if not acc:
            counters[1] += 1
            landing = False
            k, H = K.choose_next(kc, k, False, H, errs, hfac, nseq, kmin, kmax)
            if abs(H) < 1e-300:
                return 3, y, H, k, par, order
            continue
        tol_t = K.landing_tolerance(prm[K.P_TOL], rem, t_target)
        snap = abs(D - rem) <= tol_t
        if (not snap and D > rem) or (landing and not snap):
            counters[1] += 1
            Hn, landing, Hsave, H_lo, D_lo, H_hi, D_hi, side, iters = K.landing_bracket(
                D, rem, H, landing, Hsave, H_lo, D_lo, H_hi, D_hi, side, iters)
            if iters > 60:
                return 3, y, H, k, par, order
            H = Hn
            continue
        counters[0] += 1
        nsteps += 1
        knext, Hnext = K.choose_next(kc, k, True, H, errs, hfac, nseq, kmin, kmax)
        t_old = y[0]
        y = ynew.copy()
        y[0] += t_old
        dh_ratio = D / abs(H)
        tried_phys = False
        if landing:
            Hnext = max(abs(Hsave), abs(Hnext)) * direction
            landing = False
        k, H = knext, Hnext
        if snap:
            y[0] = t_target
        if mode != 2:
            y, par, order = K.refresh_tree(y, n, par, order, mass, mode)
        bi, _ = K.merger_check(y, n, par, order, mass, isbh, prm)
        if bi >= 0:
            return 1, y, H, k, par, order
        if snap:
            return 0, y, H, k, par, order
