"""Diffusional growth of cloud droplets: the Mason (1971) growth law and its derived quantities.

The growth law (Mason 1971; Rogers & Yau 1989 eq. 7.18; Pruppacher & Klett 1997 eq. 13.28)::

    r dr/dt = G(T, p) (S - S_eq(r)),      G = 1 / (F_k + F_d),
    F_k = (L / (R_v T) - 1) L rho_w / (K T),      F_d = rho_w R_v T / (D e_s(T)),

with S = e/e_s - 1 the ambient supersaturation and S_eq the Köhler equilibrium
supersaturation over the droplet (:mod:`clouds.koehler`). Kinetic (gas-kinetic /
accommodation) corrections to D and K are optional (Fukuta & Walter 1970 form, as in
Pruppacher & Klett 1997 eqs. 13.14 and 13.20, with condensation coefficient ``alpha_c`` and
thermal accommodation ``alpha_t``); they matter below ~1 um.

Growth-rate coefficient (the paper's cm/s number): since dr/dt = (G/r) (S - S_eq), the
coefficient of diffusional growth rate of a droplet is ``G / r`` [m/s per unit
supersaturation]; the *mean* coefficient of a population is the number-weighted mean
``<G / r>`` over droplets, reported in cm/s by :func:`mean_growth_coefficient`. For
G ~ 1e-10 m^2/s and r ~ 5-30 um this gives 3e-4 - 2e-3 cm/s, the range that Bhowmik et al.
(arXiv:2303.00987) report for monsoon clouds.

Phase relaxation (Korolev & Mazin 2003, eqs. 8-13; Rogers & Yau 1989 eq. 7.23)::

    dS/dt = A1 w - S / tau_phase,
    A1 = g L / (c_p R_v T^2) - g / (R_d T),
    A2 = 1 / q_vs + L^2 / (c_p R_v T^2),
    1 / tau_phase = 4 pi rho_w A2 G N <r> / rho_d,

(N the number concentration per volume, rho_d the dry-air density) and the quasi-steady
supersaturation S_qs = A1 w tau_phase. To leading order 1/tau_phase ~ 4 pi D N <r>.
"""
from __future__ import annotations

import numpy as np

from . import thermo as th


def _kinetic_factors(T, p, r, alpha_c, alpha_t):
    """Gas-kinetic corrections D'/D and K'/K (Pruppacher & Klett 1997 eqs. 13.14, 13.20)."""
    D = th.vapor_diffusivity(T, p)
    K = th.thermal_conductivity(T)
    rho_a = th.air_density(p, T)
    cp = th.C_P
    fd = r / (r + D / alpha_c * np.sqrt(2.0 * np.pi / (th.R_V * T)))
    fk = r / (r + K / (alpha_t * rho_a * cp) * np.sqrt(2.0 * np.pi / (th.R_D * T)))
    return D * fd, K * fk


def Fk(T, p=None, K=None):
    """Heat-conduction term F_k = (L/(R_v T) - 1) L rho_w / (K T) [s/m^2] (Mason 1971)."""
    L = th.latent_heat(T)
    K = th.thermal_conductivity(T) if K is None else K
    return (L / (th.R_V * T) - 1.0) * L * th.RHO_W / (K * T)


def Fd(T, p, D=None):
    """Vapour-diffusion term F_d = rho_w R_v T / (D e_s(T)) [s/m^2] (Mason 1971)."""
    D = th.vapor_diffusivity(T, p) if D is None else D
    return th.RHO_W * th.R_V * T / (D * th.saturation_vapor_pressure(T))


def growth_parameter(T, p, r=None, kinetic=False, alpha_c=1.0, alpha_t=0.96):
    """G = 1 / (F_k + F_d) [m^2/s] of the growth law r dr/dt = G (S - S_eq).

    With ``kinetic=True`` and radius ``r`` [m], D and K carry the gas-kinetic corrections
    with condensation coefficient ``alpha_c`` and thermal accommodation ``alpha_t``.
    """
    T = th._check_T(T)
    p = th._check_p(p)
    if kinetic:
        if r is None:
            raise ValueError("growth_parameter(kinetic=True) needs the droplet radius r")
        if not (0 < alpha_c <= 1 and 0 < alpha_t <= 1):
            raise ValueError("alpha_c and alpha_t must be in (0, 1]")
        D, K = _kinetic_factors(T, p, np.asarray(r, float), alpha_c, alpha_t)
        return 1.0 / (Fk(T, K=K) + Fd(T, p, D=D))
    return 1.0 / (Fk(T) + Fd(T, p))


