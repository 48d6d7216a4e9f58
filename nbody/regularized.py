"""The regularized few-body integrator (KETJU / MSTAR core): :class:`RegularizedIntegrator`.

Algorithm (Rantala et al. 2020, arXiv:2001.03180; Mikkola & Merritt 2008,
arXiv:0709.3367; Mannerkoski et al. 2023 for KETJU):

1. positions and velocities are held in minimum-spanning-tree coordinates
   (:mod:`nbody.mstar`), rebuilt after every accepted step from exact sums of
   the old edge vectors;
2. one step is a Gragg-Bulirsch-Stoer extrapolation (:mod:`nbody.gbs`) of the
   time-transformed leapfrog (LogH by default, TTL or plain leapfrog on request)
   over substep sequences n_k = 2k, with adaptive step and order;
3. velocity-dependent post-Newtonian forces (:mod:`nbody.pn`) enter through the
   auxiliary-velocity generalized midpoint kick; the binding-energy variable is
   updated by their work;
4. black holes closer than ``merger_radius_rs`` times the sum of their
   Schwarzschild radii merge into a remnant from the fits of :mod:`nbody.mergers`.

>>> from nbody import Particles, RegularizedIntegrator
>>> p = Particles([1.0, 1e-3], [[0, 0, 0], [1, 0, 0]], [[0, 0, 0], [0, 1, 0]])
>>> out, rec = RegularizedIntegrator(tolerance=1e-12).integrate(p, 100.0)
>>> bool(abs(rec.energy_error) < 1e-11)     # relative energy error after ~16 orbits
True
"""
from __future__ import annotations

import dataclasses
import logging
import math
import time as _time

import numpy as np

from . import gbs as _gbs
from ._kernels.direct import newton_accelerations, newton_accelerations_rows
from ._kernels.forces import energy_state
from ._kernels.mst import pair_sep, to_absolute
from ._kernels.regularized import initial_state, integrate_to, shortest_pair_time
from ._kernels.state import (F_1PN, F_25PN, F_2PN, F_35PN, F_3PN, F_ANYPN, F_CROSS, F_KMAX, F_KMIN, F_NFLG, F_PHYSLAND,
                             F_SPIN, MAXK, P_ALPHA, P_BETA, P_C, P_GAMMA, P_MERGE, P_NPRM, P_TOL)
from .particles import Particles
from .pn import eih_energy, newtonian_energy
from .units import UnitSystem

log = logging.getLogger(__name__)

PN_TERMS = ("1PN", "2PN", "2.5PN", "3PN", "3.5PN", "spin")
AVAILABLE_PN = PN_TERMS
COORDINATES = {"mstar": 0, "chain": 1, "cartesian": 2}
TIME_TRANSFORMS = {"logh": (1.0, 0.0, 0.0), "ttl": (0.0, 1.0, 0.0), "leapfrog": (0.0, 0.0, 1.0)}
#: Round-off term of the GBS local tolerance (see :meth:`RegularizedIntegrator.local_tolerance`).
TOL_ROUNDOFF = 5e-16


def local_tolerance(tolerance: float, step_safety: float = 1e-3) -> float:
    """GBS local error tolerance ``step_safety * tolerance + TOL_ROUNDOFF``.

    The step is accepted when err = || T_jj - T_j,j-1 || / tol_local <= 1 in the relative
    max norm of :func:`nbody._kernels.gbs.error_norm` (Hairer, Norsett & Wanner, *Solving
    ODEs I*, 2nd ed., sect. II.9, eqs. (9.19)-(9.21): sc_i = Atol_i + Rtol_i |y_i| with the
    per-edge relative scales taking the role of Rtol |y| and the 1e-6 max-length / energy
    terms that of Atol). ``tol_local`` must stay above the level at which rounding errors of
    the 2 n_j leapfrog substeps dominate T_jj - T_j,j-1 (HNW sect. II.9: "the tolerance
    should not be too small"): measured on Kepler e = 0.9 and the Pythagorean problem, steps
    still converge at a local tolerance 3e-16 and stall (max_steps exhausted, the step
    shrinking without end) at 1e-16. Adding the round-off term keeps the map from
    ``tolerance`` to ``tol_local`` strictly increasing and smooth, so every tolerance gives
    its own run (the former ``max(step_safety * tolerance, 1e-14)`` made all tolerances
    below 1e-11 one and the same run).
    """
    return step_safety * tolerance + TOL_ROUNDOFF


