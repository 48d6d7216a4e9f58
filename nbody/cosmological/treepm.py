"""TreePM gravity for a periodic cosmological box (Springel 2005, MNRAS 364, 1105, sec. 2.2-2.3; GADGET-2/4).

The force is split at the scale ``r_s = asmth * box / nmesh`` (:mod:`nbody.cosmological.split`):

* long range: the particle-mesh force of :class:`nbody.cosmological.pm.ParticleMesh` with the
  potential multiplied by ``exp(-k^2 r_s^2)`` (eq. 22). As in GADGET-2's ``pm_periodic``: CIC
  assignment and interpolation with the CIC window divided out twice (``deconvolve=2``, the
  ``1/W^4`` of GADGET's ``smth``) and a four-point finite-difference gradient (``gradient="fd4"``);
* short range: a periodic Barnes-Hut walk (minimum images) over the octree of :mod:`nbody._kernels.tree_build`
  with the pair force times ``erfc(r/2r_s) + r/(r_s sqrt(pi)) exp(-r^2/4r_s^2)`` (eq. 24, tabulated), nodes
  beyond ``r_cut = rcut * r_s`` skipped, accepted nodes as monopole + quadrupole of the truncated potential,
  cubic-spline softening (eq. 4) for r < h; one walk per group of nearby particles by default (Barnes 1990)
  (:mod:`nbody.cosmological._treepm_kernels`).

Units and conventions are those of the PM code (:mod:`nbody.cosmological.simulation`): comoving
positions in ``[0, box)`` (other values are wrapped), Poisson equation ``lap phi = (3/2) Omega_m0 delta``
with ``delta`` the mass overdensity, acceleration ``-grad phi`` (the comoving "force" the PM code's
kick integrates). For particle masses ``m_j`` of total ``M`` this is Newtonian gravity with a
neutralising background and the effective constant ``G = 3 Omega_m0 box^3 / (8 pi M)``
(:meth:`TreePMGravity.gravitational_constant`), so the result is directly comparable with the
Ewald sum :func:`nbody.cosmological.ewald.ewald_accelerations` at that ``G``. The softening ``eps``
is the comoving Plummer-equivalent length (spline support 2.8 eps, GADGET).

Accuracy (tests/nbody/test_treepm.py, ``benchmarks/nbody_treepm.py``): see :data:`ASMTH_DEFAULT`.
One process with Numba threads; :meth:`TreePMGravity.short_range` evaluates a share of the walk groups
(``part``) for :class:`nbody.cosmological.PMSimulation`'s MPI runs (replicated particles, the shares summed). Speed
(``benchmarks/nbody_treepm.py``, shared 2-core machine, process CPU time): 1e6 clustered particles with a
200^3 mesh in 11.6 CPU s (the goal, 2e6 in 10 s on 2 cores, corresponds to 10 CPU s per 1e6). 2.1e6 particles (a
z = 0 box of 32^3 tiled 4^3, 256^3 mesh, ``--snapshot ... --tile 4``; three measurements at load 4-5): 13.2-13.8
CPU s per force, of which the mesh part 1.6-2.0 (threaded FFTs, one inverse FFT), the tree build 0.7 and the walk
10.7-10.9 (two threads), so half the CPU time, 6.6-6.9 s, is within the 2e6-in-10 s goal (10.5 s at this N); the
wall time on the loaded machine was 16.6-20.5 s (the walk threads got about 1.4 cores).
"""
from __future__ import annotations

import math
import time

import numpy as np

from gpu.config import check_arg

import numba

from .._kernels.tree_build import build_tree, group_boxes, group_nodes, pack_nodes
from ..direct import _as_eps
from ._treepm_kernels import second_moments, shortrange_accel, shortrange_accel_grouped
from .pm import ParticleMesh, check_particles
from .split import TABLE_PER_RS, shortrange_table

#: Defaults, chosen for a median total-force error below 1e-3 against Ewald sums (clustered periodic samples of
#: 4096 particles, mesh 32^3, eps = box / 2000; tests/nbody/test_treepm.py, ``benchmarks/nbody_treepm.py --scan``).
#: GADGET-2's ASMTH = 1.25, RCUT = 4.5 give a median error of 2-3e-3 (the CIC mesh force's anisotropy near
#: the split scale dominates) and a 99th percentile of ~2e-2 (the short-range force dropped beyond r_cut: the
#: factor of eq. 24 is still 1.8e-2 at 4.5 r_s, 4e-4 at 6 r_s). With 2.5 / 6.0 / 0.6 (grouped walk,
#: quadrupoles) the measured median is 3.7-4.6e-4 and the 99th percentile 4.4-4.9e-3 (two samples).
ASMTH_DEFAULT = 2.5
RCUT_DEFAULT = 6.0
THETA_DEFAULT = 0.6