def drdt(r, S, T, p, S_eq=0.0):
    """Radius growth rate dr/dt = G (S - S_eq) / r [m/s]."""
    r = np.asarray(r, float)
    if np.any(r <= 0):
        raise ValueError("radius r must be > 0")
    return growth_parameter(T, p) * (np.asarray(S) - S_eq) / r


def radius_constant_S(r0, S, G, t):
    """Analytic r(t) at constant S without Köhler terms: r^2 = r0^2 + 2 G S t (0 after evaporation)."""
    r2 = np.asarray(r0, float) ** 2 + 2.0 * G * S * np.asarray(t, float)
    return np.sqrt(np.maximum(r2, 0.0))


def evaporation_time(r0, S, G):
    """Time to evaporate completely at constant S < 0 (no Köhler terms): r0^2 / (2 G |S|)."""
    if np.any(np.asarray(S) >= 0):
        raise ValueError("evaporation_time needs a subsaturation S < 0")
    return np.asarray(r0, float) ** 2 / (2.0 * G * np.abs(S))


def A1(T, p=None):
    """A1 = g L / (c_p R_v T^2) - g / (R_d T) [1/m], so that dS/dt = A1 w from adiabatic ascent.

    The formula is :func:`clouds.thermo.a1_coefficient` (Rogers & Yau 1989, eq. 7.23).
    """
    return th.A1(T)


def A2(T, p):
    """A2 = 1/q_vs + L^2 / (c_p R_v T^2) [kg/kg]^-1 (Korolev & Mazin 2003)."""
    L = th.latent_heat(T)
    return 1.0 / th.saturation_mixing_ratio(p, T) + L ** 2 / (th.C_P * th.R_V * T ** 2)


def phase_relaxation_time(T, p, N, r_mean, qv=None):
    """Phase-relaxation time tau_phase [s] for N droplets per m^3 of mean radius r_mean [m].

    1/tau = 4 pi rho_w A2 G N <r> / rho_d (Korolev & Mazin 2003, eq. 13).
    """
    N = np.asarray(N, float)
    if np.any(N <= 0):
        raise ValueError("number concentration N must be > 0 m^-3")
    if np.any(np.asarray(r_mean) <= 0):
        raise ValueError("mean radius r_mean must be > 0 m")
    qv = th.saturation_mixing_ratio(p, T) if qv is None else qv
    rho_d = th.dry_air_density(p, T, qv)
    G = growth_parameter(T, p)
    return rho_d / (4.0 * np.pi * th.RHO_W * A2(T, p) * G * N * np.asarray(r_mean))


def quasi_steady_supersaturation(T, p, w, N, r_mean):
    """S_qs = A1 w tau_phase (Korolev & Mazin 2003, eq. 16)."""
    return A1(T) * np.asarray(w, float) * phase_relaxation_time(T, p, N, r_mean)


def growth_coefficient(r, T, p):
    """Per-droplet growth-rate coefficient G/r [m/s] (dr/dt per unit supersaturation)."""
    r = np.asarray(r, float)
    if np.any(r <= 0):
        raise ValueError("radius r must be > 0")
    return growth_parameter(T, p) / r


def mean_growth_coefficient(r, T, p, weights=None):
    """Number-weighted mean <G/r> in **cm/s** (the coefficient Bhowmik et al. report).

    ``weights`` are multiplicities (number of real droplets per superdroplet).
    """
    c = growth_coefficient(r, T, p)
    w = np.ones_like(c) if weights is None else np.broadcast_to(np.asarray(weights, float), c.shape)
    if np.any(w < 0) or w.sum() <= 0:
        raise ValueError("weights must be >= 0 with a positive sum")
    return float(np.sum(w * c) / np.sum(w) * 100.0)
