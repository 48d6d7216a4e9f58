"""C-HiDeNN basis: convolution patch functions on linear meshes, arbitrary order p.

Construction (Lu et al. 2023, Comput. Mech. 72:333; Park et al. 2023; the interpolation
formula as written in arXiv:2505.18141, Appendix A.1)::

    u^h(x) = sum_{k in vertices(e)} N_k(x) sum_{j in patch_s(k)} W_j^(k)(x) u_j ,   x in element e

* ``N_k`` -- the multilinear vertex shape functions of the box element (the "linear mesh").
* ``patch_s(k)`` -- the nodes within ``s`` element layers of node ``k``; on a structured mesh the
  index box ``|i - i_k|_inf <= s`` clipped at the domain boundary (one-sided patches there).
* ``W^(k)`` -- radial point interpolation (RPI) with polynomial reproduction on the patch:
  ``[[R0, P0], [P0^T, 0]] [W; b] = [R(x); p(x)]``, ``R0_ij = R(|x_i - x_j| / a_k)``, ``p`` the
  complete monomials of total degree <= p (p + 1 terms in 1D, 3/6/10 in 2D, 4/10/20 in 3D).

Modelling choices (documented because the paper body is not public):

* Dilation ``a_k = dilation * h_k`` with ``h_k`` the largest index-box distance from node k to its
  patch divided by ``s`` (the local element size, also at one-sided boundary patches), so ``W^(k)``
  is a single function of x whatever element evaluates it (continuity of u^h across faces).
* The cubic spline kernel (default) has support radius ``a_k``.  We require ``dilation >= 1`` so
  that the kernel centred on a patch node reaches its neighbours; below that ``R0`` is diagonal,
  the RPI part degenerates into isolated spikes between nodes and the basis loses its smoothing
  (the convergence study in tests/pde shows the degraded accuracy).  The default dilation depends
  on (p, s) (:data:`DEFAULT_DILATION`): it is measured in 2D by benchmarks/pde_chidenn_guide.py
  (Lebesgue constant, conditioning, error per DoF; table in docs/chidenn_guide.md).  With s = 3,
  a in {3, 4, 6} makes R0 nearly singular and the shape functions oscillate (2D Lebesgue constant
  11 to 315, except 7.5 for p = 1, a = 6; the former default a = 4 gave 46 for p = 3), so s = 3
  uses a = 2; s <= 2 uses a = 6 (the kernel spans the whole patch) in 1D/2D.  The 2D choice does not
  carry over to 3D unchanged: (p, s) = (2, 2) with a = 4 and 6 has 3D Lebesgue constants 604 and
  24 on a 4^3 mesh, and its 3D default is a = 2 (:data:`DEFAULT_DILATION_3D`).
* The optional Gaussian kernel R = exp(-(r/a)^2) has global support; with a of several element sizes
  R0 becomes severely ill-conditioned (flat-kernel limit, ~1e-5 loss of partition of unity in 3D at
  a = 3h), so use it with ``dilation`` ~ 1.
* ``p <= s`` is required: a patch of ``s + 1`` nodes per axis at a boundary must be unisolvent
  for the degree-p polynomials.
* Properties (tested): partition of unity, Kronecker delta at nodes (RPI interpolates, N_k is
  nodal), exact reproduction of polynomials up to degree p (each W^(k) reproduces them and
  sum_k N_k = 1), symmetric positive definite stiffness after Dirichlet conditions.
* Shape functions are rational-like, not polynomial: quadrature uses ``p + 3`` Gauss points per
  axis by default (more than FEM, as A.1 recommends).
* Dirichlet data.  Nodal elimination (Kronecker delta) is conforming only in 1D: in 2D/3D the
  patches reach across boundary edges, so an interior function is zero at the boundary nodes but
  not between them, and about one order is lost (measured L2 order 2.1 for p = 2 and 2.0 for
  p = 3 between 16 and 32 elements per side in 2D).  :func:`pde.fem.solve_poisson`
  therefore imposes them weakly by default for this basis in 2D/3D (symmetric Nitsche method,
  :func:`pde.fem.assemble_nitsche`), with variationally consistent test gradients
  (:func:`pde.fem.vci_test_gradients`, Chen, Hillman & Rueter 2013) so that Gauss quadrature of the
  rational shape functions does not break the patch test (tested: degree-p solutions exact to 1e-10,
  2D orders L2 >= p + 0.7 and H1 >= p - 0.3 for p = 2, 3; 3D p = 2 in the slow suite).
"""
from __future__ import annotations

