"""KETJU regularized regions around SMBHs (Rantala et al. 2017, ApJ 840, 53; Mannerkoski et al. 2023, MNRAS 524, 4062).

A region is a sphere of radius ``r_ketju`` around each SMBH; its members are
the SMBH(s) and the stellar/dark-matter particles inside. Regions whose SMBHs
are closer than 2 r_ketju merge into one. Because GADGET's spline softening is
exactly Newtonian beyond h = 2.8 eps, ``r_ketju >= 2.8 eps`` guarantees that the
softened force a member feels from outside is the Newtonian one at the boundary.

Coupling (Rantala et al. 2017, sec. 3.2-3.3), done by :class:`nbody.timestepping.HierarchicalKDK`:

1. every particle receives the full softened (tree) kick;
2. region members additionally get minus the softened forces of the other
   members (``internal_softened_accelerations``), so only the external tidal
   field acts on them as impulsive half kicks;
3. during the drift each region is integrated, in its centre-of-mass frame,
   by an unsoftened Newtonian (+PN) few-body integrator, the CoM moving
   ballistically.

Region integrators implement ``integrate(mass, pos, vel, is_bh, ids, dt) -> RegionResult``.
:class:`NewtonianFewBody` (built-in, Newtonian, no PN) is always available;
:class:`RegularizedRegionIntegrator` wraps ``nbody.RegularizedIntegrator``
(algorithmic regularization with PN terms and SMBH mergers) when that exists.
"""
from __future__ import annotations

import copy
import dataclasses

import numpy as np

from ._kernels.direct import direct_accel_sources
from ._kernels.fewbody import fewbody_integrate
from .pn import newton_energy


@dataclasses.dataclass
class RegionResult:
    """Result of one region integration: state after dt, alive mask (False: swallowed in a merger)."""

    mass: np.ndarray
    pos: np.ndarray
    vel: np.ndarray
    alive: np.ndarray
    steps: int = 0
    events: list = dataclasses.field(default_factory=list)


class NewtonianFewBody:
    """Built-in region integrator: unsoftened Newtonian 4th-order Yoshida composition with adaptive substeps.

    ``eta`` scales the substep (fraction of the shortest pairwise dynamical/crossing time). No PN
    terms and no mergers: use :class:`RegularizedRegionIntegrator` for those.
    """

    supports_pn = False

    def __init__(self, eta: float = 0.02, G: float = 1.0, max_steps: int = 50_000_000):
        if not (0 < eta <= 0.5):
            raise ValueError(f"eta must be in (0, 0.5], got {eta}")
        self.eta, self.G, self.max_steps = float(eta), float(G), int(max_steps)

    def integrate(self, mass, pos, vel, is_bh, ids, dt) -> RegionResult:
        pos = np.array(pos, dtype=np.float64)
        vel = np.array(vel, dtype=np.float64)
        mass = np.asarray(mass, dtype=np.float64)
        if not np.isfinite(dt):
            raise ValueError(f"dt must be finite, got {dt}")
        steps = 0
        if len(mass) > 1 and dt > 0:
            steps, t = fewbody_integrate(pos, vel, mass, self.G, float(dt), self.eta, self.max_steps)
            if t < dt * (1 - 1e-12):
                raise RuntimeError(f"region integration stopped after max_steps={self.max_steps} at t={t} < dt={dt}")
        elif dt > 0:
            pos += vel * dt
        return RegionResult(mass.copy(), pos, vel, np.ones(len(mass), dtype=bool), int(steps))


def find_regions(pos, bh_index, r_ketju, candidates=None):
    """Group SMBHs into regions and collect members.

    Parameters
    ----------
    pos : (N, 3) positions; bh_index : indices of the SMBHs; r_ketju : region radius
    candidates : indices of particles allowed to become members (default all); SMBHs always are.

    Returns a list of sorted member index arrays, one per region. SMBHs closer than
    2 r_ketju share a region (transitively, so a chain of close SMBHs is one region).
    """
    bh_index = np.asarray(bh_index, dtype=np.int64)
    nb = len(bh_index)
    if nb == 0:
        return []
    # union-find on SMBH pairs closer than 2 r_ketju
    parent = list(range(nb))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    bp = pos[bh_index]
    for i in range(nb):
        for j in range(i + 1, nb):
            if np.sum((bp[i] - bp[j]) ** 2) < (2 * r_ketju) ** 2:
                parent[root(i)] = root(j)
    groups = {}
    for i in range(nb):
        groups.setdefault(root(i), []).append(i)
    cand = np.arange(len(pos)) if candidates is None else np.asarray(candidates, dtype=np.int64)
    cand = np.setdiff1d(cand, bh_index)
    cpos = pos[cand]
    owner = np.full(len(cand), -1)
    regions = []
    for g, (key, members) in enumerate(sorted(groups.items())):
        inside = np.zeros(len(cand), dtype=bool)
        for b in members:
            inside |= np.sum((cpos - bp[b]) ** 2, axis=1) < r_ketju**2
        inside &= owner < 0
        owner[inside] = g
        regions.append(np.sort(np.concatenate([bh_index[members], cand[inside]])))
    return regions


