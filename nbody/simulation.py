"""``nbody.Simulation``: KETJU-style galaxy simulations driven by a TOML config.

Internal units: G = 1 with length unit ``units.length_kpc`` kpc and mass unit
``units.mass_msun`` Msun; the velocity unit is sqrt(G M_u / L_u) and the time
unit L_u / V_u (both reported by :meth:`Simulation.unit_quantities`).

Example config (every key optional except the galaxies)::

    [units]
    length_kpc = 1.0
    mass_msun = 1e10

    [[ics.galaxies]]
    profile = "dehnen"        # hernquist | dehnen | plummer
    gamma = 1.5
    n = 20000
    mass = 1.0
    scale_radius = 1.0
    m_bh = 0.005
    seed = 1

    [[ics.galaxies]]
    profile = "dehnen"
    gamma = 1.5
    n = 20000
    m_bh = 0.005
    seed = 2

    [ics.merger]              # put the two galaxies on a Keplerian orbit
    enabled = true
    r0 = 10.0
    rp = 1.0
    e = 1.0

    [gravity]
    eps_star = 0.01
    backend = "auto"          # method = "direct": "cuda" sums the active set's forces on the GPU
    decomposition = "replicated"  # MPI: or "domain" (space-filling-curve domains, nbody.domain)

    [time]
    t_end = 50.0
    dt_max = 0.0625

    [ketju]
    r_ketju = 0.03            # >= 2.8 x the largest softening of the particle types present
    integrator = "fewbody"    # or "regularized" (nbody.RegularizedIntegrator, PN terms, mergers)
    pn = []                   # PN terms (regularized only): [], ["all"] or e.g. ["1PN", "2.5PN"]

    [output]
    dir = "run1"              # refused if it holds another run's files, unless overwrite = true
    snapshot_interval = 5.0

Outputs in ``output.dir`` (claimed by one run, see :class:`gpu.io.RunFolder`: a new run refuses a
folder holding another run's files unless ``output.overwrite = true``; ``manifest.json`` lists this
run's files and its status): ``snap_NNN.hdf5`` (GADGET-4 HDF5, types 1 dark matter,
4 stars, 5 SMBHs), ``bh_orbits.hdf5`` (time, separation, semi-major axis and
eccentricity of every SMBH pair, SMBH positions and velocities), ``energy.hdf5``,
``checkpoint.hdf5`` (the full state for an exact restart) and ``summary.json``
(profile: time in tree, regions, I/O).
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import time
from pathlib import Path

import astropy.units as _u
import numpy as np

from gpu import get_comm
from gpu.cuda import numba_backend
from gpu.config import ConfigError, load_config, load_toml, param, to_dict
from gpu.io import RunFolder, atomic_h5, code_version, full_config, write_json, write_results
from gpu.progress import progress

from .ics import combine, galaxy_merger, spherical_galaxy
from .ketju import NewtonianFewBody, RegularizedRegionIntegrator
from .orbits import elements
from .particles import PTYPE_BH, PTYPE_DM, PTYPE_STAR, Particles
from .snapshot import SIMULATED_TYPES, particles_from_snapshot
from .units import UnitSystem
from .softening import SPLINE_H_OVER_EPS
from .domain import DomainDecomposition, DomainForces
from .timestepping import (ForceConfig, GPUDirectForces, HierarchicalKDK, RegionConfig, ReplicatedData, ReplicatedForces,
                           StepConfig)

log = logging.getLogger(__name__)

from .regularized import PN_TERMS  # the PN terms the regularized integrator implements
from .tree import SIM_GROUP_SIZE, SIM_LEAF_SIZE

@dataclasses.dataclass
class UnitsConfig:
    length_kpc: float = param(1.0, gt=0, doc="length unit [kpc]")
    mass_msun: float = param(1e10, gt=0, doc="mass unit [Msun]")


@dataclasses.dataclass
class GalaxyConfig:
    n: int = param(10000, ge=1, doc="number of stellar (or dark-matter) particles")
    profile: str = param("hernquist", choices=("hernquist", "dehnen", "plummer"))
    gamma: float = param(1.0, ge=0, lt=3, doc="Dehnen inner slope (profile = 'dehnen')")
    mass: float = param(1.0, gt=0, doc="galaxy mass [mass units]")
    scale_radius: float = param(1.0, gt=0, doc="scale radius a [length units]")
    r_max: float = param(100.0, gt=0, doc="truncation radius in units of a")
    m_bh: float = param(0.0, ge=0, doc="central SMBH mass (0: none)")
    particle_type: str = param("stars", choices=("stars", "dark_matter"))
    seed: int = param(0, ge=0)
    position: list[float] = param(default_factory=lambda: [0.0, 0.0, 0.0])
    velocity: list[float] = param(default_factory=lambda: [0.0, 0.0, 0.0])


@dataclasses.dataclass
class MergerConfig:
    enabled: bool = param(False)
    r0: float = param(10.0, gt=0, doc="initial separation of the galaxy centres")
    rp: float = param(1.0, gt=0, doc="pericentre of the Keplerian orbit")
    e: float = param(1.0, ge=0, doc="orbital eccentricity (1: parabolic)")


@dataclasses.dataclass
class ICConfig:
    galaxies: list[GalaxyConfig] = param(default_factory=list)
    merger: MergerConfig = param(default_factory=MergerConfig)
    snapshot: str = param("", doc="read the initial conditions from this GADGET snapshot instead")


@dataclasses.dataclass
class GravityConfig:
    method: str = param("tree", choices=("tree", "direct"))
    theta: float = param(0.5, gt=0, le=1.5, doc="geometric opening angle")
    criterion: str = param("geometric", choices=("geometric", "relative"))
    alpha: float = param(0.005, gt=0, doc="relative opening criterion accuracy")
    leaf_size: int = param(SIM_LEAF_SIZE, ge=1, doc="most particles per tree leaf")
    quadrupole: bool = param(True)
    group_size: int = param(SIM_GROUP_SIZE, ge=0, doc="particles sharing one tree walk (0: one walk per particle; the domain "
                            "decomposition's exported targets are always walked one by one)")
    tree_rebuild_fraction: float = param(0.1, ge=0, le=1, doc="rebuild the tree once the force evaluations since "
                                         "the last build reach this fraction of N; refit it in between")
    eps_star: float = param(0.01, gt=0, doc="Plummer-equivalent softening of stars [length units]")
    eps_dm: float = param(0.03, gt=0, doc="softening of dark matter")
    eps_bh: float = param(0.01, gt=0, doc="softening of SMBHs (only felt outside regions)")
    decomposition: str = param("replicated", choices=("replicated", "domain"),
                               doc="MPI: 'replicated' (every rank holds all particles) or 'domain' (each rank "
                               "owns a space-filling-curve domain; see nbody.domain)")
    backend: str = param("auto", choices=("auto", "cpu", "cuda"),
                         doc="where method = 'direct' sums the active set's forces: 'cuda' on the GPU (numba.cuda; "
                         "an error without a device), 'auto' on the GPU when one is usable; the tree and the "
                         "domain decomposition run on the CPU")


@dataclasses.dataclass
class TimeConfig:
    t_end: float = param(1.0, gt=0, doc="end time [time units]")
    dt_max: float = param(0.0625, gt=0, doc="longest timestep; outputs fall on multiples of it; must resolve the "
                          "central dynamical time (GADGET's criterion allows long steps where |a| -> 0)")
    eta: float = param(0.02, gt=0, le=1, doc="GADGET timestep accuracy: dt = sqrt(2 eta eps/|a|)")
    max_bin: int = param(24, ge=0, le=60, doc="deepest timestep bin (dt_max/2^max_bin)")


@dataclasses.dataclass
class KetjuConfig:
    enabled: bool = param(True)
    r_ketju: float = param(0.03, gt=0, doc="region radius, >= 2.8 x the largest of gravity.eps_star / eps_dm "
                           "of the particle types present")
    integrator: str = param("regularized", choices=("regularized", "fewbody"))
    tolerance: float = param(1e-10, gt=0, lt=1, doc="regularized integrator tolerance")
    pn: list[str] = param(default_factory=list, doc="PN terms: [] / ['all'] / e.g. ['1PN','2PN','2.5PN']")
    merger_radius_rs: float = param(12.0, gt=0)
    eta_region: float = param(0.1, gt=0, le=1)
    buffer_factor: float = param(2.0, ge=1)
    fewbody_eta: float = param(0.02, gt=0, le=0.5)


@dataclasses.dataclass
class OutputConfig:
    dir: str = param("nbody_run")
    snapshot_interval: float = param(0.0, ge=0, doc="time between snapshots (0: first and last only)")
    energy_interval: float = param(0.0, ge=0, doc="time between energy diagnostics (0: every snapshot)")
    checkpoint_interval: float = param(0.0, ge=0, doc="time between checkpoints (0: every snapshot)")
    quiet: bool = param(False)
    overwrite: bool = param(False, doc="a new run removes the files of an earlier run found in output.dir "
                            "(otherwise a folder holding another run's files is refused)")


#: the files ``nbody run`` writes into ``output.dir`` (those an overwrite may remove)
OUTPUT_PATTERNS = ("snap_*.hdf5", "checkpoint.hdf5", "bh_orbits.hdf5", "energy.hdf5", "summary.json")


@dataclasses.dataclass
class SimulationConfig:
    units: UnitsConfig = param(default_factory=UnitsConfig)
    ics: ICConfig = param(default_factory=ICConfig)
    gravity: GravityConfig = param(default_factory=GravityConfig)
    time: TimeConfig = param(default_factory=TimeConfig)
    ketju: KetjuConfig = param(default_factory=KetjuConfig)
    output: OutputConfig = param(default_factory=OutputConfig)

    def __post_init__(self):
        # cross-key constraints at load time (gpu.config.from_dict builds the dataclass): a config that
        # loads is one that runs
        validate(self)


def _pn_setting(pn):
    """Validate the PN list and turn it into the integrator's argument: "none", "all" or a tuple."""
    pn = [str(p) for p in (pn or [])]
    if not pn or pn == ["none"]:
        return "none"
    if pn == ["all"]:
        return "all"
    lower = {t.lower(): t for t in PN_TERMS}
    out = []
    for p in pn:
        if p.lower() not in lower:
            raise ConfigError(f"config key 'ketju.pn' has unknown PN term {p!r}; valid terms are "
                              f"{list(PN_TERMS)}, or ['all'] / []")
        out.append(lower[p.lower()])
    return tuple(out)


