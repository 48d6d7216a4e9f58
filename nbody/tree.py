"""Barnes-Hut octree gravity (monopole + quadrupole, GADGET cubic-spline softening).

Usage::

    tree = Octree(pos, mass, eps)                       # O(N log N) build
    acc, pot = tree.accelerations(theta=0.5)            # all particles
    acc, pot = tree.accelerations(targets=idx, criterion="relative", alpha=0.005, a_old=|a|)

or :func:`tree_forces` for one call. See :mod:`nbody._kernels.tree` for the
multipole formulas and opening criteria (Barnes & Hut 1986; Barnes 1994;
Hernquist 1987; Springel 2005 eq. 18).
"""
from __future__ import annotations

import numpy as np

import numba

from ._kernels.tree import (build_groups, build_tree, pack_nodes, tree_accel, tree_accel_grouped,
                            tree_accel_grouped_serial, tree_accel_serial)
from .direct import _as_eps, check_particles

#: below this many targets the serial walk is used (thread start-up costs more than it saves)
PARALLEL_MIN_TARGETS = 256
#: default group size of the grouped walk (targets sharing one walk: maximal nodes with <= this many
#: particles); tuned at N = 1e4-1e5 on 2 cores, see benchmarks/nbody_tree.py --group-sizes
GROUP_SIZE = 64

CRITERIA = {"geometric": 0, "relative": 1}


def perm_of(tree):
    return tree.nodes[0]


class Octree:
    """An octree over ``pos`` (N, 3) with masses and Plummer-equivalent softenings ``eps``."""

    def __init__(self, pos, mass, eps, leaf_size: int = 8, G: float = 1.0):
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

    def groups(self, group_size: int):
        """(group id per tree-order particle, group boxes, group max support radii), cached per size."""
        if group_size not in self._groups:
            self._groups[group_size] = build_groups(self._f, self._g, self._spos, self._sh, int(group_size))
        return self._groups[group_size]

    @property
    def n_nodes(self) -> int:
        return len(self.nodes[1])

    def accelerations(self, targets=None, theta: float = 0.5, criterion: str = "geometric",
                      alpha: float = 0.005, a_old=None, quadrupole: bool = True, grouped: bool = True,
                      group_size: int = GROUP_SIZE):
        """Accelerations and potentials (self term excluded) on ``targets`` (default all).

        ``criterion="geometric"``: open nodes with l / (r - delta) > theta (``theta`` in (0, 1.5]).
        ``criterion="relative"``: GADGET-2's G M l^2/r^4 > alpha |a_old| (needs ``a_old``, the
        acceleration magnitudes of the previous step for the targets).

        ``grouped=True`` (default): one walk per group of nearby particles (the maximal tree nodes with
        at most ``group_size`` particles), with the opening tests applied to the group's bounding box
        (more conservative than per target, hence a smaller error at equal ``theta``; see
        :mod:`nbody._kernels.tree`). With the geometric criterion a particle's force depends only on the
        tree and the particle, not on the other targets. With the relative criterion the group uses the
        smallest ``a_old`` of its targets in this call. ``grouped=False``: one walk per target.
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
            if not (isinstance(group_size, (int, np.integer)) and group_size >= 1):
                raise ValueError(f"group_size must be an integer >= 1, got {group_size!r}")
            grp_of, gbox, ghmax = self.groups(int(group_size))
            gid_t = grp_of[srank]
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
                acc_s, pot_s, nint_s = tree_accel_grouped_serial(*args)
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


def tree_forces(pos, mass, eps, G=1.0, theta=0.5, targets=None, leaf_size=8, quadrupole=True, grouped=True,
                group_size=GROUP_SIZE):
    """One-call tree accelerations and potentials (geometric criterion)."""
    return Octree(pos, mass, eps, leaf_size=leaf_size, G=G).accelerations(targets=targets, theta=theta,
                                                                          quadrupole=quadrupole, grouped=grouped,
                                                                          group_size=group_size)
