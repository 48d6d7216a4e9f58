"""Thermophysical properties of LPBF alloys (constant, room-temperature values first).

Room-temperature rho, c_p, k: Ti-6Al-4V rho 4430 kg/m3, c_p 526 J/kg/K, k 6.7 W/m/K (Boyer, Welsch &
Collings, *Materials Properties Handbook: Titanium Alloys*, ASM 1994); IN718 rho 8190 kg/m3,
c_p 435 J/kg/K, k 11.4 W/m/K (Special Metals, *Inconel alloy 718* data sheet SMC-045, 2007).
Solidus/liquidus temperatures: Ti-6Al-4V 1878 / 1928 K, IN718 1533 / 1609 K (K. C. Mills,
*Recommended values of thermophysical properties for selected commercial alloys*, Woodhead 2002).
Boiling point: that of the alloy's main element, Ti 3560 K and Ni 3186 K (CRC Handbook of Chemistry
and Physics, 97th ed., 2016).
The multilevel TD solver (:mod:`pde.lpbf`) uses these constant properties (linear model).  The optional nonlinear
model (:mod:`pde.nonlinear`, full order, or its space-time TD :func:`pde.nonlinear.solve_track_td`) uses the
temperature-dependent tables :data:`THERMAL_TABLES` below: k(T) and c_p(T) (piecewise linear), latent heat of
fusion (enthalpy form) and the evaporative loss of the surface, each formula an njit function citing its source.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Material:
    name: str
    density: float        #: kg/m^3
    heat_capacity: float  #: J/(kg K)
    conductivity: float   #: W/(m K)
    solidus: float        #: K
    liquidus: float       #: K
    boiling: float = float("inf")  #: K (main element's boiling point; validity flag only)

    def __post_init__(self):
        for key in ("density", "heat_capacity", "conductivity", "solidus", "liquidus"):
            v = getattr(self, key)
            if not (v > 0):
                raise ValueError(f"material {self.name!r}: {key} must be > 0, got {v!r}")
        if self.liquidus < self.solidus:
            raise ValueError(f"material {self.name!r}: liquidus ({self.liquidus}) must be >= solidus ({self.solidus})")

    @property
    def rho_c(self) -> float:
        """Volumetric heat capacity rho c_p [J/(m^3 K)]."""
        return self.density * self.heat_capacity

    @property
    def diffusivity(self) -> float:
        """Thermal diffusivity alpha = k / (rho c_p) [m^2/s]."""
        return self.conductivity / self.rho_c


MATERIALS = {
    "Ti6Al4V": Material("Ti6Al4V", 4430.0, 526.0, 6.7, 1878.0, 1928.0, 3560.0),
    "IN718": Material("IN718", 8190.0, 435.0, 11.4, 1533.0, 1609.0, 3186.0),
}


def get_material(name: str, **overrides) -> Material:
    """Material by name ("Ti6Al4V", "IN718"; case-insensitive, "Ti-6Al-4V" accepted), with optional overrides."""
    key = {k.lower(): k for k in MATERIALS}.get(str(name).replace("-", "").lower())
    if key is None:
        raise ValueError(f"material: unknown material {name!r}; choose from {sorted(MATERIALS)}")
    m = MATERIALS[key]
    vals = {f: getattr(m, f) for f in ("name", "density", "heat_capacity", "conductivity", "solidus", "liquidus",
                                       "boiling")}
    vals.update({k: v for k, v in overrides.items() if v is not None})
    return Material(**vals)


#: Stefan-Boltzmann constant [W m^-2 K^-4] (CODATA 2018, exact in the 2019 SI)
SIGMA_SB = 5.670374419e-8


def effective_heat_transfer(h_conv: float, emissivity: float, T0: float) -> float:
    """Surface heat-transfer coefficient [W/m^2/K] of convection plus radiation linearised about the ambient
    temperature T0: eps sigma (T^4 - T0^4) ~ 4 eps sigma T0^3 (T - T0) (first-order Taylor expansion of the
    Stefan-Boltzmann law; e.g. Incropera & DeWitt, *Fundamentals of Heat and Mass Transfer*, 6th ed., Eq. 1.9),
    so h_eff = h_conv + 4 eps sigma T0^3."""
    return h_conv + 4 * emissivity * SIGMA_SB * T0 ** 3


# ---------------------------------------------------------------------------------------------------------------
# Temperature-dependent properties, latent heat of fusion and evaporation (optional nonlinear model)
# ---------------------------------------------------------------------------------------------------------------
import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

#: universal gas constant [J/(mol K)] (CODATA 2018, exact in the 2019 SI)
R_GAS = 8.314462618
#: standard atmosphere [Pa]
P_ATM = 101325.0


@dataclass(frozen=True)
class ThermalTable:
    """Temperature-dependent properties of one alloy for the nonlinear heat model.

    ``T_k``/``k``: conductivity table [K], [W/(m K)]; ``T_c``/``c_p``: specific heat table [K], [J/(kg K)]; both are
    interpolated linearly between the points and held constant outside them.  ``density``: rho [kg/m^3], one value
    (the enthalpy per unit volume is rho H_m(T) with the room-temperature density: on a fixed mesh a varying rho would
    not conserve mass; the liquid's ~10 % lower density is left out).  ``latent_heat`` L_f [J/kg] is released between
    ``solidus`` and ``liquidus``.  Evaporation: ``boiling`` T_b [K], ``vaporisation_heat`` L_v [J/kg] and ``molar_mass``
    M [kg/mol] of the alloy's main element (the vapour of these alloys is mostly that element at the boiling point
    of the melt's surface; the alloy's own vapour pressure curve is not tabulated in the sources below)."""

    name: str
    T_k: tuple
    k: tuple
    T_c: tuple
    c_p: tuple
    density: float
    solidus: float
    liquidus: float
    latent_heat: float
    boiling: float
    vaporisation_heat: float
    molar_mass: float

    def __post_init__(self):
        for xs, ys, what in ((self.T_k, self.k, "conductivity"), (self.T_c, self.c_p, "heat capacity")):
            if len(xs) != len(ys) or len(xs) < 1 or any(b <= a for a, b in zip(xs[:-1], xs[1:])):
                raise ValueError(f"thermal table {self.name!r}: {what} temperatures must increase strictly and "
                                 "match the values")
            if not all(v > 0 for v in ys):
                raise ValueError(f"thermal table {self.name!r}: {what} values must be > 0")
        if not (0 < self.solidus <= self.liquidus < self.boiling):
            raise ValueError(f"thermal table {self.name!r}: need 0 < solidus <= liquidus < boiling")
        for key in ("density", "latent_heat", "vaporisation_heat", "molar_mass"):
            if not (getattr(self, key) > 0):
                raise ValueError(f"thermal table {self.name!r}: {key} must be > 0")

    def arrays(self):
        """(T_k, k, T_c, c_p) as float arrays for the njit functions below."""
        return tuple(np.asarray(a, dtype=float) for a in (self.T_k, self.k, self.T_c, self.c_p))

    def scaled(self, conductivity: float | None = None, heat_capacity: float | None = None,
               density: float | None = None) -> "ThermalTable":
        """The table with k and c_p rescaled so that their first (room-temperature) values are the given ones
        (the shape in T kept), and a new density: how the ``[material]`` overrides act on the nonlinear model."""
        k = self.k if conductivity is None else tuple(v * conductivity / self.k[0] for v in self.k)
        c = self.c_p if heat_capacity is None else tuple(v * heat_capacity / self.c_p[0] for v in self.c_p)
        return ThermalTable(self.name, self.T_k, k, self.T_c, c, density or self.density, self.solidus,
                            self.liquidus, self.latent_heat, self.boiling, self.vaporisation_heat, self.molar_mass)


#: Ti-6Al-4V.  k(T), c_p(T), L_f and the melting range: K. C. Mills, *Recommended values of thermophysical properties
#: for selected commercial alloys* (Woodhead/ASM 2002), chapter Ti-6Al-4V (tables of recommended k and c_p of the
#: solid, alpha -> beta transus near 1268 K, liquid values at the liquidus), approximate readings rounded to 2-3
#: digits (a point-by-point check against the printed tables is still to be done);
#: L_f = 286 kJ/kg (Mills 2002; drop calorimetry gives 295 +- 15 kJ/kg: R. Brooks et al., High Temp. High Press.
#: 35/36 (2003/2007) 193).  Ti: T_b = 3560 K, L_v = 425 kJ/mol / 47.867 g/mol = 8.88 MJ/kg (CRC Handbook of
#: Chemistry and Physics, 97th ed., 2016, "Enthalpy of vaporization of the elements").
TI6AL4V_TABLE = ThermalTable(
    "Ti6Al4V",
    T_k=(300.0, 500.0, 700.0, 900.0, 1100.0, 1300.0, 1500.0, 1700.0, 1878.0, 1928.0, 2200.0),
    k=(7.0, 8.8, 10.8, 12.9, 15.0, 17.5, 19.6, 21.7, 25.8, 33.4, 35.0),
    T_c=(300.0, 500.0, 700.0, 900.0, 1100.0, 1268.0, 1500.0, 1878.0, 1928.0),
    c_p=(546.0, 570.0, 595.0, 620.0, 645.0, 660.0, 680.0, 714.0, 830.0),
    density=4420.0, solidus=1878.0, liquidus=1928.0, latent_heat=286e3,
    boiling=3560.0, vaporisation_heat=8.88e6, molar_mass=47.867e-3)

#: IN718.  k(T), c_p(T), L_f and the melting range: Mills 2002 (above), chapter IN718 (recommended k and c_p of
#: the solid and the liquid), approximate readings rounded to 2-3 digits (to be checked point by point against the
#: printed tables); L_f = 227 kJ/kg (Mills 2002).  Ni: T_b = 3186 K,
#: L_v = 378 kJ/mol / 58.693 g/mol = 6.44 MJ/kg (CRC Handbook, 97th ed.).
IN718_TABLE = ThermalTable(
    "IN718",
    T_k=(300.0, 500.0, 700.0, 900.0, 1100.0, 1300.0, 1533.0, 1609.0, 2000.0),
    k=(11.4, 14.0, 17.0, 20.0, 23.0, 26.0, 29.6, 29.6, 31.0),
    T_c=(300.0, 500.0, 700.0, 900.0, 1100.0, 1300.0, 1533.0, 1609.0),
    c_p=(435.0, 470.0, 505.0, 540.0, 575.0, 610.0, 650.0, 720.0),
    density=8190.0, solidus=1533.0, liquidus=1609.0, latent_heat=227e3,
    boiling=3186.0, vaporisation_heat=6.44e6, molar_mass=58.693e-3)

THERMAL_TABLES = {"Ti6Al4V": TI6AL4V_TABLE, "IN718": IN718_TABLE}


def get_thermal_table(name: str) -> ThermalTable:
    """Temperature-dependent table of a shipped alloy (names as :func:`get_material`)."""
    key = {k.lower(): k for k in THERMAL_TABLES}.get(str(name).replace("-", "").lower())
    if key is None:
        raise ValueError(f"material: no thermal table for {name!r}; choose from {sorted(THERMAL_TABLES)}")
    return THERMAL_TABLES[key]


@njit(cache=True)
def table_value(T, xs, ys):
    """Piecewise-linear interpolation of the table (xs, ys) at T, constant beyond the first and last points."""
    n = xs.shape[0]
    if T <= xs[0]:
        return ys[0]
    if T >= xs[n - 1]:
        return ys[n - 1]
    i = 1
    while xs[i] < T:
        i += 1
    w = (T - xs[i - 1]) / (xs[i] - xs[i - 1])
    return ys[i - 1] + w * (ys[i] - ys[i - 1])


@njit(cache=True)
def table_integral(T, xs, ys, T_ref):
    """int_{T_ref}^{T} y(T') dT' of the piecewise-linear, constant-extended table (exact: trapezoids on the pieces)."""
    lo, hi, sign = T_ref, T, 1.0
    if T < T_ref:
        lo, hi, sign = T, T_ref, -1.0
    tot = 0.0
    a = lo
    n = xs.shape[0]
    # breakpoints strictly inside (lo, hi) split the integral into linear pieces
    for i in range(n + 1):
        b = xs[i] if i < n else hi
        if b <= a:
            continue
        if b > hi:
            b = hi
        tot += 0.5 * (b - a) * (table_value(a, xs, ys) + table_value(b, xs, ys))
        a = b
        if a >= hi:
            break
    return sign * tot


@njit(cache=True)
def liquid_fraction(T, T_s, T_l):
    """Liquid fraction f_l(T) across the melting range: the C1 smoothstep f = 3 s^2 - 2 s^3, s = (T - T_s) / (T_l - T_s)
    clipped to [0, 1] (a documented regularisation of the lever rule: its derivative, the latent-heat peak of the
    apparent heat capacity, is continuous, so Newton's method converges; the latent heat released over [T_s, T_l] is L_f
    exactly).  T_l = T_s is not allowed (the caller widens a pure substance's range by a small mushy interval)."""
    s = (T - T_s) / (T_l - T_s)
    if s <= 0.0:
        return 0.0
    if s >= 1.0:
        return 1.0
    return s * s * (3.0 - 2.0 * s)


@njit(cache=True)
def liquid_fraction_slope(T, T_s, T_l):
    """d f_l / dT of :func:`liquid_fraction`: 6 s (1 - s) / (T_l - T_s) inside the range, 0 outside."""
    s = (T - T_s) / (T_l - T_s)
    if s <= 0.0 or s >= 1.0:
        return 0.0
    return 6.0 * s * (1.0 - s) / (T_l - T_s)


@njit(cache=True)
def volumetric_enthalpy(T, T_c, c_p, rho, L_f, T_s, T_l, T_ref):
    """Enthalpy per unit volume above T_ref [J/m^3]: E(T) = rho (int_{T_ref}^T c_p dT' + L_f f_l(T)).  Its derivative is
    the apparent heat capacity rho c_app = rho (c_p + L_f df_l/dT) (Bonacina, Comini, Fasano & Primicerio, Int. J. Heat
    Mass Transfer 16 (1973) 1825, Eq. 4); the solver differences E itself (enthalpy form, Voller & Swaminathan,
    Numer. Heat Transfer B 19 (1991) 175), so the latent heat is conserved exactly however large the time step."""
    e = table_integral(T, T_c, c_p, T_ref)
    if L_f > 0.0:
        e += L_f * liquid_fraction(T, T_s, T_l)
    return rho * e


@njit(cache=True)
def apparent_heat_capacity(T, T_c, c_p, rho, L_f, T_s, T_l):
    """rho c_app(T) = dE/dT = rho (c_p(T) + L_f df_l/dT) [J/(m^3 K)] (:func:`volumetric_enthalpy`)."""
    c = table_value(T, T_c, c_p)
    if L_f > 0.0:
        c += L_f * liquid_fraction_slope(T, T_s, T_l)
    return rho * c


@njit(cache=True)
def kirchhoff(T, T_k, k, k_ref, T_ref):
    """Kirchhoff transform phi(T) = (1 / k_ref) int_{T_ref}^T k(T') dT' [K] (Carslaw & Jaeger, *Conduction of Heat in
    Solids*, 2nd ed. 1959, Sec. 1.7): div(k(T) grad T) = k_ref lap phi, so conduction is linear in phi."""
    return table_integral(T, T_k, k, T_ref) / k_ref


@njit(cache=True)
def saturation_pressure(T, T_b, L_v, M):
    """Vapour pressure [Pa] by the Clausius-Clapeyron equation integrated from the normal boiling point,
    p_sat = p_atm exp(L_v M / R (1/T_b - 1/T)) (e.g. Khairallah et al., Acta Mater. 108 (2016) 36, Eq. 3)."""
    return P_ATM * np.exp(L_v * M / R_GAS * (1.0 / T_b - 1.0 / T))


@njit(cache=True)
def evaporation_flux(T, T_b, L_v, M, beta_r):
    """Evaporative heat loss [W/m^2] of a free surface at T: L_v times the net Hertz-Knudsen-Langmuir mass flux,
    q_ev = L_v (1 - beta_r) p_sat(T) sqrt(M / (2 pi R T)), with the back-condensed fraction beta_r (0.18 for strong
    evaporation into vacuum or a gas at rest: Anisimov, Sov. Phys. JETP 27 (1968) 182; Knight, AIAA J. 17 (1979)
    519).  p_sat is :func:`saturation_pressure`."""
    return L_v * (1.0 - beta_r) * saturation_pressure(T, T_b, L_v, M) * np.sqrt(M / (2.0 * np.pi * R_GAS * T))


@njit(cache=True)
def evaporation_flux_slope(T, T_b, L_v, M, beta_r):
    """d q_ev / dT of :func:`evaporation_flux`: q_ev (L_v M / (R T^2) - 1 / (2 T))."""
    return evaporation_flux(T, T_b, L_v, M, beta_r) * (L_v * M / (R_GAS * T * T) - 0.5 / T)


@njit(cache=True)
def temperature_of_enthalpy(E, T_c, c_p, rho, L_f, T_s, T_l, T_ref, T_guess):
    """The temperature T with :func:`volumetric_enthalpy` (T) = E: the inverse of the enthalpy, which increases
    strictly (rho c_app >= rho min c_p > 0).  Newton's method on E(T) - E safeguarded by bisection on a bracket
    (Press et al., *Numerical Recipes*, 3rd ed. 2007, Sec. 9.4, ``rtsafe``), from ``T_guess``; stops when the step is
    below 1e-11 K or the enthalpy error below 1e-14 abs(E) + 1e-9 J/m^3."""
    c_min = c_p[0]
    for i in range(c_p.shape[0]):
        if c_p[i] < c_min:
            c_min = c_p[i]
    # bracket: E grows at least rho c_min per kelvin, so [T - |dE| / (rho c_min), T + ...] holds the root
    f0 = volumetric_enthalpy(T_guess, T_c, c_p, rho, L_f, T_s, T_l, T_ref) - E
    span = abs(f0) / (rho * c_min) + 1e-9
    lo, hi = T_guess - span, T_guess + span
    T = T_guess
    for _ in range(200):
        f = volumetric_enthalpy(T, T_c, c_p, rho, L_f, T_s, T_l, T_ref) - E
        if abs(f) <= 1e-14 * abs(E) + 1e-9:
            return T
        if f > 0.0:
            hi = T
        else:
            lo = T
        d = apparent_heat_capacity(T, T_c, c_p, rho, L_f, T_s, T_l)
        Tn = T - f / d
        if not (lo < Tn < hi):
            Tn = 0.5 * (lo + hi)
        if abs(Tn - T) <= 1e-11:
            return Tn
        T = Tn
    return T
