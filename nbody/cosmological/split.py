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
from gpu.jit import refresh_stale_cache

#: GADGET-2 defaults (Springel 2005, sec. 2.2)
ASMTH = 1.25
RCUT = 4.5

_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)


@njit(cache=True, inline="always")
def min_image(d, box):
    """Minimum image of a coordinate difference ``d`` in a periodic box (valid for ``|d| < 1.5 box``)."""
    if d > 0.5 * box:
        return d - box
    if d < -0.5 * box:
        return d + box
    return d


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


#: entries of the short-range factor table per r_s (GADGET-2 tabulates the factor too, ``shortrange_table``)
TABLE_PER_RS = 1024


def shortrange_table(rcut, per_rs=TABLE_PER_RS):
    """Table of (f, f', f'') of eq. 24 (:func:`shortrange_factor_derivs` at r_s = 1) at ``x = r / r_s = j / per_rs``,
    ``j = 0 .. ceil(rcut per_rs) + 1``, rows f, f', f''. Linear interpolation (:func:`table_factor`) is accurate
    to ``dx^2 max|f''| / 8``, ~5e-8 at 1024 entries per r_s; derivatives scale as ``f'/r_s``, ``f''/r_s^2``."""
    n = int(math.ceil(rcut * per_rs)) + 2
    tab = np.empty((3, n))
    for j in range(n):
        tab[0, j], tab[1, j], tab[2, j] = shortrange_factor_derivs(j / per_rs, 1.0)
    return tab


@njit(cache=True, inline="always")
def table_factor(tab, row, u):
    """Row ``row`` of :func:`shortrange_table` linearly interpolated at ``u = r per_rs / r_s`` (u >= 0, below
    the table's end)."""
    j = int(u)
    w = u - j
    return tab[row, j] + (tab[row, j + 1] - tab[row, j]) * w


def longrange_filter(k2, rs, xp=np):
    """Fourier-space factor of the long-range potential, Springel (2005) eq. 22: ``exp(-k^2 r_s^2)``
    (``xp``: the array module of ``k2``, NumPy or CuPy)."""
    return xp.exp(-xp.asarray(k2) * rs * rs)


refresh_stale_cache(globals())   # callees in other files are compiled in: see gpu.jit