import numpy as np

from ._kernels import shape_functions
from ._kernels.threads import few_threads
from .fem import Evaluation
from .mesh import StructuredMesh
from .polynomials import monomial_exponents

KERNELS = {"cubic": shape_functions.KERNEL_CUBIC, "gaussian": shape_functions.KERNEL_GAUSS}

#: Default dilation a(p, s) of the cubic-spline kernel in 1D and 2D, in element sizes: for each (p, s) the
#: value with the smallest 2D Poisson L2 error per DoF among those with 2D Lebesgue constant <= 10,
#: measured over a in {1.5, 2, 2.5, 3, 4, 6} by benchmarks/pde_chidenn_guide.py (table and rule in
#: docs/chidenn_guide.md).  1D uses the same values (the 1D convergence studies in tests/pde run with them).
DEFAULT_DILATION = {(1, 1): 6.0, (1, 2): 6.0, (1, 3): 2.0, (2, 2): 6.0, (2, 3): 2.0, (3, 3): 2.0}
#: 3D: the same rule with the 3D Lebesgue constant <= 10 as well (measured for s <= 2 on a 4^3 mesh; the
#: 2D choice a = 6 gives ~24 for s = 2 in 3D).  s = 3 keeps the 2D value (not measured in 3D).
DEFAULT_DILATION_3D = {(1, 1): 6.0, (1, 2): 2.0, (1, 3): 2.0, (2, 2): 2.0, (2, 3): 2.0, (3, 3): 2.0}
#: Used outside the measured table (s > 3): the former fixed default, not covered by the guide.
FALLBACK_DILATION = 4.0


def default_dilation(p: int, s: int, dim: int = 2) -> float:
    """Dilation for (p, s) in ``dim`` dimensions from :data:`DEFAULT_DILATION` (1D, 2D) or
    :data:`DEFAULT_DILATION_3D` (docs/chidenn_guide.md); 4.0 outside the table."""
    table = DEFAULT_DILATION_3D if dim == 3 else DEFAULT_DILATION
    return table.get((int(p), int(s)), FALLBACK_DILATION)


def validate_hyperparameters(s: int, p: int, dilation: float, kernel: str = "cubic"):
    """Raise ValueError naming the parameter when (s, p, a) cannot build a C-HiDeNN basis."""
    if not isinstance(s, (int, np.integer)) or s < 1:
        raise ValueError(f"patch size s must be an integer >= 1 (s = 0 is linear FEM), got {s!r}")
    if not isinstance(p, (int, np.integer)) or p < 1:
        raise ValueError(f"reproduction order p must be an integer >= 1, got {p!r}")
    if p > s:
        raise ValueError(f"reproduction order p = {p} needs patch size s >= p (got s = {s}): "
                         "a one-sided boundary patch of s + 1 nodes must be unisolvent for degree p")
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {sorted(KERNELS)}, got {kernel!r}")
    if not np.isfinite(dilation) or dilation < 1.0:
        raise ValueError(f"dilation a must be >= 1 (in units of the element size) so the kernel reaches "
                         f"the neighbouring nodes, got {dilation!r}")


