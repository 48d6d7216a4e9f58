"""Domain decomposition of the softened bulk over MPI ranks (GADGET-2 style).

Each rank owns the particles of one contiguous range of a space-filling curve
(Peano-Hilbert keys as in GADGET-2, Skilling 2004 for the index; Morton / Z-order
keys, Warren & Salmon 1993, optional), the ranges chosen so that every
rank gets an equal share of the work (Springel 2005, MNRAS 364, 1105, sec. 5.1:
the cost of a particle is the number of interactions of its last force
evaluation times its number of force evaluations per block, mixed half and half
with the particle count so that memory stays balanced too). Particles migrate
with all their state (IDs included) through ``Alltoallv``.

Forces on local targets (:func:`domain_forces`):

1. the local tree of the rank's own particles is walked for them;
2. every rank publishes its *top tree* (allgather): the records (mass, centre
   of mass, traceless quadrupole about it, largest softening radius of the
   particles, and the cell's geometric centre and half side, as the tree's
   nodes) of the octree cells of the global cube that its key range covers,
   refined until a top leaf holds at most 1/``TOP_CELLS`` of the domain, in
   preorder with skip pointers;
3. every local target walks every remote rank's top tree with the tree's own
   opening test (the same geometric / relative criterion, box and softening
   tests as :mod:`nbody._kernels.tree_walk`): accepted cells contribute their
   monopole + quadrupole; if a top *leaf* must be opened the target is
   *exported* to that rank instead (its position, softening and |a_old| go
   there by ``Alltoallv``), which walks its local tree for it and sends back the
   partial acceleration, potential and interaction count.

So every force is a sum of exact particle-particle terms and accepted multipoles
that pass the same criterion as the serial tree: the error is the tree's own
(tests: median relative error vs direct summation < 1e-3 on 2 ranks, and the
difference to the serial tree of the same order as the tree's error). Memory
per rank: the local particles, the top-tree table (O(ranks * TOP_CELLS)) and
the imported targets.

:class:`nbody.timestepping.HierarchicalKDK` composed with :class:`DomainForces` and
:class:`DomainDecomposition` runs on a domain decomposition: kicks and drifts on owned
particles, the next synchronisation time from a global minimum, re-decomposition with migration at every full
synchronisation, and KETJU regions whose members (the SMBHs and the stars within
r_ketju) are migrated at every region step to the rank that integrates the
region (region k on rank k mod size), which also gathers the buffer-zone
neighbours' data for the region timestep. Output (snapshots, SMBH log,
checkpoints) gathers the particles in GADGET order (type, then ID), identical to
the replicated engine's order.
"""
from __future__ import annotations

import time
import types

import numpy as np

from gpu import block_range, get_comm

from ._kernels.domain import (KEY_BITS, T_C, T_COM, T_DELTA, T_HALF, hilbert_keys, morton_keys, remote_top_nodes,
                              segment_nodes, tree_accel_foreign)
from ._kernels.direct import direct_accel_sources
from .direct import direct_forces
from .particles import PTYPE_BH
from .ketju import find_regions
from .softening import spline_radius
from .timestepping import Decomposition, ForceConfig, ForceSolver
from .tree import CRITERIA, SIM_LEAF_SIZE, Octree

#: the space-filling curve of the domains: "hilbert" (Peano-Hilbert, GADGET-2's choice: consecutive keys are
#: face neighbours, so domains are more compact) or "morton" (Z-order)
CURVE = "hilbert"
#: a domain's top leaves hold at most 1/TOP_CELLS of its particles (the published table has ~1.2-4 TOP_CELLS
#: records per rank). Measured, Hernquist N = 2e4 (geometric top cells): exported targets per particle
#: 1.0 / 2.4-2.5 / 4.3-4.8 on 2 / 4 / 8 ranks, nearly independent of TOP_CELLS in 64..1024 (in a cusp every
#: domain reaches the dense centre), total interactions 1.15 / 1.18 / 1.29 x the serial tree's.
TOP_CELLS = 64


