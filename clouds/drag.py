"""Stokes drag on cloud droplets: response time and terminal fall speed.

Droplet inertia in the Stokes regime: tau_p = 2 rho_w r^2 / (9 rho_a nu) = 2 rho_w r^2 / (9 mu),
terminal velocity v_t = g tau_p (Rogers & Yau 1989, eq. 8.5, small droplets; Pruppacher & Klett
1997, eq. 10.33). :func:`stokes_tau` is the one scalar function the CPU and CUDA droplet kernels
use.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from . import thermo as th


@njit(cache=True)
def stokes_tau(r, mu):
    """Droplet response time tau_p = 2 rho_w r^2 / (9 mu) [s] of a sphere of radius r [m] in air of
    dynamic viscosity mu [Pa s] (Stokes drag; e.g. Pruppacher & Klett 1997, eq. 10.33). Numba scalar
    function, also evaluated on arrays through its Python function (:func:`stokes_time`)."""
    return 2.0 * th.RHO_W * (r * r) / (9.0 * mu)


def stokes_time(r, T=283.15, p=9e4):
    """Droplet response time tau_p = 2 rho_w r^2 / (9 mu(T)) [s] (Stokes drag, :func:`stokes_tau`)."""
    return stokes_tau.py_func(np.asarray(r, float), th.dynamic_viscosity(T))


def terminal_velocity(r, T=283.15, p=9e4):
    """Stokes terminal fall speed g tau_p [m/s] (valid for r below ~30 um)."""
    return th.G_ACC * stokes_time(r, T, p)
