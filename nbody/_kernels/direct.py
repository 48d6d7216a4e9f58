"""Direct-summation gravity with GADGET's cubic-spline softening (Numba).

Plain float64 arrays in G=1 internal units; ``h`` is the spline support radius
(h = 2.8 eps, Plummer-equivalent softening eps). Pair softening uses
max(h_i, h_j) as GADGET does. See :mod:`nbody.softening` for the formulas.
"""
from __future__ import annotations

import math
import os

# Numba's OpenMP threading layer lets idle workers spin after every parallel region; on a shared,
# oversubscribed machine (2 cores, many processes) that spinning steals the main thread's CPU and made
# the many small serial steps of a hierarchical-timestep run 10-20x slower. Passive waiting costs a few
# microseconds per parallel launch. Only a default: a user's setting wins; it takes effect if no
# parallel kernel has started the OpenMP runtime yet.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
from numba import njit, prange  # noqa: E402
from gpu.jit import refresh_stale_cache  # noqa: E402


@njit(cache=True, inline="always")
def spline_force_factor(r2, h):
    """f(r) such that the acceleration is -G m f(r) r_vec (Springel 2005, eq. 4 kernel)."""
    r = math.sqrt(r2)  # math, not np: the CUDA target types math.sqrt only (same llvm.sqrt on the CPU)
    if r >= h:
        return 1.0 / (r2 * r)
    hinv = 1.0 / h
    u = r * hinv
    h3 = hinv * hinv * hinv
    if u < 0.5:
        return h3 * (10.666666666666666 + u * u * (32.0 * u - 38.4))
    return h3 * (21.333333333333333 - 48.0 * u + 38.4 * u * u - 10.666666666666666 * u * u * u
                 - 0.06666666666666667 / (u * u * u))


@njit(cache=True, inline="always")
def spline_potential_factor(r2, h):
    """g(r) such that the potential is -G m g(r) (g = 1/r for r >= h; g(0) = 2.8/h = 1/eps)."""
    r = math.sqrt(r2)  # math, not np: the CUDA target types math.sqrt only (same llvm.sqrt on the CPU)
    if r >= h:
        return 1.0 / r
    hinv = 1.0 / h
    u = r * hinv
    if u < 0.5:
        return hinv * (2.8 - u * u * (5.333333333333333 - u * u * (9.6 - 6.4 * u)))
    return hinv * (3.2 - 0.06666666666666667 / u
                   - u * u * (10.666666666666666 - u * (16.0 - u * (9.6 - 2.1333333333333333 * u))))