class CHiDeNNSpace:
    """C-HiDeNN basis on a structured line/quad/hex mesh; one dof per mesh node.

    Parameters
    ----------
    mesh : StructuredMesh
    s : int      patch size (element layers around each node), >= 1
    p : int      polynomial reproduction order, 1 <= p <= s
    dilation : float   kernel support a in units of the local element size, >= 1; default
                       :func:`default_dilation` (p, s) from the measured guide docs/chidenn_guide.md
    kernel : "cubic" (default) or "gaussian"
    """

    kind = "chidenn"

    def __init__(self, mesh: StructuredMesh, s: int = 2, p: int = 2, dilation: float | None = None,
                 kernel: str = "cubic"):
        if dilation is None:
            validate_hyperparameters(s, p, FALLBACK_DILATION, kernel)
            dilation = default_dilation(p, s, mesh.dim)
        validate_hyperparameters(s, p, dilation, kernel)
        self.mesh, self.s, self.p, self.dilation, self.kernel = mesh, int(s), int(p), float(dilation), kernel
        self.expo = monomial_exponents(mesh.dim, self.p)
        self.dof_coords = mesh.nodes
        self.n_dofs = mesh.n_nodes
        self.order = self.p
        d, s = mesh.dim, self.s
        shape = np.array(mesh.shape)
        idx = mesh.node_index
        # node patches: index box clipped to the mesh
        offs = np.stack(np.unravel_index(np.arange((2 * s + 1) ** d), (2 * s + 1,) * d), axis=1) - s
        cand = idx[:, None, :] + offs[None, :, :]
        ok = np.all((cand >= 0) & (cand < shape), axis=2)
        ids = np.where(ok, np.ravel_multi_index(tuple(np.moveaxis(np.clip(cand, 0, shape - 1), 2, 0)), mesh.shape), -1)
        order = np.argsort(~ok, axis=1, kind="stable")
        self.patch = np.ascontiguousarray(np.take_along_axis(ids, order, axis=1))
        self.patch_n = ok.sum(axis=1).astype(np.int64)
        # element patches: union of the vertex patches = index box [e - s, e + 1 + s]
        eoffs = np.stack(np.unravel_index(np.arange((2 * s + 2) ** d), (2 * s + 2,) * d), axis=1) - s
        ecand = mesh.element_index[:, None, :] + eoffs[None, :, :]
        eok = np.all((ecand >= 0) & (ecand < shape), axis=2)
        eids = np.where(eok, np.ravel_multi_index(tuple(np.moveaxis(np.clip(ecand, 0, shape - 1), 2, 0)), mesh.shape), -1)
        eorder = np.argsort(~eok, axis=1, kind="stable")
        self.elem_conn = np.ascontiguousarray(np.take_along_axis(eids, eorder, axis=1))
        self.elem_patch_n = eok.sum(axis=1).astype(np.int64)
        # nodal dilation a_k = dilation * h_k
        X = mesh.nodes
        pX = X[np.clip(self.patch, 0, None)]
        dist = np.where(self.patch[..., None] >= 0, np.abs(pX - X[:, None, :]), 0.0).max(axis=(1, 2))
        self.node_a = self.dilation * dist / s
        self._kind = KERNELS[kernel]

    def default_quadrature(self) -> int:
        return self.p + 3

    def evaluate(self, points, elem=None) -> Evaluation:
        points = np.ascontiguousarray(np.atleast_2d(points), dtype=float)
        elem = self.mesh.locate(points) if elem is None else np.asarray(elem, np.int64)
        order = np.argsort(elem, kind="stable")
        pts = np.ascontiguousarray(points[order])
        el = elem[order]
        counts = np.bincount(el, minlength=self.mesh.n_elements)
        pstart = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        P = self.elem_conn.shape[1]
        d = self.mesh.dim
        vals = np.empty((pts.shape[0], P))
        grads = np.empty((pts.shape[0], P, d))
        m = self.mesh
        with few_threads(m.n_elements * P, per_thread=2048):
            shape_functions.chidenn_eval(pts, pstart, m.elements, m.element_x0, m.element_h, m.nodes, self.patch,
                                         self.patch_n, self.elem_conn, self.elem_patch_n, self.expo, self.node_a,
                                         self._kind, vals, grads)
        inv = np.empty_like(order)
        inv[order] = np.arange(order.size)
        return Evaluation(self.elem_conn[elem], vals[inv], grads[inv], elem)

    def boundary_dofs(self) -> np.ndarray:
        return self.mesh.boundary_nodes()

    def face_dofs(self, axis: int, side: int) -> np.ndarray:
        return self.mesh.face_nodes(axis, side)

    def __repr__(self):
        return (f"CHiDeNNSpace(s={self.s}, p={self.p}, dilation={self.dilation}, kernel={self.kernel!r}, "
                f"dofs={self.n_dofs}, mesh={self.mesh})")


