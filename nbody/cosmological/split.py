"""The TreePM force split (Springel 2005, MNRAS 364, 1105, sec. 2.2, eqs. 21-24; GADGET-2/4 conventions).

The potential of a point mass is split in Fourier space as ``phi_k = phi_k^long + phi_k^short`` with

    phi_k^long = phi_k exp(-k^2 r_s^2)                                   (eq. 22)

so that in real space the short-range part is ``phi^short(r) = -G m erfc(r / (2 r_s)) / r`` (eq. 23) and
the short-range force is the Newtonian force times (eq. 24)

    f(r) = erfc(r / (2 r_s)) + r / (r_s sqrt(pi)) exp(-r^2 / (4 r_s^2)).

The split scale is ``r_s = asmth * (box / nmesh)`` and the tree sums the short-range force out to
``r_cut = rcut * r_s`` (GADGET-2 defaults ``ASMTH = 1.25``, ``RCUT = 4.5``).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

#: GADGET-2 defaults (Springel 2005, sec. 2.2)
ASMTH = 1.25
RCUT = 4.5

_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)


@njit(cache=True, inline="always")
def shortrange_force_factor(r, rs):
    """Truncation factor of the short-range pair force, Springel (2005) eq. 24:
    ``erfc(r / 2 r_s) + r / (r_s sqrt(pi)) exp(-r^2 / 4 r_s^2)`` (1 at r = 0, -> 0 for r >> r_s)."""
    u = 0.5 * r / rs
    return math.erfc(u) + 2.0 * u * _INV_SQRT_PI * math.exp(-u * u)


@njit(cache=True, inline="always")
def shortrange_factor_derivs(r, rs):
    """(f, df/dr, d2f/dr2) of the truncation factor f of :func:`shortrange_force_factor` (eq. 24), with
    ``u = r / 2 r_s``: ``f' = -2 u^2 exp(-u^2) / (sqrt(pi) r_s)``, ``f'' = -2 (u - u^3) exp(-u^2) / (sqrt(pi) r_s^2)``
    (differentiating eq. 24; used by the quadrupole term of the short-range tree force)."""
    u = 0.5 * r / rs
    e = math.exp(-u * u)
    f = math.erfc(u) + 2.0 * u * _INV_SQRT_PI * e
    return f, -2.0 * u * u * e * _INV_SQRT_PI / rs, -2.0 * (u - u * u * u) * e * _INV_SQRT_PI / (rs * rs)


def longrange_filter(k2, rs):
    """Fourier-space factor of the long-range potential, Springel (2005) eq. 22: ``exp(-k^2 r_s^2)``."""
    return np.exp(-np.asarray(k2) * rs * rs)

