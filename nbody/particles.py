"""Particle sets for the regularized integrator: masses, positions, velocities, spins and BH flags.

>>> import numpy as np, astropy.units as u
>>> from nbody import Particles
>>> p = Particles([1e8, 5e7] * u.Msun, [[0, 0, 0], [1, 0, 0]] * u.pc, np.zeros((2, 3)) * u.km / u.s)
>>> p.mass, p.pos[1]                      # code units: 1 Msun and 1 pc by default
(array([1.e+08, 5.e+07]), array([1., 0., 0.]))

Arrays are stored as float64 in G = 1 code units. Quantities are converted with
``units`` (a :class:`nbody.units.UnitSystem`; default 1 Msun and 1 pc when any
input carries units). Spins are dimensionless vectors chi (|chi| <= 1); the spin
angular momentum is S = chi G m^2 / c.
"""
from __future__ import annotations

import numpy as np

from .units import UnitSystem, has_units


class Particles:
    """Point masses for the regularized integrator.

    Parameters
    ----------
    mass : (N,) array or Quantity
        Positive masses.
    pos, vel : (N, 3) arrays or Quantities
        Positions and velocities.
    spin : (N, 3) array, optional
        Dimensionless spin vectors chi, |chi| <= 1 (default zero).
    is_bh : (N,) bool array, optional
        Which bodies are black holes (feel PN terms, can merge). Default: all.
    ids : (N,) int array, optional
        Particle IDs (default 0..N-1); merger remnants keep the ID of the heavier body.
    time : float or Quantity
        Time of the state (default 0).
    units : UnitSystem, optional
        Code units for Quantity inputs (default 1 Msun, 1 pc when any input has units).
    """

    def __init__(self, mass, pos, vel, spin=None, is_bh=None, ids=None, time=0.0, units=None):
        if units is None and has_units(mass, pos, vel, time):
            units = UnitSystem()
        self.units = units
        if units is not None:
            mass = units.mass_to_code(mass)
            pos = units.length_to_code(pos)
            vel = units.velocity_to_code(vel)
            time = float(units.time_to_code(time))
        self.mass = np.array(mass, dtype=np.float64, ndmin=1)
        self.pos = np.array(pos, dtype=np.float64, ndmin=2)
        self.vel = np.array(vel, dtype=np.float64, ndmin=2)
        n = self.mass.shape[0]
        self.spin = np.zeros((n, 3)) if spin is None else np.array(spin, dtype=np.float64, ndmin=2)
        self.is_bh = np.ones(n, bool) if is_bh is None else np.array(is_bh, dtype=bool, ndmin=1)
        self.ids = np.arange(n, dtype=np.int64) if ids is None else np.array(ids, dtype=np.int64, ndmin=1)
        self.time = float(time)
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the offending parameter for inconsistent or unphysical input."""
        n = self.mass.shape[0]
        if self.mass.ndim != 1 or n < 1:
            raise ValueError(f"mass must be a 1-D array with at least one entry, got shape {self.mass.shape}")
        for name in ("pos", "vel", "spin"):
            a = getattr(self, name)
            if a.shape != (n, 3):
                raise ValueError(f"{name} must have shape (N, 3) = ({n}, 3), got {a.shape}")
        for name, shape in (("is_bh", (n,)), ("ids", (n,))):
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name} must have shape ({n},), got {getattr(self, name).shape}")
        if not np.all(np.isfinite(self.mass)) or np.any(self.mass <= 0):
            raise ValueError(f"mass must be positive and finite (valid range (0, inf)); got {self.mass}")
        for name in ("pos", "vel", "spin"):
            if not np.all(np.isfinite(getattr(self, name))):
                raise ValueError(f"{name} contains NaN or infinite values")
        if not np.isfinite(self.time):
            raise ValueError(f"time must be finite, got {self.time}")
        chi = np.linalg.norm(self.spin, axis=1)
        if np.any(chi > 1.0 + 1e-12):
            raise ValueError(f"spin magnitudes |chi| must be in [0, 1]; got max {chi.max():.6g}")
        if n > 1:
            d = self.pos[:, None, :] - self.pos[None, :, :]
            r = np.sqrt(np.sum(d * d, axis=-1))
            np.fill_diagonal(r, np.inf)
            if np.any(r == 0.0):
                i, j = np.argwhere(r == 0.0)[0]
                raise ValueError(f"pos: particles {i} and {j} are coincident (zero separation)")
        if not np.isfinite(self.time):
            raise ValueError("time must be finite")

    def __len__(self):
        return self.mass.shape[0]

    @property
    def n(self) -> int:
        return self.mass.shape[0]

    def copy(self) -> "Particles":
        p = Particles.__new__(Particles)
        p.mass = self.mass.copy()
        p.pos = self.pos.copy()
        p.vel = self.vel.copy()
        p.spin = self.spin.copy()
        p.is_bh = self.is_bh.copy()
        p.ids = self.ids.copy()
        p.time = self.time
        p.units = self.units
        return p

    def com(self):
        """(centre-of-mass position, velocity)."""
        m = self.mass[:, None]
        return np.sum(m * self.pos, 0) / self.mass.sum(), np.sum(m * self.vel, 0) / self.mass.sum()

    def momentum(self):
        return np.sum(self.mass[:, None] * self.vel, axis=0)

    def angular_momentum(self):
        return np.sum(self.mass[:, None] * np.cross(self.pos, self.vel), axis=0)

    def energy(self) -> float:
        """Newtonian energy in code units (G = 1)."""
        from .pn import newtonian_energy

        return newtonian_energy(self.mass, self.pos, self.vel)

    def to_com_frame(self) -> "Particles":
        p = self.copy()
        x0, v0 = self.com()
        p.pos -= x0
        p.vel -= v0
        return p

    def quantities(self) -> dict:
        """mass, pos, vel, time as astropy Quantities (requires ``units``)."""
        if self.units is None:
            raise ValueError("these particles have no unit system (units=None); quantities are undefined")
        u = self.units
        return {"mass": u.to_quantity(self.mass, "mass"), "pos": u.to_quantity(self.pos, "length"),
                "vel": u.to_quantity(self.vel, "velocity"), "time": u.to_quantity(self.time, "time")}

    def __repr__(self):
        return f"Particles(N={self.n}, n_bh={int(self.is_bh.sum())}, time={self.time:.6g})"
