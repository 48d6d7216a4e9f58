"""Structured tensor-product meshes of lines (1D), quads (2D) and hexes (3D), plus Gauss quadrature.

The ML-VMS levels, the C-HiDeNN patches and the TD 1D factors all live on axis-aligned boxes,
so every mesh here is the tensor product of 1D vertex arrays (uniform or graded).  This makes
patch search (``patch_s(k)`` = the nodes within ``s`` element layers of node ``k``) an index
box and point location a ``searchsorted`` per axis.  Node ``(i_0, ..., i_{d-1})`` has the
C-ordered id ``ravel_multi_index`` (axis 0 slowest).
"""
from __future__ import annotations

from functools import cached_property

import functools

import numpy as np


class StructuredMesh:
    """Tensor-product mesh of box elements.

    Parameters
    ----------
    axes : sequence of 1D arrays
        Strictly increasing vertex coordinates along each axis [m]; ``len(axes)`` = dimension (1-3).
    """

    def __init__(self, axes):
        axes = [np.asarray(a, dtype=float) for a in axes]
        if not 1 <= len(axes) <= 3:
            raise ValueError(f"axes: need 1 to 3 coordinate arrays, got {len(axes)}")
        for i, a in enumerate(axes):
            if a.ndim != 1 or a.size < 2:
                raise ValueError(f"axes[{i}]: need a 1D array of at least 2 vertices")
            if np.any(np.diff(a) <= 0):
                raise ValueError(f"axes[{i}]: vertex coordinates must be strictly increasing")
        self.axes = axes
        self.dim = len(axes)
        self.shape = tuple(a.size for a in axes)
        self.eshape = tuple(a.size - 1 for a in axes)

    @classmethod
    def box(cls, lower, upper, n_elements):
        """Uniform mesh of the box [lower, upper] with ``n_elements`` elements per axis."""
        lower = np.atleast_1d(np.asarray(lower, float))
        upper = np.atleast_1d(np.asarray(upper, float))
        n = np.atleast_1d(np.asarray(n_elements, int))
        if n.size == 1 and lower.size > 1:
            n = np.full(lower.size, int(n[0]))
        if np.any(n < 1):
            raise ValueError(f"n_elements must be >= 1 per axis, got {n.tolist()}")
        if np.any(upper <= lower):
            raise ValueError("box: upper must exceed lower along every axis")
        return cls([np.linspace(lo, hi, k + 1) for lo, hi, k in zip(lower, upper, n)])

    # ----------------------------------------------------------------- geometry
    @property
    def n_nodes(self) -> int:
        return int(np.prod(self.shape))

    @property
    def n_elements(self) -> int:
        return int(np.prod(self.eshape))

    @property
    def lower(self):
        return np.array([a[0] for a in self.axes])

    @property
    def upper(self):
        return np.array([a[-1] for a in self.axes])

    @cached_property
    def nodes(self) -> np.ndarray:
        """Node coordinates, shape (n_nodes, dim)."""
        grids = np.meshgrid(*self.axes, indexing="ij")
        return np.stack([g.ravel() for g in grids], axis=1)

    @cached_property
    def node_index(self) -> np.ndarray:
        """Multi-index of each node, shape (n_nodes, dim)."""
        return np.stack(np.unravel_index(np.arange(self.n_nodes), self.shape), axis=1)

    @cached_property
    def element_index(self) -> np.ndarray:
        """Multi-index (lower vertex) of each element, shape (n_elements, dim)."""
        return np.stack(np.unravel_index(np.arange(self.n_elements), self.eshape), axis=1)

    @cached_property
    def elements(self) -> np.ndarray:
        """Vertex ids of each element, (n_elements, 2**dim); local vertex a has bit i = upper side on axis i."""
        d = self.dim
        ei = self.element_index
        out = np.empty((self.n_elements, 1 << d), dtype=np.int64)
        for a in range(1 << d):
            off = np.array([(a >> i) & 1 for i in range(d)])
            out[:, a] = np.ravel_multi_index(tuple((ei + off).T), self.shape)
        return out

    @cached_property
    def element_x0(self) -> np.ndarray:
        ei = self.element_index
        return np.stack([self.axes[i][ei[:, i]] for i in range(self.dim)], axis=1)

    @cached_property
    def element_h(self) -> np.ndarray:
        ei = self.element_index
        return np.stack([np.diff(self.axes[i])[ei[:, i]] for i in range(self.dim)], axis=1)

    @property
    def h_min(self) -> float:
        return float(min(np.diff(a).min() for a in self.axes))

    @property
    def h_max(self) -> float:
        return float(max(np.diff(a).max() for a in self.axes))

    def boundary_nodes(self) -> np.ndarray:
        """Ids of all nodes on the box boundary."""
        idx = self.node_index
        on = np.zeros(self.n_nodes, bool)
        for i in range(self.dim):
            on |= (idx[:, i] == 0) | (idx[:, i] == self.shape[i] - 1)
        return np.nonzero(on)[0]

    def face_nodes(self, axis: int, side: int) -> np.ndarray:
        """Nodes on the face ``axis`` = lower (side 0) or upper (side 1)."""
        target = 0 if side == 0 else self.shape[axis] - 1
        return np.nonzero(self.node_index[:, axis] == target)[0]

    def locate(self, points) -> np.ndarray:
        """Element id containing each point (points on shared faces go to the upper element;
        points outside are clipped to the nearest boundary element)."""
        points = np.atleast_2d(np.asarray(points, float))
        idx = []
        for i, a in enumerate(self.axes):
            j = np.searchsorted(a, points[:, i], side="right") - 1
            idx.append(np.clip(j, 0, a.size - 2))
        return np.ravel_multi_index(tuple(idx), self.eshape)

    def contains(self, points, tol: float = 0.0) -> np.ndarray:
        points = np.atleast_2d(np.asarray(points, float))
        return np.all((points >= self.lower - tol) & (points <= self.upper + tol), axis=1)

    def __repr__(self):
        return f"StructuredMesh(dim={self.dim}, elements={self.eshape}, box={self.lower.tolist()}..{self.upper.tolist()})"


