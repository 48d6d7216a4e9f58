"""Gragg-Bulirsch-Stoer extrapolation of the time-transformed leapfrog (serial and MPI drivers).

Hairer, Norsett & Wanner, *Solving ODEs I*, sect. II.9, as used by MSTAR
(Rantala et al. 2020, sect. 2.4):

* substep sequences n_k = 2k (k = 1 ... k_max); the leapfrog is symmetric, so
  its error expands in even powers of the substep and the tableau is built with
  Aitken-Neville in h^2:
  T_{j,k+1} = T_{j,k} + (T_{j,k} - T_{j-1,k}) / ((n_j / n_{j-k})^2 - 1);
* error estimate err_j = || T_{j,j} - T_{j,j-1} || / tol in a relative max norm
  (each tree edge relative to its own length; time relative to the step's time
  increment; see :func:`nbody._kernels.gbs.error_norm`);
* new step H_j = H * 0.94 (0.65 / err_j)^(1/(2j-1)), limited to
  [0.02^(1/(2j-1)) / 4, 0.02^(-1/(2j-1))] H as in ODEX;
* order control by work per unit step W_j = A_j / H_j, A_j = sum_{i<=j} n_i,
  with the ODEX convergence monitor at columns k-1, k, k+1; after a rejected step
  neither order nor step grows (:func:`nbody._kernels.gbs.choose_next`);
* output times are hit exactly by inverse Hermite interpolation of Delta t(H),
  safeguarded by Illinois regula falsi on the bracket (t(H) is monotonic for the
  LogH transformation).

The serial loop runs entirely in Numba (:func:`nbody._kernels.regularized.integrate_to`).
With an MPI communicator of several ranks, :func:`integrate_to_mpi` runs the
same loop body in the interpreter (the regula-falsi landing and the
physical-time landing step included), but the substep sequences of one step
are shared among ranks (as MSTAR does) and gathered before the extrapolation,
so the result is bitwise identical to the serial one (tested on 2 and 3 ranks).
"""
from __future__ import annotations

from gpu.jit import with_globals

from ._kernels.forces import energy_state
from ._kernels.gbs import gbs_decide_scaled, neville_row
from ._kernels.logh import leapfrog
from ._kernels.regularized import integrate_to
from ._kernels.state import F_KMAX, P_TOL


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

    The decisions are those of :func:`nbody._kernels.gbs.gbs_step` applied to the
    same tableau, so the accepted state is bitwise identical to the serial one.

    Fifteen arguments: those of :func:`nbody._kernels.gbs.gbs_step` plus ``comm``.
    """
    tol = prm[P_TOL]
    _, U0 = energy_state(y0, n, par, order, mass)
    kmax = int(flg[F_KMAX])
    kk = min(k + 1, kmax)
    yz = y0.copy()
    yz[0] = 0.0
    mine = assign_sequences(kk, comm.size)[comm.rank]
    local = {j: leapfrog(yz, n, int(nseq[j - 1]), H, mass, isbh, par, order, prm, flg) for j in mine}
    allres = {}
    for part in comm.allgather(local):
        allres.update(part)
    nf = 0
    for j in range(1, kk + 1):
        table[j - 1, 0, :] = allres[j]
        nf += int(nseq[j - 1])
        if j >= 2:
            neville_row(table, j - 1, nseq)
            dec, kc = gbs_decide_scaled(table, j, k, H, yz, n, U0, nseq, errs, hfac, tol, kmax)
            if dec != 0:
                return dec == 1, kc, j, nf
    return False, kk, kk, nf


def integrate_to_mpi(y, n, t_target, H, k, mass, isbh, par, order, prm, flg, mode, max_steps, counters, comm):
    """:func:`nbody._kernels.regularized.integrate_to` with the substep sequences of each GBS step shared
    among the ranks of ``comm``.

    One loop body: the kernel's own Python body runs in the interpreter with its step attempt
    ``gbs_step`` replaced by :func:`gbs_step_mpi` (:func:`gpu.jit.with_globals`); everything else it calls
    (order and step control, exact landing, tree rebuild, merger test) is the compiled kernel. Every
    decision is taken on the same tableau as in the serial loop, so the result is bitwise the serial one
    (tested on 2 and 3 ranks). Fourteen state arguments plus ``comm``: those of the kernel.
    """
    def step(y0, n, H, k, mass, isbh, par, order, prm, flg, nseq, table, errs, hfac):
        return gbs_step_mpi(y0, n, H, k, mass, isbh, par, order, prm, flg, nseq, table, errs, hfac, comm)

    loop = with_globals(integrate_to, gbs_step=step)
    return loop(y, n, t_target, H, k, mass, isbh, par, order, prm, flg, mode, max_steps, counters)