def internal_softened_accelerations(pos, mass, h, G=1.0, potential=False):
    """Softened accelerations (and potentials) of a region's members on each other (direct sum)."""
    n = len(mass)
    acc, pot = direct_accel_sources(pos, h, pos, mass, h, float(G), bool(potential), np.arange(n))
    return acc, pot


def region_energy_correction(pos, vel, mass, h, G=1.0):
    """Newtonian minus softened internal potential energy of a region (for the total energy)."""
    _, pot = internal_softened_accelerations(pos, mass, h, G, potential=True)
    w_soft = 0.5 * float(np.sum(mass * pot))
    w_newton = newton_energy(pos, np.zeros_like(vel), mass, G)
    return w_newton - w_soft


def region_timestep(pos, vel, mass, is_bh, members, neighbours, eta_region, r_ketju, acc_ext_cm, eps_cm,
                    eta, member_criterion="speed"):
    """The KETJU region timestep (Rantala et al. 2017, sec. 3.3, generalised).

    min of
      * sqrt(2 eta eps / |a_cm|)  -- GADGET's criterion on the external CoM acceleration;
      * eta_region r_ketju / v_max, with v_max the largest of the speeds of members and buffer-zone
        non-members (``neighbours``) relative to the region's CoM, of the SMBH speeds relative to the
        mean velocity v_* of the neighbours, and of their 1D dispersion sigma_*: no particle moves more
        than a fraction eta_region of r_ketju relative to the region in one step, so membership
        (entering and leaving stars) is updated often enough.

    ``member_criterion="boundary"`` (opt-in) replaces the member-speed term by the exit condition that
    it is there for: a member star at distance r_i from its nearest region SMBH, receding from it at
    most at |v_i - v_BH|, ends the step inside (1 + eta_region) r_ketju, i.e.
    dt <= ((1 + eta_region) r_ketju - r_i) / |v_i - v_BH| -- the same bound on how far a leaving star
    overshoots the sphere, without limiting the step by fast stars deep in the cusp. The SMBH,
    neighbour and dispersion terms are unchanged.
    """
    if member_criterion not in ("speed", "boundary"):
        raise ValueError(f"member_criterion must be 'speed' or 'boundary', got {member_criterion!r}")
    m = mass[members]
    vcm = m @ vel[members] / m.sum()
    dt = np.inf
    a = np.linalg.norm(acc_ext_cm)
    if a > 0:
        dt = np.sqrt(2 * eta * eps_cm / a)
    vmax = 0.0
    if len(members) > 1 and member_criterion == "speed":
        vmax = float(np.max(np.linalg.norm(vel[members] - vcm, axis=1)))
    elif len(members) > 1:
        bhs = members[is_bh[members]]
        stars = members[~is_bh[members]]
        if len(bhs) > 1:  # the SMBHs' own motion relative to the CoM still bounds the step
            vmax = float(np.max(np.linalg.norm(vel[bhs] - vcm, axis=1)))
        if len(stars):
            d2 = np.sum((pos[stars][:, None, :] - pos[bhs][None, :, :]) ** 2, axis=2)
            near = np.argmin(d2, axis=1)
            r_i = np.sqrt(d2[np.arange(len(stars)), near])
            v_i = np.linalg.norm(vel[stars] - vel[bhs][near], axis=1)
            room = np.maximum((1.0 + eta_region) * r_ketju - r_i, eta_region * r_ketju)
            with np.errstate(divide="ignore"):
                dt = min(dt, float(np.min(room / v_i)))
    if len(neighbours) >= 1:
        vmax = max(vmax, float(np.max(np.linalg.norm(vel[neighbours] - vcm, axis=1))))
    if len(neighbours) >= 2:
        mn = mass[neighbours]
        vstar = mn @ vel[neighbours] / mn.sum()
        sig = np.sqrt(np.sum(mn[:, None] * (vel[neighbours] - vstar) ** 2) / (3 * mn.sum()))
        vmax = max(vmax, sig)
        for b in members[is_bh[members]]:
            vmax = max(vmax, float(np.linalg.norm(vel[b] - vstar)))
    if vmax > 0:
        dt = min(dt, eta_region * r_ketju / vmax)
    return dt