class TreePMGravity:
    """TreePM accelerations in a periodic box of side ``box`` with an ``nmesh^3`` PM mesh.

    Parameters: ``omega_m`` (Omega_m0 of the Poisson equation), ``eps`` (comoving Plummer-equivalent
    softening, scalar or per particle), ``asmth`` (split scale in mesh cells, GADGET's ASMTH; default 2.5,
    GADGET-2: 1.25), ``rcut`` (short-range cut in units of r_s, GADGET's RCUT; default 6, GADGET-2: 4.5),
    ``theta`` (geometric opening angle, default 0.6), ``leaf_size`` (particles per tree leaf), ``quadrupole``
    (accepted nodes with their quadrupole in the truncated potential, default; False: monopoles as GADGET-2),
    ``group_size`` (grouped walk: one walk per maximal tree node with <= group_size particles, tests on the
    group's box, Barnes 1990; 0: one walk per particle). ``rcut * asmth`` must be below ``nmesh / 2``
    (minimum images): with the defaults nmesh >= 32. ``backend`` ("cpu", "cuda", "auto") is where the
    mesh part runs its FFTs (:class:`nbody.cosmological.pm.ParticleMesh`); the tree walk runs on the CPU.
    See the module constants for the measured accuracy.
    """

    def __init__(self, box: float, nmesh: int, omega_m: float = 1.0, eps=0.0, asmth: float = ASMTH_DEFAULT,
                 rcut: float = RCUT_DEFAULT, theta: float = THETA_DEFAULT, leaf_size: int = 8,
                 quadrupole: bool = True, group_size: int = 32, backend: str = "cpu"):
        self.box = check_arg("box", box, gt=0)
        if not (isinstance(nmesh, (int, np.integer)) and nmesh >= 4):
            raise ValueError(f"nmesh must be an integer >= 4, got {nmesh!r}")
        self.nmesh = int(nmesh)
        self.omega_m = check_arg("omega_m", omega_m, gt=0)
        self.asmth = check_arg("asmth", asmth, gt=0)
        self.rcut = check_arg("rcut", rcut, gt=0)
        self.theta = check_arg("theta", theta, gt=0, le=1.5)
        if not (isinstance(leaf_size, (int, np.integer)) and leaf_size >= 1):
            raise ValueError(f"leaf_size must be an integer >= 1, got {leaf_size!r}")
        self.leaf_size = int(leaf_size)
        self.quadrupole = bool(quadrupole)
        if not (isinstance(group_size, (int, np.integer)) and group_size >= 0):
            raise ValueError(f"group_size must be an integer >= 0 (0: one walk per particle), got {group_size!r}")
        self.group_size = int(group_size)
        self.rs = self.asmth * self.box / self.nmesh
        self.r_cut = self.rcut * self.rs
        if not self.r_cut < 0.5 * self.box:
            raise ValueError(f"rcut * asmth = {self.rcut * self.asmth:g} mesh cells must be < nmesh / 2 = "
                             f"{self.nmesh / 2:g} (the short-range cut must be below half the box)")
        self.eps = eps
        self._table = shortrange_table(self.rcut)
        self._tscale = TABLE_PER_RS / self.rs
        self.pm = ParticleMesh(self.nmesh, self.box, None, gradient="fd4", deconvolve=2, backend=backend)
        #: short-range interactions per particle of the last call
        self.last_interactions = None
        #: seconds of the last short-range call, wall and process CPU: ``{"build", "build_cpu"}`` (tree build, node
        #: moments, walk groups) and ``{"walk", "walk_cpu"}`` (the tree walk) (benchmarks/nbody_treepm.py's profile)
        self.last_timings = None

    def gravitational_constant(self, mass) -> float:
        """``G = 3 Omega_m0 box^3 / (8 pi M)``: the constant for which ``4 pi G rho_mean = (3/2) Omega_m0``."""
        return 3.0 * self.omega_m * self.box ** 3 / (8.0 * math.pi * float(np.sum(mass)))

    def _prepare(self, pos, mass):
        pos, mass = check_particles(None, pos, mass, "TreePMGravity")
        if mass is None:
            raise ValueError("TreePMGravity: mass is required")
        if np.any(mass < 0) or not np.sum(mass) > 0:
            raise ValueError("TreePMGravity: masses must be >= 0 with a positive sum")
        pos = pos % self.box
        pos[pos >= self.box] -= self.box  # x % box rounds to box for tiny negative x
        return np.ascontiguousarray(pos), np.ascontiguousarray(mass)

    def long_range(self, pos, mass):
        """Long-range (mesh) accelerations (N, 3)."""
        pos, mass = self._prepare(pos, mass)
        return self.pm.force(pos, self.omega_m, mass=mass, rs=self.rs)

    def short_range(self, pos, mass, active=None, part=None, eps=None):
        """Short-range (tree) accelerations (N, 3).

        ``active`` (boolean (N,)): only the active particles are evaluated, with the walk groups holding one (the
        other rows are 0); ``part = (rank, size)``: only every ``size``-th of those groups from ``rank`` (the MPI split of
        :class:`nbody.cosmological.PMSimulation`: replicated particles, the groups dealt to the ranks). Each group's
        result does not depend on which other groups are evaluated, so the rows computed are the same numbers as
        in a full call. ``eps``: the softening of this call (default: the constructor's)."""
        pos, mass = self._prepare(pos, mass)
        return self._short(pos, mass, active, part, self.eps if eps is None else eps)

    def _short(self, pos, mass, active=None, part=None, eps=None):
        h = _as_eps(self.eps if eps is None else eps, len(mass))
        if np.any(h >= self.r_cut):
            raise ValueError("TreePMGravity: the softening support 2.8 eps must be below r_cut")
        if (active is not None or part is not None) and self.group_size == 0:
            raise ValueError("TreePMGravity: active / part need the grouped walk (group_size > 0)")
        t0, c0 = time.perf_counter(), time.process_time()
        perm, center, half, start, count, isleaf, nxt, M, com, Q, hmax, delta = build_tree(pos, mass, h,
                                                                                          self.leaf_size)
        f, g = pack_nodes(center, half, M, com, Q, hmax, delta, start, count, isleaf, nxt)
        spos = np.ascontiguousarray(pos[perm])
        smass = np.ascontiguousarray(mass[perm])
        S = second_moments(spos, smass, f, g) if self.quadrupole else np.zeros((len(f), 6))
        sh = np.ascontiguousarray(h[perm])
        if self.group_size > 0:
            grp_of, gnode = group_nodes(g, self.group_size)
            sel = np.arange(len(gnode))
            sact = np.ones(len(perm), dtype=np.bool_)
            if active is not None:
                sact = np.ascontiguousarray(np.asarray(active, dtype=np.bool_)[perm])
                sel = np.flatnonzero(np.bincount(grp_of[sact], minlength=len(gnode)))
            if part is not None:
                sel = sel[part[0]::part[1]]
            gnode = gnode[sel]
            gbox, ghmax = group_boxes(gnode, g, spos, sh)
            gstart = np.ascontiguousarray(g[gnode, 0])
            gcount = np.ascontiguousarray(g[gnode, 1])
            nblocks = max(1, min(len(gnode), 32 * numba.get_num_threads()))
            t1, c1 = time.perf_counter(), time.process_time()
            with numba.parallel_chunksize(1):  # group costs vary (clumps vs voids): blocks dealt dynamically
                acc_s, nint_s = shortrange_accel_grouped(gstart, gcount, gbox, ghmax, spos, smass, sh, self.box,
                                                         self.rs, self.r_cut, self.theta, f, g, S, self.quadrupole,
                                                         self._table, self._tscale, nblocks, sact)
        else:
            t1, c1 = time.perf_counter(), time.process_time()
            acc_s, nint_s = shortrange_accel(spos, smass, sh, self.box, self.rs, self.r_cut, self.theta, f, g, S,
                                             self.quadrupole, self._table, self._tscale)
        self.last_timings = {"build": t1 - t0, "walk": time.perf_counter() - t1, "build_cpu": c1 - c0,
                             "walk_cpu": time.process_time() - c1}
        acc = np.empty_like(acc_s)
        acc[perm] = acc_s
        nint = np.empty_like(nint_s)
        nint[perm] = nint_s
        self.last_interactions = nint
        return self.gravitational_constant(mass) * acc

    def accelerations(self, pos, mass):
        """Total TreePM accelerations (N, 3) of particles ``pos`` (N, 3) with masses ``mass`` (N,),
        in the PM code's units (module docstring)."""
        pos, mass = self._prepare(pos, mass)
        return self.pm.force(pos, self.omega_m, mass=mass, rs=self.rs) + self._short(pos, mass)
