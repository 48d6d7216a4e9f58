"""Minimum-spanning-tree (MSTAR) relative coordinates, and the AR-CHAIN chain as a special case.

Rantala, Pihajoki, Mannerkoski, Johansson & Naab (2020, arXiv:2001.03180), sect. 2.3:

* the tree is the Euclidean minimum spanning tree of the bodies, built with
  Prim's algorithm and rooted at the body nearest the centre of mass;
* the integrator's variables are the root's absolute position/velocity and one
  relative vector per tree edge, ``Q_c = x_c - x_parent(c)``;
* separations of bodies at tree distance <= 2 are sums of at most two edge
  vectors (no cancellation against large absolute coordinates); all others come
  from absolute positions rebuilt along the tree;
* when the tree is rebuilt, new edge vectors are exact sums of old edge vectors
  along the old tree path, so no precision is lost in the switch.

``kind="chain"`` gives the AR-CHAIN chain (Mikkola & Aarseth 1993; Mikkola &
Merritt 2008): start from the closest pair, repeatedly append the nearest free
body at either end. ``kind="cartesian"`` makes every body its own root.

>>> import numpy as np
>>> pos = np.array([[0.0, 0, 0], [1.0, 0, 0], [1.0, 0.5, 0], [3.0, 0, 0]]); mass = np.ones(4)
>>> tree = build_tree(pos, mass)            # Prim MST rooted near the CoM
>>> Q = tree.to_tree(pos)
>>> bool(np.array_equal(tree.to_absolute(Q), pos))   # round trip
True
>>> tree.separation(0, 2, Q)                # x_2 - x_0 by the MSTAR rule (sum of two edges)
array([1. , 0.5, 0. ])
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ._kernels import mst as K

KINDS = {"mstar": 0, "chain": 1, "cartesian": 2}


@dataclasses.dataclass
class Tree:
    """A spanning tree (or forest): ``parent[c]`` (-1 for roots) and a parents-first ``order``."""

    parent: np.ndarray
    order: np.ndarray
    kind: str

    @property
    def root(self) -> int:
        return int(self.order[0])

    @property
    def depth(self) -> np.ndarray:
        return K.depths(self.parent, self.order)

    def edges(self) -> list[tuple[int, int]]:
        """(parent, child) pairs in parents-first order."""
        return [(int(self.parent[c]), int(c)) for c in self.order if self.parent[c] >= 0]

    def to_tree(self, x) -> np.ndarray:
        """Tree coordinates (edge vectors; absolute vectors at roots) of positions or velocities."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        out = np.empty_like(x)
        K.to_tree(x, self.parent, out)
        return out

    def to_absolute(self, Q) -> np.ndarray:
        Q = np.ascontiguousarray(Q, dtype=np.float64)
        out = np.empty_like(Q)
        K.to_absolute(Q, self.parent, self.order, out)
        return out

    def separation(self, i: int, j: int, Q) -> np.ndarray:
        """x_j - x_i: edge sums for tree distance <= 2, else from absolute positions (MSTAR rule)."""
        Q = np.ascontiguousarray(Q, dtype=np.float64)
        out = np.empty(3)
        K.pair_sep(int(i), int(j), Q, self.to_absolute(Q), self.parent, out)
        return out

    def path_separation(self, i: int, j: int, Q) -> np.ndarray:
        """x_j - x_i summed along the tree path (exact re-use of the edge vectors)."""
        out = np.empty(3)
        K.path_sep(int(i), int(j), np.ascontiguousarray(Q, dtype=np.float64), self.parent, self.depth, out)
        return out

    def tree_distance(self, i: int, j: int) -> int:
        """Number of edges between i and j (-1 if in different trees of a forest)."""
        dep = self.depth
        a, b, d = int(i), int(j), 0
        while a != b:
            if a < 0 or b < 0:
                return -1
            if dep[a] >= dep[b]:
                a = int(self.parent[a])
            else:
                b = int(self.parent[b])
            d += 1
        return d


def build_tree(pos, mass, kind: str = "mstar") -> Tree:
    """Build the MST (default), the AR-CHAIN chain or the Cartesian forest of the bodies."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")
    pos = np.ascontiguousarray(pos, dtype=np.float64)
    mass = np.ascontiguousarray(mass, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 3 or mass.shape != (pos.shape[0],):
        raise ValueError(f"pos must be (N, 3) and mass (N,), got {pos.shape} and {mass.shape}")
    par, order = K.build_mst(pos, mass, KINDS[kind])
    return Tree(par, order, kind)