def lebesgue_constant(space, samples: int = 12) -> float:
    """Lebesgue constant max_x sum_i |phi_i(x)| sampled on ``samples`` equispaced points per axis in
    every element (both ends included, so nodes, edges and element interiors are all visited).

    ||u - I u||_inf <= (1 + Lambda) inf_v ||u - v||_inf for the nodal interpolant I onto the span
    (Lebesgue's lemma), so Lambda measures how far the basis' nodal interpolation is from the best
    approximation; Lambda = 1 for linear FEM (non-negative shape functions)."""
    m = space.mesh
    t = np.linspace(0.0, 1.0, samples)
    grids = np.meshgrid(*([t] * m.dim), indexing="ij")
    ref = np.stack([g.ravel() for g in grids], axis=1)
    pts = (m.element_x0[:, None, :] + ref[None, :, :] * m.element_h[:, None, :]).reshape(-1, m.dim)
    elem = np.repeat(np.arange(m.n_elements), ref.shape[0])
    ev = space.evaluate(pts, elem)
    return float(np.max(np.sum(np.abs(np.where(ev.conn >= 0, ev.vals, 0.0)), axis=1)))


def make_space(mesh: StructuredMesh, basis: str = "chidenn", order: int = 2, s: int | None = None,
               dilation: float | None = None, kernel: str = "cubic"):
    """Factory: ``basis`` = "fem" (Lagrange of ``order`` 1/2) or "chidenn" (p = ``order``, s defaults to p)."""
    if basis == "fem":
        from .fem import LagrangeSpace

        return LagrangeSpace(mesh, order)
    if basis == "chidenn":
        return CHiDeNNSpace(mesh, s=order if s is None else s, p=order, dilation=dilation, kernel=kernel)
    raise ValueError(f"basis must be 'fem' or 'chidenn', got {basis!r}")


def _reflect_index(i, n):
    """Index i of the odd extension of a line of nodes 0..n across both ends -> (node, sign)."""
    sign = 1.0
    while i < 0 or i > n:
        i, sign = (-i, -sign) if i < 0 else (2 * n - i, -sign)
    return i, sign


def _reflected_axis(a, s):
    """Axis a extended by s mirror nodes across each end (x_{-m} = 2 x_0 - x_m, repeated if s > n)."""
    n = a.size - 1
    x = {i: a[i] for i in range(n + 1)}
    for m in range(1, s + 1):
        x[-m] = 2 * a[0] - x[m] if m <= n else 2 * a[0] - (2 * a[-1] - x[2 * n - m])
        x[n + m] = 2 * a[-1] - x[n - m] if m <= n else 2 * a[-1] - (2 * a[0] - x[m - n])
    return np.array([x[i] for i in range(-s, n + s + 1)])


