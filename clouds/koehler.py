"""Köhler theory with kappa-hygroscopicity (Petters & Kreidenweis 2007, ACP 7:1961).

Full equilibrium saturation ratio over a solution droplet of radius r with dry radius r_d
(Petters & Kreidenweis 2007, eq. 6)::

    S_eq + 1 = (r^3 - r_d^3) / (r^3 - r_d^3 (1 - kappa)) * exp(A / r),   A = 2 sigma_w / (rho_w R_v T).

For r >> r_d this reduces to the classical two-term form S_eq = A/r - B/r^3 with B = kappa r_d^3,
whose maximum lies at the critical radius r_c = sqrt(3 B / A) with the critical supersaturation
S_c = sqrt(4 A^3 / (27 B)) (Rogers & Yau 1989 eq. 6.9; Seinfeld & Pandis eq. 17.37). The full
form tends to -1 as r -> r_d, so a droplet integrated with it can never shrink below its dry
radius (used in :mod:`clouds._kernels.droplets`).

The full form is written once, as the Numba scalar function :func:`seq_and_derivative` (S_eq and
dS_eq/dr, called by the growth kernels); :func:`equilibrium_supersaturation` evaluates it elementwise.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, vectorize
from scipy.optimize import brentq

from . import thermo as th


@njit(cache=True, inline="always")
def seq_and_derivative(r, rd3, kappa, A):
    """kappa-Köhler equilibrium supersaturation S_eq(r) and dS_eq/dr of a droplet of radius r [m]
    with dry radius cubed ``rd3`` [m^3], hygroscopicity ``kappa`` and Kelvin coefficient A [m]
    (Petters & Kreidenweis 2007, ACP 7:1961, eq. 6)::

        S_eq + 1 = P(r) exp(A / r),   P = (r^3 - r_d^3) / (r^3 - r_d^3 (1 - kappa)),
        dS_eq/dr = exp(A / r) (P' - P A / r^2),   P' = 3 r^2 kappa r_d^3 / (r^3 - r_d^3 (1 - kappa))^2.

    Returns (-1, 0) where the denominator is <= 0 (r at or below the dry core: no water).
    Scalar Numba function (float arguments), called by the growth kernels.
    """
    er = math.exp(A / r)
    r3 = r * r * r
    den = r3 - rd3 * (1.0 - kappa)
    if den <= 0.0:
        return -1.0, 0.0
    P = (r3 - rd3) / den
    dP = 3.0 * r * r * (rd3 * kappa) / (den * den)
    return P * er - 1.0, er * (dP - P * A / (r * r))


@vectorize(["float64(float64, float64, float64, float64)"], cache=True)
def _seq_elementwise(r, rd3, kappa, A):
    return seq_and_derivative(r, rd3, kappa, A)[0]


def curvature_A(T):
    """Kelvin coefficient A = 2 sigma_w / (rho_w R_v T) [m] (~1.1e-9 m near 280 K)."""
    return 2.0 * th.surface_tension(T) / (th.RHO_W * th.R_V * th._check_T(T))


def solute_B(r_dry, kappa):
    """Raoult coefficient B = kappa r_d^3 [m^3] (Petters & Kreidenweis 2007)."""
    r_dry = np.asarray(r_dry, float)
    kappa = np.asarray(kappa, float)
    if np.any(r_dry < 0):
        raise ValueError("dry radius r_dry must be >= 0")
    if np.any(kappa < 0) or np.any(kappa > 1.5):
        raise ValueError("hygroscopicity kappa must be in [0, 1.5]")
    return kappa * r_dry ** 3


def equilibrium_supersaturation(r, r_dry, kappa, T, form="full"):
    """Köhler S_eq(r): ``form="full"`` (kappa-Köhler, PK07 eq. 6) or ``"approx"`` (A/r - B/r^3)."""
    r = np.asarray(r, float)
    r_dry = np.asarray(r_dry, float)
    if np.any(r <= r_dry) or np.any(r <= 0):
        raise ValueError("radius r must exceed the dry radius r_dry")
    A = curvature_A(T)
    if form == "approx":
        return A / r - solute_B(r_dry, kappa) / r ** 3
    if form != "full":
        raise ValueError(f"form must be 'full' or 'approx', got {form!r}")
    return _seq_elementwise(r, r_dry ** 3, np.asarray(kappa, float), A)


def critical_radius(r_dry, kappa, T):
    """Critical (activation) radius r_c = sqrt(3 B / A) [m] of the two-term Köhler curve."""
    B = solute_B(r_dry, kappa)
    if np.any(B <= 0):
        raise ValueError("critical_radius needs kappa > 0 and r_dry > 0")
    return np.sqrt(3.0 * B / curvature_A(T))


def critical_supersaturation(r_dry, kappa, T):
    """Critical supersaturation S_c = sqrt(4 A^3 / (27 B)) of the two-term Köhler curve."""
    B = solute_B(r_dry, kappa)
    if np.any(B <= 0):
        raise ValueError("critical_supersaturation needs kappa > 0 and r_dry > 0")
    return np.sqrt(4.0 * curvature_A(T) ** 3 / (27.0 * B))


def equilibrium_radius(S, r_dry, kappa, T):
    """Stable equilibrium radius [m] at ambient supersaturation S below activation (full form).

    Solves S_eq(r) = S on (r_dry, r_c_full) where r_c_full is the maximum of the full curve.
    Raises ValueError if S exceeds the critical supersaturation (no stable equilibrium) or
    S <= -1.
    """
    r_dry = float(r_dry)
    kappa = float(kappa)
    if not (-1.0 < S):
        raise ValueError("supersaturation S must be > -1")
    if r_dry <= 0 or kappa <= 0:
        raise ValueError("equilibrium_radius needs r_dry > 0 and kappa > 0")
    f = lambda lr: float(equilibrium_supersaturation(np.exp(lr), r_dry, kappa, T)) - S  # noqa: E731
    # locate the maximum of the full curve (critical point) by a log-radius scan + refinement
    lo = np.log(r_dry * (1.0 + 1e-9))
    rc2 = float(critical_radius(r_dry, kappa, T))
    grid = np.linspace(lo, np.log(max(10 * rc2, 2 * r_dry)), 2000)
    vals = np.array([f(x) for x in grid])
    imax = int(np.argmax(vals))
    if vals[imax] <= 0:
        raise ValueError(f"S = {S} exceeds the critical supersaturation {vals[imax] + S:.4g}; droplet activates")
    return float(np.exp(brentq(f, lo, grid[imax], xtol=1e-14, rtol=1e-13)))
