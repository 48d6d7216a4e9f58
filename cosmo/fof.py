"""Friends-of-friends (FoF) halos in a periodic box and the halo / out-of-halo particle split.

Two particles are friends when closer than the linking length ``l = b * d``, with
``d = (V / N)^(1/3)`` the mean interparticle separation and ``b = 0.2`` by default
(Davis, Efstathiou, Frenk & White 1985, ApJ 292, 371); groups are the connected
components of the friendship graph. Xu (2022, arXiv:2202.06515, sec. 2) splits the
particles into halo particles (members of groups of at least ``min_size`` particles;
2 by default, so that every non-isolated particle belongs to a halo) and out-of-halo
particles, and compares pair statistics of the two populations.

Algorithm: a cell list of cell size >= l and a union-find forest (path compression,
the smaller index as root), so the result is the exact connected-component partition
and independent of traversal order. Periodic boundaries use the minimum image, so groups
straddling the box faces are joined. MPI: the cells are split between ranks, each rank
links the pairs of its cells into its own forest, the forests are all-gathered and
stitched (union of each particle with its root in every rank's forest), which yields the
serial partition exactly.

Example
-------
>>> import numpy as np
>>> from cosmo.fof import friends_of_friends
>>> rng = np.random.default_rng(1)
>>> halo = 50 + 0.3 * rng.standard_normal((200, 3))           # one compact clump ...
>>> pos = np.vstack([halo, rng.uniform(0, 100, (800, 3))])    # ... in a uniform field
>>> cat = friends_of_friends(pos, box=100.0, b=0.2)
>>> int(cat.npart[0]), cat.centre[0].round(1).tolist()         # the clump is the largest group
(200, [50.0, 50.0, 49.9])
"""
from __future__ import annotations

import dataclasses

import numpy as np

import gpu

from .cell_grid import as_points, check_box, choose_grid, sort_into_cells, wrap_into_box


@dataclasses.dataclass
class FoFCatalogue:
    """Groups sorted by decreasing size (ties: lowest member index first).

    Attributes
    ----------
    group : (N,) int  group index of each particle, -1 for particles outside halos
        (groups smaller than ``min_size``).
    npart, mass : (Ng,) members and total mass of each halo.
    centre : (Ng, 3) mass-weighted centre (periodic-aware: members unwrapped around the
        first member before averaging, then wrapped into the box).
    velocity : (Ng, 3) mass-weighted mean velocity (None without velocities).
    linking_length : float; b : float or None; min_size : int.
    """

    group: np.ndarray
    npart: np.ndarray
    mass: np.ndarray
    centre: np.ndarray
    velocity: np.ndarray | None
    linking_length: float
    b: float | None
    min_size: int

    @property
    def in_halo(self) -> np.ndarray:
        """Boolean per particle: member of a halo (a group of >= min_size particles)."""
        return self.group >= 0

    @property
    def ngroups(self) -> int:
        return len(self.npart)

    def to_datasets(self) -> dict:
        d = {"fof/group": self.group, "fof/npart": self.npart, "fof/mass": self.mass, "fof/centre": self.centre}
        if self.velocity is not None:
            d["fof/velocity"] = self.velocity
        return d


def fof_labels(pos, box, linking_length, comm=None, periodic=None) -> np.ndarray:
    """Connected-component label (the smallest member index) of every particle."""
    from ._kernels import fof as K

    periodic = (box is not None) if periodic is None else bool(periodic)
    box = check_box(box, periodic)
    pos = as_points("pos", pos)
    ll = float(linking_length)
    if not ll > 0:
        raise ValueError(f"linking_length must be > 0, got {ll}")
    if periodic:
        if ll >= 0.5 * box:
            raise ValueError(f"linking_length ({ll}) must be below half the box ({0.5 * box})")
        pos = wrap_into_box("pos", pos, box)
        lo, span = np.zeros(3), box
    else:
        lo = pos.min(axis=0)
        span = float(np.max(pos.max(axis=0) - lo)) * (1 + 1e-9) or 1.0
    n = len(pos)
    # the link test is r <= ll: pad the cell reach by a hair so r == ll lies within reach
    nc, ext = choose_grid(span, ll * (1 + 1e-9), n, periodic, refine=1)
    order, start = sort_into_cells(pos, lo, span / nc, nc)
    spos = np.ascontiguousarray(pos[order])
    comm = gpu.get_comm(comm)
    ncell = nc ** 3
    cum = np.cumsum(np.diff(start))
    size, rank = getattr(comm, "size", 1), getattr(comm, "rank", 0)
    c_lo = 0 if rank == 0 else int(np.searchsorted(cum, n * rank / size, side="left"))
    c_hi = ncell if rank == size - 1 else int(np.searchsorted(cum, n * (rank + 1) / size, side="left"))
    parent = np.arange(n, dtype=np.int64)
    K.fof_link(spos, order.astype(np.int64), start, nc, ext, box, periodic, ll * ll, c_lo, max(c_hi, c_lo), parent)
    roots = K.resolve_roots(parent)
    if size > 1:
        all_roots = np.empty((size, n), dtype=np.int64)
        comm.Allgather(roots, all_roots)
        parent = np.arange(n, dtype=np.int64)
        K.merge_forests(parent, all_roots)
        roots = K.resolve_roots(parent)
    return roots