def parse_pn(pn) -> frozenset:
    """'none' | 'all' | iterable of {'1PN','2PN','2.5PN','3PN','3.5PN','spin'} -> frozenset of terms."""
    if pn is None:
        return frozenset()
    if isinstance(pn, str):
        key = pn.strip()
        if key.lower() == "none":
            return frozenset()
        if key.lower() == "all":
            return frozenset(AVAILABLE_PN)
        pn = [t.strip() for t in key.split(",")]
    terms = []
    for t in pn:
        match = [p for p in PN_TERMS if p.lower() == str(t).strip().lower()]
        if not match:
            raise ValueError(f"pn: unknown term {t!r}; valid are 'none', 'all' or any of {list(PN_TERMS)}")
        terms.append(match[0])
    return frozenset(terms)


@dataclasses.dataclass
class MergerEvent:
    """One black-hole merger: time, the merging IDs and masses, the remnant and its recoil."""

    time: float
    ids: tuple
    masses: tuple
    separation: float
    remnant_id: int
    remnant_mass: float
    remnant_spin: np.ndarray
    recoil: np.ndarray  # kick velocity (code units)
    momentum_before: np.ndarray
    momentum_after: np.ndarray  # bodies only; + GW momentum = momentum_before
    gw_momentum: np.ndarray


@dataclasses.dataclass
class IntegrationRecord:
    """What :meth:`RegularizedIntegrator.integrate` reports besides the final particles.

    energy_error : relative error |E_end - E_0| / |E_0| of the conserved energy
        (Newtonian, or the EIH 1PN energy when only '1PN' is on); NaN when the
        dynamics do not conserve it (radiation reaction, 2PN+ pairwise terms,
        spins, mergers).
    binding_error : |T - U + B| / U at the end: consistency of the LogH binding-energy
        variable, valid with dissipative PN forces too.
    n_steps, n_rejected : accepted GBS steps and rejected attempts; the rejected attempts include
        the ``n_landing_iterations`` steps retried to land exactly on an output or end time, the
        others failed the error test (HNW sect. II.9 convergence monitor).
    """

    t_start: float
    t_end: float
    energy_start: float = math.nan
    energy_end: float = math.nan
    energy_error: float = math.nan
    binding_error: float = math.nan
    n_steps: int = 0
    n_rejected: int = 0
    n_landing_iterations: int = 0
    n_force_evaluations: int = 0
    mergers: list = dataclasses.field(default_factory=list)
    snapshots: list = dataclasses.field(default_factory=list)
    wall_time: float = 0.0

    def __getitem__(self, key):
        return getattr(self, key)

    def summary(self) -> dict:
        return {"t_start": self.t_start, "t_end": self.t_end, "energy_error": self.energy_error,
                "binding_error": self.binding_error, "n_steps": self.n_steps, "n_rejected": self.n_rejected,
                "n_landing_iterations": self.n_landing_iterations,
                "n_force_evaluations": self.n_force_evaluations, "n_mergers": len(self.mergers),
                "wall_time": self.wall_time}


