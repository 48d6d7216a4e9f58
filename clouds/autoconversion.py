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

Dispersion closure. Bulk schemes either fix eps or tie it to the droplet number. The linear fit
eps = 0.0005714 N_c + 0.2714 (N_c in cm^-3) to the warm stratocumulus data of
Martin, Johnson & Spice (1994, JAS 51:1823) is the one Morrison & Gettelman (2008, J. Climate
21:3642, section 2) use for the cloud-droplet gamma shape; Bhowmik et al. (arXiv:2303.00987) propose
a linear eps-N_c relation fitted to CAIPEEX monsoon clouds for a dispersion-based (Liu-Daum)
autoconversion. :func:`dispersion_closure` evaluates any such line (Martin et al. by default, or a fit
from :mod:`clouds.dispersion`), :func:`closure_vs_fixed` compares the Liu-Daum rates of a closure
with those of a fixed eps at the same L and N.
"""
from __future__ import annotations

import numpy as np

from . import thermo as th

E0 = 1.08e10
R_C0 = 7.5
#: (slope [cm^3], intercept) of eps = slope N_c + intercept: Martin et al. (1994) as used by
#: Morrison & Gettelman (2008)
MARTIN_1994 = (0.0005714, 0.2714)
#: eps range of Morrison & Gettelman (2008): gamma shape mu = 1/eps^2 - 1 kept in [2, 10]
MG08_EPS_RANGE = (1.0 / np.sqrt(11.0), 1.0 / np.sqrt(3.0))


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


def dispersion_closure(N_cm3, slope=MARTIN_1994[0], intercept=MARTIN_1994[1], eps_min=0.0, eps_max=None):
    """Relative dispersion eps = slope N_c + intercept for N_c [cm^-3] (>= 0), clipped to [eps_min, eps_max].

    Defaults: Martin et al. (1994) as used by Morrison & Gettelman (2008). A fitted line with a
    negative slope reaches eps < 0 at large N_c; the clip at ``eps_min`` (default 0, a monodisperse
    spectrum) keeps beta_6 defined there.
    """
    N = np.asarray(N_cm3, float)
    if np.any(~np.isfinite(N)) or np.any(N < 0):
        raise ValueError("droplet number N_c must be finite and >= 0 cm^-3")
    for name, v in (("slope", slope), ("intercept", intercept), ("eps_min", eps_min)):
        if not np.isfinite(v):
            raise ValueError(f"{name} must be finite, got {v}")
    if eps_min < 0 or (eps_max is not None and not eps_max >= eps_min):
        raise ValueError(f"need 0 <= eps_min <= eps_max, got eps_min = {eps_min}, eps_max = {eps_max}")
    eps = slope * N + intercept
    return np.clip(eps, eps_min, np.inf if eps_max is None else eps_max)


def closure_vs_fixed(lwc, N, eps_fixed, slope=MARTIN_1994[0], intercept=MARTIN_1994[1], threshold=True,
                     eps_min=0.0, eps_max=None):
    """Liu-Daum rates with eps from :func:`dispersion_closure` versus a fixed ``eps_fixed``.

    lwc [kg m^-3], N [m^-3] (arrays broadcast). Returns a dict of arrays: ``eps_closure``,
    ``rate_closure``, ``rate_fixed`` [kg m^-3 s^-1] and ``ratio`` = rate_closure / rate_fixed (NaN
    where the fixed-eps rate is 0, below its threshold). Without the threshold the ratio is
    (beta_6(eps_closure) / beta_6(eps_fixed))^6, independent of L and N except through eps.
    """
    N = np.asarray(N, float)
    eps_c = dispersion_closure(N / 1e6, slope, intercept, eps_min, eps_max)
    pc = autoconversion_rate(lwc, N, eps_c, threshold=threshold)
    pf = autoconversion_rate(lwc, N, eps_fixed, threshold=threshold)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(pf > 0, pc / np.where(pf > 0, pf, 1.0), np.nan)
    return {"eps_closure": eps_c, "rate_closure": pc, "rate_fixed": pf, "ratio": ratio}