def gauss_legendre(n: int):
    """Gauss-Legendre points/weights on [0, 1] (n points, exact for degree 2n-1)."""
    if n < 1:
        raise ValueError(f"quadrature order must be >= 1, got {n}")
    x, w = _leggauss01(int(n))
    return x.copy(), w.copy()


@functools.lru_cache(maxsize=64)
def _leggauss01(n: int):
    x, w = np.polynomial.legendre.leggauss(n)
    return 0.5 * (x + 1.0), 0.5 * w


class Quadrature:
    """Tensor Gauss-Legendre quadrature on every element of a :class:`StructuredMesh`.

    Attributes: ``points`` (n_el * nq, dim), ``weights`` (same order), ``elem`` (element of each
    point), ``pstart`` (CSR offsets of each element's points).
    """

    def __init__(self, mesh: StructuredMesh, n_per_axis: int, elements=None):
        xi, wi = gauss_legendre(n_per_axis)
        d = mesh.dim
        grids = np.meshgrid(*([xi] * d), indexing="ij")
        ref = np.stack([g.ravel() for g in grids], axis=1)
        wg = np.meshgrid(*([wi] * d), indexing="ij")
        wref = np.prod(np.stack([g.ravel() for g in wg], axis=1), axis=1)
        els = np.arange(mesh.n_elements) if elements is None else np.asarray(elements, np.int64)
        x0 = mesh.element_x0[els]
        h = mesh.element_h[els]
        nq = ref.shape[0]
        self.points = (x0[:, None, :] + ref[None, :, :] * h[:, None, :]).reshape(-1, d)
        self.weights = (wref[None, :] * np.prod(h, axis=1)[:, None]).ravel()
        self.elem = np.repeat(els, nq)
        self.nq = nq
        self.mesh = mesh
        self.elements = els
        pstart = np.zeros(mesh.n_elements + 1, np.int64)
        counts = np.zeros(mesh.n_elements, np.int64)
        counts[els] = nq
        pstart[1:] = np.cumsum(counts)
        self.pstart = pstart
        # points of element e must be contiguous in pstart order: reorder to ascending element id
        order = np.argsort(self.elem, kind="stable")
        self.points, self.weights, self.elem = self.points[order], self.weights[order], self.elem[order]


class BoundaryQuadrature:
    """Tensor Gauss-Legendre quadrature on the boundary faces of a :class:`StructuredMesh`.

    Every element face lying on the box boundary gets ``n_per_axis ** (dim - 1)`` points (one point
    of weight 1 per end in 1D).  Attributes: ``points``, ``weights`` (face measure), ``elem`` (the
    element owning the face), ``normal`` (outward unit normal), ``h_normal`` (the owning element's
    size across the face, the ``h`` of the Nitsche penalty), sorted by element.  ``faces`` selects
    ``(axis, side)`` pairs (default: all ``2 dim`` faces of the box).
    """

    def __init__(self, mesh: StructuredMesh, n_per_axis: int, faces=None):
        xi, wi = gauss_legendre(n_per_axis)
        d = mesh.dim
        faces = [(a, s) for a in range(d) for s in (0, 1)] if faces is None else list(faces)
        pts, wts, els, nrm, hn = [], [], [], [], []
        ei = mesh.element_index
        for axis, side in faces:
            if not (0 <= axis < d and side in (0, 1)):
                raise ValueError(f"faces: need (axis in 0..{d - 1}, side in (0, 1)), got {(axis, side)}")
            on = np.nonzero(ei[:, axis] == (0 if side == 0 else mesh.eshape[axis] - 1))[0]
            other = [i for i in range(d) if i != axis]
            if other:
                grids = np.meshgrid(*([xi] * (d - 1)), indexing="ij")
                ref_o = np.stack([g.ravel() for g in grids], axis=1)
                wg = np.meshgrid(*([wi] * (d - 1)), indexing="ij")
                wref = np.prod(np.stack([g.ravel() for g in wg], axis=1), axis=1)
            else:
                ref_o = np.zeros((1, 0))
                wref = np.ones(1)
            nq = ref_o.shape[0]
            ref = np.empty((nq, d))
            ref[:, other] = ref_o
            ref[:, axis] = float(side)
            x0, h = mesh.element_x0[on], mesh.element_h[on]
            p = x0[:, None, :] + ref[None, :, :] * h[:, None, :]
            # the face coordinate exactly on the boundary vertex (no round-off outside the box)
            p[:, :, axis] = mesh.axes[axis][0 if side == 0 else -1]
            pts.append(p.reshape(-1, d))
            area = np.prod(h[:, other], axis=1) if other else np.ones(on.size)
            wts.append((wref[None, :] * area[:, None]).ravel())
            els.append(np.repeat(on, nq))
            n = np.zeros(d)
            n[axis] = -1.0 if side == 0 else 1.0
            nrm.append(np.tile(n, (on.size * nq, 1)))
            hn.append(np.repeat(h[:, axis], nq))
        self.points = np.concatenate(pts)
        self.weights = np.concatenate(wts)
        self.elem = np.concatenate(els)
        self.normal = np.concatenate(nrm)
        self.h_normal = np.concatenate(hn)
        order = np.argsort(self.elem, kind="stable")
        for name in ("points", "weights", "elem", "normal", "h_normal"):
            setattr(self, name, getattr(self, name)[order])
        self.mesh = mesh