class ZeroTraceCHiDeNNSpace:
    """C-HiDeNN basis on a box mesh whose functions all vanish on the box boundary (an ML-VMS fine box).

    A plain :class:`CHiDeNNSpace` with its boundary dofs removed vanishes at the boundary nodes but not
    between them in 2D/3D: a boundary vertex's convolution patch reaches interior nodes, whose RPI
    weights are nonzero on the boundary.  Here every function is the restriction to the box of a
    C-HiDeNN function on the mesh extended by ``s`` mirror layers across each face, with odd
    (antisymmetric) nodal values, u(x_sigma(j)) = -u(x_j) for the mirror image sigma(j) of node j
    (the method of images; mirror "ghost" nodes for boundary conditions of particle/meshfree patches:
    Randles & Libersky 1996, Comput. Methods Appl. Mech. Engrg. 139:375, Sec. 4).  On a face, only the
    face vertices k have N_k != 0, their (unclipped) patches are mirror symmetric about the face, and the
    RPI system (radial kernel, complete polynomials of degree p: both invariant under the reflection) gives
    W_j^(k)(x) = W_sigma(j)^(k)(x) at every face point, so the odd values cancel and u^h = 0 on the whole
    face.  Boundary nodes carry no function (their dofs, listed by :meth:`boundary_dofs`, are identically
    zero and must be removed, as :class:`pde.multilevel.MultilevelSpace` does for every fine box).

    Approximation: the span reproduces every polynomial of degree <= p that is odd about the faces it
    reaches; for a smooth v with v = 0 on a face the odd extension is C^1 with a jump of the second normal
    derivative, so near the face the local error is O(h^2) (away from it O(h^(p+1))).  The hyperparameters
    are those of :class:`CHiDeNNSpace`; every patch is unclipped (no one-sided patches).
    """

    kind = "chidenn"

    def __init__(self, mesh: StructuredMesh, s: int = 2, p: int = 2, dilation: float | None = None,
                 kernel: str = "cubic"):
        if dilation is None:
            validate_hyperparameters(s, p, FALLBACK_DILATION, kernel)
            dilation = default_dilation(p, s, mesh.dim)
        s = int(s)
        self.ext = CHiDeNNSpace(StructuredMesh([_reflected_axis(a, s) for a in mesh.axes]), s, p, dilation, kernel)
        self.mesh, self.s, self.p, self.dilation, self.kernel = mesh, s, self.ext.p, self.ext.dilation, kernel
        self.order = self.p
        self.dof_coords = mesh.nodes
        self.n_dofs = mesh.n_nodes
        d = mesh.dim
        # extended node -> box node id (-1 on a box face: no function) and sign of the odd extension
        ext_idx = self.ext.mesh.node_index - s
        node = np.empty_like(ext_idx)
        sign = np.ones(ext_idx.shape[0])
        on_face = np.zeros(ext_idx.shape[0], bool)
        for i in range(d):
            n = mesh.shape[i] - 1
            r = np.array([_reflect_index(int(j), n) for j in range(-s, n + s + 1)])
            node[:, i] = r[ext_idx[:, i] + s, 0].astype(np.int64)
            sign *= r[ext_idx[:, i] + s, 1]
            on_face |= (node[:, i] == 0) | (node[:, i] == n)
        box_node = np.where(on_face, -1, np.ravel_multi_index(tuple(node.T), mesh.shape))
        # box element e <-> extended element e + s per axis; its extended patch mapped to box nodes,
        # duplicates (a node and its images) merged into one column
        self._ext_elem = np.ravel_multi_index(tuple((mesh.element_index + s).T), self.ext.mesh.eshape)
        econn = self.ext.elem_conn[self._ext_elem]
        mapped = box_node[econn]
        self._sign = sign[econn]
        order = np.argsort(mapped, axis=1, kind="stable")
        srt = np.take_along_axis(mapped, order, axis=1)
        rank = np.concatenate([np.zeros((srt.shape[0], 1), np.int64),
                               np.cumsum(srt[:, 1:] != srt[:, :-1], axis=1)], axis=1)
        self._col = np.empty_like(rank)
        np.put_along_axis(self._col, order, rank, axis=1)
        width = int(rank[:, -1].max()) + 1
        conn = np.full((mesh.n_elements, width), -1, np.int64)
        np.put_along_axis(conn, rank, srt, axis=1)
        self.elem_conn = conn

    def default_quadrature(self) -> int:
        return self.p + 3

    def evaluate(self, points, elem=None) -> Evaluation:
        points = np.ascontiguousarray(np.atleast_2d(points), dtype=float)
        elem = self.mesh.locate(points) if elem is None else np.asarray(elem, np.int64)
        ev = self.ext.evaluate(points, self._ext_elem[elem])
        npt, width = points.shape[0], self.elem_conn.shape[1]
        col = self._col[elem] + width * np.arange(npt)[:, None]
        sv = self._sign[elem]
        vals = np.bincount(col.ravel(), (sv * ev.vals).ravel(), npt * width).reshape(npt, width)
        grads = np.stack([np.bincount(col.ravel(), (sv * ev.grads[..., i]).ravel(), npt * width)
                          for i in range(self.mesh.dim)], axis=1).reshape(npt, width, self.mesh.dim)
        conn = self.elem_conn[elem]
        vals[conn < 0] = 0.0
        grads[conn < 0] = 0.0
        return Evaluation(conn, vals, grads, elem)

    boundary_dofs = CHiDeNNSpace.boundary_dofs
    face_dofs = CHiDeNNSpace.face_dofs

    def __repr__(self):
        return (f"ZeroTraceCHiDeNNSpace(s={self.s}, p={self.p}, dilation={self.dilation}, kernel={self.kernel!r}, "
                f"dofs={self.n_dofs}, mesh={self.mesh})")
