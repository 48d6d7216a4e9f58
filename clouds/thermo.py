"""Moist thermodynamics for droplet growth, in SI units (K, Pa, kg, m, s).

Choices (each documented with its source):

* Saturation vapour pressure over liquid water: Bolton (1980, MWR 108:1046, eq. 10),
  ``e_s = 611.2 exp(17.67 (T - 273.15) / (T - 29.65))`` Pa, accurate to 0.1 % for
  243 K < T < 308 K.
* Latent heat of vaporisation: linear fit ``L = 2.501e6 - 2370 (T - 273.15)`` J/kg
  (Rogers & Yau 1989, Table 2.1 / eq. 2.?; also Bolton 1980 eq. 2).
* Diffusivity of water vapour in air: ``D = 2.11e-5 (T/273.15)^1.94 (101325/p)`` m^2/s
  (Pruppacher & Klett 1997, eq. 13.3).
* Thermal conductivity of air: ``K = 4.1868e-3 (5.69 + 0.017 (T - 273.15))`` W/m/K
  (Pruppacher & Klett 1997, eq. 13.18a; the cal/cm/s/K fit converted to SI).
* Dynamic viscosity of air: Sutherland law ``mu = 1.458e-6 T^1.5 / (T + 110.4)`` Pa s
  (U.S. Standard Atmosphere 1976).
* Surface tension of water against air: ``sigma = 0.0761 - 1.55e-4 (T - 273.15)`` N/m
  (Pruppacher & Klett 1997, eq. 5.12 linearised near 0-30 C).

* Supersaturation tendency of adiabatic ascent: ``A1 = g / (R_d T) (L R_d / (c_p R_v T) - 1)``
  (Rogers & Yau 1989, eq. 7.23; Korolev & Mazin 2003, JAS 60:2957, eq. 5), from the adiabatic
  cooling dT/dz = -g/c_p and the hydrostatic pressure fall dp/dz = -rho g, rho = p / (R_d T).

Mixing ratios ``q`` are kg per kg of dry air throughout (conserved in the parcel).

The formulas are written once, as plain functions of floats *or* arrays (``e_s_bolton``,
``latent_heat_linear``, ``supersaturation_pqT``, ``hydrostatic_pressure``, ``a1_coefficient``);
each has a Numba-compiled twin (the same code object compiled by Numba, ``*_jit``) that the
kernels in :mod:`clouds._kernels.droplets` call, so the kernels and the Python code cannot disagree.
Numba's on-disk cache of a kernel is keyed to the kernel's own source file; the kernel modules
flush it when this file changes (:func:`gpu.jit.refresh_stale_cache`).
"""
from __future__ import annotations

import types

import numpy as np
from numba import njit

#: gas constant of dry air [J/kg/K] (Rogers & Yau 1989)
R_D = 287.04
#: gas constant of water vapour [J/kg/K]
R_V = 461.5
#: R_d / R_v
EPS = R_D / R_V
#: specific heat of dry air at constant pressure [J/kg/K]
C_P = 1005.0
#: gravitational acceleration [m/s^2]
G_ACC = 9.81
#: density of liquid water [kg/m^3]
RHO_W = 1000.0
#: reference pressure for D [Pa]
P_REF = 101325.0
T_0C = 273.15


_TWINS: dict = {}


def _jit(f):
    """Numba twin of a formula written for floats/arrays (njit, cached).

    The twin is the same code object compiled with the module globals in which the formulas it
    calls are replaced by their twins (so e.g. ``supersaturation_pqT_jit`` calls ``e_s_bolton_jit``).
    """
    ns = dict(f.__globals__)
    ns.update(_TWINS)
    g = types.FunctionType(f.__code__, ns, f.__name__ + "_jit", f.__defaults__, f.__closure__)
    g.__qualname__ = f.__qualname__ + "_jit"
    twin = njit(cache=True)(g)
    _TWINS[f.__name__] = twin
    return twin


def e_s_bolton(T):
    """Saturation vapour pressure over plane water [Pa], Bolton (1980, MWR 108:1046) eq. 10 (no checks)."""
    return 611.2 * np.exp(17.67 * (T - T_0C) / (T - 29.65))


def latent_heat_linear(T):
    """Latent heat of vaporisation [J/kg], L = 2.501e6 - 2370 (T - 273.15) (Bolton 1980 eq. 2; no checks)."""
    return 2.501e6 - 2370.0 * (T - T_0C)


def supersaturation_pqT(p, T, qv):
    """S = e / e_s(T) - 1 with e = p q_v / (eps + q_v) and Bolton's e_s (no checks)."""
    return p * qv / (EPS + qv) / e_s_bolton(T) - 1.0