def validate(cfg: SimulationConfig, has_bh: bool | None = None, ptypes=None):
    """Cross-key checks that single-key ranges cannot express; raise ConfigError naming the keys.

    Called when a :class:`SimulationConfig` is built (so by :func:`gpu.config.load_config`) and again
    with what the initial conditions hold (``has_bh``, ``ptypes``: the particle types present) once they
    are read from a snapshot. Without those arguments the galaxies in ``ics.galaxies`` are used.
    """
    k = cfg.ketju
    pn = _pn_setting(k.pn)
    if cfg.gravity.backend == "cuda" and (cfg.gravity.method != "direct" or cfg.gravity.decomposition != "replicated"):
        raise ConfigError("config key 'gravity.backend' = 'cuda' needs gravity.method = 'direct' and "
                          "gravity.decomposition = 'replicated' (the GPU path is the direct sum of the active set; "
                          f"got method = {cfg.gravity.method!r}, decomposition = {cfg.gravity.decomposition!r})")
    galaxies = cfg.ics.galaxies
    if not cfg.ics.snapshot:
        if ptypes is None:
            ptypes = {PTYPE_STAR if g.particle_type == "stars" else PTYPE_DM for g in galaxies}
        if has_bh is None and galaxies:
            has_bh = any(g.m_bh > 0 for g in galaxies)
    if k.enabled:
        if ptypes is not None:
            # GADGET's cubic spline is Newtonian beyond h = SPLINE_H_OVER_EPS x eps (Springel 2005 eq. 4):
            # the region must contain that radius for every softened (non-SMBH) particle type present
            soft = [(cfg.gravity.eps_star, "gravity.eps_star")] if PTYPE_STAR in ptypes else []
            soft += [(cfg.gravity.eps_dm, "gravity.eps_dm")] if PTYPE_DM in ptypes else []
            if soft:
                eps, key = max(soft)
                h = SPLINE_H_OVER_EPS * eps
                if k.r_ketju < h * (1 - 1e-12):
                    raise ConfigError(
                        f"config key 'ketju.r_ketju' = {k.r_ketju:g} must be >= {SPLINE_H_OVER_EPS:g} * {key} = "
                        f"{h:g} (valid range [{h:g}, inf): the spline softening of {key} = {eps:g} is Newtonian "
                        f"only beyond {SPLINE_H_OVER_EPS:g} eps); raise ketju.r_ketju or lower {key}")
        if has_bh is False:
            raise ConfigError("config key 'ketju.enabled' is true but the initial conditions hold no SMBH: set "
                              "ics.galaxies[].m_bh > 0 (or ketju.enabled = false)")
        if pn != "none" and k.integrator != "regularized":
            raise ConfigError("config key 'ketju.pn' needs ketju.integrator = 'regularized' (the built-in "
                              "'fewbody' integrator is Newtonian)")
    if not cfg.ics.snapshot and not galaxies:
        raise ConfigError("config key 'ics.galaxies' is required (at least one galaxy) unless ics.snapshot is given")
    if cfg.ics.merger.enabled:
        if len(galaxies) != 2:
            raise ConfigError(f"config key 'ics.merger.enabled' needs exactly two ics.galaxies, got "
                              f"{len(galaxies)}")
        if cfg.ics.merger.rp > cfg.ics.merger.r0:
            raise ConfigError("config key 'ics.merger.rp' must be <= ics.merger.r0")
    for i, g in enumerate(galaxies):
        for key in ("position", "velocity"):
            if len(getattr(g, key)) != 3:
                raise ConfigError(f"config key 'ics.galaxies[{i}].{key}' must have 3 components")
    dt = cfg.time.dt_max
    for key in ("snapshot_interval", "energy_interval", "checkpoint_interval"):
        v = getattr(cfg.output, key)
        if v > 0 and not _on_grid(v, dt):
            raise ConfigError(f"config key 'output.{key}' = {v} must be a multiple of time.dt_max = {dt}")
    if not _on_grid(cfg.time.t_end, dt):
        raise ConfigError(f"config key 'time.t_end' = {cfg.time.t_end} must be a multiple of time.dt_max = {dt}")
    return pn


