"""The particle container of ``nbody``: one structure of arrays for ICs, snapshots, simulations and integrators.

>>> import numpy as np, astropy.units as u
>>> from nbody import Particles
>>> p = Particles([1e8, 5e7] * u.Msun, [[0, 0, 0], [1, 0, 0]] * u.pc, np.zeros((2, 3)) * u.km / u.s)
>>> p.mass, p.pos[1]                      # code units: 1 Msun and 1 pc by default
(array([1.e+08, 5.e+07]), array([1., 0., 0.]))

Arrays: ``mass`` (N,), ``pos`` and ``vel`` (N, 3), ``spin`` (N, 3), ``ptype`` (N,) GADGET particle
types (1 dark matter, 4 stars, 5 black holes; :data:`PTYPE_DM`, :data:`PTYPE_STAR`,
:data:`PTYPE_BH`), ``ids`` (N,) and the scalar ``time``. Masses, positions and velocities are
float64 in G = 1 code units (a snapshot read keeps its file's precision). Quantities are converted with ``units`` (a :class:`nbody.units.UnitSystem`; default
1 Msun and 1 pc when any input carries units). Spins are dimensionless vectors chi (|chi| <= 1);
the spin angular momentum is S = chi G m^2 / c. ``is_bh`` is ``ptype == PTYPE_BH``.

Files are read and written only through :mod:`nbody.snapshot`
(:func:`nbody.snapshot.particles_from_snapshot`, :func:`nbody.snapshot.snapshot_from_particles`).
"""
from __future__ import annotations

import numpy as np

from .units import UnitSystem, has_units

#: GADGET particle types used by nbody (Springel 2005, GADGET-2 user guide sec. 6.1)
PTYPE_DM, PTYPE_STAR, PTYPE_BH = 1, 4, 5
#: number of GADGET particle types (0 gas ... 5 black holes)
NTYPES = 6


def _types(ptype, n) -> np.ndarray:
    t = np.asarray(ptype, dtype=np.int64)
    return np.full(n, t, dtype=np.int64) if t.ndim == 0 else np.array(t, ndmin=1)


def _integers(ids) -> np.ndarray:
    ids = np.asarray(ids)
    return np.array(ids, dtype=ids.dtype if ids.dtype.kind in "iu" else np.int64, ndmin=1)