def hydrostatic_pressure(p0, T, dz):
    """Pressure [Pa] a height dz above p0 in a layer of (virtual) temperature T: hydrostatic
    dp/dz = -rho g with rho = p / (R_d T), integrated at constant T (hypsometric equation;
    Wallace & Hobbs 2006, eq. 3.29): p = p0 exp(-g dz / (R_d T)) (no checks)."""
    return p0 * np.exp(-G_ACC * dz / (R_D * T))


def a1_coefficient(T):
    """A1 [1/m] of dS/dt = A1 w - S / tau_phase: A1 = g / (R_d T) (L R_d / (c_p R_v T) - 1)
    (Rogers & Yau 1989, eq. 7.23; Korolev & Mazin 2003, eq. 5) with L = L(T) (no checks)."""
    return G_ACC / (R_D * T) * (latent_heat_linear(T) * R_D / (C_P * R_V * T) - 1.0)


e_s_bolton_jit = _jit(e_s_bolton)
latent_heat_linear_jit = _jit(latent_heat_linear)
supersaturation_pqT_jit = _jit(supersaturation_pqT)
hydrostatic_pressure_jit = _jit(hydrostatic_pressure)
a1_coefficient_jit = _jit(a1_coefficient)


def _check_T(T):
    T = np.asarray(T, dtype=float)
    if np.any(~np.isfinite(T)) or np.any(T <= 150.0) or np.any(T >= 400.0):
        raise ValueError(f"temperature T must be in (150, 400) K, got {T}")
    return T


def _check_p(p):
    p = np.asarray(p, dtype=float)
    if np.any(~np.isfinite(p)) or np.any(p <= 0.0):
        raise ValueError(f"pressure p must be > 0 Pa, got {p}")
    return p


def saturation_vapor_pressure(T):
    """Saturation vapour pressure over plane water [Pa]; Bolton (1980) eq. 10."""
    T = _check_T(T)
    return e_s_bolton(T)


def latent_heat(T):
    """Latent heat of vaporisation [J/kg], linear in T (Rogers & Yau 1989, Table 2.1 fit)."""
    T = _check_T(T)
    return latent_heat_linear(T)


def vapor_diffusivity(T, p):
    """Diffusivity of water vapour in air [m^2/s]; Pruppacher & Klett (1997) eq. 13.3."""
    T = _check_T(T)
    p = _check_p(p)
    return 2.11e-5 * (T / T_0C) ** 1.94 * (P_REF / p)


def thermal_conductivity(T):
    """Thermal conductivity of air [W/m/K]; Pruppacher & Klett (1997) eq. 13.18a in SI."""
    T = _check_T(T)
    return 4.1868e-3 * (5.69 + 0.017 * (T - T_0C))


def dynamic_viscosity(T):
    """Dynamic viscosity of air [Pa s]; Sutherland's law (US Standard Atmosphere 1976)."""
    T = _check_T(T)
    return 1.458e-6 * T ** 1.5 / (T + 110.4)


def surface_tension(T):
    """Surface tension of water [N/m], linear near 0-30 C (Pruppacher & Klett 1997, eq. 5.12)."""
    T = _check_T(T)
    return 0.0761 - 1.55e-4 * (T - T_0C)


def air_density(p, T, qv=0.0):
    """Density of moist air [kg/m^3]: rho = p / (R_d T_v), T_v = T (1 + qv/eps) / (1 + qv)."""
    T = _check_T(T)
    p = _check_p(p)
    Tv = T * (1.0 + np.asarray(qv) / EPS) / (1.0 + np.asarray(qv))
    return p / (R_D * Tv)


def dry_air_density(p, T, qv=0.0):
    """Partial density of dry air [kg/m^3]: (p - e) / (R_d T), e = p qv / (eps + qv)."""
    T = _check_T(T)
    p = _check_p(p)
    e = vapor_pressure(p, qv)
    return (p - e) / (R_D * T)


def vapor_pressure(p, qv):
    """Vapour pressure [Pa] of air at pressure p with vapour mixing ratio qv [kg/kg]."""
    qv = np.asarray(qv, dtype=float)
    return np.asarray(p) * qv / (EPS + qv)


def saturation_mixing_ratio(p, T):
    """Saturation vapour mixing ratio [kg/kg]: eps e_s / (p - e_s)."""
    es = saturation_vapor_pressure(T)
    p = _check_p(p)
    if np.any(es >= p):
        raise ValueError("pressure p must exceed the saturation vapour pressure")
    return EPS * es / (p - es)


def supersaturation(p, T, qv):
    """Supersaturation S = e / e_s(T) - 1 (dimensionless; 0.01 = 1 %)."""
    T = _check_T(T)
    return supersaturation_pqT(np.asarray(p, dtype=float), T, np.asarray(qv, dtype=float))