def _size_rank(comm):
    return getattr(comm, "size", 1), getattr(comm, "rank", 0)


# ---------------------------------------------------------------------------------------- communication
def exchange(comm, dest, arrays: dict):
    """Send row i of every array in ``arrays`` to rank ``dest[i]`` (MPI ``Alltoallv``, one per array).

    Returns (received, order, recv_counts): ``received[name]`` holds the rows sent to this rank,
    grouped by source rank (ascending) and in the sender's order within each group; ``order`` is the
    stable sort of ``dest`` (the order in which this rank's rows were sent), so an answer sent back with
    ``exchange(comm, np.repeat(np.arange(size), recv_counts), answers)`` arrives in ``order``.
    """
    size, _ = _size_rank(comm)
    dest = np.asarray(dest, dtype=np.int64)
    if np.any((dest < 0) | (dest >= size)):
        raise ValueError(f"dest must be in [0, {size}), got values outside")
    order = np.argsort(dest, kind="stable")
    counts = np.bincount(dest, minlength=size).astype(np.int64)
    if size == 1:
        return {k: np.ascontiguousarray(np.asarray(a)[order]) for k, a in arrays.items()}, order, counts
    from mpi4py import MPI

    rcounts = np.asarray(comm.alltoall(counts.tolist()), dtype=np.int64)
    nrecv = int(rcounts.sum())
    out = {}
    for name, a in arrays.items():
        a = np.ascontiguousarray(np.asarray(a)[order])
        row = int(np.prod(a.shape[1:], dtype=np.int64))
        nbytes = a.dtype.itemsize * row
        send = a.reshape(len(a), row).view(np.uint8).reshape(len(a), nbytes) if len(a) else np.empty((0, nbytes),
                                                                                                    np.uint8)
        recv = np.empty((nrecv, nbytes), dtype=np.uint8)
        sc, rc = counts * nbytes, rcounts * nbytes
        sd = np.concatenate([[0], np.cumsum(sc)[:-1]])
        rd = np.concatenate([[0], np.cumsum(rc)[:-1]])
        comm.Alltoallv([send, (sc.tolist(), sd.tolist()), MPI.BYTE], [recv, (rc.tolist(), rd.tolist()), MPI.BYTE])
        out[name] = recv.view(a.dtype).reshape((nrecv,) + a.shape[1:])
    return out, order, rcounts


def global_box(comm, pos):
    """Bounding box (lo, hi) of the particles of all ranks."""
    if len(pos):
        box = (pos.min(axis=0), pos.max(axis=0))
    else:
        box = (np.full(3, np.inf), np.full(3, -np.inf))
    boxes = comm.allgather(box) if _size_rank(comm)[0] > 1 else [box]
    lo = np.min([b[0] for b in boxes], axis=0)
    hi = np.max([b[1] for b in boxes], axis=0)
    return lo, hi


def _grid_scale(lo, hi):
    """Integer grid of the keys: cell (i, j, k) = floor((x - lo) * scale), 2^21 cells along the cube's side."""
    side = float(np.max(hi - lo)) if np.all(np.isfinite(hi - lo)) else 1.0
    side = side * (1 + 1e-9) if side > 0 else 1.0
    return float(1 << KEY_BITS) / side


def keys_of(pos, lo, hi, curve=None):
    """Space-filling-curve keys (``curve`` "hilbert" or "morton", default :data:`CURVE`) in the box (lo, hi)
    (the cube of its largest side)."""
    curve = CURVE if curve is None else curve
    if curve not in ("hilbert", "morton"):
        raise ValueError(f"curve must be 'hilbert' or 'morton', got {curve!r}")
    scale = _grid_scale(lo, hi)
    fn = hilbert_keys if curve == "hilbert" else morton_keys
    return fn(np.ascontiguousarray(pos, dtype=np.float64), np.asarray(lo, dtype=np.float64), scale)


