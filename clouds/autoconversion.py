"""Dispersion-based autoconversion (Liu & Daum 2004, JAS 61:1539; Liu et al. 2006 GRL 33:L11804).

The Kessler-type rate of Liu & Daum (2004) carries the spectral shape through the factor

    beta_6 = [(1 + 3 eps^2)(1 + 4 eps^2)(1 + 5 eps^2) / ((1 + eps^2)(1 + 2 eps^2))]^(1/6),

the ratio R_6 / r_3 of the sixth-moment radius R_6 = (<r^6>/<r^0>)^(1/6) to the mean-volume radius
r_3 = (<r^3>)^(1/3) of a gamma spectrum with relative dispersion eps (Liu & Daum 2004 eq. 10;
derived from the gamma moments, tested in tests/clouds/test_diagnostics.py).

Rate (SI form of Wood 2005, Table 1, "LD04" row, with the explicit dispersion dependence)::

    P = E0 beta_6^6 L^3 / N  H(R_6 - R_6c)        [kg m^-3 s^-1]
    R_6 = beta_6 r_3,  r_3 = (3 L / (4 pi rho_w N))^(1/3),
    R_6c = R_c0 / (L^(1/6) R_6^(1/2))  (radii in um, L in kg m^-3),

with E0 = 1.08e10 and R_c0 = 7.5. ``threshold=False`` returns P0 without the Heaviside switch.
"""
from __future__ import annotations

import numpy as np

from . import thermo as th

E0 = 1.08e10
R_C0 = 7.5


def beta6(eps):
    """Liu & Daum (2004) spectral-shape factor beta_6(eps) (1 for a monodisperse spectrum)."""
    e2 = np.asarray(eps, float) ** 2
    if np.any(e2 < 0) or np.any(~np.isfinite(e2)):
        raise ValueError("relative dispersion eps must be finite and >= 0")
    return ((1 + 3 * e2) * (1 + 4 * e2) * (1 + 5 * e2) / ((1 + e2) * (1 + 2 * e2))) ** (1.0 / 6.0)


def autoconversion_rate(lwc, N, eps, threshold=True):
    """Autoconversion rate [kg m^-3 s^-1] for liquid water content lwc [kg m^-3], N [m^-3], dispersion eps."""
    lwc = np.asarray(lwc, float)
    N = np.asarray(N, float)
    if np.any(lwc < 0):
        raise ValueError("liquid water content lwc must be >= 0 kg/m^3")
    if np.any(N <= 0):
        raise ValueError("number concentration N must be > 0 m^-3")
    b6 = beta6(eps)
    P = E0 * b6 ** 6 * lwc ** 3 / N
    if not threshold:
        return P
    r3 = (3 * lwc / (4 * np.pi * th.RHO_W * N)) ** (1 / 3) * 1e6
    R6 = b6 * r3
    with np.errstate(divide="ignore", invalid="ignore"):
        R6c = R_C0 / (lwc ** (1 / 6) * np.sqrt(R6))
    return np.where(R6 > R6c, P, 0.0)