class RegularizedIntegrator:
    """Algorithmically regularized GBS integrator for point masses with PN corrections.

    Parameters
    ----------
    tolerance : float in (0, 1e-3]
        GBS relative error tolerance per step (1e-6 ... 1e-13 typical).
    pn : 'none' | 'all' | iterable of {'1PN','2PN','2.5PN','3PN','3.5PN','spin'}
        PN terms between black holes (bodies with ``is_bh``); 'all' is all of these.
    c : float or Quantity, optional
        Speed of light in code units (or a velocity Quantity); default from ``units``.
        Needed for PN terms and mergers; without it mergers are off.
    merger_radius_rs : float >= 0
        Merge two BHs below this multiple of 2 G (m1 + m2) / c^2 (0 switches mergers off).
    units : UnitSystem, optional
        Code units; default the particles' own units (or pure G = 1 numbers).
    comm : mpi4py communicator, optional
        With more than one rank the GBS substep sequences are shared among ranks.
    coordinates : 'mstar' | 'chain' | 'cartesian'
    time_transform : 'logh' | 'ttl' | 'leapfrog' or a tuple (alpha, beta, gamma)
    cross_terms : bool
        1PN with all N-body (EIH) cross terms (True) or pairwise two-body 1PN only.
    k_min, k_max : int
        Range of the GBS column count k (order 2k); sequences n_k = 2k.
    recoil : bool
        Apply the remnant recoil kick at mergers.
    max_steps : int
        Step budget for one ``integrate`` call.
    physical_landing : bool
        When the next step would pass an output or end time, first try one GBS step of the
        untransformed leapfrog over exactly the remaining physical time (accepted only if its
        extrapolation error passes the same tolerance test); else, and always when False, the
        time-transformed step is iterated onto the time by regula falsi (several GBS steps). Saves
        most of those iterations when many short integrations end at given times (KETJU regions).
        Not used with TTL (its omega variable is carried by the transformed leapfrog only), and not
        with any PN term: a 2.5PN inspiral (e0 = 0.9, a0 = 250 r_s, 4000 output times,
        examples/ketju_pn_inspiral.py --quick) turned hyperbolic and merged at 0.62 of the Peters
        time with it, 0.997 without (tests/nbody/test_region_speed.py checks the flag).
        Off by default, and NOT SAFE for eccentric orbits: its acceptance test (the GBS extrapolation
        error of the untransformed leapfrog) can pass a grossly wrong step across a periapsis. Measured
        at tolerance 1e-10: Kepler e = 0.99 over 100 orbits with 4000 output times, largest relative
        energy error 1e-2 with it against 3.8e-11 without (e = 0.9: 1.9e-12 against 2.9e-12); a 2.5PN
        inspiral (e0 = 0.9) turned hyperbolic at 0.6 Peters times. Where it works (the Pythagorean
        problem and Plummer N = 10 to given end times) it saves 6-8 % of the force evaluations.
        A safeguard (e.g. trying it only when the remaining time is a small fraction of the shortest
        pair's dynamical time) is not built yet.
    step_safety : float in (0, 1]
        The GBS local error test uses ``step_safety * tolerance + 5e-16``
        (:func:`local_tolerance`; 5e-16 is the round-off term): the extrapolation
        error of one step is systematic (not symplectic), so local errors must sit
        well below the tolerance for the accumulated energy error over ~100-1000
        orbits to stay near the tolerance. Measured with the default 1e-3 on Kepler
        e = 0.9 over 100 orbits: relative energy error 0.02-1.3 x tolerance for
        tolerance 1e-4 ... 1e-11, decreasing monotonically down to the round-off
        floor (~3e-12 there) at tolerance 1e-13 (tests/nbody/test_regularized.py).
    """

    def __init__(self, tolerance=1e-10, pn="none", c=None, merger_radius_rs=12, units=None, comm=None,
                 coordinates="mstar", time_transform="logh", cross_terms=True, k_min=2, k_max=10,
                 recoil=True, max_steps=100_000_000, step_safety=1e-3, backend="cpu", physical_landing=False):
        try:
            tolerance = float(tolerance)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"tolerance must be a float in (0, 1e-3], got {tolerance!r}") from exc
        if not (0.0 < tolerance <= 1e-3):  # also rejects NaN and inf
            raise ValueError(f"tolerance must be a finite float in (0, 1e-3], got {tolerance!r}")
        self.tolerance = tolerance
        if not (0.0 < float(step_safety) <= 1.0):  # also rejects NaN and inf
            raise ValueError(f"step_safety must be in (0, 1], got {step_safety!r}")
        self.step_safety = float(step_safety)
        self.pn = parse_pn(pn)
        if units is not None and not isinstance(units, UnitSystem):
            raise ValueError(f"units must be a nbody.units.UnitSystem or None, got {type(units).__name__}")
        self.units = units
        self._c_arg = c
        try:
            merger_radius_rs = float(merger_radius_rs)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"merger_radius_rs must be a number >= 0, got {merger_radius_rs!r}") from exc
        if not (merger_radius_rs >= 0 and np.isfinite(merger_radius_rs)):
            raise ValueError(f"merger_radius_rs must be finite and >= 0, got {merger_radius_rs!r}")
        self.merger_radius_rs = merger_radius_rs
        if coordinates not in COORDINATES:
            raise ValueError(f"coordinates must be one of {list(COORDINATES)}, got {coordinates!r}")
        self.coordinates = coordinates
        if isinstance(time_transform, str):
            if time_transform.lower() not in TIME_TRANSFORMS:
                raise ValueError(f"time_transform must be one of {list(TIME_TRANSFORMS)} or (alpha, beta, gamma), "
                                 f"got {time_transform!r}")
            self.abg = TIME_TRANSFORMS[time_transform.lower()]
        else:
            abg = tuple(float(a) for a in time_transform)
            if len(abg) != 3 or not all(0 <= a < math.inf for a in abg) or sum(abg) <= 0:
                raise ValueError(f"time_transform (alpha, beta, gamma) must be three finite numbers >= 0, not all 0; got {time_transform!r}")
            self.abg = abg
        if not (isinstance(k_min, (int, np.integer)) and isinstance(k_max, (int, np.integer))
                and 2 <= k_min <= k_max <= MAXK):
            raise ValueError(f"k_min, k_max must be integers with 2 <= k_min <= k_max <= {MAXK}, got {k_min}, {k_max}")
        self.k_min, self.k_max = int(k_min), int(k_max)
        self.physical_landing = bool(physical_landing)
        self.cross_terms = bool(cross_terms)
        self.recoil = bool(recoil)
        if int(max_steps) < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        self.max_steps = int(max_steps)
        if backend not in ("cpu",):
            raise ValueError(f"backend must be 'cpu' for the integrator (the CUDA twin serves the large-N force kernel), got {backend!r}")
        import gpu

        self.comm = gpu.get_comm(comm)

    # ------------------------------------------------------------------------------------------
    def _resolve_units(self, particles: Particles):
        units = self.units or particles.units
        p = particles
        if self.units is not None and particles.units is not None and particles.units != self.units:
            p = particles.copy()
            a, b = particles.units, self.units
            p.mass *= a.mass_si / b.mass_si
            p.pos *= a.length_si / b.length_si
            p.vel *= a.velocity_si / b.velocity_si
            p.time *= a.time_si / b.time_si
            p.units = b
        elif self.units is not None and particles.units is None:
            p = particles.copy()
            p.units = self.units
        return p, units

    def _speed_of_light(self, units):
        c = self._c_arg
        if c is None:
            c = units.c if units is not None else math.inf
        else:
            import astropy.units as u

            if isinstance(c, u.Quantity):
                if units is None:
                    raise ValueError("c given as a Quantity needs a unit system (units=...)")
                c = float(units.velocity_to_code(c))
            c = float(c)
            if not (0 < c < math.inf):
                raise ValueError(f"c must be positive and finite (omit it for no speed of light), got {c!r}")
        if self.pn and not np.isfinite(c):
            raise ValueError(f"pn={sorted(self.pn)} needs the speed of light: pass c (code units) or units=UnitSystem(...)")
        return c

    def _params(self, c):
        prm = np.zeros(P_NPRM)
        prm[P_ALPHA], prm[P_BETA], prm[P_GAMMA] = self.abg
        prm[P_C] = c
        prm[P_TOL] = local_tolerance(self.tolerance, self.step_safety)
        prm[P_MERGE] = self.merger_radius_rs if np.isfinite(c) else 0.0
        flg = np.zeros(F_NFLG, dtype=np.int64)
        for term, idx in (("1PN", F_1PN), ("2PN", F_2PN), ("2.5PN", F_25PN), ("3PN", F_3PN),
                          ("3.5PN", F_35PN), ("spin", F_SPIN)):
            flg[idx] = int(term in self.pn)
        flg[F_CROSS] = int(self.cross_terms)
        flg[F_KMIN] = self.k_min
        flg[F_KMAX] = self.k_max
        flg[F_ANYPN] = int(bool(self.pn))
        # physical landing only without PN terms: with them it gave wrong inspirals (see the docstring)
        flg[F_PHYSLAND] = int(self.physical_landing and self.abg[1] == 0.0 and not self.pn)
        return prm, flg

    def _energy(self, p: Particles, c):
        """Conserved energy if the chosen dynamics conserve one, else NaN."""
        if not self.pn:
            return newtonian_energy(p.mass, p.pos, p.vel)
        if self.pn == frozenset({"1PN"}) and self.cross_terms:
            return eih_energy(p.mass, p.pos, p.vel, c, p.is_bh)
        return math.nan

    # ------------------------------------------------------------------------------------------
    def integrate(self, particles: Particles, t_end, outputs=None, callback=None):
        """Integrate ``particles`` to ``t_end``; returns (particles at t_end, IntegrationRecord).

        ``t_end`` and ``outputs`` are code-unit floats or time Quantities; ``outputs``
        times (between the start and t_end) are hit exactly and stored in
        ``record.snapshots`` as (t, Particles). ``t_end`` before the particles' time
        integrates backwards. ``callback(t, particles)`` is called at each output.
        """
        if not isinstance(particles, Particles):
            raise TypeError(f"particles must be nbody.Particles, got {type(particles).__name__}")
        particles.validate()
        p, units = self._resolve_units(particles)
        c = self._speed_of_light(units)

        def to_code_time(t, name):
            import astropy.units as u

            if isinstance(t, u.Quantity):
                if units is None:
                    raise ValueError(f"{name} given as a Quantity needs a unit system")
                return units.time_to_code(t)
            return np.asarray(t, float)

        t_end = float(to_code_time(t_end, "t_end"))
        if not np.isfinite(t_end):
            raise ValueError(f"t_end must be finite, got {t_end}")
        t0 = p.time
        direction = 1.0 if t_end >= t0 else -1.0
        outs = [] if outputs is None else list(np.atleast_1d(to_code_time(outputs, "outputs")).astype(float))
        for t in outs:
            if not np.isfinite(t) or (t - t0) * direction < 0 or (t_end - t) * direction < 0:
                raise ValueError(f"outputs must lie between the start time {t0} and t_end {t_end}; got {t}")
        outs = sorted(outs, key=lambda t: (t - t0) * direction)
        rec = IntegrationRecord(t_start=t0, t_end=t_end)
        wall0 = _time.perf_counter()
        rec.energy_start = self._energy(p, c)
        state = _State(p, c, self)
        targets = [(t, True) for t in outs] + [(t_end, False)]
        for t_target, is_output in targets:
            while True:
                status = state.advance(t_target, self.max_steps - rec.n_steps)
                if status == 0:
                    break
                if status == 1:
                    ev = state.merge(self.recoil)
                    rec.mergers.append(ev)
                    log.info("merger at t = %.6g of IDs %s", ev.time, ev.ids)
                    continue
                if status == 2:
                    rec.n_steps, rec.n_rejected, rec.n_force_evaluations, rec.n_landing_iterations = state.counters()
                    raise RuntimeError(f"max_steps = {self.max_steps} exhausted at t = {state.y[0]:.6g} "
                                       f"(target {t_target:.6g}); raise max_steps or loosen tolerance")
                raise RuntimeError(f"step size underflow at t = {state.y[0]:.6g}: the integrator cannot advance "
                                   f"(near-collision of non-merging bodies, or tolerance {self.tolerance:g} too strict)")
            if is_output:
                snap = state.particles()
                rec.snapshots.append((t_target, snap))
                if callback is not None:
                    callback(t_target, snap)
        out = state.particles()
        rec.n_steps, rec.n_rejected, rec.n_force_evaluations, rec.n_landing_iterations = state.counters()
        rec.energy_end = self._energy(out, c)
        if rec.mergers:
            rec.energy_error = math.nan
        elif np.isfinite(rec.energy_start):
            rec.energy_error = abs(rec.energy_end - rec.energy_start) / abs(rec.energy_start)
        T, U = state.kinetic_potential()
        rec.binding_error = abs(T - U + state.y[1]) / U if U > 0 else math.nan
        rec.wall_time = _time.perf_counter() - wall0
        return out, rec