def friends_of_friends(pos, box, b: float = 0.2, linking_length: float | None = None, vel=None, mass=None,
                       min_size: int = 2, comm=None, periodic=None) -> FoFCatalogue:
    """FoF groups with linking length ``b`` times the mean interparticle separation.

    Parameters
    ----------
    pos : (N, 3) positions in ``[0, box)`` (periodic) or anywhere (``box=None``).
    box : float or None.
    b : float
        Linking parameter in units of the mean separation ``(V/N)^(1/3)`` (0 < b < 1).
        Ignored when ``linking_length`` is given (absolute, same unit as ``pos``).
    vel, mass : optional per-particle velocities (N, 3) and masses (N,) (default 1).
    min_size : int
        Smallest group counted as a halo (>= 1; Xu 2022 uses 2).
    """
    pos = as_points("pos", pos)
    n = len(pos)
    periodic = (box is not None) if periodic is None else bool(periodic)
    if linking_length is None:
        if not (0 < b < 1):
            raise ValueError(f"b must be in (0, 1) (units of the mean interparticle separation), got {b}")
        if box is None:
            raise ValueError("b needs a box volume; give linking_length for an open sample")
        linking_length = b * float(box) / n ** (1.0 / 3.0)
        bval = float(b)
    else:
        bval = None
    if not isinstance(min_size, (int, np.integer)) or min_size < 1:
        raise ValueError(f"min_size must be an integer >= 1, got {min_size!r}")
    m = np.ones(n) if mass is None else np.asarray(mass, dtype=np.float64)
    if m.shape != (n,):
        raise ValueError(f"mass must have shape ({n},), got {m.shape}")
    if vel is not None:
        vel = as_points("vel", vel, n)
    roots = fof_labels(pos, box, linking_length, comm=comm, periodic=periodic)
    uniq, inv, counts = np.unique(roots, return_inverse=True, return_counts=True)
    keep = counts >= min_size
    # order: size descending, then smallest member index (= root) ascending
    order = np.lexsort((uniq[keep], -counts[keep]))
    gid_of_root = np.full(len(uniq), -1, dtype=np.int64)
    gid_of_root[np.nonzero(keep)[0][order]] = np.arange(order.size)
    group = gid_of_root[inv]
    ng = order.size
    sel = group >= 0
    g = group[sel]
    npart = np.bincount(g, minlength=ng)
    gm = np.bincount(g, m[sel], minlength=ng)
    # periodic-aware centre: offsets from the group's root particle, minimum image
    ref = pos[roots[sel]]
    dx = pos[sel] - ref
    if periodic:
        dx -= box * np.round(dx / box)
    centre = np.stack([np.bincount(g, m[sel] * dx[:, k], minlength=ng) for k in range(3)], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre /= gm[:, None]
    root_pos = np.zeros((ng, 3))
    root_pos[g] = ref
    centre += root_pos
    if periodic:
        centre %= box
    velocity = None
    if vel is not None:
        velocity = np.stack([np.bincount(g, m[sel] * vel[sel, k], minlength=ng) for k in range(3)], axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            velocity /= gm[:, None]
    return FoFCatalogue(group=group, npart=npart, mass=gm, centre=centre, velocity=velocity,
                        linking_length=float(linking_length), b=bval, min_size=int(min_size))