@njit(parallel=True, cache=True, fastmath={"reassoc", "contract", "nsz", "arcp"}, error_model="numpy")
def direct_accel(targets, pos, mass, h, G, want_pot):
    """Accelerations (and potentials) on particles ``targets`` from all particles (softened).

    Self-interaction is skipped by index. Returns (acc[len(targets),3], pot[len(targets)]).
    The potential excludes the self term (GADGET adds -G m_i g(0) separately, we do not).

    Same kernel as :func:`spline_force_factor` / :func:`spline_potential_factor` (Springel 2005 eq. 4),
    written branch-free so that the pair loop vectorises: all three pieces (u < 1/2, 1/2 <= u < 1,
    Newtonian) are evaluated and one is selected; lanes that are not used (self pair, r = 0) are masked,
    so the inf/nan they may hold never reach the sums (hence no ``nnan``/``ninf`` fast-math flags; only
    reassociation, contraction, signed zeros and reciprocals). ``error_model="numpy"`` drops Numba's
    per-division zero check, which otherwise blocks vectorisation. Agrees with the branchy form to
    ~1e-14 relative (summation order).
    """
    nt = targets.shape[0]
    n = pos.shape[0]
    x = np.ascontiguousarray(pos[:, 0])
    y = np.ascontiguousarray(pos[:, 1])
    z = np.ascontiguousarray(pos[:, 2])
    hinv = np.empty(n)  # 1/h (inf for h = 0): 1/max(h_i, h_j) = min(1/h_i, 1/h_j) without a division
    for j in range(n):
        hinv[j] = 1.0 / h[j] if h[j] > 0.0 else np.inf
    acc = np.zeros((nt, 3))
    pot = np.zeros(nt)
    for k in prange(nt):
        i = targets[k]
        xi = x[i]
        yi = y[i]
        zi = z[i]
        hi = h[i]
        hii = hinv[i]
        ax = 0.0
        ay = 0.0
        az = 0.0
        p = 0.0
        for j in range(n):
            dx = x[j] - xi
            dy = y[j] - yi
            dz = z[j] - zi
            r2 = dx * dx + dy * dy + dz * dz
            hj = h[j]
            hij = hi if hi > hj else hj
            use = (j != i) and (r2 > 0.0 or hij > 0.0)
            r2s = r2 if r2 > 0.0 else 1.0
            rinv = 1.0 / np.sqrt(r2s)
            r = r2 * rinv
            hiv = hii if hii < hinv[j] else hinv[j]
            u = r * hiv
            u2 = u * u
            h3 = hiv * hiv * hiv
            ui = hij * rinv  # 1/u, used only where u >= 1/2
            newt = r2 >= hij * hij
            inner = u < 0.5
            f_in = h3 * (10.666666666666666 + u2 * (32.0 * u - 38.4))
            f_out = h3 * (21.333333333333333 - 48.0 * u + 38.4 * u2 - 10.666666666666666 * u2 * u
                          - 0.06666666666666667 * ui * ui * ui)
            f = rinv * rinv * rinv if newt else (f_in if inner else f_out)
            mf = mass[j] * f if use else 0.0
            ax += mf * dx
            ay += mf * dy
            az += mf * dz
            if want_pot:
                g_in = hiv * (2.8 - u2 * (5.333333333333333 - u2 * (9.6 - 6.4 * u)))
                g_out = hiv * (3.2 - 0.06666666666666667 * ui
                               - u2 * (10.666666666666666 - u * (16.0 - u * (9.6 - 2.1333333333333333 * u))))
                g = rinv if newt else (g_in if inner else g_out)
                p -= mass[j] * g if use else 0.0
        acc[k, 0] = G * ax
        acc[k, 1] = G * ay
        acc[k, 2] = G * az
        pot[k] = G * p
    return acc, pot


@njit(parallel=True, cache=True)
def direct_accel_sources(tpos, th, spos, smass, sh, G, want_pot, skip_self):
    """Softened accelerations at positions ``tpos`` from the source set ``spos``.

    ``skip_self``: index array of length len(tpos) giving the source index to skip (-1: none).
    Used for the internal softened forces of a KETJU region (subset-on-subset sums).
    """
    nt = tpos.shape[0]
    ns = spos.shape[0]
    acc = np.zeros((nt, 3))
    pot = np.zeros(nt)
    for k in prange(nt):
        ax = 0.0
        ay = 0.0
        az = 0.0
        p = 0.0
        for j in range(ns):
            if j == skip_self[k]:
                continue
            dx = spos[j, 0] - tpos[k, 0]
            dy = spos[j, 1] - tpos[k, 1]
            dz = spos[j, 2] - tpos[k, 2]
            r2 = dx * dx + dy * dy + dz * dz
            hij = th[k] if th[k] > sh[j] else sh[j]
            if r2 == 0.0 and hij == 0.0:
                continue
            f = smass[j] * spline_force_factor(r2, hij)
            ax += f * dx
            ay += f * dy
            az += f * dz
            if want_pot:
                p -= smass[j] * spline_potential_factor(r2, hij)
        acc[k, 0] = G * ax
        acc[k, 1] = G * ay
        acc[k, 2] = G * az
        pot[k] = G * p
    return acc, pot


# ----------------------------------------------------------------------------------------------
# plain N^2 force kernel (absolute coordinates, unsoftened), CPU twin of nbody._kernels.cuda_newton
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


refresh_stale_cache(globals())   # callees in other files are compiled in: see gpu.jit