class _State:
    """The integrator's working state: GBS vector in tree coordinates, tree, flags."""

    def __init__(self, p: Particles, c, integ: RegularizedIntegrator):
        self.integ = integ
        self.c = c
        self.units = p.units
        self.mode = COORDINATES[integ.coordinates]
        self.prm, self.flg = integ._params(c)
        self._n_acc = self._n_rej = self._n_force = self._n_land = 0
        self._merge_pair = (-1, -1)
        self._load(p)

    def _load(self, p: Particles, H=None, k=None):
        n = p.n
        self.n = n
        self.mass = p.mass.copy()
        self.ptype = p.ptype.copy()
        self.isbh = p.is_bh.copy()
        self.ids = p.ids.copy()
        self.chi = p.spin.copy()
        y, par, order, U = initial_state(p.pos, p.vel, self.mass, self.chi, float(self.c), float(p.time), self.mode)
        self.par, self.order = par, order
        self.y = y
        if H is None:
            H = self._initial_step(p, U)
        self.H = H
        self.k = k if k is not None else min(max(4, self.integ.k_min), self.integ.k_max)

    def _initial_step(self, p, U):
        if p.n < 2:
            return 1.0
        tdyn = shortest_pair_time(p.pos, p.mass)
        dt = 1e-2 * tdyn
        a, b, g = self.integ.abg
        return dt * (a * U + b * U + g)

    def advance(self, t_target, budget):
        if self.n < 2:
            # a single body moves freely
            v = self.y[3 + 3 * self.n:3 + 6 * self.n]
            self.y[3:3 + 3 * self.n] += (t_target - self.y[0]) * v
            self.y[0] = t_target
            return 0
        counters = np.zeros(6, dtype=np.int64)
        comm = self.integ.comm
        if getattr(comm, "size", 1) > 1:
            status, y, H, k, par, order = _gbs.integrate_to_mpi(
                self.y, self.n, t_target, self.H, self.k, self.mass, self.isbh, self.par, self.order,
                self.prm, self.flg, self.mode, max(budget, 0), counters, comm)
        else:
            status, y, H, k, par, order = integrate_to(
                self.y, self.n, float(t_target), self.H, self.k, self.mass, self.isbh, self.par, self.order,
                self.prm, self.flg, self.mode, max(budget, 0), counters)
        self.y, self.H, self.k, self.par, self.order = y, H, k, par, order
        self._n_acc += int(counters[0])
        self._n_rej += int(counters[1])
        self._n_force += int(counters[2])
        self._n_land += int(counters[3])
        self._merge_pair = (int(counters[4]), int(counters[5]))  # the merging pair when status == 1
        return int(status)

    def counters(self):
        return self._n_acc, self._n_rej, self._n_force, self._n_land

    def kinetic_potential(self):
        return energy_state(self.y, self.n, self.par, self.order, self.mass)

    def absolute(self):
        n = self.n
        x = np.empty((n, 3))
        v = np.empty((n, 3))
        to_absolute(self.y[3:3 + 3 * n].reshape(n, 3), self.par, self.order, x)
        to_absolute(self.y[3 + 3 * n:3 + 6 * n].reshape(n, 3), self.par, self.order, v)
        return x, v

    def spins_chi(self):
        n = self.n
        if not np.isfinite(self.c):
            return self.chi.copy()
        S = self.y[3 + 6 * n:].reshape(n, 3)
        return S * (self.c / self.mass**2)[:, None]

    def particles(self) -> Particles:
        x, v = self.absolute()
        p = Particles.__new__(Particles)
        p.mass, p.pos, p.vel = self.mass.copy(), x, v
        p.spin = self.spins_chi()
        p.ptype, p.ids, p.time, p.units = self.ptype.copy(), self.ids.copy(), float(self.y[0]), self.units
        return p

    def merge(self, recoil: bool) -> MergerEvent:
        from .mergers import remnant

        n = self.n
        i, j = self._merge_pair  # merger_check's pair, or one that passed periapsis within the step
        p = self.particles()
        sep = np.empty(3)
        x, _ = self.absolute()
        pair_sep(i, j, self.y[3:3 + 3 * n].reshape(n, 3), x, self.par, sep)
        m1, m2 = p.mass[i], p.mass[j]
        rem = remnant(m1, m2, p.spin[i], p.spin[j], p.pos[i], p.pos[j], p.vel[i], p.vel[j], self.c)
        P_before = p.momentum()
        mf = rem["mass"]
        vkick = rem["recoil"] if recoil else np.zeros(3)
        keep, drop = (i, j) if m1 >= m2 else (j, i)
        xf = (m1 * p.pos[i] + m2 * p.pos[j]) / (m1 + m2)
        vf = (m1 * p.vel[i] + m2 * p.vel[j]) / mf + vkick
        p.mass[keep], p.pos[keep], p.vel[keep], p.spin[keep] = mf, xf, vf, rem["chi"]
        sel = np.ones(n, bool)
        sel[drop] = False
        q = p.subset(sel)
        P_after = q.momentum()
        ev = MergerEvent(time=p.time, ids=(int(p.ids[i]), int(p.ids[j])), masses=(float(m1), float(m2)),
                         separation=float(np.linalg.norm(sep)), remnant_id=int(p.ids[keep]), remnant_mass=float(mf),
                         remnant_spin=np.asarray(rem["chi"], float), recoil=vkick, momentum_before=P_before,
                         momentum_after=P_after, gw_momentum=P_before - P_after)
        self._load(q, H=None, k=self.k)
        return ev