def key_splits(comm, keys, cost):
    """Split keys s_1 <= ... <= s_{size-1}: rank j owns keys in [s_j, s_{j+1}) with equal shares of ``cost``.

    Exact bisection on the 63-bit key line, one small allreduce per bit: s_j is the smallest key with
    cost(keys < s_j) >= j * total / size.
    """
    size, _ = _size_rank(comm)
    if size == 1:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    cc = np.concatenate([[0.0], np.cumsum(np.asarray(cost, dtype=np.float64)[order])])
    total = float(comm.allreduce(float(cc[-1])))
    want = total * np.arange(1, size) / size
    lo = np.zeros(size - 1, dtype=np.int64)
    hi = np.full(size - 1, np.iinfo(np.int64).max, dtype=np.int64)
    for _ in range(64):
        mid = lo + (hi - lo) // 2
        below = np.asarray(comm.allreduce(cc[np.searchsorted(sk, mid, side="left")]), dtype=np.float64)
        ge = below >= want
        hi = np.where(ge, mid, hi)
        lo = np.where(ge, lo, mid)
    return hi


def _top_tree(sk, max_count):
    """The top tree of sorted keys ``sk``: octree cells (contiguous key runs) split until they hold at most
    ``max_count`` particles, in preorder: (start, end, leaf, next, level) with next = index after the
    subtree and level the octree level of the cell (0: the global cube)."""
    start, end, leaf, nxt, lev = [], [], [], [], []

    def rec(a, b, level):
        i = len(start)
        start.append(a)
        end.append(b)
        leaf.append(b - a <= max_count or level >= KEY_BITS)
        nxt.append(-1)
        lev.append(level)
        if not leaf[i]:
            shift = 3 * (KEY_BITS - level - 1)
            base = (int(sk[a]) >> (shift + 3)) << 3
            edges = np.searchsorted(sk[a:b], (base + np.arange(1, 8, dtype=np.int64)) << shift) + a
            bounds = [a, *edges.tolist(), b]
            for j in range(8):
                if bounds[j + 1] > bounds[j]:
                    rec(bounds[j], bounds[j + 1], level + 1)
        nxt[i] = len(start)

    rec(0, len(sk), 0)
    return (np.array(start, dtype=np.int64), np.array(end, dtype=np.int64), np.array(leaf, dtype=bool),
            np.array(nxt, dtype=np.int64), np.array(lev, dtype=np.int64))