class Particles:
    """Point masses: the one particle container of ``nbody``.

    Parameters
    ----------
    mass : (N,) array, scalar or Quantity
        Masses (a scalar is given to every particle).
    pos, vel : (N, 3) arrays or Quantities
        Positions and velocities.
    spin : (N, 3) array, optional
        Dimensionless spin vectors chi, |chi| <= 1 (default zero).
    is_bh : (N,) bool array, optional
        Shorthand for ``ptype``: black holes get :data:`PTYPE_BH`, the others :data:`PTYPE_STAR`.
    ids : (N,) integer array, optional
        Particle IDs (default 0..N-1, int64; the integer type given is kept, e.g. GADGET's uint64).
        Merger remnants keep the ID of the heavier body.
    time : float or Quantity
        Time of the state (default 0).
    units : UnitSystem, optional
        Code units for Quantity inputs (default 1 Msun, 1 pc when any input has units).
    ptype : (N,) int array or int, keyword only
        GADGET particle types in [0, 5]. Default: all black holes (the few-body integrator's
        convention), unless ``is_bh`` is given.

    Notes
    -----
    The arrays are copied as float64 and checked by :meth:`validate`. :meth:`from_arrays` wraps
    arrays as they are (no copy, precision kept, values unchecked), for file readers and a
    simulation's internal state.
    """

    def __init__(self, mass, pos, vel, spin=None, is_bh=None, ids=None, time=0.0, units=None, *, ptype=None):
        if units is None and has_units(mass, pos, vel, time):
            units = UnitSystem()
        self.units = units
        if units is not None:
            mass = units.mass_to_code(mass)
            pos = units.length_to_code(pos)
            vel = units.velocity_to_code(vel)
            time = float(units.time_to_code(time))
        self.pos = np.array(pos, dtype=np.float64, ndmin=2)
        self.vel = np.array(vel, dtype=np.float64, ndmin=2)
        mass = np.array(mass, dtype=np.float64)
        self.mass = np.full(self.pos.shape[0], mass) if mass.ndim == 0 else np.array(mass, ndmin=1)
        n = self.mass.shape[0]
        self.spin = np.zeros((n, 3)) if spin is None else np.array(spin, dtype=np.float64, ndmin=2)
        if ptype is not None and is_bh is not None:
            raise ValueError("give either ptype or is_bh, not both")
        if ptype is None:
            ptype = PTYPE_BH if is_bh is None else np.where(np.asarray(is_bh, dtype=bool), PTYPE_BH, PTYPE_STAR)
        self.ptype = _types(ptype, n)
        self.ids = np.arange(n, dtype=np.int64) if ids is None else _integers(ids)
        self.time = float(time)
        self._check_shapes()
        self.validate()

    @classmethod
    def from_arrays(cls, mass, pos, vel, ptype, ids=None, time=0.0, units=None, spin=None) -> "Particles":
        """Wrap arrays as they are: no copy, float precision kept (a snapshot's float32 stays float32),
        values not validated (shapes and types are). ``ptype`` may be one type for all (then, like
        the default zero spin, a read-only view costing no memory)."""
        p = cls.__new__(cls)
        p.mass, p.pos, p.vel = np.asarray(mass), np.asarray(pos), np.asarray(vel)
        n = p.mass.shape[0] if p.mass.ndim else 0
        t = np.asarray(ptype, dtype=np.int64)
        p.ptype = np.broadcast_to(t, (n,)) if t.ndim == 0 else np.array(t, ndmin=1)  # one type: a read-only view
        p.ids = np.arange(n, dtype=np.int64) if ids is None else _integers(ids)
        p.spin = np.broadcast_to(np.zeros(3), (n, 3)) if spin is None else np.asarray(spin)
        p.time, p.units = float(time), units
        p._check_shapes()
        return p

    def _check_shapes(self) -> None:
        n = self.mass.shape[0] if self.mass.ndim else 0
        if self.mass.ndim != 1:
            raise ValueError(f"mass must be a 1-D array, got shape {self.mass.shape}")
        for name in ("pos", "vel", "spin"):
            a = getattr(self, name)
            if a.shape != (n, 3):
                raise ValueError(f"{name} must have shape (N, 3) = ({n}, 3), got {a.shape}")
        for name in ("ptype", "ids"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"{name} must have shape ({n},), got {getattr(self, name).shape}")
        if n and (self.ptype.min() < 0 or self.ptype.max() >= NTYPES):
            raise ValueError(f"ptype must be a GADGET particle type in [0, {NTYPES - 1}], "
                             f"got {sorted(set(self.ptype.tolist()) - set(range(NTYPES)))}")

    def validate(self) -> None:
        """Raise ValueError naming the offending parameter for unphysical input.

        Coincident particles (identical positions) are found by sorting, O(N log N).
        """
        if self.n < 1:
            raise ValueError(f"mass must be a 1-D array with at least one entry, got shape {self.mass.shape}")
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
        if self.n > 1:
            order = np.lexsort(self.pos.T[::-1])
            s = self.pos[order]
            same = np.flatnonzero(np.all(s[1:] == s[:-1], axis=1))
            if len(same):
                i, j = sorted((int(order[same[0]]), int(order[same[0] + 1])))
                raise ValueError(f"pos: particles {i} and {j} are coincident (zero separation)")

    def __len__(self):
        return self.mass.shape[0]

    @property
    def n(self) -> int:
        return self.mass.shape[0]

    @property
    def is_bh(self) -> np.ndarray:
        """Which bodies are black holes (``ptype == PTYPE_BH``): they feel PN terms and can merge.

        Read-only (a derived array): change ``ptype`` to change it."""
        out = self.ptype == PTYPE_BH
        out.flags.writeable = False
        return out

    def subset(self, index) -> "Particles":
        """The particles selected by ``index`` (a boolean mask or integer indices), as copies."""
        p = Particles.__new__(Particles)
        for name in ("mass", "pos", "vel", "spin", "ptype", "ids"):
            setattr(p, name, getattr(self, name)[index].copy())
        p.time, p.units = self.time, self.units
        return p

    def copy(self) -> "Particles":
        return self.subset(slice(None))

    def shifted(self, dx, dv) -> "Particles":
        """A copy moved by ``dx`` in position and ``dv`` in velocity."""
        p = self.copy()
        p.pos += np.asarray(dx, dtype=np.float64)
        p.vel += np.asarray(dv, dtype=np.float64)
        return p

    @staticmethod
    def concatenate(parts) -> "Particles":
        """One set holding ``parts`` in order (IDs kept; time and units of the first part)."""
        parts = list(parts)
        p = Particles.__new__(Particles)
        for name in ("mass", "pos", "vel", "spin", "ptype", "ids"):
            setattr(p, name, np.concatenate([getattr(q, name) for q in parts]))
        p.time, p.units = parts[0].time, parts[0].units
        p._check_shapes()
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
