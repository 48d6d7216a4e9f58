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

The integrator is composed of (see :class:`HierarchicalKDK`):

* :class:`StepConfig` -- the timestep settings (dt_max, eta, max_bin);
* a *force solver* -- where the softened accelerations of the active set come from:
  :class:`ReplicatedForces` (tree or direct sum over all particles, the targets split over the ranks) or
  :class:`nbody.domain.DomainForces` (local tree + remote top nodes + exported walks). Another backend
  (e.g. a GPU kernel for the active set) is a subclass of :class:`ReplicatedForces` overriding
  :meth:`ReplicatedForces.local_forces`;
* :class:`RegionConfig` -- the KETJU region settings and the region integrator (None: no regions);
* a *decomposition* -- which particles a rank holds and how the active set, the KETJU regions, their
  buffer-zone neighbours and the output are gathered and scattered over the ranks:
  :class:`ReplicatedData` (every rank holds all particles; on one rank every operation is the identity) or
  :class:`nbody.domain.DomainDecomposition` (space-filling-curve domains with migration).
"""
from __future__ import annotations

import dataclasses
import time
import types
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from gpu import block_range, get_comm
from gpu.cuda import numba_backend

from ._kernels.kdk import drift, kick, timestep_bins
from .direct import direct_forces
from .particles import PTYPE_BH
from .ketju import find_regions, internal_softened_accelerations, region_energy_correction, region_timestep
from .softening import SPLINE_H_OVER_EPS, spline_radius
from .tree import CRITERIA, SIM_GROUP_SIZE, SIM_LEAF_SIZE, Octree

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


# ---------------------------------------------------------------------------------------- settings
@dataclasses.dataclass(frozen=True)
class StepConfig:
    """Timestep settings (Springel 2005, sec. 4).

    dt_max : the longest timestep (and the block length of :meth:`HierarchicalKDK.advance_block`)
    eta : GADGET's accuracy parameter (dt = sqrt(2 eta eps / |a|), eq. 34)
    max_bin : deepest bin (dt_max / 2^max_bin the shortest step)
    """

    dt_max: float = 0.01
    eta: float = 0.025
    max_bin: int = 28

    def __post_init__(self):
        if not 0 < self.dt_max < np.inf:
            raise ValueError(f"dt_max must be finite and > 0, got {self.dt_max}")
        if not (0 < self.eta <= 1):
            raise ValueError(f"eta must be in (0, 1], got {self.eta}")
        if not (isinstance(self.max_bin, (int, np.integer)) and 0 <= self.max_bin <= 60):
            raise ValueError(f"max_bin must be an integer in [0, 60], got {self.max_bin!r}")
        object.__setattr__(self, "dt_max", float(self.dt_max))
        object.__setattr__(self, "eta", float(self.eta))
        object.__setattr__(self, "max_bin", int(self.max_bin))


@dataclasses.dataclass(frozen=True)
class ForceConfig:
    """Softened gravity settings of the force solvers.

    Parameters
    ----------
    method : str
        "tree" (:class:`nbody.tree.Octree`) or "direct" (direct summation)
    G : float
        the gravitational constant in internal units
    theta, criterion, alpha, leaf_size, quadrupole
        the tree's opening test and build (:class:`nbody.tree.Octree`; criterion "geometric" or
        "relative", Springel 2005 sec. 3.1)
    tree_rebuild_fraction : float
        the tree is rebuilt when the force evaluations since its build would exceed
        this fraction of N (GADGET's ``TreeDomainUpdateFrequency``, Springel 2005 sec. 3.1), so always at
        full synchronisations; in between it is refitted to the drifted positions
        (:meth:`nbody.tree.Octree.refit`: exact moments, node cubes grown to contain their particles, so
        the opening tests keep bounding the error; the walks get longer as particles drift). 0 rebuilds
        at every force call. (The domain solver builds its local tree at every call.)
    group_size : int
        particles sharing one tree walk (:meth:`nbody.tree.Octree.accelerations`); 0: one walk per
        target (the domain solver's exported targets are always walked one by one)
    """

    method: str = "tree"
    G: float = 1.0
    theta: float = 0.5
    criterion: str = "geometric"
    alpha: float = 0.005
    leaf_size: int = SIM_LEAF_SIZE
    quadrupole: bool = True
    tree_rebuild_fraction: float = 0.1
    group_size: int = SIM_GROUP_SIZE

    def __post_init__(self):
        if self.method not in ("tree", "direct"):
            raise ValueError(f"gravity must be 'tree' or 'direct', got {self.method!r}")
        if self.criterion not in CRITERIA:
            raise ValueError(f"criterion must be one of {sorted(CRITERIA)}, got {self.criterion!r}")
        if not (0 <= self.tree_rebuild_fraction <= 1):
            raise ValueError(f"tree_rebuild_fraction must be in [0, 1], got {self.tree_rebuild_fraction}")
        if not (isinstance(self.group_size, (int, np.integer)) and self.group_size >= 0):
            raise ValueError(f"group_size must be an integer >= 0, got {self.group_size!r}")
        for name, conv in (("G", float), ("theta", float), ("alpha", float), ("leaf_size", int),
                           ("quadrupole", bool), ("tree_rebuild_fraction", float), ("group_size", int)):
            object.__setattr__(self, name, conv(getattr(self, name)))

    def walk_kw(self) -> dict:
        """Keyword arguments of :meth:`nbody.tree.Octree.accelerations` for the walk grouping."""
        return {"grouped": self.group_size > 0, "group_size": self.group_size or None}


@dataclasses.dataclass(frozen=True)
class RegionConfig:
    """KETJU regions (Rantala et al. 2017, sec. 3.2-3.3).

    r_ketju : region radius (> 0; no regions: pass ``regions=None`` to :class:`HierarchicalKDK`)
    integrator : object with ``integrate(mass, pos, vel, is_bh, ids, dt)`` (see :mod:`nbody.ketju`)
    eta_region, buffer_factor : region timestep parameters (see :func:`nbody.ketju.region_timestep`)
    member_criterion : 'speed' (default) or 'boundary' (see :func:`nbody.ketju.region_timestep`)
    """

    r_ketju: float
    integrator: object
    eta_region: float = 0.1
    buffer_factor: float = 2.0
    member_criterion: str = "speed"

    def __post_init__(self):
        if not 0 < self.r_ketju < np.inf:
            raise ValueError(f"r_ketju must be finite and > 0 (no regions: regions=None), got {self.r_ketju}")
        if self.integrator is None:
            raise ValueError("region_integrator is required when r_ketju > 0")
        if self.member_criterion not in ("speed", "boundary"):
            raise ValueError(f"region_member_criterion must be 'speed' or 'boundary', got {self.member_criterion!r}")
        object.__setattr__(self, "r_ketju", float(self.r_ketju))
        object.__setattr__(self, "eta_region", float(self.eta_region))
        object.__setattr__(self, "buffer_factor", float(self.buffer_factor))


# ---------------------------------------------------------------------------------------- force solvers
class ForceSolver:
    """Where the softened accelerations of an active set come from (the interface; no-op defaults).

    A solver serves one :class:`HierarchicalKDK` (``kdk``: its particle arrays, ``comm``, ``timers`` and
    ``counters``). Implementations: :class:`ReplicatedForces`, :class:`nbody.domain.DomainForces`.
    """

    #: the gravitational constant in internal units
    G = 1.0
    #: where the forces are computed ("cpu" or "cuda")
    backend = "cpu"

    def attach(self, kdk):
        """Called once by the integrator it serves (to add its counters)."""

    def validate(self, decomposition):
        """Raise ValueError if the solver cannot work with ``decomposition``."""

    def moved(self):
        """The particles drifted or were removed since the last force call."""

    def restarted(self, kdk):
        """A restart from a checkpoint at the current state (the forces of the state are known)."""

    def ball(self, centre, radius):
        """Indices of a set of particles containing all within ``radius`` of ``centre`` (ascending), or None
        when the solver has no spatial index of the current positions (the caller scans all particles)."""
        return None

    def forces(self, kdk, targets, potential=False):
        """(acc, pot, interactions per target or None) on ``targets`` (this rank's indices); collective."""
        raise NotImplementedError


class ReplicatedForces(ForceSolver):
    """Softened forces with every particle on every rank: the active set is split over the ranks in index
    blocks, each rank computes its block (:meth:`local_forces`) and the blocks are allgathered.

    The tree is rebuilt or refitted per :attr:`ForceConfig.tree_rebuild_fraction`; the decision depends only
    on the global call sequence, so every MPI rank makes the same one. A solver computing the forces
    elsewhere (e.g. a GPU kernel for the active set) subclasses it and overrides :meth:`local_forces` (and
    :meth:`ball`, or lets it return None).
    """

    def __init__(self, config: ForceConfig | None = None):
        self.config = ForceConfig() if config is None else config
        self.G = self.config.G
        self._tree = None
        self._tree_mass = None
        self._since_build = 0
        self._synced = False  # True while the tree holds kdk.pos (from a force call to the next drift)

    def validate(self, decomposition):
        if decomposition.domain:
            raise ValueError("ReplicatedForces needs replicated data (nbody.domain.DomainForces for domains)")

    def moved(self):
        self._synced = False

    def restarted(self, kdk):
        # the tree of the uninterrupted run was built at this state
        if self.config.method == "tree":
            self._build_tree(kdk)

    def _build_tree(self, kdk):
        c = self.config
        self._tree = Octree(kdk.pos, kdk.mass, kdk.eps, leaf_size=c.leaf_size, G=c.G)
        self._tree_mass = kdk.mass.copy()
        self._since_build = 0
        kdk.counters["tree_builds"] += 1

    def _tree_for(self, kdk, n_targets):
        """The tree for a force call on ``n_targets`` particles: rebuilt or refitted."""
        n = len(kdk.mass)
        t = self._tree
        if (t is None or len(t.mass) != n or self._since_build + n_targets > self.config.tree_rebuild_fraction * n
                or not np.array_equal(self._tree_mass, kdk.mass)):
            self._build_tree(kdk)
        else:
            t.refit(kdk.pos)
            self._since_build += n_targets
            kdk.counters["tree_refits"] += 1
        return self._tree

    def ball(self, centre, radius):
        # the tree refitted at this sync's force call, while it holds the current positions
        return self._tree.ball(centre, radius) if self._synced else None

    def local_forces(self, kdk, mine, n_targets, potential):
        """(acc, pot) on this rank's block ``mine`` of an active set of ``n_targets`` particles."""
        c = self.config
        if c.method == "tree":
            t0 = time.perf_counter()
            tree = self._tree_for(kdk, n_targets)
            self._synced = True
            kdk.timers["tree_build"] += time.perf_counter() - t0
            if c.criterion == "relative" and np.all(kdk.acc_mag > 0):
                # a_old_all: each group's criterion uses its particles' minimum |a_old|, so the forces do
                # not depend on how the active set is split over ranks
                return tree.accelerations(mine, criterion="relative", alpha=c.alpha, a_old=kdk.acc_mag[mine],
                                          quadrupole=c.quadrupole, a_old_all=kdk.acc_mag, **c.walk_kw())
            return tree.accelerations(mine, theta=c.theta, quadrupole=c.quadrupole, **c.walk_kw())
        return direct_forces(kdk.pos, kdk.mass, kdk.eps, c.G, targets=mine, potential=potential)


    def forces(self, kdk, targets, potential=False):
        comm = kdk.comm
        size, rank = getattr(comm, "size", 1), getattr(comm, "rank", 0)
        lo, hi = block_range(len(targets), size, rank)
        t0 = time.perf_counter()
        tb = kdk.timers["tree_build"]
        acc, pot = self.local_forces(kdk, targets[lo:hi], len(targets), potential)
        if size > 1:
            parts = comm.allgather((acc, pot))
            acc = np.concatenate([p[0] for p in parts])
            pot = np.concatenate([p[1] for p in parts])
        kdk.timers["forces"] += time.perf_counter() - t0 - (kdk.timers["tree_build"] - tb)
        return acc, pot, None


class GPUDirectForces(ReplicatedForces):
    """The direct sum of the active set on a CUDA device (:func:`nbody._kernels.cuda_gravity.gravity_accel_cuda`:
    numba.cuda, shared-memory tiles of sources, the CPU kernels' spline-softening functions).

    Only the replicated direct sum has a GPU path: the tree walk, the domain decomposition and the KETJU
    regions run on the CPU. Constructing it without a usable device (or the CUDA simulator) raises
    :class:`gpu.GPUUnavailableError` with the reason.
    """

    backend = "cuda"

    def __init__(self, config: ForceConfig | None = None):
        super().__init__(ForceConfig(method="direct") if config is None else config)
        if self.config.method != "direct":
            raise ValueError(f"the GPU force solver computes the direct sum: it needs method='direct', got "
                             f"{self.config.method!r} (the tree walk runs on the CPU)")
        numba_backend("cuda")

    def local_forces(self, kdk, mine, n_targets, potential):
        from ._kernels.cuda_gravity import gravity_accel_cuda

        return gravity_accel_cuda(mine, kdk.pos, kdk.mass, kdk._h(), self.G, potential)


# ---------------------------------------------------------------------------------------- decompositions
class Decomposition:
    """Which particles a rank holds, and how the active set, the KETJU regions and their buffer-zone
    neighbours, and the output are gathered and scattered over the ranks of ``comm`` (None:
    ``MPI.COMM_WORLD`` when mpi4py is importable). The interface; implementations: :class:`ReplicatedData`,
    :class:`nbody.domain.DomainDecomposition`. A decomposition serves one :class:`HierarchicalKDK`
    (``kdk``: its arrays, counters and timers).
    """

    #: True when the arrays hold this rank's particles only
    domain = False
    #: per-particle arrays the decomposition adds to the integrator's
    extra_arrays: tuple = ()

    def __init__(self, comm=None):
        self.comm = get_comm(comm)
        self.size, self.rank = getattr(self.comm, "size", 1), getattr(self.comm, "rank", 0)

    def attach(self, kdk):
        """Called once by the integrator it serves, after its particle arrays are set."""

    def allgather(self, obj):
        return self.comm.allgather(obj) if self.size > 1 else [obj]

    # ---- collectives (every rank calls them)
    def next_time(self, ti_end) -> int:
        """The next time (integer timeline) at which any step of any rank ends."""
        raise NotImplementedError

    def all_ranks(self, flag: bool) -> bool:
        raise NotImplementedError

    def max_over_ranks(self, k):
        raise NotImplementedError

    def sum_over_ranks(self, values: tuple) -> tuple:
        raise NotImplementedError

    # ---- the synchronisation points
    def local_rows(self, kdk, a):
        """This rank's rows of a per-particle array of all particles (a restart's accelerations)."""
        raise NotImplementedError

    def record_work(self, kdk, targets, interactions):
        """The cost of a force call (``interactions`` per target, or None)."""
        raise NotImplementedError

    def redistribute(self, kdk, ti, ending, a_full, region_step):
        """Before the bookkeeping of a synchronisation at ``ti``: (ending, a_full) after any migration."""
        raise NotImplementedError

    # ---- KETJU regions
    def find_regions(self, kdk, ending):
        """This rank's regions (member index arrays) among the synchronised particles ``ending``."""
        raise NotImplementedError

    def neighbours(self, kdk, bins_full):
        """The buffer-zone non-members: (this rank's ones near each region it sees, for the bin cap; per
        region of this rank, the (pos, vel, mass, bin) of all of them, for the region timestep)."""
        raise NotImplementedError

    def owned_regions(self, kdk) -> list:
        """The regions this rank integrates (collective)."""
        raise NotImplementedError

    def region_comm(self, kdk, k):
        """The communicator of the ranks integrating region k, or None when one rank does."""
        raise NotImplementedError

    def share_region_results(self, kdk, results: dict) -> dict:
        """The region results every rank needs (collective)."""
        raise NotImplementedError

    # ---- output
    def state(self, kdk, ptype=None, root=None):
        raise NotImplementedError

    def global_counters(self, kdk) -> dict:
        raise NotImplementedError

    def n_total(self, kdk) -> int:
        raise NotImplementedError


class ReplicatedData(Decomposition):
    """Replicated data: every rank holds all particles (``comm`` None: ``MPI.COMM_WORLD`` when mpi4py is
    importable). With several ranks the forces of the active set are split over them (by the force solver)
    and so are the KETJU region integrations: region k on rank k mod size, or, with fewer regions than
    ranks and an integrator that shares its GBS substeps over a communicator, each region by a group of
    ranks (KETJU splits large regions over tasks the same way; the MPI GBS is bitwise the serial one).
    On one rank every operation is the identity.
    """

    def __init__(self, comm=None):
        super().__init__(comm)
        self._region_comms = {}

    # ---- collectives
    def next_time(self, ti_end):
        return int(ti_end.min())

    def all_ranks(self, flag: bool) -> bool:
        return flag

    def max_over_ranks(self, k):
        return k

    def sum_over_ranks(self, values: tuple) -> tuple:
        return values

    # ---- the synchronisation points
    def local_rows(self, kdk, a):
        """The rows of this rank's particles in a per-particle array of all of them."""
        return a

    def record_work(self, kdk, targets, interactions):
        """The cost of a force call (the domain decomposition balances it)."""

    def redistribute(self, kdk, ti, ending, a_full, region_step):
        """Before the bookkeeping of a synchronisation at ``ti``: (ending, a_full) after any migration."""
        return ending, a_full

    def find_regions(self, kdk, ending):
        """This rank's KETJU regions (member index arrays) among the synchronised particles ``ending``."""
        bh = np.flatnonzero(kdk.ptype == PTYPE_BH)
        return find_regions(kdk.pos, bh, kdk.r_ketju, candidates=ending)

    def neighbours(self, kdk, bins_full):
        """The buffer-zone non-members of the regions: (this rank's neighbour indices, for the bin cap;
        per region of this rank, the (pos, vel, mass, bin) of all its neighbours)."""
        r_k = kdk.r_ketju
        buf2 = (kdk.region_config.buffer_factor * r_k) ** 2
        local, data = [], []
        for r in kdk.regions:
            near, d2 = kdk._near_smbhs(kdk.pos[r[kdk.ptype[r] == PTYPE_BH]], np.sqrt(buf2))
            # particles inside a sphere that could not join (not synchronised)
            kdk.counters["late_joiners"] += int(np.sum((d2 < r_k**2) & (kdk.region_of[near] < 0)))
            nb = near[(d2 < buf2) & (kdk.region_of[near] < 0)]
            local.append(nb)
            data.append((kdk.pos[nb], kdk.vel[nb], kdk.mass[nb], bins_full[nb]))
        return local, data

    # ---- region integration
    def splits_regions(self, kdk) -> bool:
        """Fewer regions than ranks and an integrator that shares its GBS substeps over a communicator."""
        return (self.size > 1 and 0 < len(kdk.regions) < self.size
                and getattr(kdk.region_config.integrator, "accepts_comm", False))

    def region_comm(self, kdk, k):
        """The sub-communicator of the ranks integrating region k (collective; cached per region count),
        or None when a region is integrated by one rank."""
        if not self.splits_regions(kdk):
            return None
        n = len(kdk.regions)
        if n not in self._region_comms:
            self._region_comms[n] = self.comm.Split(color=self.rank % n, key=self.rank)
        return self._region_comms[n]

    def owned_regions(self, kdk) -> list:
        """The regions this rank integrates: k mod size == rank, or, when regions are split, the ranks r
        with r mod n_regions == k."""
        if self.splits_regions(kdk):
            self.region_comm(kdk, 0)  # collective: every rank creates the split before any rank uses it
            return [k for k in range(len(kdk.regions)) if self.rank % len(kdk.regions) == k]
        return [k for k in range(len(kdk.regions)) if k % self.size == self.rank]

    def share_region_results(self, kdk, results: dict) -> dict:
        """Every rank needs every region's result (one copy from each rank group)."""
        if self.size > 1:
            if self.splits_regions(kdk):
                results = {k: v for k, v in results.items() if self.region_comm(kdk, k).rank == 0}
            merged = {}
            for part in self.comm.allgather(results):
                merged.update(part)
            results = merged
        return results

    # ---- output
    def state(self, kdk, ptype=None, root=None):
        if ptype is None:
            return kdk
        sel = kdk.ptype == ptype
        names = ("pos", "vel", "mass", "ptype", "ids", "eps", "acc_mag")
        return types.SimpleNamespace(t=kdk.t, G=kdk.G, merger_events=kdk.merger_events,
                                     **{k: getattr(kdk, k)[sel] for k in names})

    def global_counters(self, kdk) -> dict:
        return dict(kdk.counters)

    def n_total(self, kdk) -> int:
        return len(kdk.mass)


# ---------------------------------------------------------------------------------------- the integrator
class HierarchicalKDK:
    """The time integrator of a galaxy simulation (softened bulk + KETJU regions), composed of a force
    solver and a decomposition (module docstring).

    Parameters
    ----------
    particles : object with ``pos``, ``vel``, ``mass``, ``ptype`` (GADGET types, :data:`nbody.particles.PTYPE_BH`
        for SMBHs) and optionally ``ids`` (e.g. :class:`nbody.particles.Particles`); internal units. With the
        domain decomposition every rank passes the full initial set (see
        :class:`nbody.domain.DomainDecomposition`)
    eps : Plummer-equivalent softening, per particle or one for all
    steps : :class:`StepConfig`
    forces : force solver (default :class:`ReplicatedForces` with :class:`ForceConfig` defaults)
    regions : :class:`RegionConfig`, or None (no regions: SMBHs are softened particles)
    decomposition : :class:`ReplicatedData` (default, on ``MPI.COMM_WORLD`` when mpi4py is importable) or
        :class:`nbody.domain.DomainDecomposition`
    t : the time of the state
    acc_mag : |a| of the previous force evaluation per particle (a restart: the relative criterion's a_old)
    on_sync : callback(engine, ending_indices) after every synchronisation point (diagnostics)
    merger_events : the SMBH mergers of the run so far (a restart; with the domain decomposition, given on
        rank 0 only, whose :meth:`state` gathers them)
    """

    #: per-particle state arrays (kept aligned by removals and, in the domain decomposition, migrations)
    _particle_arrays = ("pos", "vel", "mass", "ptype", "eps", "ids", "acc_mag", "bins", "ti_begin", "acc_kick",
                        "region_of")

    def __init__(self, particles, eps, steps: StepConfig | None = None, forces=None,
                 regions: RegionConfig | None = None, decomposition=None, *, t=0.0, acc_mag=None, on_sync=None,
                 merger_events=None):
        self.pos = np.ascontiguousarray(particles.pos, dtype=np.float64).copy()
        self.vel = np.ascontiguousarray(particles.vel, dtype=np.float64).copy()
        self.mass = np.ascontiguousarray(particles.mass, dtype=np.float64).copy()
        n = len(self.mass)
        self.ptype = np.ascontiguousarray(np.broadcast_to(particles.ptype, (n,)), dtype=np.int64).copy()
        self.eps = np.ascontiguousarray(np.broadcast_to(eps, (n,)), dtype=np.float64).copy()
        ids = getattr(particles, "ids", None)
        self.ids = (np.arange(1, n + 1, dtype=np.uint64) if ids is None
                    else np.ascontiguousarray(ids, dtype=np.uint64).copy())
        if not np.all((self.eps >= 0) & np.isfinite(self.eps)):
            raise ValueError("softening eps must be finite and >= 0")
        self.steps = StepConfig() if steps is None else steps
        self.dt_max, self.eta, self.max_bin = self.steps.dt_max, self.steps.eta, self.steps.max_bin
        self.TB = 1 << self.max_bin
        self.solver = ReplicatedForces() if forces is None else forces
        self.decomposition = ReplicatedData() if decomposition is None else decomposition
        self.solver.validate(self.decomposition)
        self.comm = self.decomposition.comm
        self.G = self.solver.G
        if not (regions is None or isinstance(regions, RegionConfig)):
            raise TypeError(f"regions must be a RegionConfig or None, got {type(regions).__name__}")
        self.region_config = regions
        self.r_ketju = regions.r_ketju if regions is not None else 0.0
        if regions is not None:
            star = self.ptype != PTYPE_BH
            hmax = spline_radius(self.eps[star].max() if np.any(star) else 0.0)
            if self.r_ketju < hmax * (1 - 1e-12):
                raise ValueError(f"r_ketju = {self.r_ketju} must be >= {SPLINE_H_OVER_EPS} eps = {hmax} (the "
                                 "spline becomes Newtonian only there)")
            if not np.any(self.ptype == PTYPE_BH):
                raise ValueError(f"r_ketju > 0 but there is no SMBH (particle type {PTYPE_BH})")
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
        self.merger_events: list[dict] = list(merger_events or [])
        self._initialized = False
        self.last_a_full = None
        self.on_sync = on_sync
        self._particle_arrays = HierarchicalKDK._particle_arrays + self.decomposition.extra_arrays
        self.solver.attach(self)
        self.decomposition.attach(self)

    @property
    def backend(self) -> str:
        """Where the softened forces are computed: "cpu" or "cuda" (the force solver's)."""
        return self.solver.backend

    @property
    def domain(self) -> bool:
        """True when the arrays hold this rank's particles only (domain decomposition)."""
        return self.decomposition.domain

    # ------------------------------------------------------------------ forces
    def _h(self):
        return spline_radius(self.eps)

    def forces(self, targets, potential=False):
        """Softened accelerations (and potentials) on ``targets`` from all particles (collective)."""
        targets = np.ascontiguousarray(targets, dtype=np.int64)
        acc, pot, interactions = self.solver.forces(self, targets, potential)
        self.decomposition.record_work(self, targets, interactions)
        self.counters["force_evaluations"] += len(targets)
        return acc, pot

    def _internal(self, members, potential=False):
        return internal_softened_accelerations(self.pos[members], self.mass[members], self._h()[members], self.G,
                                               potential)

    # ------------------------------------------------------------------ sync bookkeeping
    def _post_sync(self, ti, ending, a_full):
        """After the closing kick of ``ending`` at time ``ti``: regions, opening-kick accelerations, bins."""
        region_step = self.r_ketju > 0 and self._is_region_step(ending)
        ending, a_full = self.decomposition.redistribute(self, ti, ending, a_full, region_step)
        if ti == 0:
            self.last_a_full = a_full
        t0 = time.perf_counter()
        self.acc_mag[ending] = np.linalg.norm(a_full, axis=1)
        self.acc_kick[ending] = a_full
        new_bins = timestep_bins(a_full, self.eps[ending], self.eta, self.dt_max, self.max_bin)
        bins_full = self.bins.copy()
        bins_full[ending] = new_bins
        if region_step:
            ending_mask = np.zeros(len(self.mass), dtype=bool)
            ending_mask[ending] = True
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

    def _is_region_step(self, ending):
        """All SMBHs (of all ranks) end their steps now (they share one bin): regions are rebuilt."""
        ending_mask = np.zeros(len(self.mass), dtype=bool)
        ending_mask[ending] = True
        return self.decomposition.all_ranks(bool(np.all(ending_mask[self.ptype == PTYPE_BH])))

    def _near_smbhs(self, bh_pos, radius):
        """(indices, squared distance to the nearest of the SMBHs at ``bh_pos``) of a set of particles
        containing all within ``radius`` of one of them (ascending indices). Uses the force solver's tree
        refitted at this sync's force call when there is one (O(log N) per SMBH), else a scan of all
        particles; the distances are computed by the same expression either way, so the selections agree
        exactly.
        """
        balls = [self.solver.ball(c, radius) for c in bh_pos]
        if any(b is None for b in balls):
            near = np.arange(len(self.mass))
        else:
            near = np.unique(np.concatenate(balls))
        x = self.pos[near]
        d2 = np.sum((x - bh_pos[0]) ** 2, axis=1)
        for cj in bh_pos[1:]:
            d2 = np.minimum(d2, np.sum((x - cj) ** 2, axis=1))
        return near, d2

    def _region_step(self, ending, ending_mask, a_full, bins_full):
        """Rebuild the regions among the synchronised particles, set their kick accelerations (the external
        field: the softened total minus the members' mutual softened forces) and the common bin of the
        regions and of their synchronised buffer-zone neighbours."""
        self.regions = self.decomposition.find_regions(self, ending)
        self.region_of[:] = -1
        for k, r in enumerate(self.regions):
            self.region_of[r] = k
        nb_local, nb_data = self.decomposition.neighbours(self, bins_full)
        row_of = self._row_map(ending)
        k_region = 0
        for r, (nbp, nbv, nbm, nbb) in zip(self.regions, nb_data):
            rows = row_of[r]
            if np.any(rows < 0):  # members are synchronised by construction; never kick with a stale row
                raise RuntimeError("KETJU region member not synchronised at its region step")
            a_int, _ = self._internal(r)
            self.acc_kick[r] = a_full[rows] - a_int
            k = bin_of_dt(self._region_dt(r, nbp, nbv, nbm), self.dt_max, self.max_bin)
            if len(nbb):
                k = max(k, int(nbb.max()))
            k_region = max(k_region, k)
        k_region = int(self.decomposition.max_over_ranks(k_region))
        for nb in nb_local:
            nb_end = nb[ending_mask[nb]]
            bins_full[nb_end] = np.maximum(bins_full[nb_end], k_region)
        for r in self.regions:
            bins_full[r] = k_region

    def _region_dt(self, r, nb_pos, nb_vel, nb_mass):
        """The timestep of region ``r`` (:func:`nbody.ketju.region_timestep`) given its neighbours' data."""
        rc = self.region_config
        nr = len(r)
        P, V = np.concatenate([self.pos[r], nb_pos]), np.concatenate([self.vel[r], nb_vel])
        M = np.concatenate([self.mass[r], nb_mass])
        is_bh = np.concatenate([self.ptype[r] == PTYPE_BH, np.zeros(len(nb_mass), dtype=bool)])
        m = self.mass[r]
        a_cm = m @ self.acc_kick[r] / m.sum()
        stars = r[self.ptype[r] != PTYPE_BH]
        eps_cm = self.eps[stars].min() if len(stars) else self.eps[r].min()
        if eps_cm == 0:
            eps_cm = self.r_ketju / SPLINE_H_OVER_EPS
        return region_timestep(P, V, M, is_bh, np.arange(nr), np.arange(nr, nr + len(nb_mass)), rc.eta_region,
                               self.r_ketju, a_cm, eps_cm, self.eta, rc.member_criterion)

    def initialize(self, a_full=None):
        """Forces, regions and timestep bins at the current (synchronised) state.

        ``a_full``: the softened accelerations of all particles at this state if known (a checkpoint
        stores them, so that a restart repeats the uninterrupted run bit for bit).
        """
        everyone = np.arange(len(self.mass))
        if a_full is None:
            a_full, _ = self.forces(everyone)
        else:
            if len(a_full) != len(self.mass):
                a_full = self.decomposition.local_rows(self, np.asarray(a_full))
            self.solver.restarted(self)
        a_full = np.ascontiguousarray(a_full, dtype=np.float64)
        self._post_sync(0, everyone, a_full)
        self._initialized = True

    # ------------------------------------------------------------------ the step
    def _integrate_region(self, k, dt):
        """Region k over dt in its centre-of-mass frame (KETJU: the CoM drifts; the tidal field entered
        through the kicks)."""
        r = self.regions[k]
        m = self.mass[r]
        M = m.sum()
        xc = m @ self.pos[r] / M
        vc = m @ self.vel[r] / M
        sub = self.decomposition.region_comm(self, k)
        kw = {} if sub is None else {"comm": sub}
        res = self.region_config.integrator.integrate(m, self.pos[r] - xc, self.vel[r] - vc,
                                                      self.ptype[r] == PTYPE_BH, self.ids[r], dt, **kw)
        res.pos = res.pos + xc + vc * dt
        res.vel = res.vel + vc
        return res

    def _integrate_regions(self, dt):
        t0 = time.perf_counter()
        mine = self.decomposition.owned_regions(self)
        if len(mine) > 1 and numba.get_num_threads() > 1:
            # regions are independent and the integrator's kernel releases the GIL: integrate them
            # side by side on the Numba threads' cores (same results as one after the other)
            results = dict(zip(mine, _region_pool().map(lambda k: self._integrate_region(k, dt), mine)))
        else:
            results = {k: self._integrate_region(k, dt) for k in mine}
        results = self.decomposition.share_region_results(self, results)
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
        self.solver.moved()
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
            ti_next = self.decomposition.next_time(ti_end)
            dt = (ti_next - ti) * base
            in_region = self.region_of >= 0
            free = np.flatnonzero(~in_region)
            drift(self.pos, self.vel, free, dt)
            self.solver.moved()
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
            self._post_sync(ti % self.TB, ending, a_full)
            if self.on_sync is not None:
                self.on_sync(self, ending)
        self.t = t_start + self.dt_max

    # ------------------------------------------------------------------ diagnostics
    def energy(self):
        """(kinetic, potential) at a synchronised time: softened pairs, Newtonian inside regions; with the
        domain decomposition the sums of all ranks' particles (collective)."""
        K = 0.5 * float(np.sum(self.mass * np.sum(self.vel**2, axis=1)))
        _, pot = self.forces(np.arange(len(self.mass)), potential=True)
        W = 0.5 * float(np.sum(self.mass * pot))
        h = self._h()
        for r in self.regions:
            W += region_energy_correction(self.pos[r], self.vel[r], self.mass[r], h[r], self.G)
        return self.decomposition.sum_over_ranks((K, W))

    def state(self, ptype=None, root=None):
        """The particles (all, or those of type ``ptype``) with t, G and merger_events; the domain
        decomposition gathers them from all ranks (to every rank, or to ``root`` only), same interface."""
        return self.decomposition.state(self, ptype, root)

    def global_counters(self) -> dict:
        """The counters of all ranks (the domain decomposition sums them; replicated: every rank's are the
        same)."""
        return self.decomposition.global_counters(self)

    @property
    def n_total(self) -> int:
        """Number of particles (on all ranks)."""
        return self.decomposition.n_total(self)
