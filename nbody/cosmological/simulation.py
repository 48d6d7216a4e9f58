"""The cosmological PM driver: configuration, initial conditions, FastPM KDK stepping, snapshots.

>>> import tempfile
>>> from nbody.cosmological import PMConfig, PMSimulation
>>> sim = PMSimulation(PMConfig(box=128.0, nside=16, a_start=0.05, nsteps=5, output_redshifts=[0.0]))
>>> paths = sim.run(tempfile.mkdtemp())  # GADGET-4 HDF5 snapshots, velocities u = v_pec / sqrt(a)
>>> pos, vel, ids = sim.gather()         # rank 0: comoving Mpc/h, peculiar km/s, lattice ids
>>> pos.shape, bool(((pos >= 0) & (pos < 128.0)).all())
((4096, 3), True)

Units: comoving Mpc/h, H0 = 1 internally (momentum p = a^3 E dx/da in 100 km/s), peculiar
velocities ``v = 100 p / a`` km/s at the API edge, particle masses in 1e10 Msun/h.
"""
from __future__ import annotations

import dataclasses
import logging

import numpy as np

import gpu
from gpu.config import ConfigError, param

from ..softening import SPLINE_H_OVER_EPS
from .growth import growth_tables
from .ics import lpt_particles
from .pm import ParticleMesh, check_particles, exchange_particles, owner_of

log = logging.getLogger(__name__)

#: the checkpoint file in a run's output folder
CHECKPOINT = "checkpoint.hdf5"


def _restart_keys(cfg: dict) -> dict:
    """The config keys a restart must share with the checkpoint's run (all but where and how often it writes)."""
    return {k: v for k, v in cfg.items() if k not in ("output_dir", "overwrite", "checkpoint_interval")}


def split_in_lna(a_steps, max_dlna: float):
    """The scale factors ``a_steps`` with every interval split into equal ``ln a`` pieces no longer than
    ``max_dlna`` (the global steps of a TreePM run; the given values stay step boundaries)."""
    out = [float(a_steps[0])]
    for a0, a1 in zip(a_steps[:-1], a_steps[1:]):
        m = max(1, int(np.ceil(np.log(a1 / a0) / max_dlna - 1e-9)))
        out.extend(float(v) for v in np.exp(np.log(a0) + np.log(a1 / a0) * np.arange(1, m + 1) / m)[:-1])
        out.append(float(a1))
    return np.array(out)

#: critical density in 1e10 (Msun/h) / (Mpc/h)^3
RHO_CRIT_1E10 = 27.7536627
#: GADGET unit system of the snapshots: Mpc/h, 1e10 Msun/h, km/s
SNAPSHOT_UNITS = {"UnitLength_in_cm": 3.085678e24, "UnitMass_in_g": 1.989e43, "UnitVelocity_in_cm_per_s": 1.0e5,
                  "ComovingIntegrationOn": 1}


@dataclasses.dataclass
class CosmologyConfig:
    """Flat LambdaCDM (defaults: Planck 2018, arXiv:1807.06209 Table 2)."""

    h: float = param(0.6766, gt=0, le=2, doc="H0 / (100 km/s/Mpc)")
    Omega_m: float = param(0.30966, gt=0, le=1, doc="matter density today (CDM + baryons)")
    Omega_b: float = param(0.04897, gt=0, lt=1, doc="baryon density today")
    n_s: float = param(0.9665, gt=0, lt=2, doc="scalar spectral index")
    sigma8: float = param(0.8102, gt=0, lt=3, doc="rms linear fluctuation in 8 Mpc/h spheres at z = 0")
    T_cmb: float = param(2.7255, ge=0, doc="CMB temperature [K] (0: no radiation)")

    def astropy(self):
        from astropy.cosmology import FlatLambdaCDM

        return FlatLambdaCDM(H0=100 * self.h, Om0=self.Omega_m, Ob0=self.Omega_b, Tcmb0=self.T_cmb,
                             meta={"n": self.n_s, "sigma8": self.sigma8})