def top_tree(pos, mass, h, lo, hi, n_cells=None, curve=None):
    """This rank's top tree in the global box (lo, hi): (records (n, 16), next, leaf).

    Nodes are the octree cells of the global cube (:func:`_top_tree`); a record holds the mass, centre of
    mass, quadrupole and largest softening radius of the cell's particles and the cell's *geometric*
    centre and half side (as the nodes of :mod:`nbody._kernels.tree_build`, so that the opening test has the
    same meaning and accuracy: a box fitted tightly around a handful of particles would be accepted
    closer to the target than the tree's cell, with larger errors).
    """
    if len(mass) == 0:
        return np.zeros((0, 16)), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    keys = keys_of(pos, lo, hi, curve)
    order = np.argsort(keys, kind="stable")
    n_cells = TOP_CELLS if n_cells is None else int(n_cells)
    start, end, leaf, nxt, level = _top_tree(keys[order], max(1, -(-len(mass) // n_cells)))
    spos = np.ascontiguousarray(pos[order])
    cells = segment_nodes(spos, np.ascontiguousarray(mass[order]), np.ascontiguousarray(h[order]), start, end)
    scale = _grid_scale(lo, hi)
    ijk = np.clip(np.floor((spos[start] - lo) * scale), 0, (1 << KEY_BITS) - 1).astype(np.int64)
    shift = KEY_BITS - level
    size = np.exp2(shift.astype(np.float64)) / scale
    centre = lo + ((ijk >> shift[:, None]) + 0.5) * (np.exp2(shift.astype(np.float64)) / scale)[:, None]
    cells[:, T_C:T_C + 3] = centre
    cells[:, T_HALF] = 0.5 * size
    cells[:, T_DELTA] = np.linalg.norm(cells[:, T_COM:T_COM + 3] - centre, axis=1)
    return cells, nxt, leaf


# ---------------------------------------------------------------------------------------- forces
def domain_forces(pos, mass, eps, targets=None, comm=None, G=1.0, method="tree", theta=0.5,
                  criterion="geometric", alpha=0.005, a_old=None, leaf_size=SIM_LEAF_SIZE, quadrupole=True, top_cells=None,
                  group_size=0):
    """Softened accelerations and potentials on this rank's ``targets`` from the particles of all ranks.

    ``pos``, ``mass``, ``eps``: this rank's particles; ``targets``: indices into them (default all).
    ``method="tree"``: local tree + remote top nodes + exported walks (module docstring).
    ``top_cells``: see :data:`TOP_CELLS` (the default).
    ``group_size``: grouped local walks (:meth:`nbody.tree.Octree.accelerations`); 0 (default): one walk per
    target, the accuracy of the exported walks, so a target's force has one accuracy whatever its rank.
    ``method="direct"``: a distributed direct sum (every target is sent to every other rank), equal to
    the serial direct sum up to the order of the additions.
    Collective: every rank of ``comm`` must call it. Returns (acc, pot, info) with
    ``info = {"interactions": per target, "exported": rows sent, "imported": rows walked here}``.
    """
    comm = get_comm(comm)
    size, rank = _size_rank(comm)
    pos = np.ascontiguousarray(pos, dtype=np.float64)
    mass = np.ascontiguousarray(mass, dtype=np.float64)
    n = len(mass)
    h = spline_radius(np.ascontiguousarray(np.broadcast_to(np.asarray(eps, dtype=np.float64), (n,))))
    t = np.arange(n) if targets is None else np.ascontiguousarray(targets, dtype=np.int64)
    if method not in ("tree", "direct"):
        raise ValueError(f"method must be 'tree' or 'direct', got {method!r}")
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {sorted(CRITERIA)}, got {criterion!r}")
    if criterion == "relative":
        if a_old is None:
            raise ValueError("a_old (|a| of the previous step) is required by criterion='relative'")
        aold = np.ascontiguousarray(np.broadcast_to(np.asarray(a_old, dtype=np.float64), (len(t),)))
    else:
        aold = np.zeros(len(t))
    tpos, th = np.ascontiguousarray(pos[t]), np.ascontiguousarray(h[t])
    nint = np.zeros(len(t), dtype=np.int64)
    tree = None
    if method == "tree":
        if n:
            tree = Octree(pos, mass, eps, leaf_size=leaf_size, G=G)
        if len(t):
            if criterion == "relative":
                acc, pot = tree.accelerations(t, criterion="relative", alpha=alpha, a_old=aold,
                                              quadrupole=quadrupole, grouped=group_size > 0,
                                              group_size=group_size or None)
            else:
                acc, pot = tree.accelerations(t, theta=theta, quadrupole=quadrupole, grouped=group_size > 0,
                                              group_size=group_size or None)
            nint += tree.last_interactions
        else:
            acc, pot = np.zeros((0, 3)), np.zeros(0)
    else:
        acc, pot = direct_forces(pos, mass, eps, G, targets=t, potential=True)
        nint += n
    info = {"interactions": nint, "exported": 0, "imported": 0}
    if size == 1:
        return acc, pot, info
    # ---- remote domains
    if method == "tree":
        # top trees in the common cube of all particles: with each rank's own cube the exports per particle
        # grew from 2.5 / 4.8 to 2.7 / 5.7 on 4 / 8 ranks (Hernquist N = 2e4, TOP_CELLS = 64), for one allgather saved
        lo, hi = global_box(comm, pos)
        table = comm.allgather(top_tree(pos, mass, h, lo, hi, top_cells))
        ncell = np.array([len(c[0]) for c in table], dtype=np.int64)
        cend = np.cumsum(ncell)
        cstart = cend - ncell
        cells = np.ascontiguousarray(np.concatenate([c[0] for c in table]))
        nxt = np.ascontiguousarray(np.concatenate([c[1] + o for c, o in zip(table, cstart)]))
        leaf = np.ascontiguousarray(np.concatenate([c[2] for c in table]))
        far_a, far_p, export, far_n = remote_top_nodes(tpos, th, aold, cells, nxt, leaf, cstart, cend, rank, float(G),
                                                float(theta), float(alpha), CRITERIA[criterion], bool(quadrupole))
        acc = acc + far_a
        pot = pot + far_p
        nint += far_n
    else:
        masses = np.array(comm.allgather(float(mass.sum()) if n else 0.0))
        export = np.zeros((len(t), size), dtype=bool)
        export[:, (masses > 0) | (np.array(comm.allgather(n)) > 0)] = True
        export[:, rank] = False
    ti, q = np.nonzero(export)
    recv, order, rcounts = exchange(comm, q, {"pos": tpos[ti], "h": th[ti], "aold": aold[ti]})
    m = len(recv["h"])
    if m == 0 or n == 0:
        ra, rp, rn = np.zeros((m, 3)), np.zeros(m), np.zeros(m, dtype=np.int64)
    elif method == "tree":
        # walk the imported targets in curve order (consecutive walks share their nodes: cache locality)
        o = np.argsort(keys_of(recv["pos"], lo, hi), kind="stable")
        sa, sp, sn = tree_accel_foreign(np.ascontiguousarray(recv["pos"][o]), np.ascontiguousarray(recv["h"][o]),
                                        np.ascontiguousarray(recv["aold"][o]), tree._spos, tree._smass, tree._sh,
                                        float(G), float(theta), float(alpha), CRITERIA[criterion], bool(quadrupole),
                                        tree.nodes[0], tree._f, tree._g)
        ra, rp, rn = np.empty_like(sa), np.empty_like(sp), np.empty_like(sn)
        ra[o], rp[o], rn[o] = sa, sp, sn
    else:
        ra, rp = direct_accel_sources(np.ascontiguousarray(recv["pos"]), np.ascontiguousarray(recv["h"]), pos, mass,
                                      h, float(G), True, np.full(m, -1, dtype=np.int64))
        rn = np.full(m, n, dtype=np.int64)
    back, _, _ = exchange(comm, np.repeat(np.arange(size), rcounts), {"acc": ra, "pot": rp, "n": rn})
    rows = ti[order]
    np.add.at(acc, rows, back["acc"])
    np.add.at(pot, rows, back["pot"])
    np.add.at(nint, rows, back["n"])
    info.update(exported=int(len(ti)), imported=int(m))
    return acc, pot, info


# ---------------------------------------------------------------------------------------- the integrator's parts
class DomainForces(ForceSolver):
    """The force solver of the domain decomposition: :func:`domain_forces` on this rank's particles (its
    local tree is built at every call). The relative criterion is used when every rank's targets have
    |a_old| > 0. ``top_cells``: see :data:`TOP_CELLS` (the default)."""

    def __init__(self, config: ForceConfig | None = None, top_cells=None):
        self.config = ForceConfig() if config is None else config
        self.G = self.config.G
        self.top_cells = top_cells

    def attach(self, kdk):
        kdk.counters.update({"exported": 0, "imported": 0})

    def validate(self, decomposition):
        if not decomposition.domain:
            raise ValueError("DomainForces needs a DomainDecomposition")

    def forces(self, kdk, targets, potential=False):
        """(acc, pot, interactions per target) on this rank's ``targets``; collective."""
        c = self.config
        t0 = time.perf_counter()
        allgather = kdk.decomposition.allgather
        relative = c.criterion == "relative" and all(allgather(bool(np.all(kdk.acc_mag[targets] > 0))))
        acc, pot, info = domain_forces(kdk.pos, kdk.mass, kdk.eps, targets, kdk.comm, c.G, c.method, c.theta,
                                       "relative" if relative else "geometric", c.alpha,
                                       kdk.acc_mag[targets] if relative else None, c.leaf_size, c.quadrupole,
                                       self.top_cells, c.group_size)
        kdk.timers["forces"] += time.perf_counter() - t0
        kdk.counters["exported"] += info["exported"]
        kdk.counters["imported"] += info["imported"]
        return acc, pot, info["interactions"]


class DomainDecomposition(Decomposition):
    """Space-filling-curve domains with migration (module docstring): each rank holds its own particles.

    Every rank passes the full initial particle set to :class:`nbody.timestepping.HierarchicalKDK`; each
    rank keeps a block of it and the first decomposition migrates the particles to their domains.
    ``redecompose_every``: full synchronisations between re-decompositions; ``layout``: a checkpoint's
    ``owner``, ``row`` and ``cost`` per particle (each rank takes back exactly its former particles in
    their former order and skips the first decomposition, so a restart repeats the uninterrupted run bit
    for bit); ``work_fraction``: share of the work (interactions x force evaluations per block) in the
    balance, the rest is the count.
    """

    domain = True
    extra_arrays = ("cost",)

    def __init__(self, comm=None, redecompose_every: int = 1, layout=None, work_fraction: float = 0.5):
        super().__init__(comm)
        if not (isinstance(redecompose_every, (int, np.integer)) and redecompose_every >= 1):
            raise ValueError(f"redecompose_every must be an integer >= 1, got {redecompose_every!r}")
        if not 0 <= work_fraction <= 1:
            raise ValueError(f"work_fraction must be in [0, 1], got {work_fraction}")
        self.redecompose_every = int(redecompose_every)
        self.work_fraction = float(work_fraction)
        self._layout = layout
        self._sel = None
        self._skip_decompose = False
        self._full_syncs = 0
        self._tags = None
        self._bh_global = None
        self._keys: list[int] = []

    def attach(self, kdk):
        """Keep this rank's block of the full initial set (or its checkpointed particles)."""
        kdk.cost = np.ones(len(kdk.mass))
        layout = self._layout
        if layout is not None:
            mine = np.flatnonzero(np.asarray(layout["owner"]) == self.rank)
            self._sel = mine[np.argsort(np.asarray(layout["row"])[mine], kind="stable")]
            kdk.cost = np.asarray(layout["cost"], dtype=np.float64).copy()
            self._skip_decompose = True
        else:
            lo, hi = block_range(len(kdk.mass), self.size, self.rank)
            self._sel = np.arange(lo, hi)
        for name in kdk._particle_arrays:
            setattr(kdk, name, np.ascontiguousarray(getattr(kdk, name)[self._sel]))
        kdk.counters.update({"migrated": 0, "decompositions": 0})
        kdk.timers["domain"] = 0.0

    # ---- collectives
    def next_time(self, ti_end):
        local = int(ti_end.min()) if len(ti_end) else np.iinfo(np.int64).max
        return int(min(self.allgather(local)))

    def all_ranks(self, flag: bool) -> bool:
        return all(self.allgather(flag))

    def max_over_ranks(self, k):
        return max(self.allgather(k))

    def sum_over_ranks(self, values: tuple) -> tuple:
        parts = self.allgather(values)
        return tuple(float(sum(p[i] for p in parts)) for i in range(len(values)))

    # ---- migration
    def local_rows(self, kdk, a):
        return a[self._sel]

    def record_work(self, kdk, targets, interactions):
        kdk.cost[targets] = np.maximum(interactions, 1)

    def _migrate(self, kdk, dest, extra: dict):
        """Move every particle array (and the per-particle arrays in ``extra``) to ranks ``dest``."""
        names = kdk._particle_arrays
        arrays = {k: getattr(kdk, k) for k in names}
        arrays.update({"_x_" + k: v for k, v in extra.items()})
        kdk.counters["migrated"] += int(np.sum(dest != self.rank))
        recv, _, _ = exchange(self.comm, dest, arrays)
        for k in names:
            setattr(kdk, k, np.ascontiguousarray(recv[k]))
        return {k: np.ascontiguousarray(recv["_x_" + k]) for k in extra}

    def decompose(self, kdk, extra: dict | None = None):
        """Re-decompose: curve keys in the global box, split by work, migrate (collective)."""
        t0 = time.perf_counter()
        extra = extra or {}
        if self.size > 1:
            lo, hi = global_box(self.comm, kdk.pos)
            keys = keys_of(kdk.pos, lo, hi)
            work = kdk.cost * np.exp2(kdk.bins.astype(np.float64))
            W = float(self.comm.allreduce(float(work.sum())))
            N = int(self.comm.allreduce(len(work)))
            f = self.work_fraction
            mix = f * work / W + (1 - f) / N if W > 0 else np.ones(len(work))
            splits = key_splits(self.comm, keys, mix)
            dest = np.searchsorted(splits, keys, side="right").astype(np.int64)
            extra = self._migrate(kdk, dest, extra)
        kdk.counters["decompositions"] += 1
        kdk.timers["domain"] += time.perf_counter() - t0
        return extra

    def redistribute(self, kdk, ti, ending, a_full, region_step):
        """Re-decompose at full synchronisations (every ``redecompose_every``-th) and, at a region step,
        migrate every region's members to the rank that integrates it (region k on rank k mod size)."""
        n = len(kdk.mass)
        mask = np.zeros(n, dtype=bool)
        mask[ending] = True
        A = np.zeros((n, 3))
        A[ending] = a_full
        extra = {"mask": mask, "A": A}
        if ti == 0:
            self._full_syncs += 1
            if self._skip_decompose:  # restored from a checkpoint: already decomposed
                self._skip_decompose = False
            elif (self._full_syncs - 1) % self.redecompose_every == 0:
                extra = self.decompose(kdk, extra)
        if region_step:
            t0 = time.perf_counter()
            extra["tag"] = self._region_tags(kdk, extra["mask"])
            dest = np.where(extra["tag"] >= 0, extra["tag"] % self.size, self.rank).astype(np.int64)
            extra = self._migrate(kdk, dest, extra) if self.size > 1 else extra
            self._tags = extra["tag"]
            kdk.timers["domain"] += time.perf_counter() - t0
        ending = np.flatnonzero(extra["mask"])
        return ending, extra["A"][ending]

    # ---- regions
    def _region_tags(self, kdk, ending_mask):
        """Global region number of every local particle (-1: none), the rule of :func:`find_regions`."""
        bh = np.flatnonzero(kdk.ptype == PTYPE_BH)
        parts = self.allgather((kdk.ids[bh], kdk.pos[bh]))
        gids = np.concatenate([p[0] for p in parts])
        gpos = np.concatenate([p[1] for p in parts]).reshape(-1, 3)
        o = np.argsort(gids, kind="stable")
        gids, gpos = gids[o], gpos[o]
        nbh = len(gids)
        cand = nbh + np.flatnonzero(ending_mask & (kdk.ptype != PTYPE_BH))
        regs = find_regions(np.concatenate([gpos, kdk.pos]), np.arange(nbh), kdk.r_ketju, candidates=cand)
        tag = np.full(len(kdk.mass), -1, dtype=np.int64)
        row_of_id = {int(i): j for j, i in enumerate(kdk.ids[bh])}
        self._bh_global = (gids, gpos, [r[r < nbh] for r in regs])
        for k, r in enumerate(regs):
            tag[r[r >= nbh] - nbh] = k
            for j in r[r < nbh]:
                loc = row_of_id.get(int(gids[j]))
                if loc is not None:
                    tag[bh[loc]] = k
        return tag

    def find_regions(self, kdk, ending):
        """The regions this rank integrates (their members were migrated here by :meth:`redistribute`)."""
        groups = self._bh_global[2]
        self._keys = [k for k in range(len(groups)) if k % self.size == self.rank]
        return [np.flatnonzero(self._tags == k) for k in self._keys]

    def neighbours(self, kdk, bins_full):
        """Every rank finds its particles in the buffer zone of every region; the owner of a region gathers
        their data."""
        tag = self._tags
        gids, gpos, groups = self._bh_global
        r_k = kdk.r_ketju
        buf2 = (kdk.region_config.buffer_factor * r_k) ** 2
        local, send = [], []
        for k, g in enumerate(groups):
            c = gpos[g]
            d2 = np.min(np.sum((kdk.pos[:, None, :] - c[None]) ** 2, axis=2), axis=1) if len(kdk.pos) else np.zeros(0)
            kdk.counters["late_joiners"] += int(np.sum((d2 < r_k**2) & (tag < 0)))
            nb = np.flatnonzero((d2 < buf2) & (tag < 0))
            local.append(nb)
            send.append((kdk.pos[nb], kdk.vel[nb], kdk.mass[nb], bins_full[nb]))
        gathered = self.allgather(send)
        data = [(np.concatenate([s[k][0] for s in gathered]).reshape(-1, 3),
                 np.concatenate([s[k][1] for s in gathered]).reshape(-1, 3),
                 np.concatenate([s[k][2] for s in gathered]),
                 np.concatenate([s[k][3] for s in gathered])) for k in self._keys]
        return local, data

    # ---- region integration: a region's members live on its owner rank
    def owned_regions(self, kdk) -> list:
        return list(range(len(kdk.regions)))

    def region_comm(self, kdk, k):
        return None

    def share_region_results(self, kdk, results: dict) -> dict:
        return results

    # ---- output
    def state(self, kdk, ptype=None, root=None):
        """All particles (or those of type ``ptype``) in GADGET order (type, then ID); collective.

        ``root=None``: gathered on every rank; ``root=r``: only on rank r (the others get None), so
        output needs O(N) memory on the writing rank only. Returns a namespace with pos, vel, mass,
        ptype, ids, eps, acc_mag, last_a_full, t, G, merger_events, and the layout (owner rank, row
        there, cost) that a checkpoint stores.
        """
        sel = np.ones(len(kdk.mass), dtype=bool) if ptype is None else kdk.ptype == ptype
        la = kdk.last_a_full if kdk.last_a_full is not None and len(kdk.last_a_full) == len(kdk.mass) \
            else np.zeros((len(kdk.mass), 3))
        names = ("pos", "vel", "mass", "ptype", "ids", "eps", "acc_mag", "cost", "owner", "row")
        n = len(kdk.mass)
        src = {"owner": np.full(n, self.rank, dtype=np.int64), "row": np.arange(n)}
        mine = ({k: (src[k] if k in src else getattr(kdk, k))[sel] for k in names}, la[sel], kdk.merger_events)
        if root is None:
            parts = self.allgather(mine)
        else:
            parts = self.comm.gather(mine, root=root) if self.size > 1 else [mine]
            if parts is None:
                return None
        out = {k: np.concatenate([p[0][k] for p in parts]) for k in names}
        out["last_a_full"] = np.concatenate([p[1] for p in parts]).reshape(-1, 3)
        o = np.lexsort((out["ids"], out["ptype"]))
        out = {k: np.ascontiguousarray(v[o]) for k, v in out.items()}
        events = sorted((ev for p in parts for ev in p[2]), key=lambda ev: float(ev.get("time", 0.0)))
        return types.SimpleNamespace(t=kdk.t, G=kdk.G, merger_events=events, **out)

    def global_counters(self, kdk) -> dict:
        """The counters summed over ranks (region steps, migrations, exports, ...); collective."""
        parts = self.allgather(dict(kdk.counters))
        same = ("syncs", "decompositions")  # counted alike on every rank
        return {k: (max if k in same else sum)(p.get(k, 0) for p in parts) for k in kdk.counters}

    def n_total(self, kdk) -> int:
        return int(sum(self.allgather(len(kdk.mass))))
