"""Thermophysical properties of LPBF alloys (constant, room-temperature values first).

Room-temperature rho, c_p, k: Ti-6Al-4V rho 4430 kg/m3, c_p 526 J/kg/K, k 6.7 W/m/K (Boyer, Welsch &
Collings, *Materials Properties Handbook: Titanium Alloys*, ASM 1994); IN718 rho 8190 kg/m3,
c_p 435 J/kg/K, k 11.4 W/m/K (Special Metals, *Inconel alloy 718* data sheet SMC-045, 2007).
Solidus/liquidus temperatures: Ti-6Al-4V 1878 / 1928 K, IN718 1533 / 1609 K (K. C. Mills,
*Recommended values of thermophysical properties for selected commercial alloys*, Woodhead 2002).
Boiling point: that of the alloy's main element, Ti 3560 K and Ni 3186 K (CRC Handbook of Chemistry
and Physics, 97th ed., 2016), used only to flag results outside the model's validity.
The solver is linear (constant properties, no latent heat); temperature-dependent properties are
not implemented -- the melt-pool sizes are those of the conduction model, as in the Rosenthal and
Green's-function references it is validated against.
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