@dataclasses.dataclass
class PMConfig:
    """Parameters of a PM run (TOML: top-level keys plus a ``[cosmology]`` table)."""

    box: float = param(256.0, gt=0, doc="comoving box side [Mpc/h]")
    nside: int = param(64, ge=4, le=2048, doc="particles per side (nside^3 particles)")
    nmesh: int = param(0, ge=0, le=4096, doc="PM mesh per side (0: 2 * nside)")
    a_start: float = param(0.02, gt=0.001, lt=1, doc="initial scale factor")
    nsteps: int = param(20, ge=1, le=10000, doc="KDK steps, uniform in a, from a_start to the last output")
    output_redshifts: list[float] = param(default_factory=lambda: [0.0], ge=0, doc="snapshot redshifts")
    lpt_order: int = param(2, choices=(1, 2), doc="1: Zel'dovich, 2: 2LPT initial conditions")
    seed: int = param(42, ge=0, doc="random seed of the initial field")
    power_method: str = param("eh", choices=("eh", "camb"), doc="linear P(k): Eisenstein-Hu or CAMB")
    stepping: str = param("fastpm", choices=("fastpm", "leapfrog"),
                          doc="pm: kick/drift factors, FastPM (linear growth exact) or plain leapfrog (midpoint "
                              "rule); treepm always steps with the hierarchical KDK of nbody.cosmological."
                              "treepm_stepping")
    output_dir: str = param("pm_output", doc="snapshot folder (claimed by one run: see PMSimulation.run)")
    overwrite: bool = param(False, doc="a new run removes an earlier run's snapshots from output_dir (otherwise "
                            "a folder holding another run's files is refused)")
    snapshot_base: str = param("snap", doc="snapshot file prefix (snap_000.hdf5 ...)")
    gravity: str = param("pm", choices=("pm", "treepm"),
                         doc="pm: mesh force only; treepm: mesh long-range + tree short-range force "
                             "(nbody.cosmological.treepm; under MPI the particles are replicated for the tree "
                             "and its walk groups dealt to the ranks)")
    softening: float = param(0.0, ge=0, doc="treepm: comoving Plummer-equivalent softening [Mpc/h] "
                             "(0: 1/30 of the mean particle spacing)")
    treepm_asmth: float = param(2.5, gt=0, doc="treepm: split scale r_s in mesh cells (GADGET-2: 1.25)")
    treepm_rcut: float = param(6.0, gt=0, doc="treepm: short-range cut in units of r_s (GADGET-2: 4.5)")
    treepm_theta: float = param(0.6, gt=0, le=1.5, doc="treepm: geometric opening angle of the tree")
    softening_max_phys: float = param(0.0, ge=0, doc="treepm: largest physical softening [Mpc/h]; the comoving "
                                      "softening becomes softening_max_phys / a once a * softening exceeds it "
                                      "(GADGET-2's SofteningHaloMaxPhys; 0: comoving softening throughout)")
    treepm_max_dlna: float = param(0.05, gt=0, le=0.5, doc="treepm: largest global (PM) step in ln a; the steps of "
                                   "nsteps and the outputs are split into equal ln a pieces no longer than this "
                                   "(GADGET's MaxSizeTimestep)")
    treepm_eta: float = param(0.025, gt=0, le=1, doc="treepm: accuracy parameter of the step criterion "
                              "dt = sqrt(2 eta eps / |g|) (GADGET-2's ErrTolIntAccuracy)")
    treepm_max_bin: int = param(8, ge=0, le=20, doc="treepm: finest short-range sub-step is the global step / "
                                "2^treepm_max_bin (0: one kick per global step with the total force)")
    checkpoint_interval: int = param(0, ge=0, doc="global steps between checkpoints (checkpoint.hdf5 in output_dir, "
                                     "for --restart); 0: at each snapshot only")
    backend: str = param("auto", choices=("auto", "cpu", "cuda"),
                         doc="where the mesh FFTs and Fourier-space arithmetic run: 'cuda' through CuPy (an error "
                         "without CuPy and a device), 'auto' on the GPU when one is usable; CIC and the tree on "
                         "the CPU")
    cosmology: CosmologyConfig = param(default_factory=CosmologyConfig)

    def mesh(self) -> int:
        return self.nmesh or 2 * self.nside

    def eps(self) -> float:
        """The TreePM softening [Mpc/h]: ``softening`` or 1/30 of the mean particle spacing."""
        return self.softening or self.box / self.nside / 30.0

    def check_config(self, prefix=""):
        if self.gravity == "treepm" and not self.treepm_asmth * self.treepm_rcut < self.mesh() / 2:
            raise ConfigError(f"config keys '{prefix}treepm_asmth' * '{prefix}treepm_rcut' = "
                              f"{self.treepm_asmth * self.treepm_rcut:g} mesh cells must be < nmesh / 2 = "
                              f"{self.mesh() / 2:g} (the short-range cut must be below half the box)")
        r_cut = self.treepm_asmth * self.treepm_rcut * self.box / self.mesh()
        if self.gravity == "treepm" and not SPLINE_H_OVER_EPS * self.eps() < r_cut:
            raise ConfigError(f"config key '{prefix}softening' = {self.softening:g}: the spline support 2.8 eps must "
                              "be below the short-range cut treepm_rcut * treepm_asmth * box / nmesh")


