"""The built-in unsoftened few-body integrator (Numba).

:func:`fewbody_integrate`: Newtonian, unsoftened N-body integration of a
small group (a KETJU region without PN) over a time interval, with the
4th-order symplectic composition of Yoshida (1990, Phys. Lett. A 150, 262,
eq. 5.4; coefficients w1 = 1/(2 - 2^(1/3)), w0 = 1 - 2 w1) and substeps
dt_s = eta min_ij min( sqrt(r_ij^3 / G(m_i+m_j)), r_ij / |v_ij| ) re-evaluated
every substep (adaptive, hence not exactly symplectic). It is the fallback
used when the regularized integrator (``nbody.RegularizedIntegrator``) is not
available or not asked for. The group's energy is :func:`nbody.pn.newton_energy`.
"""
from __future__ import annotations

import numpy as np
from numba import njit
from gpu.jit import refresh_stale_cache


@njit(cache=True)
def _newton_acc(pos, mass, G, acc):
    n = pos.shape[0]
    for i in range(n):
        for d in range(3):
            acc[i, d] = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            dx = pos[j, 0] - pos[i, 0]
            dy = pos[j, 1] - pos[i, 1]
            dz = pos[j, 2] - pos[i, 2]
            r2 = dx * dx + dy * dy + dz * dz
            inv = G / (r2 * np.sqrt(r2))
            acc[i, 0] += mass[j] * inv * dx
            acc[i, 1] += mass[j] * inv * dy
            acc[i, 2] += mass[j] * inv * dz
            acc[j, 0] -= mass[i] * inv * dx
            acc[j, 1] -= mass[i] * inv * dy
            acc[j, 2] -= mass[i] * inv * dz


@njit(cache=True)
def _pair_timescale(pos, vel, mass, G):
    n = pos.shape[0]
    best = 1e300
    for i in range(n):
        for j in range(i + 1, n):
            dx = pos[j, 0] - pos[i, 0]
            dy = pos[j, 1] - pos[i, 1]
            dz = pos[j, 2] - pos[i, 2]
            r2 = dx * dx + dy * dy + dz * dz
            r = np.sqrt(r2)
            t1 = np.sqrt(r2 * r / (G * (mass[i] + mass[j]) + 1e-300))
            if t1 < best:
                best = t1
            vx = vel[j, 0] - vel[i, 0]
            vy = vel[j, 1] - vel[i, 1]
            vz = vel[j, 2] - vel[i, 2]
            v = np.sqrt(vx * vx + vy * vy + vz * vz)
            if v > 0:
                t2 = r / v
                if t2 < best:
                    best = t2
    return best


@njit(cache=True)
def fewbody_integrate(pos, vel, mass, G, dt, eta, max_steps):
    """Integrate the group in place over time ``dt``; returns (substeps taken, time reached)."""
    w1 = 1.0 / (2.0 - 2.0 ** (1.0 / 3.0))
    w0 = 1.0 - 2.0 * w1
    c = np.array([0.5 * w1, 0.5 * (w0 + w1), 0.5 * (w0 + w1), 0.5 * w1])
    dcoef = np.array([w1, w0, w1])
    n = pos.shape[0]
    acc = np.zeros((n, 3))
    t = 0.0
    steps = 0
    while t < dt and steps < max_steps:
        h = eta * _pair_timescale(pos, vel, mass, G)
        if h > dt - t:
            h = dt - t
        for s in range(4):
            for i in range(n):
                for d in range(3):
                    pos[i, d] += c[s] * h * vel[i, d]
            if s < 3:
                _newton_acc(pos, mass, G, acc)
                for i in range(n):
                    for d in range(3):
                        vel[i, d] += dcoef[s] * h * acc[i, d]
        t += h
        steps += 1
    return steps, t


refresh_stale_cache(globals())   # callees in other files are compiled in: see gpu.jit
