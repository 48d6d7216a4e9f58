"""Code units of the regularized integrator: G = 1 with explicit mass and length scales.

A :class:`UnitSystem` fixes a mass unit ``M_u`` and a length unit ``L_u``; the
velocity unit follows as ``V_u = sqrt(G M_u / L_u)`` and the time unit as
``T_u = L_u / V_u``, so that G = 1 in code units. The speed of light in code
units is ``c / V_u``. Constants come from :mod:`astropy.constants` and are
converted once at import.

>>> from nbody.units import UnitSystem
>>> u = UnitSystem(mass="1e8 Msun", length="1 pc")
>>> round(u.c, 2)                         # speed of light in code units
457.13
"""
from __future__ import annotations

import numpy as np
from astropy import constants as _const
from astropy import units as _u

G_SI = float(_const.G.si.value)
C_SI = float(_const.c.si.value)
C_KMS = C_SI / 1e3  # speed of light in km/s (exact: the SI metre is defined by c)
MSUN_SI = float(_const.M_sun.si.value)
PC_SI = float(_u.pc.to(_u.m))
YR_SI = float(_u.yr.to(_u.s))


def _as_quantity(q, default_unit, name):
    if isinstance(q, _u.Quantity):
        return q
    if isinstance(q, str):
        return _u.Quantity(q)
    try:
        return float(q) * default_unit
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a Quantity, a string like '1 pc' or a number in {default_unit}; got {q!r}") from exc


class UnitSystem:
    """G = 1 code units defined by a mass and a length scale.

    Parameters
    ----------
    mass : Quantity, str or float
        Mass unit (float: in Msun). Default 1 Msun.
    length : Quantity, str or float
        Length unit (float: in pc). Default 1 pc.
    """

    def __init__(self, mass=1.0, length=1.0):
        m = _as_quantity(mass, _u.Msun, "mass").to(_u.kg)
        ell = _as_quantity(length, _u.pc, "length").to(_u.m)
        if not (np.isfinite(m.value) and m.value > 0):
            raise ValueError(f"UnitSystem mass must be positive and finite, got {mass!r}")
        if not (np.isfinite(ell.value) and ell.value > 0):
            raise ValueError(f"UnitSystem length must be positive and finite, got {length!r}")
        self.mass_si = float(m.value)
        self.length_si = float(ell.value)
        self.velocity_si = float(np.sqrt(G_SI * self.mass_si / self.length_si))
        self.time_si = self.length_si / self.velocity_si

    # astropy views of the unit scales
    @property
    def mass(self):
        return (self.mass_si * _u.kg).to(_u.Msun)

    @property
    def length(self):
        return (self.length_si * _u.m).to(_u.pc)

    @property
    def velocity(self):
        return (self.velocity_si * _u.m / _u.s).to(_u.km / _u.s)

    @property
    def time(self):
        return (self.time_si * _u.s).to(_u.yr)

    @property
    def c(self) -> float:
        """Speed of light in code units."""
        return C_SI / self.velocity_si

    def schwarzschild_radius(self, m_code) -> float:
        """2 G m / c^2 in code length for a mass in code units."""
        return 2.0 * np.asarray(m_code) / self.c**2

    # conversions -----------------------------------------------------------------------------
    def _to(self, value, unit_si, si_unit, name):
        if isinstance(value, _u.Quantity):
            try:
                return np.asarray(value.to(si_unit).value, float) / unit_si
            except _u.UnitConversionError as exc:
                raise ValueError(f"{name}: cannot convert {value.unit} to {si_unit}") from exc
        return np.asarray(value, float)

    def mass_to_code(self, m):
        return self._to(m, self.mass_si, _u.kg, "mass")

    def length_to_code(self, x):
        return self._to(x, self.length_si, _u.m, "position")

    def velocity_to_code(self, v):
        return self._to(v, self.velocity_si, _u.m / _u.s, "velocity")

    def time_to_code(self, t):
        return self._to(t, self.time_si, _u.s, "time")

    def to_quantity(self, value, kind):
        """Attach units to a code-unit array: kind in {'mass', 'length', 'velocity', 'time'}."""
        scale = {"mass": self.mass, "length": self.length, "velocity": self.velocity, "time": self.time}
        if kind not in scale:
            raise ValueError(f"kind must be one of {sorted(scale)}, got {kind!r}")
        return np.asarray(value) * scale[kind]

    def __repr__(self):
        return f"UnitSystem(mass={self.mass:.6g}, length={self.length:.6g}; velocity={self.velocity:.6g}, time={self.time:.6g}, c={self.c:.6g})"

    def __eq__(self, other):
        return isinstance(other, UnitSystem) and self.mass_si == other.mass_si and self.length_si == other.length_si

    def __hash__(self):
        return hash((self.mass_si, self.length_si))


def has_units(*values) -> bool:
    return any(isinstance(v, _u.Quantity) for v in values)
