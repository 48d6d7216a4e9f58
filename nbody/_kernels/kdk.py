"""Kick, drift and timestep bins of the hierarchical kick-drift-kick integrator (Numba).

* :func:`kick`, :func:`drift`: in-place velocity/position updates of index sets.
* :func:`timestep_bins`: GADGET-2 timestep criterion dt = sqrt(2 eta eps / |a|)
  (Springel 2005, MNRAS 364, 1105, eq. 34) rounded down to dt_max / 2^k.
"""
from __future__ import annotations

import numpy as np
from numba import njit
from gpu.jit import refresh_stale_cache


@njit(cache=True)
def kick(vel, acc, idx, dt):
    """vel[idx[k]] += acc[k] * dt[k]  (serial: memory-bound, threads only add launch overhead)."""
    for k in range(idx.shape[0]):
        i = idx[k]
        for d in range(3):
            vel[i, d] += acc[k, d] * dt[k]


@njit(cache=True)
def drift(pos, vel, idx, dt):
    """pos[idx] += vel[idx] * dt (scalar dt)."""
    for k in range(idx.shape[0]):
        i = idx[k]
        for d in range(3):
            pos[i, d] += vel[i, d] * dt


@njit(cache=True)
def timestep_bins(acc, eps, eta, dt_max, max_bin):
    """Bin k with dt = dt_max/2^k <= sqrt(2 eta eps / |a|) (smallest such k; capped at max_bin)."""
    n = acc.shape[0]
    bins = np.empty(n, dtype=np.int64)
    for i in range(n):
        a = np.sqrt(acc[i, 0] ** 2 + acc[i, 1] ** 2 + acc[i, 2] ** 2)
        if a <= 0.0:
            bins[i] = 0
            continue
        dt = np.sqrt(2.0 * eta * eps[i] / a)
        k = 0
        while k < max_bin and dt_max / (2.0 ** k) > dt:
            k += 1
        bins[i] = k
    return bins


refresh_stale_cache(globals())   # callees in other files are compiled in: see gpu.jit