def A1(T):
    """A1 [1/m] of dS/dt = A1 w for adiabatic ascent; formula and sources in :func:`a1_coefficient`."""
    return a1_coefficient(_check_T(T))


def mixing_ratio_from_rh(p, T, rh):
    """Vapour mixing ratio [kg/kg] for relative humidity ``rh`` (1 = saturated, e = rh e_s)."""
    rh = np.asarray(rh, dtype=float)
    if np.any(rh < 0):
        raise ValueError(f"relative humidity rh must be >= 0, got {rh}")
    e = rh * saturation_vapor_pressure(T)
    return EPS * e / (_check_p(p) - e)


# ---------------------------------------------------------------------------- validity ranges
#: temperatures [K] over which the formulas above are used within their stated accuracy: Bolton's
#: e_s (1980, eq. 10) is within 0.1 % of Wexler's values for -30 C <= T <= 35 C, and the models have
#: no ice phase (supercooled water only), so a state outside this range is outside the models' physics
T_VALID_K = (243.15, 308.15)


class ValidityWarning(RuntimeWarning):
    """A model state left the range in which its formulas are valid (see :data:`T_VALID_K`)."""


def temperature_range_message(T, what="temperature T"):
    """None if T [K] is inside :data:`T_VALID_K`, else a message with the value and the range."""
    lo, hi = T_VALID_K
    T = float(T)
    if lo <= T <= hi:
        return None
    return (f"{what} = {T:.2f} K ({T - T_0C:.1f} C) is outside {lo:.2f}..{hi:.2f} K "
            f"({lo - T_0C:.0f}..{hi - T_0C:.0f} C), the range of Bolton's (1980) saturation vapour pressure fit "
            "and of the liquid-only microphysics; results beyond it are extrapolation")


#: specific heats at constant pressure of water vapour and of liquid water [J/kg/K]; their difference
#: c_pv - c_l = -2368 J/kg/K matches, by Kirchhoff's relation dL/dT = c_pv - c_l, the -2370 J/kg/K
#: slope of :func:`latent_heat_linear`
C_PV = 1850.0
C_L = 4218.0


def reversible_adiabat(p0, T0, qt, z, moist_heat_capacity=False, rtol=1e-11):
    """(T [K], p [Pa], q_l [kg/kg]) of a parcel lifted reversibly (q_l = max(q_t - q_s, 0), no
    supersaturation) from (p0, T0) by heights ``z`` [m] (array, increasing from 0).

    A reference for the parcel model, integrated independently (scipy ``solve_ivp`` in z, with
    saturation adjustment instead of droplet growth):

    * hydrostatic pressure dp/dz = -g p / (R_d T_v), T_v = T (1 + q_v/eps) / (1 + q_t) (loading);
    * first law per kg of dry air: c dT = -g' dz + L(T) dq_l with c = c_pd, g' = g (the parcel
      model's form, :class:`clouds.ParcelModel`), or with ``moist_heat_capacity=True`` the fuller
      c = c_pd + q_v c_pv + q_l c_l, g' = g (1 + q_t) (Emanuel 1994, Atmospheric Convection, ch. 4);
    * q_s = eps e_s / (p - e_s) with Bolton's e_s; in saturated ascent dq_l = -dq_s, so
      dT/dz = (-g' - L dq_s/dp dp/dz) / (c + L dq_s/dT).
    """
    from scipy.integrate import solve_ivp

    z = np.atleast_1d(np.asarray(z, float))
    if z[0] < 0 or np.any(np.diff(z) < 0):
        raise ValueError("heights z must be >= 0 and increasing")

    def qs(T, p):
        e = e_s_bolton(T)
        return EPS * e / (p - e)

    def rhs(_, y):
        T, p = y
        q_s = qs(T, p)
        sat = q_s < qt
        qv = q_s if sat else qt
        dp = -p * G_ACC / (R_D * T * (1 + qv / EPS) / (1 + qt))
        c, g = C_P, G_ACC
        if moist_heat_capacity:
            c, g = C_P + qv * C_PV + (qt - qv) * C_L, G_ACC * (1 + qt)
        if not sat:
            return [-g / c, dp]
        h = 1e-4
        qT = (qs(T + h, p) - qs(T - h, p)) / (2 * h)
        qp = (qs(T, p + 1.0) - qs(T, p - 1.0)) / 2.0
        L = latent_heat_linear(T)
        return [(-g - L * qp * dp) / (c + L * qT), dp]

    sol = solve_ivp(rhs, (0.0, float(z[-1])), [float(T0), float(p0)], t_eval=z, rtol=rtol, atol=1e-9,
                    max_step=1.0)
    T, p = sol.y
    return T, p, np.maximum(qt - qs(T, p), 0.0)