def accelerations(pos, mass, backend: str = "cpu", comm=None):
    """Newtonian accelerations and potentials of unsoftened point masses (G = 1 code units).

    backend : 'cpu' (Numba, parallel over bodies), 'cuda' (numba.cuda kernel; raises
    gpu.GPUUnavailableError without a device or the simulator) or 'auto'.
    comm : with several MPI ranks (CPU backend) each rank computes a block of rows
    (gpu.block_range) and the blocks are summed with Allreduce -- bitwise equal to serial.
    Returns (acc (N, 3), pot (N,)) with pot_i = -sum_j m_j / r_ij.
    """
    import gpu

    pos = np.ascontiguousarray(pos, dtype=np.float64)
    mass = np.ascontiguousarray(mass, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 3 or mass.shape != (pos.shape[0],):
        raise ValueError(f"pos must be (N, 3) and mass (N,), got {pos.shape} and {mass.shape}")
    if backend == "auto":
        from gpu.cuda import simulator_enabled

        backend = "cuda" if (simulator_enabled() or gpu.get_backend("auto") == "cuda") else "cpu"
    if backend == "cuda":
        from ._kernels import cuda_newton as KC

        return KC.newton_accelerations(pos, mass)
    if backend != "cpu":
        raise ValueError(f"backend must be 'cpu', 'cuda' or 'auto', got {backend!r}")
    comm = gpu.get_comm(comm) if comm is not None else None
    if comm is not None and getattr(comm, "size", 1) > 1:
        lo, hi = gpu.block_range(pos.shape[0], comm.size, comm.rank)
        acc, pot = newton_accelerations_rows(pos, mass, lo, hi)
        return gpu.allreduce_sum(comm, acc), gpu.allreduce_sum(comm, pot)
    return newton_accelerations(pos, mass)
