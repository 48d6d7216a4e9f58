"""The halo mass function of Tinker et al. (2008, ApJ 688, 709).

    dn/dM = f(sigma) (rho_m / M) d ln(1/sigma) / dM                    (eq. 2)
    f(sigma) = A [(sigma / b)^-a + 1] exp(-c / sigma^2)                (eq. 3)

with the parameters of Table 2 for spherical-overdensity halos of mean density ``Delta`` times the mean matter
density (interpolated linearly in log Delta between the tabulated values), the
redshift evolution of eqs. 5-8 (``A ~ (1+z)^-0.14``, ``a ~ (1+z)^-0.06``, ``b ~ (1+z)^-alpha`` with
``log10 alpha = -[0.75 / log10(Delta / 75)]^1.2``), and ``sigma(M)`` the rms linear overdensity in top-hat spheres
of mass ``M = (4 pi / 3) rho_m R^3`` (:func:`cosmo.power.sigma_R` of :func:`cosmo.power.linear_power`).
Masses in Msun/h, lengths in Mpc/h; ``rho_m = Omega_m0 rho_crit`` (comoving).
"""
from __future__ import annotations

import numpy as np

#: Tinker et al. (2008), Table 2: Delta (w.r.t. the mean density), A, a, b, c
TINKER08_TABLE = np.array([
    [200, 0.186, 1.47, 2.57, 1.19],
    [300, 0.200, 1.52, 2.25, 1.27],
    [400, 0.212, 1.56, 2.05, 1.34],
    [600, 0.218, 1.61, 1.87, 1.45],
    [800, 0.248, 1.87, 1.59, 1.58],
    [1200, 0.255, 2.13, 1.51, 1.80],
    [1600, 0.260, 2.30, 1.46, 1.97],
    [2400, 0.260, 2.53, 1.44, 2.24],
    [3200, 0.260, 2.66, 1.41, 2.44],
])

#: critical density today in (Msun/h) / (Mpc/h)^3
RHO_CRIT = 2.77536627e11


def tinker08_parameters(delta: float = 200.0, z: float = 0.0):
    """(A, a, b, c) of Tinker et al. (2008): Table 2 interpolated linearly in log Delta (200 <= Delta <= 3200),
    evolved to redshift ``z`` with eqs. 5-8."""
    delta = float(delta)
    if not 200.0 <= delta <= 3200.0:
        raise ValueError(f"delta must be in [200, 3200] (Tinker et al. 2008 Table 2), got {delta}")
    if not (np.isfinite(z) and z >= 0):
        raise ValueError(f"z must be finite and >= 0, got {z}")
    x = np.log(TINKER08_TABLE[:, 0])
    A, a, b, c = (float(np.interp(np.log(delta), x, TINKER08_TABLE[:, j])) for j in range(1, 5))
    alpha = 10.0 ** (-(0.75 / np.log10(delta / 75.0)) ** 1.2)  # eq. 8
    return A * (1 + z) ** -0.14, a * (1 + z) ** -0.06, b * (1 + z) ** -alpha, c  # eqs. 5-7


def tinker08_f(sigma, delta: float = 200.0, z: float = 0.0):
    """The multiplicity function f(sigma) of Tinker et al. (2008), eq. 3."""
    A, a, b, c = tinker08_parameters(delta, z)
    sigma = np.asarray(sigma, dtype=float)
    return A * ((sigma / b) ** -a + 1.0) * np.exp(-c / sigma ** 2)


def sigma_of_mass(M, cosmology=None, z: float = 0.0, method: str = "camb", sigma8=None):
    """rms linear overdensity sigma(M, z) in top-hat spheres of mass ``M`` [Msun/h] (``R = (3 M / 4 pi rho_m)^1/3``)."""
    from .background import get_cosmology
    from .power import linear_power, sigma_R

    cosmo = get_cosmology(cosmology)
    M = np.atleast_1d(np.asarray(M, dtype=float))
    if not np.all(np.isfinite(M) & (M > 0)):
        raise ValueError("M must be finite and > 0")
    rho_m = float(cosmo.Om0) * RHO_CRIT
    R = (3.0 * M / (4.0 * np.pi * rho_m)) ** (1.0 / 3.0)
    k = np.logspace(-4, 2.5, 2000)
    return np.atleast_1d(sigma_R(R, k, linear_power(k, z, cosmo, method=method, sigma8=sigma8)))


def tinker08_dndlnm(M, cosmology=None, z: float = 0.0, delta: float = 200.0, method: str = "camb", sigma8=None):
    """dn/dln M [(Mpc/h)^-3] of Tinker et al. (2008), eq. 2: ``f(sigma) rho_m / M * dln(1/sigma)/dln M``, the
    logarithmic derivative by centred differences of ln sigma over ln M (steps of 1 %)."""
    from .background import get_cosmology

    cosmo = get_cosmology(cosmology)
    M = np.atleast_1d(np.asarray(M, dtype=float))
    s = sigma_of_mass(M, cosmo, z, method, sigma8)
    h = 0.01
    sp = sigma_of_mass(M * np.exp(h), cosmo, z, method, sigma8)
    sm = sigma_of_mass(M * np.exp(-h), cosmo, z, method, sigma8)
    dlninvs = -(np.log(sp) - np.log(sm)) / (2 * h)
    rho_m = float(cosmo.Om0) * RHO_CRIT
    return tinker08_f(s, delta, z) * rho_m / M * dlninvs