@dataclasses.dataclass
class SimulationResult:
    """What :meth:`Simulation.run` returns: final particles, diagnostics and the files written."""

    particles: Particles
    time: float
    energy: dict
    bh_log: dict
    mergers: list
    profile: dict
    files: dict


class Simulation:
    """A KETJU-style galaxy simulation.

    Parameters
    ----------
    config : SimulationConfig, dict, TOML text or path to a TOML file
    particles : optional :class:`nbody.Particles` to start from (instead of ``config.ics``), types 1, 4, 5
    comm : MPI communicator (default: COMM_WORLD under mpiexec, else serial)
    region_integrator : optional object overriding the one chosen by ``ketju.integrator``

    Usage::

        sim = Simulation("merger.toml")
        result = sim.run()
        result.bh_log["a"], result.bh_log["e"]
    """

    def __init__(self, config, particles: Particles | None = None, comm=None, region_integrator=None):
        self.config_text = None
        if isinstance(config, SimulationConfig):
            cfg = config
        elif isinstance(config, (str, Path)) and not (isinstance(config, str) and "\n" in config):
            data, self.config_text = load_toml(config)
            cfg = load_config(data, SimulationConfig)
        else:
            cfg = load_config(config, SimulationConfig)
            if isinstance(config, str):
                self.config_text = config
        self.cfg = cfg
        self.units = UnitSystem(mass=cfg.units.mass_msun * _u.Msun, length=cfg.units.length_kpc * _u.kpc)
        if particles is not None and not np.all(np.isin(particles.ptype, SIMULATED_TYPES)):
            raise ConfigError(f"particles: ptype must be 1 (dark matter), 4 (stars) or 5 (black holes), got "
                              f"{sorted(set(particles.ptype.tolist()) - set(SIMULATED_TYPES))}")
        self.comm = get_comm(comm)
        self.rank = getattr(self.comm, "rank", 0)
        self.outdir = Path(cfg.output.dir)
        self.pn = validate(cfg, None)
        self._gpu_forces()  # "cuda" without a device: GPUUnavailableError now, before any work or output
        self._particles = particles
        self._region_integrator = region_integrator
        self.engine = None
        self.folder = None  # gpu.io.RunFolder of output.dir, claimed by run()
        self._continuing = False  # run() continues the run recorded in output.dir (restart)
        self.block = 0
        self.bh_log = {"time": [], "pairs": [], "sep": [], "a": [], "e": [], "bh_pos": [], "bh_vel": [], "bh_ids": []}
        self.energy_log = {"time": [], "kinetic": [], "potential": [], "lost": []}
        self.timers = {"io": 0.0, "ics": 0.0}

    # ------------------------------------------------------------------ units
    def unit_quantities(self) -> dict:
        """The internal unit system (``self.units``, G = 1) as astropy Quantities."""
        import astropy.units as u

        L, M = self.cfg.units.length_kpc, self.cfg.units.mass_msun
        return {"length": L * u.kpc, "mass": M * u.Msun, "velocity": self.units.velocity,
                "time": self.units.time.to(u.Myr)}

    @property
    def c_internal(self) -> float:
        """Speed of light in internal velocity units."""
        return self.units.c

    # ------------------------------------------------------------------ set-up
    def make_initial_conditions(self) -> Particles:
        """Particles from ``config.ics`` (galaxies, optional merger orbit, or a snapshot)."""
        ic = self.cfg.ics
        if ic.snapshot:
            return particles_from_snapshot(ic.snapshot, types=SIMULATED_TYPES)
        gals = []
        for g in ic.galaxies:
            p = spherical_galaxy(g.n, g.profile, g.mass, g.scale_radius, g.gamma, g.m_bh, r_max=g.r_max,
                                 ptype=PTYPE_STAR if g.particle_type == "stars" else PTYPE_DM, seed=g.seed)
            gals.append(p.shifted(g.position, g.velocity))
        if ic.merger.enabled:
            return galaxy_merger(gals[0], gals[1], ic.merger.r0, ic.merger.rp, ic.merger.e)
        return combine(gals)

    def _make_integrator(self):
        if self._region_integrator is not None:
            return self._region_integrator
        k = self.cfg.ketju
        if k.integrator == "fewbody":
            return NewtonianFewBody(eta=k.fewbody_eta)
        return RegularizedRegionIntegrator(tolerance=k.tolerance, pn=self.pn, c=self.c_internal,
                                           merger_radius_rs=k.merger_radius_rs)

    def _softening(self, ptype):
        g = self.cfg.gravity
        return np.where(ptype == PTYPE_BH, g.eps_bh, np.where(ptype == PTYPE_DM, g.eps_dm, g.eps_star))

    def _build_engine(self, p: Particles, t: float, acc_mag=None, layout=None, merger_events=None):
        order = np.lexsort((p.ids, p.ptype))  # GADGET order: by type, then ID
        p = Particles.from_arrays(p.mass[order].astype(np.float64), p.pos[order].astype(np.float64),
                                  p.vel[order].astype(np.float64), p.ptype[order], ids=p.ids[order].astype(np.uint64))
        if acc_mag is not None:
            acc_mag = np.asarray(acc_mag)[order]
        validate(self.cfg, has_bh=bool(np.any(p.ptype == PTYPE_BH)),
                 ptypes=set(np.unique(p.ptype[p.ptype != PTYPE_BH]).tolist()))
        g, tm, k = self.cfg.gravity, self.cfg.time, self.cfg.ketju
        steps = StepConfig(dt_max=tm.dt_max, eta=tm.eta, max_bin=tm.max_bin)
        force_cfg = ForceConfig(method=g.method, theta=g.theta, criterion=g.criterion, alpha=g.alpha,
                                leaf_size=g.leaf_size, quadrupole=g.quadrupole, group_size=g.group_size,
                                tree_rebuild_fraction=g.tree_rebuild_fraction)
        regions = (RegionConfig(k.r_ketju, self._make_integrator(), eta_region=k.eta_region,
                                buffer_factor=k.buffer_factor) if k.enabled else None)
        if g.decomposition == "domain":
            if layout is not None:
                layout = {key: np.asarray(v)[order] for key, v in layout.items()}
            forces, decomposition = DomainForces(force_cfg), DomainDecomposition(self.comm, layout=layout)
        elif self._gpu_forces():
            forces, decomposition = GPUDirectForces(force_cfg), ReplicatedData(self.comm)
        else:
            forces, decomposition = ReplicatedForces(force_cfg), ReplicatedData(self.comm)
        self.engine = HierarchicalKDK(p, self._softening(p.ptype), steps, forces, regions, decomposition, t=t,
                                      acc_mag=acc_mag, merger_events=merger_events)

    def _gpu_forces(self) -> bool:
        """True when the active set's direct sum runs on the GPU (``gravity.backend``; only the replicated
        direct sum has a GPU path). "cuda" without a device raises :class:`gpu.GPUUnavailableError`."""
        g = self.cfg.gravity
        if g.method != "direct" or g.decomposition != "replicated":
            return False
        return numba_backend(g.backend) == "cuda"

    # ------------------------------------------------------------------ state
    @property
    def particles(self) -> Particles:
        e = self.engine.state()  # the domain engine gathers all ranks' particles (collective)
        return Particles.from_arrays(e.mass.copy(), e.pos.copy(), e.vel.copy(), e.ptype.copy(), ids=e.ids.copy(),
                                     time=e.t, units=self.units)

    @property
    def time(self) -> float:
        return self.engine.t if self.engine is not None else 0.0

    def _log_bh(self):
        e = self.engine.state(PTYPE_BH)
        bh = np.flatnonzero(e.ptype == PTYPE_BH)
        pairs, sep, a, ecc = [], [], [], []
        for i in range(len(bh)):
            for j in range(i + 1, len(bh)):
                bi, bj = bh[i], bh[j]
                el = elements(e.mass[bi], e.mass[bj], e.pos[bi], e.pos[bj], e.vel[bi], e.vel[bj], e.G)
                pairs.append((int(e.ids[bi]), int(e.ids[bj])))
                sep.append(el["separation"])
                a.append(el["a"])
                ecc.append(el["e"])
        L = self.bh_log
        L["time"].append(e.t)
        L["pairs"].append(pairs)
        L["sep"].append(sep)
        L["a"].append(a)
        L["e"].append(ecc)
        L["bh_pos"].append(e.pos[bh].copy())
        L["bh_vel"].append(e.vel[bh].copy())
        L["bh_ids"].append(e.ids[bh].copy())

    def _log_energy(self):
        K, W = self.engine.energy()
        self.energy_log["time"].append(self.engine.t)
        self.energy_log["kinetic"].append(K)
        self.energy_log["potential"].append(W)
        events = self.engine.state(PTYPE_BH).merger_events
        self.energy_log["lost"].append(float(sum(ev.get("energy_lost", 0.0) for ev in events)))

    def bh_arrays(self) -> dict:
        """The SMBH orbit log as arrays: time (T,), sep/a/e (T, n_pairs) padded with NaN after mergers."""
        L = self.bh_log
        npair = max((len(p) for p in L["pairs"]), default=0)

        def pad(rows):
            out = np.full((len(rows), npair), np.nan)
            for i, r in enumerate(rows):
                out[i, : len(r)] = r
            return out

        return {"time": np.asarray(L["time"]), "sep": pad(L["sep"]), "a": pad(L["a"]), "e": pad(L["e"])}

    # ------------------------------------------------------------------ I/O
    def snapshot_path(self, number: int) -> Path:
        return self.outdir / f"snap_{number:03d}.hdf5"

    def write_snapshot(self, number: int) -> Path:
        from .snapshot import gadget_units, snapshot_from_particles, write_snapshot

        t0 = time.perf_counter()
        e = self.engine.state(root=0)  # the domain engine gathers on rank 0 only (None elsewhere)
        if e is None:
            self._record(self.snapshot_path(number), time=self.time)
            self.timers["io"] += time.perf_counter() - t0
            return self.snapshot_path(number)
        p = Particles.from_arrays(e.mass, e.pos, e.vel, e.ptype, ids=e.ids, time=e.t, units=self.units)
        U = self.unit_quantities()
        snap = snapshot_from_particles(p, {"Time": e.t}, gadget_units(U["length"], U["mass"], U["velocity"]),
                                       types=SIMULATED_TYPES)
        path = self.snapshot_path(number)
        if self.rank == 0:
            write_snapshot(path, snap, use_mass_table=False, config=self.cfg)
        self._record(path, time=self.time)
        self.timers["io"] += time.perf_counter() - t0
        return path

    def _record(self, path, **meta):
        """List a written file in the run folder's manifest (when run() claimed the folder)."""
        if self.folder is not None:
            self.folder.add(path, **meta)

    def write_checkpoint(self) -> Path:
        """The complete state at a synchronised time (exact restart)."""
        t0 = time.perf_counter()
        path = self.outdir / "checkpoint.hdf5"
        e = self.engine.state(root=0)
        if self.rank == 0:
            with atomic_h5(path) as f:
                f.attrs["time"] = e.t
                f.attrs["block"] = self.block
                f.attrs["snap_number"] = self._snap_number
                f.attrs["config"] = self.config_text or repr(to_dict(self.cfg))
                f.attrs["code_version"] = code_version()
                f.attrs["config_full"] = json.dumps(full_config(self.cfg))
                units = self._checkpoint_units()
                for k in ("pos", "vel", "mass", "ptype", "ids", "acc_mag", "last_a_full"):
                    f.create_dataset(k, data=getattr(e, k)).attrs["units"] = units[k]
                if self.engine.domain:  # which rank held each particle, in which row (exact restart)
                    f.attrs["domain_size"] = getattr(self.comm, "size", 1)
                    for k in ("owner", "row", "cost"):
                        f.create_dataset(f"domain/{k}", data=getattr(e, k)).attrs["units"] = units[k]
                for k in ("time", "kinetic", "potential", "lost"):
                    f.create_dataset(f"energy/{k}", data=np.asarray(self.energy_log[k], dtype=float)
                                     ).attrs["units"] = units[k]
                f.attrs["bh_log"] = _json_dump(self.bh_log)
                f.attrs["mergers"] = _json_dump(e.merger_events)
        self._record(path, time=self.time)
        self.timers["io"] += time.perf_counter() - t0
        return path

    def _checkpoint_units(self) -> dict:
        """``units`` attribute of each checkpoint dataset (internal units, G = 1)."""
        Q = self.unit_quantities()
        L, V, T = str(Q["length"]), str(Q["velocity"]), str(Q["time"])
        energy = str((Q["mass"] * Q["velocity"] ** 2).to("Msun km2 / s2"))
        acc = f"{V} / ({T})"
        return {"pos": L, "vel": V, "mass": str(Q["mass"]), "ptype": "1", "ids": "1", "acc_mag": acc,
                "last_a_full": acc, "owner": "1", "row": "1", "cost": "1", "time": T, "kinetic": energy,
                "potential": energy, "lost": energy}

    def _write_logs(self):
        t0 = time.perf_counter()
        if self.rank == 0:
            arr = self.bh_arrays()
            L = self.bh_log
            params = {"n_bh_pairs": arr["sep"].shape[1] if arr["sep"].ndim == 2 else 0}
            data = {"time": arr["time"], "separation": arr["sep"], "a": arr["a"], "e": arr["e"]}
            if L["bh_pos"] and all(len(x) == len(L["bh_pos"][0]) for x in L["bh_pos"]):
                data["bh_pos"] = np.asarray(L["bh_pos"])
                data["bh_vel"] = np.asarray(L["bh_vel"])
                data["bh_ids"] = np.asarray(L["bh_ids"])
            Q = self.unit_quantities()
            U = {k: str(v) for k, v in Q.items()}
            energy = str((Q["mass"] * Q["velocity"] ** 2).to("Msun km2 / s2"))
            U.update({"time": U["time"], "separation": U["length"], "a": U["length"], "e": "1", "bh_pos": U["length"],
                      "bh_vel": U["velocity"], "bh_ids": "1", "kinetic": energy, "potential": energy, "lost": energy})
            write_results(self.outdir / "bh_orbits.hdf5", data, params=params, units=U, config_text=self.config_text,
                          config=self.cfg)
            en = {k: np.asarray(v, dtype=float) for k, v in self.energy_log.items()}
            write_results(self.outdir / "energy.hdf5", en, units=U, config_text=self.config_text, config=self.cfg)
        self._record(self.outdir / "bh_orbits.hdf5", time=self.time)
        self._record(self.outdir / "energy.hdf5", time=self.time)
        self.timers["io"] += time.perf_counter() - t0

    # ------------------------------------------------------------------ run
    def _restore(self, restart):
        """Set up the engine from a checkpoint (restart=True/'checkpoint') or a snapshot path."""
        import h5py

        if restart is True or restart == "checkpoint":
            path = self.outdir / "checkpoint.hdf5"
            if not path.exists():
                raise FileNotFoundError(f"restart requested but '{path}' does not exist")
            with h5py.File(path, "r") as f:
                st = {k: f[k][()] for k in ("pos", "vel", "mass", "ptype", "ids", "acc_mag", "last_a_full")}
                t = float(f.attrs["time"])
                # the block counter follows from the time on the (possibly changed) time.dt_max grid;
                # run() has checked that t lies on it (the stored counter counts blocks of the old dt_max)
                self.block = _blocks(t, self.cfg.time.dt_max)
                self._snap_number = int(f.attrs["snap_number"])
                for k in ("time", "kinetic", "potential", "lost"):
                    self.energy_log[k] = f[f"energy/{k}"][()].tolist()
                self.bh_log = _json_load(f.attrs["bh_log"])
                mergers = _json_load(f.attrs["mergers"])
                layout = None
                if "domain" in f and int(f.attrs["domain_size"]) == getattr(self.comm, "size", 1):
                    layout = {k: f[f"domain/{k}"][()] for k in ("owner", "row", "cost")}
            p = Particles.from_arrays(st["mass"], st["pos"], st["vel"], st["ptype"], ids=st["ids"])
            # the domain engine keeps each event on one rank (its state() gathers them)
            own = self.cfg.gravity.decomposition != "domain" or self.rank == 0
            self._build_engine(p, t, acc_mag=st["acc_mag"], layout=layout, merger_events=mergers if own else [])
            self.engine.initialize(a_full=st["last_a_full"])
        else:
            p = particles_from_snapshot(restart, types=SIMULATED_TYPES)
            from .snapshot import read_snapshot

            t = float(read_snapshot(restart, types=[5]).header["Time"])
            self.block = _blocks(t, self.cfg.time.dt_max)
            self._snap_number = _snap_number_of(restart) + 1
            self._build_engine(p, t)

    def _start_time(self, restart) -> float:
        """The time a run would start from (the engine's, the checkpoint's or the snapshot's), read
        without setting anything up."""
        if self.engine is not None:
            return float(self.engine.t)
        if restart is True or restart == "checkpoint":
            import h5py

            path = self.outdir / "checkpoint.hdf5"
            if not path.exists():
                raise FileNotFoundError(f"restart requested but '{path}' does not exist")
            with h5py.File(path, "r") as f:
                return float(f.attrs["time"])
        if restart:
            from .snapshot import read_snapshot

            return float(read_snapshot(restart, types=[5]).header["Time"])
        return 0.0

    def _check_t_end(self, t_end, restart) -> float:
        """``t_end`` (default ``time.t_end``) validated against the current time and the block grid."""
        dt = self.cfg.time.dt_max
        what = "config key 'time.t_end'" if t_end is None else "t_end (overriding config key 'time.t_end')"
        value = self.cfg.time.t_end if t_end is None else t_end
        try:
            t_end = float(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{what} must be a number, got {value!r}") from exc
        if not np.isfinite(t_end):
            raise ConfigError(f"{what} = {t_end} must be finite")
        if not _on_grid(t_end, dt):
            lo = np.floor(t_end / dt) * dt
            raise ConfigError(f"{what} = {t_end:g} must be a multiple of time.dt_max = {dt:g} (the hierarchical "
                              f"KDK advances in blocks of dt_max; e.g. {lo:g} or {lo + dt:g})")
        t0 = self._start_time(restart)
        if not _on_grid(t0, dt):
            raise ConfigError(f"restart time t = {t0:g} is not a multiple of time.dt_max = {dt:g}: restart with a "
                              f"time.dt_max that divides it (e.g. the one the checkpoint was written with)")
        if not _blocks(t_end, dt) > _blocks(t0, dt):
            raise ConfigError(f"{what} = {t_end:g} must be later than the current time {t0:g}")
        return t_end

    def run(self, t_end: float | None = None, restart=False) -> SimulationResult:
        """Run to ``t_end`` (default ``time.t_end``), writing snapshots, logs and checkpoints.

        The hierarchical KDK advances in blocks of ``time.dt_max`` (all particles synchronised at each
        block's end), counted from t = 0: ``t_end`` must be finite, later than the current time and a
        multiple of ``time.dt_max``; otherwise :class:`gpu.config.ConfigError` is raised before any
        work (no shortened last step: the run ends exactly at ``t_end`` or does not start).

        ``restart``: False (start from the ICs), True / "checkpoint" (continue from
        ``output.dir/checkpoint.hdf5``, reproducing the uninterrupted run exactly), or the path of a
        snapshot to continue from (exact for the geometric opening criterion). A restart with a changed
        ``time.dt_max`` counts its blocks from the checkpoint's time, which must be a multiple of the
        new ``time.dt_max`` (else ConfigError).

        Before any work ``output.dir`` is claimed (:class:`gpu.io.RunFolder`): a new run refuses a
        folder holding another run's files unless ``output.overwrite``; a restart continues the run
        of the folder's ``manifest.json`` and removes the snapshots after the restart time (they are
        written again). ``result.files`` lists the files of the manifest, which ends ``complete``
        (or ``failed`` with the reason).
        """
        self._check_t_end(t_end, restart)  # before the folder is claimed (and again in _run)
        existed = self.outdir.exists()
        if self.folder is None:
            self._claim_output(restart)
        else:
            self.folder.manifest["status"] = "running"
        try:
            res = self._run(t_end, restart)
        except BaseException as exc:
            with contextlib.suppress(Exception):  # e.g. a full disk: the original error is the one to report
                if not self._continuing and not self.folder.files:  # failed before writing anything: no trace
                    _unclaim(self.folder, remove_dir=not existed)
                else:
                    self.folder.finish(ok=False, reason=f"{exc.__class__.__name__}: {' '.join(str(exc).split())}")
            raise
        res.files = self.output_files()
        self.folder.finish(ok=True, time=float(res.time))
        return res

    def _claim_output(self, restart) -> None:
        """Claim output.dir: a restart from the checkpoint, or from a snapshot inside output.dir, continues the
        folder's run; a new run, or one started from another folder's snapshot, needs a folder of its own."""
        if restart is True or restart == "checkpoint":  # checked before the folder is touched
            path = self.outdir / "checkpoint.hdf5"
            if not path.exists():
                raise FileNotFoundError(f"restart requested but '{path}' does not exist")
            self._continuing = True
        elif restart:
            from .snapshot import _resolve_files

            first = _resolve_files(restart)[0][0]  # a missing or unreadable snapshot is reported here
            self._continuing = self.outdir.resolve() in (first.resolve().parent, first.resolve().parent.parent)
        else:
            self._continuing = False
        self.folder = RunFolder(self.outdir, command="nbody run", overwrite=self.cfg.output.overwrite,
                                restart=self._continuing, own_patterns=OUTPUT_PATTERNS, comm=self.comm).claim()

    def _restart_outputs(self) -> None:
        """After a restart: remove the snapshots the continued run writes again; list the earlier ones."""
        names = None
        if self.rank == 0:
            names = sorted(p.name for p in self.outdir.glob("snap_*.hdf5"))
        if getattr(self.comm, "size", 1) > 1:
            names = self.comm.bcast(names, root=0)
        for name in names:
            if _snap_number_of(name) >= self._snap_number:
                self.folder.remove(name)
            elif name not in self.folder.files:
                self.folder.add(self.outdir / name)

    def output_files(self) -> dict:
        """This run's files (from the run folder's manifest): snapshots, logs, checkpoint, summary."""
        names = self.folder.files if self.folder is not None else []
        snaps = sorted(n for n in names if n.startswith("snap_"))
        files = {"snapshots": [str(self.outdir / n) for n in snaps]}
        for key, name in (("bh_orbits", "bh_orbits.hdf5"), ("energy", "energy.hdf5"),
                          ("checkpoint", "checkpoint.hdf5"), ("summary", "summary.json")):
            if name in names:
                files[key] = str(self.outdir / name)
        return files

    def _check_finite(self) -> None:
        """Stop with :class:`gpu.io.ResultError` (the run folder is then marked failed) if any rank holds a
        non-finite position or velocity: a NaN must never be written as a snapshot and called a result."""
        e = self.engine
        bad = int(not (np.isfinite(e.pos).all() and np.isfinite(e.vel).all()))
        if getattr(self.comm, "size", 1) > 1:
            bad = self.comm.allreduce(bad)
        if bad:
            from gpu.io import ResultError

            raise ResultError(f"non-finite particle positions or velocities at t = {e.t:g} (block {self.block}); "
                              "run stopped before writing them, output marked failed")

    def _run(self, t_end, restart) -> SimulationResult:
        cfg = self.cfg
        dt = cfg.time.dt_max
        t_end = self._check_t_end(t_end, restart)
        nblocks_total = _blocks(t_end, dt)
        self.outdir.mkdir(parents=True, exist_ok=True)
        t_wall = time.perf_counter()
        if self.engine is None:
            if restart:
                self._restore(restart)
                self._restart_outputs()
            else:
                t0 = time.perf_counter()
                p = self._particles if self._particles is not None else self.make_initial_conditions()
                self.timers["ics"] += time.perf_counter() - t0
                self._snap_number = 0
                self._build_engine(p, 0.0)
                self.engine.initialize()
                self._log_bh()
                self._log_energy()
                self.write_snapshot(self._snap_number)
                self._snap_number += 1
        if not self.engine._initialized:
            self.engine.initialize()

        def every(interval):
            return max(1, int(round(interval / dt))) if interval > 0 else None

        snap_every = every(cfg.output.snapshot_interval)
        en_every = every(cfg.output.energy_interval) or snap_every
        ck_every = every(cfg.output.checkpoint_interval) or snap_every
        n_total, n_bh = self.engine.n_total, len(self.engine.state(PTYPE_BH).ids)
        if self.rank == 0:
            log.info("nbody run: N = %d (%d SMBHs), t = %g -> %g, dt_max = %g, output in %s", n_total,
                     n_bh, self.engine.t, t_end, dt, self.outdir)
        bar = progress(total=max(nblocks_total - self.block, 0), desc="nbody run", comm=self.comm,
                       quiet=cfg.output.quiet)
        while self.block < nblocks_total:
            self.engine.advance_block()
            self.block += 1
            # the time label on the block grid (the engine adds dt_max per block, which accumulates round-off)
            self.engine.t = t_end if self.block == nblocks_total else self.block * dt
            self._log_bh()
            last = self.block == nblocks_total
            if last or (en_every and self.block % en_every == 0):
                self._log_energy()
            if last or (snap_every and self.block % snap_every == 0):
                self._check_finite()
                self.write_snapshot(self._snap_number)
                self._snap_number += 1
            if last or (ck_every and self.block % ck_every == 0):
                self.write_checkpoint()
                self._write_logs()
            bar.update(1)
        bar.close()
        self._write_logs()
        wall = time.perf_counter() - t_wall
        profile = dict(self.engine.timers)
        profile.update(self.timers)
        profile["wall"] = wall
        profile.update(self.engine.global_counters())
        energy = {k: np.asarray(v) for k, v in self.energy_log.items()}
        files = {}  # set by run() from the manifest
        events = self.engine.state(PTYPE_BH).merger_events
        particles = self.particles
        if self.rank == 0:
            write_json(self.outdir / "summary.json", {"time": self.engine.t, "n": len(particles.mass),
                                                      "profile": profile, "mergers": events,
                                                      "units": {k: str(v) for k, v in self.unit_quantities().items()}},
                       config=self.cfg)
        self._record(self.outdir / "summary.json")
        return SimulationResult(particles, self.engine.t, energy, self.bh_arrays(), list(events), profile, files)


def _unclaim(folder: RunFolder, remove_dir: bool) -> None:
    """Undo a claim of a run that failed before writing a file: its manifest (and the folder it created)."""
    if folder.rank == 0:
        (folder.path / folder.MANIFEST).unlink(missing_ok=True)
        if remove_dir:
            with contextlib.suppress(OSError):
                folder.path.rmdir()


def _on_grid(t: float, dt: float) -> bool:
    """True if ``t`` is a multiple of ``dt`` to round-off (relative 1e-9 of the block count)."""
    r = t / dt
    return abs(r - round(r)) <= 1e-9 * max(1.0, abs(r))


def _blocks(t: float, dt: float) -> int:
    """The number of blocks of length ``dt`` from 0 to the grid time ``t``."""
    return int(round(t / dt))


def _snap_number_of(path) -> int:
    import re

    m = re.search(r"_(\d+)(\.\d+)?(\.hdf5)?$", Path(path).name)
    return int(m.group(1)) if m else 0


def _json_dump(obj) -> str:
    import json

    def default(o):
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, np.generic):
            return o.item()
        return str(o)

    return json.dumps(obj, default=default)


def _json_load(text) -> dict:
    import json

    return json.loads(text)
