"""Barnes-Hut octree gravity (monopole + quadrupole, GADGET cubic-spline softening).

Usage::

    tree = Octree(pos, mass, eps)                       # O(N log N) build
    acc, pot = tree.accelerations(theta=0.5)            # all particles
    acc, pot = tree.accelerations(targets=idx, criterion="relative", alpha=0.005, a_old=|a|)

or :func:`tree_forces` for one call. See :mod:`nbody._kernels.tree_build` (construction) and
:mod:`nbody._kernels.tree_walk` (walks) for the multipole formulas and opening criteria (Barnes & Hut 1986; Barnes 1994;
Hernquist 1987; Springel 2005 eq. 18) and the grouped walk (Barnes 1990).

Accuracy of the default (grouped walk, group size 128, leaf size 16, quadrupole), median relative force
error against direct summation for a Hernquist sphere (N = 1e5, eps = 0.01, measured with
``benchmarks/nbody_tree.py``): theta = 0.5 -> 9.8e-5, 0.7 -> 2.9e-4 (group size 64, leaf size 8:
1.2e-4, 3.2e-4; the per-target walk: 2.2e-4, 5.7e-4). A median error below 1e-3 holds to theta ~ 1;
the default 0.5 is conservative, 0.7 halves the walk time.
"""
from __future__ import annotations

import numpy as np

import numba

from ._kernels.tree_build import N_HALF, build_tree, group_boxes, group_nodes, pack_nodes, refit_nodes, tree_parents
from ._kernels.tree_walk import (ball_candidates, tree_accel, tree_accel_grouped, tree_accel_grouped_serial,
                                 tree_accel_serial)
from .direct import _as_eps, check_particles

#: below this many targets the serial walk is used (thread start-up costs more than it saves)
PARALLEL_MIN_TARGETS = 256
#: default group size of the grouped walk (targets sharing one walk: maximal nodes with <= this many
#: particles). Hernquist N = 1e5, theta = 0.5, one thread, CPU s (median error): 8: 1.63 (1.75e-4),
#: 16: 1.14 (1.58e-4), 32: 0.77 (1.37e-4), 64: 0.58 (1.20e-4), 128: 0.47 (9.8e-5), 256: 0.48 (8.5e-5);
#: per-target walk 2.5 (2.16e-4). At equal median error (theta scanned, forces on all particles,
#: 2 threads, CPU time against pytreegrav in the same process, median errors 1e-4 ... 4e-4) 128 is
#: 10-20 % faster than 64 at N = 1e5 and from 9 % slower to 27 % faster at N = 1e4 (two scans on the
#: loaded 2-core development machine; ``benchmarks/nbody_tree.py --equal-error --group-size``), and
#: at theta = 0.5 its 99th percentile
#: error is 30 % lower (Plummer, N = 2e4: 5.0e-4 vs 7.4e-4). Small active sets of a hierarchical run pay
#: for the whole group's walk, yet 128 (leaf size 16) stays cheaper there too: Hernquist N = 2e5, the
#: 10 / 100 / 1e3 / 1e4 most central targets, theta = 0.5, 2 threads, CPU us per target: 63 / 20 / 20 / 13
#: against 131 / 29 / 28 / 17 with group size 64 and leaf size 8.
GROUP_SIZE = 128
#: default leaf size (most particles per tree leaf). 16 rather than 8 (group size 128, same scans): at
#: equal median error the two are within the measurement noise (+-10 %) at N = 1e4 and 16 is 2 % slower
#: to 9 % faster at N = 1e5; at theta = 0.5 (Plummer, N = 2e4, five seeds) the median errors agree to
#: 2 % and the 99th percentile of 16 is 3-7 % lower.
LEAF_SIZE = 16
#: group and leaf size of a simulation's walks (``[gravity] group_size``, ``leaf_size`` of
#: :class:`nbody.simulation.GravityConfig`, :class:`nbody.timestepping.ForceConfig`), kept at 64 and 8:
#: with 128 and 16 the 2-rank domain-decomposed galaxy run of tests/nbody/test_domain.py moves its SMBHs
#: 14x as far from the serial tree run as a 2 % change of theta moves them (4.0e-6 against 2.9e-7; the
#: test's bound is 10x, 64 and 8 pass it), although active sets are cheaper per target (see GROUP_SIZE).
SIM_GROUP_SIZE = 64
SIM_LEAF_SIZE = 8

CRITERIA = {"geometric": 0, "relative": 1}


def perm_of(tree):
    return tree.nodes[0]


