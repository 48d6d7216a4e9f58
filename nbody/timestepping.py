"""Kick-drift-kick leapfrog with hierarchical power-of-two timesteps and KETJU regions.

The scheme follows GADGET-2 (Springel 2005, MNRAS 364, 1105, sec. 4):

* each particle has a timestep dt_max / 2^k (its *bin* k), chosen from
  dt = sqrt(2 eta eps / |a|) (eq. 34) and rounded down to a power of two;
  a particle may move to a longer step only when the current time is a
  multiple of it, so the steps stay nested;
* times are integers on a timeline of 2^max_bin ticks per dt_max;
* a step of particle i: half kick (opening), drift of everybody to the next
  time any step ends, forces for the particles whose steps end (the *active*
  set), half kick (closing). Only active particles need forces.

KETJU coupling (Rantala et al. 2017, ApJ 840, 53): see :mod:`nbody.ketju`.
All regions share one bin (the smallest of their own criteria and of the
non-members in a buffer zone of radius ``buffer_factor * r_ketju`` around each
SMBH), so regions end their steps together and can merge or split at any
region step. Membership is recomputed at each region step among the
particles whose steps end then. Non-members in the buffer zone whose step
ends are given at most the region step, so stars approaching a region are
synchronised with it when they arrive.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from gpu import block_range, get_comm
from gpu.cuda import numba_backend

from ._kernels.leapfrog import drift, kick, timestep_bins
from .direct import direct_forces
from .ketju import find_regions, internal_softened_accelerations, region_energy_correction, region_timestep
from .ics import PTYPE_BH
from .softening import SPLINE_H_OVER_EPS, spline_radius
from .tree import GROUP_SIZE, Octree

_REGION_POOL = None


def _region_pool():
    """One process-wide thread pool for integrating KETJU regions side by side (lazily created)."""
    global _REGION_POOL
    if _REGION_POOL is None:
        _REGION_POOL = ThreadPoolExecutor(max_workers=numba.config.NUMBA_NUM_THREADS,
                                          thread_name_prefix="ketju-region")
    return _REGION_POOL


def bin_of_dt(dt, dt_max, max_bin):
    """Smallest k with dt_max / 2^k <= dt, capped at max_bin."""
    if not np.isfinite(dt) or dt >= dt_max:
        return 0
    if dt <= 0:
        return max_bin
    return int(min(max_bin, np.ceil(np.log2(dt_max / dt) - 1e-12)))


class HierarchicalKDK:
    """The time integrator of a galaxy simulation (softened bulk + KETJU regions).

    Parameters
    ----------
    pos, vel, mass : particle arrays (internal units, G given by ``G``)
    ptype : GADGET types (5 = SMBH)
    eps : Plummer-equivalent softening per particle
    dt_max : the longest timestep (and the block length of :meth:`advance_block`)
    eta : GADGET's accuracy parameter (dt = sqrt(2 eta eps / |a|))
    max_bin : deepest bin (dt_max / 2^max_bin the shortest step)
    gravity : "tree" or "direct"; theta/criterion/alpha/leaf_size/quadrupole go to :class:`nbody.tree.Octree`
    r_ketju : region radius (None or 0: no regions, SMBHs are softened particles)
    region_integrator : object with ``integrate(mass, pos, vel, is_bh, ids, dt)`` (see :mod:`nbody.ketju`)
    eta_region, buffer_factor : region timestep parameters (see :func:`nbody.ketju.region_timestep`)
    region_member_criterion : 'speed' (default) or 'boundary' (see :func:`nbody.ketju.region_timestep`)
    comm : MPI communicator (replicated data: every rank holds all particles; the forces of the active set
        and the region integrations are split over ranks; :class:`nbody.domain.DomainKDK` is the
        domain-decomposed variant)
    tree_rebuild_fraction : the tree is rebuilt when the force evaluations since its build would exceed
        this fraction of N (GADGET's ``TreeDomainUpdateFrequency``, Springel 2005 sec. 3.1), so always at
        full synchronisations; in between it is refitted to the drifted positions
        (:meth:`nbody.tree.Octree.refit`: exact moments, node cubes grown to contain their particles, so
        the opening tests keep bounding the error; the walks get longer as particles drift). 0 rebuilds
        at every force call.
    group_size : particles sharing one tree walk (:meth:`nbody.tree.Octree.accelerations`); 0: one walk per
        target (the domain engine's exported targets are always walked one by one)
    backend : "cpu", "cuda" or "auto" (:func:`gpu.cuda.numba_backend`): with ``gravity="direct"``,
        "cuda" computes the active set's direct sum on the GPU
        (:func:`nbody._kernels.cuda_gravity.gravity_accel_cuda`); the tree walk runs on the CPU only
        ("cuda" with ``gravity="tree"`` is a ValueError). KETJU regions are integrated on the CPU.
    """

    #: per-particle state arrays (kept aligned by removals and, in the domain engine, migrations)
    _particle_arrays = ("pos", "vel", "mass", "ptype", "eps", "ids", "acc_mag", "bins", "ti_begin", "acc_kick",
                        "region_of")
    #: True for the domain-decomposed engine (arrays hold this rank's particles only)
    domain = False

    def __init__(self, pos, vel, mass, ptype, eps, ids=None, G=1.0, dt_max=0.01, eta=0.025, max_bin=28,
                 gravity="tree", theta=0.5, criterion="geometric", alpha=0.005, leaf_size=8, quadrupole=True,
                 r_ketju=None, region_integrator=None, eta_region=0.1, buffer_factor=2.0, comm=None, t=0.0,
                 acc_mag=None, tree_rebuild_fraction=0.1, group_size=GROUP_SIZE, region_member_criterion="speed",
                 backend="cpu"):
        self.pos = np.ascontiguousarray(pos, dtype=np.float64).copy()
        self.vel = np.ascontiguousarray(vel, dtype=np.float64).copy()
        self.mass = np.ascontiguousarray(mass, dtype=np.float64).copy()
        n = len(self.mass)
        self.ptype = np.ascontiguousarray(np.broadcast_to(ptype, (n,)), dtype=np.int64).copy()
        self.eps = np.ascontiguousarray(np.broadcast_to(eps, (n,)), dtype=np.float64).copy()
        self.ids = (np.arange(1, n + 1, dtype=np.uint64) if ids is None
                    else np.ascontiguousarray(ids, dtype=np.uint64).copy())
        if not 0 < dt_max < np.inf:
            raise ValueError(f"dt_max must be finite and > 0, got {dt_max}")
        if not (0 < eta <= 1):
            raise ValueError(f"eta must be in (0, 1], got {eta}")
        if not (isinstance(max_bin, (int, np.integer)) and 0 <= max_bin <= 60):
            raise ValueError(f"max_bin must be an integer in [0, 60], got {max_bin!r}")
        if gravity not in ("tree", "direct"):
            raise ValueError(f"gravity must be 'tree' or 'direct', got {gravity!r}")
        self.backend = numba_backend(backend)
        if self.backend == "cuda" and gravity != "direct":
            raise ValueError(f"backend 'cuda' computes the direct sum on the GPU: it needs gravity='direct', got "
                             f"{gravity!r} (the tree walk runs on the CPU)")
        if not np.all((self.eps >= 0) & np.isfinite(self.eps)):
            raise ValueError("softening eps must be finite and >= 0")
        self.G, self.dt_max, self.eta, self.max_bin = float(G), float(dt_max), float(eta), int(max_bin)
        self.TB = 1 << self.max_bin
        self.gravity, self.theta, self.criterion, self.alpha = gravity, float(theta), criterion, float(alpha)
        self.leaf_size, self.quadrupole = int(leaf_size), bool(quadrupole)
        if not (0 <= tree_rebuild_fraction <= 1):
            raise ValueError(f"tree_rebuild_fraction must be in [0, 1], got {tree_rebuild_fraction}")
        self.tree_rebuild_fraction = float(tree_rebuild_fraction)
        if not (isinstance(group_size, (int, np.integer)) and group_size >= 0):
            raise ValueError(f"group_size must be an integer >= 0, got {group_size!r}")
        self.group_size = int(group_size)
        self._tree = None
        self._region_comms = {}
        self._tree_synced = False  # True while the tree holds self.pos (from a force call to the next drift)
        self._tree_mass = None
        self._since_build = 0
        self.r_ketju = float(r_ketju) if r_ketju else 0.0
        self.region_integrator = region_integrator
        if self.r_ketju > 0:
            if region_integrator is None:
                raise ValueError("region_integrator is required when r_ketju > 0")
            hmax = spline_radius(self.eps[self.ptype != PTYPE_BH].max() if np.any(self.ptype != PTYPE_BH) else 0.0)
            if self.r_ketju < hmax * (1 - 1e-12):
                raise ValueError(f"r_ketju = {self.r_ketju} must be >= {SPLINE_H_OVER_EPS} eps = {hmax} (the spline becomes "
                                 "Newtonian only there)")
            if not np.any(self.ptype == PTYPE_BH):
                raise ValueError("r_ketju > 0 but there is no SMBH (particle type 5)")
        self.eta_region, self.buffer_factor = float(eta_region), float(buffer_factor)
        if region_member_criterion not in ("speed", "boundary"):
            raise ValueError(f"region_member_criterion must be 'speed' or 'boundary', got {region_member_criterion!r}")
        self.region_member_criterion = region_member_criterion
        self.comm = get_comm(comm)
        self.t = float(t)
        self.acc_mag = np.zeros(n) if acc_mag is None else np.asarray(acc_mag, dtype=np.float64).copy()
        self.bins = np.zeros(n, dtype=np.int64)
        self.ti_begin = np.zeros(n, dtype=np.int64)
        self.acc_kick = np.zeros((n, 3))
        self.region_of = np.full(n, -1, dtype=np.int64)
        self.regions: list[np.ndarray] = []
        self.timers = {"tree_build": 0.0, "forces": 0.0, "regions": 0.0, "kick_drift": 0.0, "bookkeeping": 0.0}
        self.counters = {"force_evaluations": 0, "syncs": 0, "region_steps": 0, "region_substeps": 0,
                         "late_joiners": 0, "tree_builds": 0, "tree_refits": 0}
        self.merger_events: list[dict] = []
        self._initialized = False
        self.last_a_full = None
        #: optional callback(engine, ending_indices) after every synchronisation point (diagnostics)
        self.on_sync = None

    # ------------------------------------------------------------------ forces
    def _h(self):
        return spline_radius(self.eps)

    def _tree_for(self, n_targets):
        """The tree for a force call on ``n_targets`` particles: rebuilt or refitted (see
        ``tree_rebuild_fraction``). The decision depends only on the global call sequence, so every MPI
        rank makes the same one."""
        n = len(self.mass)
        t = self._tree
        if (t is None or len(t.mass) != n or self._since_build + n_targets > self.tree_rebuild_fraction * n
                or not np.array_equal(self._tree_mass, self.mass)):
            self._build_tree()
        else:
            t.refit(self.pos)
            self._since_build += n_targets
            self.counters["tree_refits"] += 1
        return self._tree

    def _walk_kw(self):
        return {"grouped": self.group_size > 0, "group_size": self.group_size or None}

    def _build_tree(self):
        self._tree = Octree(self.pos, self.mass, self.eps, leaf_size=self.leaf_size, G=self.G)
        self._tree_mass = self.mass.copy()
        self._since_build = 0
        self.counters["tree_builds"] += 1

    def forces(self, targets, potential=False):
        """Softened accelerations (and potentials) on ``targets`` from all particles; split over ranks."""
        targets = np.ascontiguousarray(targets, dtype=np.int64)
        size, rank = getattr(self.comm, "size", 1), getattr(self.comm, "rank", 0)
        lo, hi = block_range(len(targets), size, rank)
        mine = targets[lo:hi]
        t0 = time.perf_counter()
        if self.gravity == "tree":
            tree = self._tree_for(len(targets))
            self._tree_synced = True  # the tree holds the current positions until the next drift
            t1 = time.perf_counter()
            self.timers["tree_build"] += t1 - t0
            if self.criterion == "relative" and np.all(self.acc_mag > 0):
                # a_old_all: each group's criterion uses its particles' minimum |a_old|, so the forces do
                # not depend on how the active set is split over ranks
                acc, pot = tree.accelerations(mine, criterion="relative", alpha=self.alpha,
                                              a_old=self.acc_mag[mine], quadrupole=self.quadrupole,
                                              a_old_all=self.acc_mag, **self._walk_kw())
            else:
                acc, pot = tree.accelerations(mine, theta=self.theta, quadrupole=self.quadrupole,
                                              **self._walk_kw())
        else:
            t1 = t0
            if self.backend == "cuda":  # the GPU seam: same arguments and result as the CPU direct_accel
                from ._kernels.cuda_gravity import gravity_accel_cuda

                acc, pot = gravity_accel_cuda(mine, self.pos, self.mass, self._h(), self.G, potential)
            else:
                acc, pot = direct_forces(self.pos, self.mass, self.eps, self.G, targets=mine, potential=potential)
        if size > 1:
            parts = self.comm.allgather((acc, pot))
            acc = np.concatenate([p[0] for p in parts])
            pot = np.concatenate([p[1] for p in parts])
        self.timers["forces"] += time.perf_counter() - t1
        self.counters["force_evaluations"] += len(targets)
        return acc, pot

    def _internal(self, members, potential=False):
        return internal_softened_accelerations(self.pos[members], self.mass[members], self._h()[members], self.G,
                                               potential)

    # ------------------------------------------------------------------ sync bookkeeping
    def _post_sync(self, ti, ending, a_full):
        """After the closing kick of ``ending`` at time ``ti``: regions, opening-kick accelerations, bins."""
        t0 = time.perf_counter()
        self.acc_mag[ending] = np.linalg.norm(a_full, axis=1)
        self.acc_kick[ending] = a_full
        new_bins = timestep_bins(a_full, self.eps[ending], self.eta, self.dt_max, self.max_bin)
        bins_full = self.bins.copy()
        bins_full[ending] = new_bins
        if self.r_ketju > 0:
            ending_mask = np.zeros(len(self.mass), dtype=bool)
            ending_mask[ending] = True
            if self._is_region_step(ending_mask):
                self._region_step(ending, ending_mask, a_full, bins_full)
        # alignment: a step may only begin at a multiple of its length
        b = bins_full[ending]
        while True:
            bad = (ti % (self.TB >> b)) != 0
            if not np.any(bad):
                break
            b = np.where(bad, b + 1, b)
        self.bins[ending] = b
        self.ti_begin[ending] = ti
        self.timers["bookkeeping"] += time.perf_counter() - t0

    def _row_map(self, ending):
        """row_of[i] = position of particle i in ``ending`` (-1 if absent): an array, not a dict."""
        row_of = np.full(len(self.mass), -1, dtype=np.int64)
        row_of[ending] = np.arange(len(ending))
        return row_of

    def _is_region_step(self, ending_mask):
        """All SMBHs end their steps now (they share one bin): regions are rebuilt."""
        return bool(np.all(ending_mask[self.ptype == PTYPE_BH]))

    def _near_smbhs(self, bh_pos, radius):
        """(indices, squared distance to the nearest of the SMBHs at ``bh_pos``) of a set of particles
        containing all within ``radius`` of one of them (ascending indices). Uses the tree refitted at
        this sync's force call when there is one (O(log N) per SMBH), else a scan of all particles;
        the distances are computed by the same expression either way, so the selections agree exactly.
        """
        if self._tree_synced:
            near = np.unique(np.concatenate([self._tree.ball(c, radius) for c in bh_pos]))
        else:
            near = np.arange(len(self.mass))
        x = self.pos[near]
        d2 = np.sum((x - bh_pos[0]) ** 2, axis=1)
        for cj in bh_pos[1:]:
            d2 = np.minimum(d2, np.sum((x - cj) ** 2, axis=1))
        return near, d2

    def _region_step(self, ending, ending_mask, a_full, bins_full):
        """Rebuild the regions among the synchronised particles, set their kick accelerations and common bin."""
        bh = np.flatnonzero(self.ptype == PTYPE_BH)
        self.regions = find_regions(self.pos, bh, self.r_ketju, candidates=ending)
        self.region_of[:] = -1
        for k, r in enumerate(self.regions):
            self.region_of[r] = k
        # squared distance to the nearest SMBH of each region, for the particles near the region
        buf2 = (self.buffer_factor * self.r_ketju) ** 2
        near_all = []
        for r in self.regions:
            near, d2 = self._near_smbhs(self.pos[r[self.ptype[r] == PTYPE_BH]], np.sqrt(buf2))
            near_all.append((near, d2))
            # particles inside a sphere that could not join (not synchronised)
            self.counters["late_joiners"] += int(np.sum((d2 < self.r_ketju**2) & (self.region_of[near] < 0)))
        row_of = self._row_map(ending)
        k_region = 0
        neighbours_all = []
        for r, (near, d2) in zip(self.regions, near_all):
            a_int, _ = self._internal(r)
            rows = row_of[r]
            self.acc_kick[r] = a_full[rows] - a_int
            nb = near[(d2 < buf2) & (self.region_of[near] < 0)]
            neighbours_all.append(nb)
            m = self.mass[r]
            a_cm = m @ self.acc_kick[r] / m.sum()
            stars = r[self.ptype[r] != 5]
            eps_cm = self.eps[stars].min() if len(stars) else self.eps[r].min()
            if eps_cm == 0:
                eps_cm = self.r_ketju / SPLINE_H_OVER_EPS
            dt_r = region_timestep(self.pos, self.vel, self.mass, self.ptype == PTYPE_BH, r, nb, self.eta_region,
                                   self.r_ketju, a_cm, eps_cm, self.eta, self.region_member_criterion)
            k = bin_of_dt(dt_r, self.dt_max, self.max_bin)
            if len(nb):
                k = max(k, int(bins_full[nb].max()))
            k_region = max(k_region, k)
        for nb in neighbours_all:
            nb_end = nb[ending_mask[nb]]
            bins_full[nb_end] = np.maximum(bins_full[nb_end], k_region)
        for r in self.regions:
            bins_full[r] = k_region

    def initialize(self, a_full=None):
        """Forces, regions and timestep bins at the current (synchronised) state.

        ``a_full``: the softened accelerations of all particles at this state if known (a checkpoint
        stores them, so that a restart repeats the uninterrupted run bit for bit).
        """
        everyone = np.arange(len(self.mass))
        if a_full is None:
            a_full, _ = self.forces(everyone)
        elif self.gravity == "tree":
            # a restart: the tree of the uninterrupted run was built at this synchronised state
            self._build_tree()
        a_full = np.ascontiguousarray(a_full, dtype=np.float64)
        self.last_a_full = a_full
        self._post_sync(0, everyone, a_full)
        self._initialized = True

    # ------------------------------------------------------------------ the step
    def _splits_regions(self):
        """Replicated data with fewer regions than ranks and an integrator that shares its GBS substeps
        over a communicator: each region is integrated by a group of ranks (KETJU splits large regions
        over tasks the same way; the MPI GBS is bitwise the serial one)."""
        size = getattr(self.comm, "size", 1)
        return (size > 1 and 0 < len(self.regions) < size
                and getattr(self.region_integrator, "accepts_comm", False))

    def _region_comm(self, k):
        """The sub-communicator of the ranks integrating region k (collective; cached per region count),
        or None when a region is integrated by one rank."""
        if not self._splits_regions():
            return None
        n = len(self.regions)
        if n not in self._region_comms:
            rank = self.comm.rank
            self._region_comms[n] = self.comm.Split(color=rank % n, key=rank)
        return self._region_comms[n]

    def _owns_region(self, k):
        """Replicated data: region k is integrated by rank k mod size, or, with fewer regions than ranks
        (see :meth:`_splits_regions`), by the ranks r with r mod n_regions == k."""
        size, rank = getattr(self.comm, "size", 1), getattr(self.comm, "rank", 0)
        if self._splits_regions():
            return rank % len(self.regions) == k
        return k % size == rank

    def _share_region_results(self, results):
        """Replicated data: every rank needs every region's result (one copy from each rank group)."""
        if getattr(self.comm, "size", 1) > 1:
            if self._splits_regions():
                results = {k: v for k, v in results.items() if self._region_comm(k).rank == 0}
            merged = {}
            for part in self.comm.allgather(results):
                merged.update(part)
            results = merged
        return results

    def _next_time(self, ti_end):
        """The next time (integer timeline) at which any step ends."""
        return int(ti_end.min())

    def _integrate_region(self, k, dt):
        """Region k over dt in its centre-of-mass frame (KETJU: the CoM drifts; the tidal field entered
        through the kicks)."""
        r = self.regions[k]
        m = self.mass[r]
        M = m.sum()
        xc = m @ self.pos[r] / M
        vc = m @ self.vel[r] / M
        sub = self._region_comm(k)
        kw = {} if sub is None else {"comm": sub}
        res = self.region_integrator.integrate(m, self.pos[r] - xc, self.vel[r] - vc, self.ptype[r] == PTYPE_BH,
                                               self.ids[r], dt, **kw)
        res.pos = res.pos + xc + vc * dt
        res.vel = res.vel + vc
        return res

    def _integrate_regions(self, dt):
        t0 = time.perf_counter()
        if self._splits_regions():
            self._region_comm(0)  # collective: every rank creates the split before any rank uses it
        mine = [k for k in range(len(self.regions)) if self._owns_region(k)]
        if len(mine) > 1 and numba.get_num_threads() > 1:
            # regions are independent and the integrator's kernel releases the GIL: integrate them
            # side by side on the Numba threads' cores (same results as one after the other)
            results = dict(zip(mine, _region_pool().map(lambda k: self._integrate_region(k, dt), mine)))
        else:
            results = {k: self._integrate_region(k, dt) for k in mine}
        results = self._share_region_results(results)
        dead = []
        for k, r in enumerate(self.regions):
            res = results[k]
            self.pos[r] = res.pos
            self.vel[r] = res.vel
            self.mass[r] = res.mass
            self.counters["region_substeps"] += int(res.steps)
            for ev in res.events:
                ev = dict(ev)
                ev["time"] = self.t + float(ev.get("time_in_step") or 0.0)
                self.merger_events.append(ev)
            if not np.all(res.alive):
                dead.extend(r[~res.alive].tolist())
        self.counters["region_steps"] += len(self.regions)
        self.timers["regions"] += time.perf_counter() - t0
        if dead:
            self._remove(np.array(sorted(dead), dtype=np.int64))

    def _remove(self, dead):
        self._tree_synced = False
        keep = np.ones(len(self.mass), dtype=bool)
        keep[dead] = False
        newidx = np.cumsum(keep) - 1
        for name in self._particle_arrays:
            setattr(self, name, np.ascontiguousarray(getattr(self, name)[keep]))
        self.regions = [newidx[r[keep[r]]] for r in self.regions]

    def advance_block(self):
        """Advance by exactly dt_max (all particles are synchronised at the start and at the end)."""
        if not self._initialized:
            self.initialize()
        ti = 0
        base = self.dt_max / self.TB
        t_start = self.t
        while ti < self.TB:
            t0 = time.perf_counter()
            opening = np.flatnonzero(self.ti_begin == ti)
            dti = self.TB >> self.bins
            if len(opening):
                kick(self.vel, self.acc_kick[opening], opening, 0.5 * base * dti[opening].astype(np.float64))
            ti_end = self.ti_begin + dti
            ti_next = self._next_time(ti_end)
            dt = (ti_next - ti) * base
            in_region = self.region_of >= 0
            free = np.flatnonzero(~in_region)
            drift(self.pos, self.vel, free, dt)
            self._tree_synced = False
            self.timers["kick_drift"] += time.perf_counter() - t0
            if self.regions:
                self._integrate_regions(dt)
                dti = self.TB >> self.bins
                ti_end = self.ti_begin + dti
            ti = ti_next
            self.t = t_start + ti * base
            ending = np.flatnonzero(ti_end == ti)
            a_full, _ = self.forces(ending)
            t0 = time.perf_counter()
            a_close = a_full.copy()
            if self.regions:
                row_of = self._row_map(ending)
                for r in self.regions:
                    if len(r) and row_of[r[0]] >= 0:
                        a_int, _ = self._internal(r)
                        a_close[row_of[r]] -= a_int
            kick(self.vel, a_close, ending, 0.5 * base * dti[ending].astype(np.float64))
            self.timers["kick_drift"] += time.perf_counter() - t0
            self.counters["syncs"] += 1
            if ti == self.TB:
                self.last_a_full = a_full
            self._post_sync(ti % self.TB, ending, a_full)
            if self.on_sync is not None:
                self.on_sync(self, ending)
        self.t = t_start + self.dt_max

    # ------------------------------------------------------------------ diagnostics
    def energy(self):
        """(kinetic, potential) at a synchronised time: softened pairs, Newtonian inside regions."""
        K = 0.5 * float(np.sum(self.mass * np.sum(self.vel**2, axis=1)))
        _, pot = self.forces(np.arange(len(self.mass)), potential=True)
        W = 0.5 * float(np.sum(self.mass * pot))
        h = self._h()
        for r in self.regions:
            W += region_energy_correction(self.pos[r], self.vel[r], self.mass[r], h[r], self.G)
        return K, W

    def state(self, ptype=None, root=None):
        """The particles (all, or those of type ``ptype``) with t, G and merger_events; the domain engine
        gathers them from all ranks (to every rank, or to ``root`` only), same interface."""
        if ptype is None:
            return self
        import types

        sel = self.ptype == ptype
        names = ("pos", "vel", "mass", "ptype", "ids", "eps", "acc_mag")
        return types.SimpleNamespace(t=self.t, G=self.G, merger_events=self.merger_events,
                                     **{k: getattr(self, k)[sel] for k in names})

    def global_counters(self) -> dict:
        """The counters of all ranks (the domain engine sums them; here every rank has the same)."""
        return dict(self.counters)

    @property
    def n_total(self) -> int:
        """Number of particles (on all ranks)."""
        return len(self.mass)