class PMSimulation:
    """A periodic-box PM simulation with FastPM kick/drift factors (Feng et al. 2016, arXiv:1603.00476).

    Each rank owns an x-slab of the mesh and the particles inside it; see
    :mod:`nbody.cosmological.pm`. Results on 1 and several ranks agree to round-off.
    """

    def __init__(self, config: PMConfig | None = None, comm=None, quiet: bool = True, **overrides):
        cfg = config or PMConfig()
        if overrides:
            cfg = dataclasses.replace(cfg, **overrides)
        from gpu.config import from_dict, to_dict

        self.config = cfg = from_dict(to_dict(cfg), PMConfig)  # validates every field
        self.comm = gpu.get_comm(comm)
        self.quiet = quiet
        n = cfg.mesh()
        size = getattr(self.comm, "size", 1)
        if cfg.nside % size or n % size:
            raise ConfigError(f"config keys 'nside' ({cfg.nside}) and 'nmesh' ({n}) must be divisible by the number of "
                              f"MPI ranks ({size})")
        self.cosmo = cfg.cosmology.astropy()
        self.growth = growth_tables(self.cosmo)
        self.Om0 = float(self.cosmo.Om0)
        a_out = sorted({1.0 / (1.0 + z) for z in cfg.output_redshifts})
        if a_out[0] < cfg.a_start:
            raise ConfigError(f"config key 'output_redshifts' = {cfg.output_redshifts} must be below z_start = "
                              f"1/a_start - 1 = {1 / cfg.a_start - 1:g}")
        self.a_outputs = a_out
        self.a_steps = np.union1d(np.linspace(cfg.a_start, a_out[-1], cfg.nsteps + 1), a_out)
        fine = n >= 2 * cfg.nside
        self.pm = ParticleMesh(n, cfg.box, self.comm, gradient="fd2" if fine else "spectral",
                               deconvolve=1 if fine else 2, backend=cfg.backend)
        self.particle_mass = RHO_CRIT_1E10 * self.Om0 * cfg.box ** 3 / cfg.nside ** 3
        self.treepm = self.stepper = None
        if cfg.gravity == "treepm":
            from .treepm import TreePMGravity
            from .treepm_stepping import CosmicFactors, HierarchicalTreePMStep

            self.treepm = TreePMGravity(cfg.box, n, omega_m=self.Om0, eps=cfg.eps(), asmth=cfg.treepm_asmth,
                                        rcut=cfg.treepm_rcut, theta=cfg.treepm_theta, backend=cfg.backend)
            self.stepper = HierarchicalTreePMStep(CosmicFactors(self.growth.E), self._short_force, self._wrap,
                                                  cfg.treepm_eta, cfg.treepm_max_bin, cfg.eps(), cfg.softening_max_phys)
            self.a_steps = split_in_lna(self.a_steps, cfg.treepm_max_dlna)
        self.pos = self.p = self.ids = None
        self.a = None
        self._force = self._f_short = None
        self.step_index = 0  # global steps done (self.a == self.a_steps[step_index])
        self.n_outputs = 0  # snapshots written
        self.bin_counts = None  # treepm: sub-steps started per bin, summed over the run (rank-local)

    # -- set-up ---------------------------------------------------------------------------
    def linear_power(self, k):
        """Linear P(k) at a = 1 [(Mpc/h)^3] (from ``cosmo.power.linear_power``)."""
        from cosmo.power import linear_power

        return linear_power(k, 0.0, self.cosmo, method=self.config.power_method, sigma8=self.config.cosmology.sigma8)

    def initial_conditions(self):
        """2LPT (or Zel'dovich) particles at ``a_start`` on a lattice of ``nside^3``."""
        from .fft import SlabFFT

        cfg = self.config
        fft = SlabFFT(cfg.nside, self.comm)
        pos, p, ids = lpt_particles(fft, cfg.box, self.linear_power, cfg.seed, cfg.a_start, self.growth, cfg.lpt_order,
                                    offset=0.5 * self.pm.cell)
        self._set_particles(pos, p, ids)
        self.a = cfg.a_start
        self._force = None
        return self

    def _set_particles(self, pos, p, ids):
        # a NaN from the ICs or a step is reported here, on every rank, before the mesh kernels see it
        check_particles(self.comm, pos, None, "PMSimulation positions")
        check_particles(self.comm, p, None, "PMSimulation momenta")
        size = getattr(self.comm, "size", 1)
        dest = owner_of(pos, self.config.box, self.pm.n, size)
        self.pos, self.p, self.ids = exchange_particles(self.comm, dest, pos, p, ids)

    # -- stepping ---------------------------------------------------------------------------
    def force(self):
        """Comoving force ``-grad phi`` (lap phi = 1.5 Omega_m delta) of the current particles: PM, or TreePM
        (equal masses; the same Poisson equation, see :mod:`nbody.cosmological.treepm`)."""
        if self.treepm is not None:
            eps = self.stepper.eps_at(self.a) if self.a is not None else None
            return self._long_force() + self._short_force(self.pos, None, eps)
        return self.pm.force(self.pos, self.Om0)

    def _long_force(self):
        """The TreePM mesh (long-range) force at the local particles (slab-decomposed mesh)."""
        return self.pm_long.force(self.pos, self.Om0, rs=self.treepm.rs)

    @property
    def pm_long(self):
        """The long-range mesh of TreePM: the TreePM mesh settings on this run's slabs."""
        if getattr(self, "_pm_long", None) is None:
            from .pm import ParticleMesh

            self._pm_long = (self.treepm.pm if getattr(self.comm, "size", 1) == 1 else
                             ParticleMesh(self.pm.n, self.config.box, self.comm, gradient="fd4", deconvolve=2,
                                          backend=self.config.backend))
        return self._pm_long

    def _short_force(self, pos, active, eps):
        """Short-range TreePM force of the local particles ``pos`` (rows of ``active``, a boolean mask, or all).

        Replicated particles (Springel 2005 distributes the tree; this is the simplest correct split): every rank
        gathers all positions, orders them by id (so the tree is the serial run's), evaluates its share of the
        walk groups (``TreePMGravity.short_range(part=(rank, size))``) and the shares are summed; the result per
        particle is the serial one bit for bit."""
        size = getattr(self.comm, "size", 1)
        act = np.ones(len(pos), dtype=bool) if active is None else np.asarray(active, dtype=bool)
        if size == 1:
            allpos, allids, allact = pos, self.ids, act
        else:
            parts = self.comm.allgather((pos, self.ids, act))
            allpos = np.concatenate([q[0] for q in parts])
            allids = np.concatenate([q[1] for q in parts])
            allact = np.concatenate([q[2] for q in parts])
        order = np.argsort(allids, kind="stable")
        f = self.treepm.short_range(allpos[order], np.ones(len(order)), active=allact[order],
                                    part=(getattr(self.comm, "rank", 0), size), eps=eps)
        if size > 1:
            from gpu import allreduce_sum

            f = allreduce_sum(self.comm, f)
        rank_of = np.empty(len(order), dtype=np.int64)
        rank_of[order] = np.arange(len(order))  # row of each gathered particle in the id order
        if size > 1:
            lo = sum(len(q[0]) for q in parts[:self.comm.rank])
            return f[rank_of[lo:lo + len(pos)]]
        return f[rank_of]

    def _wrap(self, pos):
        box = self.config.box
        pos = np.mod(pos, box)
        pos[pos >= box] -= box
        return pos

    def step(self, a1: float):
        """One global step from the current ``a`` to ``a1``: FastPM (or leapfrog) kick-drift-kick for PM; the
        hierarchical KDK of :mod:`nbody.cosmological.treepm_stepping` for TreePM."""
        if self.treepm is not None:
            return self._treepm_step(a1)
        g, a0 = self.growth, self.a
        ah = 0.5 * (a0 + a1)
        if self.config.stepping == "fastpm":
            kick, drift = g.kick_factor, g.drift_factor
        else:  # standard leapfrog: integrals of da/(a^2 E) and da/(a^3 E) by the midpoint rule
            kick = lambda ai, af, ac: (af - ai) / (0.25 * (ai + af) ** 2 * g.E(0.5 * (ai + af)))  # noqa: E731
            drift = lambda ai, af, ac: (af - ai) / (0.125 * (ai + af) ** 3 * g.E(0.5 * (ai + af)))  # noqa: E731
        if self._force is None:
            self._force = self.force()
        self.p = self.p + self._force * kick(a0, ah, a0)
        pos = self.pos + self.p * drift(a0, a1, ah)
        self._set_particles(self._wrap(pos), self.p, self.ids)
        self._force = self.force()
        self.p = self.p + self._force * kick(ah, a1, a1)
        self.a = a1

    def _treepm_step(self, a1: float):
        st, a0 = self.stepper, self.a
        if self._force is None:  # start of the run or after a restart: the forces at the current positions
            self._force = self._long_force()
            self._f_short = self._short_force(self.pos, None, st.eps_at(a0))
        pos, p, f_short, counts = st.step(self.pos, self.p, self._force, self._f_short, a0, a1, comm=self.comm)
        # the closing long-range kick needs the particles on their slabs: exchange (pos, p, short force) together
        check_particles(self.comm, pos, None, "PMSimulation positions")
        check_particles(self.comm, p, None, "PMSimulation momenta")
        dest = owner_of(pos, self.config.box, self.pm.n, getattr(self.comm, "size", 1))
        self.pos, self.p, self.ids, self._f_short = exchange_particles(self.comm, dest, pos, p, self.ids, f_short)
        self._force = self._long_force()
        self.p = st.closing_long_kick(self.p, self._force, a0, a1)
        self.a = a1
        self.bin_counts = counts if self.bin_counts is None else self.bin_counts + counts

    def run(self, output_dir=None, write: bool = True, callback=None, restart: bool = False):
        """Initial conditions, then KDK steps to the last output; snapshots at each output redshift.

        ``callback(sim)`` is called at every output time (all ranks). Returns the snapshot paths (of this call).
        With ``write`` the output folder (``output_dir`` or ``config.output_dir``) is claimed before
        any work (:class:`gpu.io.RunFolder`): a folder holding another run's files is refused unless
        ``config.overwrite``; its ``manifest.json`` lists this run's snapshots and ends ``complete``
        (or ``failed`` with the reason). A ``checkpoint.hdf5`` is written (atomically) after each snapshot and
        every ``checkpoint_interval`` global steps; ``restart=True`` continues from the folder's checkpoint and
        reproduces the uninterrupted run bit for bit on the same number of ranks
        (tests/nbody/test_treepm_stepping.py).
        """
        from pathlib import Path

        from gpu.io import RunFolder

        folder = Path(output_dir or self.config.output_dir)
        existed = folder.exists()
        run_folder = None
        if restart:
            if not write:
                raise ConfigError("restart needs write=True (it continues the run of an output folder)")
            if not (folder / CHECKPOINT).is_file():
                raise FileNotFoundError(f"restart requested but '{folder / CHECKPOINT}' does not exist")
        if write:
            run_folder = RunFolder(folder, command="nbody pm", overwrite=self.config.overwrite, restart=restart,
                                   own_patterns=(f"{self.config.snapshot_base}_*.hdf5", CHECKPOINT),
                                   comm=self.comm).claim()
        try:
            if restart:
                self.read_checkpoint(folder / CHECKPOINT)
            out = self._run(folder, write, callback, run_folder)
        except BaseException as exc:
            if run_folder is not None:
                import contextlib

                with contextlib.suppress(Exception):  # a full disk: the original error is the one to report
                    if not run_folder.files:  # failed before writing anything: leave no trace
                        from nbody.simulation import _unclaim

                        _unclaim(run_folder, remove_dir=not existed)
                    else:
                        run_folder.finish(ok=False, reason=f"{exc.__class__.__name__}: {' '.join(str(exc).split())}")
            raise
        if run_folder is not None:
            run_folder.finish(ok=True, a=float(self.a))
        return out

    def _run(self, folder, write, callback, run_folder):
        if self.pos is None:
            self.initial_conditions()
            self.step_index = 0
        out = []
        outputs = set(self.a_outputs)
        first = int(np.searchsorted(self.a_steps, self.a + 1e-12))
        steps = self.a_steps[first:]
        interval = self.config.checkpoint_interval
        bar = gpu.progress(total=len(steps), desc=self.config.gravity.upper(), comm=self.comm, quiet=self.quiet)
        for i, a1 in enumerate(steps, start=first):
            self.step(float(a1))
            self.step_index = i
            bar.update(1)
            output = any(abs(a1 - ao) < 1e-12 for ao in outputs)
            if output:
                if callback is not None:
                    callback(self)
                if write:
                    out.append(self.write_snapshot(folder / f"{self.config.snapshot_base}_{self.n_outputs:03d}.hdf5"))
                    run_folder.add(out[-1], a=float(self.a), redshift=float(1.0 / self.a - 1.0))
                self.n_outputs += 1
            if write and i < len(self.a_steps) - 1 and (output or (interval and i % interval == 0)):
                run_folder.add(self.write_checkpoint(folder / CHECKPOINT), a=float(self.a))
        bar.close()
        return out

    # -- checkpoints ----------------------------------------------------------------------------
    def write_checkpoint(self, path):
        """The state at a global step boundary (exact restart): every rank's particles in rank order with the
        counts per rank, ``a``, the step index, the snapshots written and the run's config (rank 0 writes
        atomically; all ranks return the path)."""
        import json

        from gpu.config import to_dict
        from gpu.io import atomic_h5, code_version, full_config

        size = getattr(self.comm, "size", 1)
        parts = [(self.pos, self.p, self.ids)] if size == 1 else self.comm.gather((self.pos, self.p, self.ids), root=0)
        if getattr(self.comm, "rank", 0) == 0:
            with atomic_h5(path) as f:
                f.attrs["a"] = float(self.a)
                f.attrs["step_index"] = int(self.step_index)
                f.attrs["n_outputs"] = int(self.n_outputs)
                f.attrs["config"] = json.dumps(_restart_keys(to_dict(self.config)), sort_keys=True)
                f.attrs["code_version"] = code_version()
                f.attrs["config_full"] = json.dumps(full_config(self.config))   # like every output's header
                f.create_dataset("counts", data=np.array([len(q[0]) for q in parts], dtype=np.int64)).attrs["units"] = "1"
                for j, (name, units) in enumerate((("pos", "Mpc/h comoving"), ("p", "a^2 dx/dt, 100 km/s"),
                                                   ("ids", "1"))):
                    f.create_dataset(name, data=np.concatenate([q[j] for q in parts])).attrs["units"] = units
                if self.bin_counts is not None:
                    f.create_dataset("bin_counts", data=self.bin_counts).attrs["units"] = "1"
        if size > 1:
            self.comm.Barrier()
        return path

    def read_checkpoint(self, path):
        """Continue from a checkpoint of :meth:`write_checkpoint` (ConfigError if it was written by a run with other
        settings than this one's; on another number of ranks the particles go to their slabs' owners, the same
        physics up to round-off)."""
        import json

        import h5py

        from gpu.config import to_dict

        size, rank = getattr(self.comm, "size", 1), getattr(self.comm, "rank", 0)
        with h5py.File(path, "r") as f:
            saved = json.loads(f.attrs["config"])
            mine = json.loads(json.dumps(_restart_keys(to_dict(self.config))))
            diff = sorted(k for k in set(saved) | set(mine) if saved.get(k) != mine.get(k))
            if diff:
                raise ConfigError(f"checkpoint '{path}' was written with other values of the config keys "
                                  f"{', '.join(diff)}; restart with the run's own config")
            counts = f["counts"][()]
            self.a = float(f.attrs["a"])
            self.step_index = int(f.attrs["step_index"])
            self.n_outputs = int(f.attrs["n_outputs"])
            self.bin_counts = f["bin_counts"][()] if "bin_counts" in f else None
            if len(counts) == size:
                lo = int(counts[:rank].sum())
                sl = slice(lo, lo + int(counts[rank]))
            else:  # every rank reads its share, _set_particles sends them to their slabs
                n = int(counts.sum())
                sl = slice(rank * n // size, (rank + 1) * n // size)
            pos, p, ids = f["pos"][sl], f["p"][sl], f["ids"][sl]
        if len(counts) == size:
            self.pos, self.p, self.ids = pos, p, ids
        else:
            self._set_particles(pos, p, ids)
        self._force = self._f_short = None
        return self

    # -- output ---------------------------------------------------------------------------
    def velocities(self):
        """Peculiar velocities of the local particles [km/s]: v = a dx/dt = 100 p / a."""
        return 100.0 * self.p / self.a

    def gather(self):
        """All particles on rank 0 sorted by id: (pos [Mpc/h], vel [km/s peculiar], ids); None elsewhere."""
        v = self.velocities()
        if getattr(self.comm, "size", 1) == 1:
            parts = [(self.pos, v, self.ids)]
        else:
            parts = self.comm.gather((self.pos, v, self.ids), root=0)
            if self.comm.rank != 0:
                return None
        pos = np.concatenate([q[0] for q in parts])
        vel = np.concatenate([q[1] for q in parts])
        ids = np.concatenate([q[2] for q in parts])
        o = np.argsort(ids)
        return pos[o], vel[o], ids[o]

    def snapshot(self):
        """The current state as an :class:`nbody.snapshot.Snapshot` (rank 0; None elsewhere)."""
        from nbody.particles import PTYPE_DM, Particles
        from nbody.snapshot import Snapshot

        g = self.gather()
        if g is None:
            return None
        pos, vel, ids = g
        c = self.config
        ps = Particles.from_arrays(np.full(len(ids), self.particle_mass), pos, vel, PTYPE_DM, ids=ids.astype(np.uint64))
        header = {"BoxSize": c.box, "Time": self.a, "Redshift": 1.0 / self.a - 1.0, "HubbleParam": c.cosmology.h,
                  "Omega0": self.Om0, "OmegaLambda": float(self.cosmo.Ode0)}
        return Snapshot({PTYPE_DM: ps}, header, dict(SNAPSHOT_UNITS), velocity_convention="peculiar")

    def write_snapshot(self, path):
        """Write a GADGET-4 HDF5 snapshot (rank 0 writes; all ranks return the path)."""
        from nbody.snapshot import write_snapshot

        snap = self.snapshot()
        if snap is not None:
            write_snapshot(path, snap, extra_header={"PMSteps": np.int32(self.config.nsteps),
                                                     "PMMesh": np.int32(self.pm.n)}, config=self.config)
        if getattr(self.comm, "size", 1) > 1:
            self.comm.Barrier()
        return path

    def measure_power(self, **kw):
        """P(k) of the current particles on the PM mesh: (k, P, n_modes) (all ranks)."""
        return self.pm.power_spectrum(self.pos, **kw)