class Octree:
    """An octree over ``pos`` (N, 3) with masses and Plummer-equivalent softenings ``eps``."""

    def __init__(self, pos, mass, eps, leaf_size: int = LEAF_SIZE, G: float = 1.0):
        self.pos, self.mass = check_particles(pos, mass)
        if len(self.mass) == 0:
            raise ValueError("cannot build a tree of zero particles")
        if not (isinstance(leaf_size, (int, np.integer)) and leaf_size >= 1):
            raise ValueError(f"leaf_size must be an integer >= 1, got {leaf_size!r}")
        self.h = _as_eps(eps, len(self.mass))
        self.G = float(G)
        self.nodes = build_tree(self.pos, self.mass, self.h, int(leaf_size))
        perm = self.nodes[0]
        # particle data in tree order: leaves are contiguous, consecutive targets share their walks
        self._spos = np.ascontiguousarray(self.pos[perm])
        self._smass = np.ascontiguousarray(self.mass[perm])
        self._sh = np.ascontiguousarray(self.h[perm])
        self._rank = np.empty(len(perm), dtype=np.int64)
        self._rank[perm] = np.arange(len(perm))
        _, center, half, start, count, isleaf, nxt, M, com, Q, hmax, delta = self.nodes
        self._f, self._g = pack_nodes(center, half, M, com, Q, hmax, delta, start, count, isleaf, nxt)
        self.last_interactions = None
        self._groups = {}
        self._group_topology = {}
        self._parents = None
        self._half0 = self._f[:, N_HALF].copy()
        #: number of :meth:`refit` calls since the build
        self.refits = 0

    def refit(self, pos):
        """Reuse the tree for new positions of the same particles (same masses and softenings).

        Keeps the topology (the particles' leaves and groups) and recomputes the node moments exactly
        from ``pos``; node cubes grow to keep containing their particles (see
        :func:`nbody._kernels.tree_build.refit_nodes`), so the force error stays bounded by the same opening
        tests while the cost grows with the drift: rebuild once particles have moved far (GADGET
        rebuilds after a fixed fraction of force evaluations, see
        ``tree_rebuild_fraction`` of :class:`nbody.timestepping.ForceConfig`).
        """
        pos = np.asarray(pos, dtype=np.float64)
        if pos.shape != self.pos.shape:
            raise ValueError(f"pos must have shape {self.pos.shape} (the tree's particles), got {pos.shape}")
        if not np.all(np.isfinite(pos)):
            raise ValueError("pos must be finite")
        self.pos = np.ascontiguousarray(pos)
        if self._parents is None:
            self._parents = tree_parents(self._g)
        # a fresh array: callers may still hold the previous tree-order positions
        self._spos = np.empty_like(self._spos)
        refit_nodes(self.pos, perm_of(self), self._spos, self._smass, self._f, self._g, self._half0, *self._parents)
        self._groups = {}
        self.refits += 1
        return self

    def groups(self, group_size: int):
        """(group id per tree-order particle, group boxes, group max support radii), cached per size."""
        if group_size not in self._groups:
            if group_size not in self._group_topology:  # survives refits: only the boxes move
                self._group_topology[group_size] = group_nodes(self._g, int(group_size))
            grp_of, gnode = self._group_topology[group_size]
            self._groups[group_size] = (grp_of, *group_boxes(gnode, self._g, self._spos, self._sh))
        return self._groups[group_size]

    def ball(self, centre, radius: float):
        """Indices of the particles within ``radius`` of ``centre`` (plus possibly a few just outside,
        within a relative 1e-12: apply the exact test to the result), in ascending order; O(log N + k)."""
        cx, cy, cz = (float(v) for v in centre)
        return ball_candidates(self._f, self._g, self._spos, perm_of(self), cx, cy, cz, float(radius))

    @property
    def n_nodes(self) -> int:
        return len(self.nodes[1])

    def accelerations(self, targets=None, theta: float = 0.5, criterion: str = "geometric",
                      alpha: float = 0.005, a_old=None, quadrupole: bool = True, grouped: bool = True,
                      group_size: int | None = None, a_old_all=None):
        """Accelerations and potentials (self term excluded) on ``targets`` (default all).

        ``criterion="geometric"``: open nodes with l / (r - delta) > theta (``theta`` in (0, 1.5]).
        ``criterion="relative"``: GADGET-2's G M l^2/r^4 > alpha |a_old| (needs ``a_old``, the
        acceleration magnitudes of the previous step for the targets).

        ``grouped=True`` (default): one walk per group of nearby particles (the maximal tree nodes with
        at most ``group_size`` particles, default :data:`GROUP_SIZE`), with the opening tests applied to
        the group's bounding box (more conservative than per target, hence a smaller error at equal
        ``theta``; see
        :mod:`nbody._kernels.tree_walk`). With the geometric criterion a particle's force depends only on the
        tree and the particle, not on the other targets. With the relative criterion the group uses the
        smallest ``a_old`` of its targets in this call, or, if ``a_old_all`` (|a_old| of all N particles)
        is given, the smallest over all the group's particles -- then again independent of the other
        targets (MPI splits). ``grouped=False``: one walk per target.
        """
        if criterion not in CRITERIA:
            raise ValueError(f"criterion must be one of {sorted(CRITERIA)}, got {criterion!r}")
        if not (0 < theta <= 1.5):
            raise ValueError(f"theta must be in (0, 1.5], got {theta}")
        t = np.arange(len(self.mass)) if targets is None else np.ascontiguousarray(targets, dtype=np.int64)
        if criterion == "relative":
            if not alpha > 0:
                raise ValueError(f"alpha must be > 0, got {alpha}")
            if a_old is None:
                raise ValueError("a_old (|a| of the previous step) is required by criterion='relative'")
            aold = np.ascontiguousarray(np.broadcast_to(np.asarray(a_old, dtype=np.float64), (len(t),)))
        else:
            aold = np.zeros(len(t))
        rank = self._rank[t]
        order = np.argsort(rank, kind="stable")
        srank = np.ascontiguousarray(rank[order])
        saold = np.ascontiguousarray(aold[order])
        if grouped:
            group_size = GROUP_SIZE if group_size is None else group_size
            if not (isinstance(group_size, (int, np.integer)) and group_size >= 1):
                raise ValueError(f"group_size must be an integer >= 1, got {group_size!r}")
            grp_of, gbox, ghmax = self.groups(int(group_size))
            gid_t = grp_of[srank]
            if criterion == "relative" and a_old_all is not None:
                aa = np.asarray(a_old_all, dtype=np.float64)
                if aa.shape != (len(self.mass),):
                    raise ValueError(f"a_old_all must have shape ({len(self.mass)},), got {aa.shape}")
                # groups are contiguous ranges in tree order: minimum per group, then per target
                starts = np.concatenate(([0], np.flatnonzero(np.diff(grp_of)) + 1))
                saold = np.ascontiguousarray(np.minimum.reduceat(aa[perm_of(self)], starts)[gid_t])
            cut = np.flatnonzero(np.diff(gid_t)) + 1
            seg = np.concatenate(([0], cut, [len(srank)])).astype(np.int64)
            gid = np.ascontiguousarray(gid_t[seg[:-1]]) if len(srank) else np.zeros(0, dtype=np.int64)
            if len(srank) == 0:
                seg = np.zeros(1, dtype=np.int64)
            args = (srank, seg, gid, self._spos, self._smass, self._sh, self.G, float(theta), float(alpha), saold,
                    CRITERIA[criterion], bool(quadrupole), self._f, self._g, gbox, ghmax)
            nseg = len(seg) - 1
            if len(t) >= PARALLEL_MIN_TARGETS and nseg > 1:
                # many more blocks than threads, handed out dynamically: group costs vary (cusp vs halo)
                nblocks = min(nseg, 32 * numba.get_num_threads())
                with numba.parallel_chunksize(1):
                    acc_s, pot_s, nint_s = tree_accel_grouped(*args, nblocks)
            else:
                acc_s, pot_s, nint_s = tree_accel_grouped_serial(*args, 1)  # one block
        else:
            walk = tree_accel if len(t) >= PARALLEL_MIN_TARGETS else tree_accel_serial
            acc_s, pot_s, nint_s = walk(srank, self._spos, self._smass, self._sh, self.G, float(theta), float(alpha),
                                        saold, CRITERIA[criterion], bool(quadrupole), perm_of(self), self._f,
                                        self._g)
        acc = np.empty_like(acc_s)
        pot = np.empty_like(pot_s)
        nint = np.empty_like(nint_s)
        acc[order] = acc_s
        pot[order] = pot_s
        nint[order] = nint_s
        self.last_interactions = nint
        return acc, pot


def tree_forces(pos, mass, eps, G=1.0, theta=0.5, targets=None, leaf_size=LEAF_SIZE, quadrupole=True, grouped=True,
                group_size=None):
    """One-call tree accelerations and potentials (geometric criterion)."""
    return Octree(pos, mass, eps, leaf_size=leaf_size, G=G).accelerations(targets=targets, theta=theta,
                                                                          quadrupole=quadrupole, grouped=grouped,
                                                                          group_size=group_size)