class RegularizedRegionIntegrator:
    """Region integrator backed by :class:`nbody.RegularizedIntegrator` (MSTAR/AR with GBS, PN terms, mergers).

    Parameters are passed through (``tolerance``, ``pn``, ``c``, ``merger_radius_rs`` and any other
    keyword of the integrator). ``c`` is the speed of light in internal units (needed for PN terms
    and mergers). SMBH spins are kept between region steps, keyed by particle ID; merger remnants
    keep the ID of the heavier SMBH (the integrator's convention), so a swallowed SMBH is the member
    whose ID disappears.
    """

    supports_pn = True

    def __init__(self, tolerance=1e-10, pn="none", c=None, merger_radius_rs=12.0, **kw):
        from gpu.mpi import SerialComm

        from .particles import Particles
        from .regularized import RegularizedIntegrator

        # regions are distributed over ranks by the driver, one rank per region: the integrator must not
        # run collectives on COMM_WORLD (only the owning rank calls it), unless a sub-communicator is given
        kw.setdefault("comm", SerialComm())
        # every region step ends at a given time; the integrator lands by regula falsi (its physical-time
        # landing is off: it can accept wrong steps across the periapsis of eccentric binaries)
        kw.setdefault("physical_landing", False)
        self._particles = Particles
        self.integrator = RegularizedIntegrator(tolerance=tolerance, pn=pn, c=c, merger_radius_rs=merger_radius_rs,
                                                **kw)
        self.spins: dict[int, np.ndarray] = {}
        self.last_record = None

    #: the timestepping engine may hand a communicator to :meth:`integrate` (a region split over ranks)
    accepts_comm = True

    def integrate(self, mass, pos, vel, is_bh, ids, dt, comm=None) -> RegionResult:
        """Integrate one region over ``dt`` (CoM frame). ``comm``: the ranks that share this region's GBS
        substep sequences (:func:`nbody.gbs.integrate_to_mpi`; bitwise the serial result)."""
        mass = np.asarray(mass, dtype=np.float64)
        if not np.isfinite(dt):
            raise ValueError(f"dt must be finite, got {dt}")
        n = len(mass)
        ids = np.asarray(ids).astype(np.int64)
        if n < 2 or dt <= 0:
            return RegionResult(mass.copy(), np.asarray(pos) + np.asarray(vel) * max(dt, 0.0), np.array(vel, float),
                                np.ones(n, bool))
        spin = np.array([self.spins.get(int(i), np.zeros(3)) for i in ids])
        P = self._particles(mass, np.asarray(pos, float), np.asarray(vel, float), spin=spin,
                            is_bh=np.asarray(is_bh, bool), ids=ids, time=0.0)
        integ = self.integrator
        if comm is not None:
            integ = copy.copy(integ)
            integ.comm = comm
        out, rec = integ.integrate(P, float(dt))
        self.last_record = rec
        row = {int(i): k for k, i in enumerate(np.asarray(out.ids))}
        alive = np.array([int(i) in row for i in ids])
        res_m, res_x, res_v = mass.copy(), np.array(pos, float), np.array(vel, float)
        for k, i in enumerate(ids):
            if alive[k]:
                j = row[int(i)]
                res_m[k], res_x[k], res_v[k] = out.mass[j], out.pos[j], out.vel[j]
                if out.is_bh[j]:
                    self.spins[int(i)] = np.array(out.spin[j], float)
        events = []
        for ev in rec.mergers:
            d = dataclasses.asdict(ev) if dataclasses.is_dataclass(ev) else dict(ev)
            d["time_in_step"] = d.pop("time", None)
            events.append(d)
        return RegionResult(res_m, res_x, res_v, alive, int(rec.n_steps), events)
