"""ML-VMS: multilevel variational multiscale discretisation u = u_0 + u_1 + ... + u_L.

Following the multilevel VMS split of arXiv:2510.00516 (the time-marching ML-VMS-TD paper of the
same group; the ML-VMS paper arXiv:2510.23004 generalises it to L levels):

* level 0 carries the whole domain Omega with the physical boundary conditions;
* level l >= 1 lives on a structured mesh of a box Omega_l inside Omega_{l-1} and its function
  vanishes on the box boundary (homogeneous Dirichlet dofs removed), so u_l is zero outside Omega_l;
* the Galerkin method is applied to the sum: the global matrix has every diagonal block a(phi^l, phi^l)
  and every cross-level block a(phi^i, phi^j), each integrated where both functions live;
* every level has its own basis (Lagrange FEM or C-HiDeNN) and hyperparameters.

Modelling choices (documented, since the ML-VMS paper body is not public):

* **Nested, aligned boxes.**  Each fine box is snapped outward to the vertices of its parent mesh
  (:func:`snap_box`) and meshed with ``ratio`` elements per parent element, so fine elements nest
  inside parent elements.  The integration rule is *composite*: the finest level's Gauss points
  inside Omega_L, level L-1's points in its elements outside Omega_L, ... level 0 elsewhere.  All
  blocks and loads use it, so a sharp source is integrated on the fine grid for every level, and for
  nested Lagrange levels every integral is exact.
* **Linear dependence.**  With nested FEM meshes a parent basis function whose whole support lies in
  the child box is contained in the child space; the Galerkin matrix is then singular.  We remove
  (fix to zero) every level-l dof whose support lies inside Omega_{l+1} when the child space contains
  the parent's functions (:func:`nests`: Lagrange levels, child order >= parent order): this removes
  exactly the dependent functions without changing the spanned space (the remaining parent functions
  are independent outside Omega_{l+1}). A C-HiDeNN parent is not contained in its child, and removing
  its functions leaves a non-converging error (see :func:`nests`), so it keeps them all; with large
  refinement ratios the levels are then nearly dependent (condition numbers up to ~1e16 measured in
  1D at ratio 8), which the direct solver tolerates (the total field is determined; its split between
  levels is not).
* **Conforming C-HiDeNN boxes.**  A plain C-HiDeNN fine level in 2D/3D with its boundary dofs removed
  vanishes at the boundary nodes but not between them (a boundary vertex's patch reaches interior
  nodes), so the sum of the levels jumps across the box boundary: measured on a 2D Dirichlet problem,
  L2 rates 3.0, 2.9, 2.4 (p = 2) and 2.9, 1.8, 2.0 (p = 3) from 4 to 32 coarse elements.  A 2D/3D
  C-HiDeNN fine level is therefore built as :class:`pde.chidenn.ZeroTraceCHiDeNNSpace` (odd mirror
  extension of the box mesh; every function vanishes on the whole box boundary, so the space is
  conforming): measured 3.1, 3.3, 3.3 (p = 2) and 3.9, 3.8, 3.6 (p = 3; tests/pde/test_multilevel.py).
  ``zero_trace_boxes=False`` keeps the plain space (for comparisons).
* **Moving boxes.**  When a box moves (to follow the laser) the new discrete field is the L2
  projection of the old total field u_0 + ... + u_L onto the new multilevel space.  Without Dirichlet
  conditions the constants belong to the space, so the projection conserves the heat content exactly.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .chidenn import CHiDeNNSpace, ZeroTraceCHiDeNNSpace
from .fem import (DIRICHLET_METHODS, NITSCHE_GAMMA, Evaluation, apply_dirichlet, assemble_bilinear, assemble_load,
                  assemble_nitsche, default_dirichlet_method)
from .mesh import BoundaryQuadrature, Quadrature, StructuredMesh


def nests(parent, child) -> bool:
    """True when the child level's space contains every parent function supported inside its box.

    Holds for Lagrange levels on aligned meshes with child order >= parent order (the box mesh refines
    the parent's elements). A C-HiDeNN parent is not contained in a Lagrange or C-HiDeNN child: its
    functions are rational and their second derivatives scale as 1/h^2, so a child of refinement
    ratio r approximates one only to a fixed relative error ~r^-2. Removing such parent functions
    (as if the child reproduced them) leaves that error in the space for good: measured on a 2D
    Poisson problem with an O(1) solution across the box, C-HiDeNN + Q1 errors then grew under
    refinement (1.4e-3, 1.7e-2, 3.6e-2 for 8, 16, 32 coarse elements). Non-nested parents keep all
    their functions; the levels are then far from linearly dependent (the stiffness stays well
    conditioned: tests/pde/test_multilevel.py).
    """
    return (getattr(parent, "kind", "") == "fem" and getattr(child, "kind", "") == "fem"
            and child.order >= parent.order)


def snap_box(parent: StructuredMesh, lower, upper):
    """Expand [lower, upper] outward to the nearest parent vertices (clipped to the parent box).

    Returns (lower, upper, parent element index range per axis)."""
    lo, hi, rng = [], [], []
    for i, a in enumerate(parent.axes):
        i0 = int(np.clip(np.searchsorted(a, lower[i] + 1e-12 * (a[-1] - a[0]), side="right") - 1, 0, a.size - 2))
        i1 = int(np.clip(np.searchsorted(a, upper[i] - 1e-12 * (a[-1] - a[0]), side="left"), i0 + 1, a.size - 1))
        lo.append(a[i0]); hi.append(a[i1]); rng.append((i0, i1))
    return np.array(lo), np.array(hi), rng


def refined_box_mesh(parent: StructuredMesh, lower, upper, ratio: int) -> StructuredMesh:
    """Mesh of the snapped box with ``ratio`` child elements per parent element along each axis."""
    if ratio < 1:
        raise ValueError(f"ratio must be an integer >= 1, got {ratio}")
    _, _, rng = snap_box(parent, lower, upper)
    axes = []
    for i, (i0, i1) in enumerate(rng):
        a = parent.axes[i][i0:i1 + 1]
        t = np.linspace(0, 1, ratio + 1)[:-1]
        axes.append(np.concatenate([(a[:-1, None] + np.diff(a)[:, None] * t).ravel(), a[-1:]]))
    return StructuredMesh(axes)


def _element_inside(mesh: StructuredMesh, lower, upper, tol) -> np.ndarray:
    x0, h = mesh.element_x0, mesh.element_h
    return np.all((x0 >= lower - tol) & (x0 + h <= upper + tol), axis=1)


class MultilevelSpace:
    """The ML-VMS space spanned by the union of the level bases (see module docstring).

    Parameters
    ----------
    levels : list of spaces (``LagrangeSpace`` / ``CHiDeNNSpace``), coarsest first; level l+1's mesh
        box must lie inside level l's box and be aligned with level l's vertices (use
        :func:`refined_box_mesh`).
    quad_orders : Gauss points per axis for each level's elements (default: each basis' default).
    zero_trace_boxes : a 2D/3D ``CHiDeNNSpace`` fine level (l >= 1) is replaced by its
        :class:`pde.chidenn.ZeroTraceCHiDeNNSpace` (same mesh and hyperparameters), whose functions vanish
        on the whole box boundary, so the sum of the levels is conforming (default). ``False`` keeps the
        plain space, which vanishes only at the boundary nodes (measured: L2 rate 1.8 instead of ~4 for
        p = 3; module docstring).
    """

    def __init__(self, levels, quad_orders=None, comm=None, zero_trace_boxes: bool = True):
        if len(levels) < 1:
            raise ValueError("levels: need at least one level")
        levels = list(levels)
        dim = levels[0].mesh.dim
        for l, V in enumerate(levels):
            if V.mesh.dim != dim:
                raise ValueError(f"levels[{l}]: dimension {V.mesh.dim} differs from level 0 ({dim})")
            if zero_trace_boxes and l >= 1 and dim >= 2 and isinstance(V, CHiDeNNSpace):
                levels[l] = ZeroTraceCHiDeNNSpace(V.mesh, V.s, V.p, V.dilation, V.kernel)
        self.levels = levels
        self.comm = comm
        L = len(levels)
        self.boxes = [(V.mesh.lower, V.mesh.upper) for V in levels]
        tol = 1e-9 * float(np.max(levels[0].mesh.upper - levels[0].mesh.lower))
        self.tol = tol
        for l in range(1, L):
            lo, hi = self.boxes[l]
            plo, phi = self.boxes[l - 1]
            if np.any(lo < plo - tol) or np.any(hi > phi + tol):
                raise ValueError(f"levels[{l}]: box {lo}..{hi} is not inside level {l - 1}'s box {plo}..{phi}")
        qo = quad_orders or [V.default_quadrature() for V in levels]
        # composite quadrature: level l's elements outside Omega_{l+1}
        pts, wts, lev = [], [], []
        for l, V in enumerate(levels):
            if l + 1 < L:
                inside = _element_inside(V.mesh, *self.boxes[l + 1], tol)
                els = np.nonzero(~inside)[0]
            else:
                els = np.arange(V.mesh.n_elements)
            if els.size == 0:
                continue
            # every level 0..l lives on these points: integrate with the highest order any of them needs
            # (a Q1 box under a C-HiDeNN parent would otherwise under-integrate the parent's rational
            # functions: measured, the 2D error then grew with refinement)
            q = Quadrature(V.mesh, max(qo[: l + 1]), elements=els)
            pts.append(q.points); wts.append(q.weights); lev.append(np.full(q.weights.size, l))
        self.points = np.concatenate(pts)
        self.weights = np.concatenate(wts)
        self.point_level = np.concatenate(lev)
        # each level evaluated at the composite points inside its box
        self.point_sets = []
        self.evals = []
        for l, V in enumerate(levels):
            idx = np.nonzero(self.point_level >= l)[0]
            self.point_sets.append(idx)
            self.evals.append(V.evaluate(self.points[idx]))
        self.offsets = np.concatenate([[0], np.cumsum([V.n_dofs for V in levels])]).astype(np.int64)
        self.n_dofs = int(self.offsets[-1])
        # removed dofs: fine-box boundary (l >= 1) and parents resolved by the child (support inside)
        fixed = []
        for l, V in enumerate(levels):
            if l >= 1:
                fixed.append(self.offsets[l] + V.boundary_dofs())
            if l + 1 < L and nests(V, levels[l + 1]):
                inside = _element_inside(V.mesh, *self.boxes[l + 1], tol)
                outside_dofs = np.unique(V.elem_conn[~inside])
                outside_dofs = outside_dofs[outside_dofs >= 0]
                dep = np.setdiff1d(np.arange(V.n_dofs), outside_dofs)
                fixed.append(self.offsets[l] + dep)
        self.removed = np.unique(np.concatenate(fixed)) if fixed else np.zeros(0, np.int64)
        self.active = np.setdiff1d(np.arange(self.n_dofs), self.removed)

    @property
    def n_active(self) -> int:
        return int(self.active.size)

    def _sub(self, ev: Evaluation, rows):
        return Evaluation(ev.conn[rows], ev.vals[rows], ev.grads[rows], ev.elem[rows])

    def assemble(self, mass=0.0, diffusion=0.0) -> sp.csr_matrix:
        """Global matrix of a(w, u) = int (mass w u + diffusion grad w . grad u) with all cross-level blocks.

        ``mass`` / ``diffusion`` are scalars or arrays over the composite points."""
        L = len(self.levels)
        npt = self.weights.size
        cm = np.broadcast_to(np.asarray(mass, float), (npt,))
        ck = np.broadcast_to(np.asarray(diffusion, float), (npt,))
        blocks = [[None] * L for _ in range(L)]
        for i in range(L):
            for j in range(i, L):
                # points where both level i and level j live = points of level >= j
                pj = self.point_sets[j]
                pos_i = np.searchsorted(self.point_sets[i], pj)
                ev_i = self._sub(self.evals[i], pos_i)
                ev_j = self.evals[j]
                B = assemble_bilinear(ev_i, ev_j, self.weights[pj], self.levels[i].n_dofs, self.levels[j].n_dofs,
                                      mass=cm[pj], diffusion=ck[pj], comm=self.comm)
                blocks[i][j] = B
                if j != i:
                    blocks[j][i] = B.T
        return sp.bmat(blocks, format="csr")

    def load(self, f_values) -> np.ndarray:
        """Global load vector b = int f phi for f given at the composite points."""
        f = np.broadcast_to(np.asarray(f_values, float), self.weights.shape)
        out = []
        for l, V in enumerate(self.levels):
            idx = self.point_sets[l]
            out.append(assemble_load(self.evals[l], self.weights[idx], f[idx], V.n_dofs))
        return np.concatenate(out)

    def interpolate(self, u, points) -> np.ndarray:
        """Total field u_0 + ... + u_L at arbitrary points."""
        points = np.atleast_2d(np.asarray(points, float))
        val = np.zeros(len(points))
        for l, V in enumerate(self.levels):
            lo, hi = self.boxes[l]
            m = np.all((points >= lo - self.tol) & (points <= hi + self.tol), axis=1)
            if m.any():
                ev = V.evaluate(points[m])
                val[m] += ev.interpolate(u[self.offsets[l]:self.offsets[l + 1]])
        return val

    def gradient(self, u, points) -> np.ndarray:
        points = np.atleast_2d(np.asarray(points, float))
        g = np.zeros_like(points)
        for l, V in enumerate(self.levels):
            lo, hi = self.boxes[l]
            m = np.all((points >= lo - self.tol) & (points <= hi + self.tol), axis=1)
            if m.any():
                ev = V.evaluate(points[m])
                g[m] += ev.gradient(u[self.offsets[l]:self.offsets[l + 1]])
        return g

    def level_dofs(self, l) -> slice:
        return slice(int(self.offsets[l]), int(self.offsets[l + 1]))

    def solve(self, A, b, dirichlet_dofs=(), dirichlet_values=0.0):
        """Solve A u = b on the active dofs with extra Dirichlet dofs (global numbering)."""
        fixed = np.union1d(self.removed, np.asarray(dirichlet_dofs, np.int64))
        vals = np.zeros(self.n_dofs)
        if len(dirichlet_dofs):
            vals[np.asarray(dirichlet_dofs, np.int64)] = dirichlet_values
        Aff, bf, free, u = apply_dirichlet(A, b, fixed, vals[fixed])
        u[free] = spla.spsolve(Aff.tocsc(), bf)
        return u

    def project(self, func_values) -> np.ndarray:
        """L2 projection onto the active space of a field given at the composite points."""
        M = self.assemble(mass=1.0)
        b = self.load(func_values)
        return self.solve(M, b)


def solve_poisson_multilevel(ml: MultilevelSpace, source, diffusion: float = 1.0, dirichlet=None,
                             dirichlet_method: str = "auto", nitsche_gamma: float = NITSCHE_GAMMA):
    """-div(k grad u) = f on level 0's box, u = g (or 0) on its boundary; returns the global dof vector.

    ``dirichlet_method`` as in :func:`pde.fem.solve_poisson`: "nodal" eliminates level 0's boundary
    dofs (conforming for Lagrange levels and in 1D), "nitsche" adds the symmetric Nitsche terms of
    :func:`pde.fem.assemble_nitsche` to level 0's block (a 2D/3D C-HiDeNN level 0 keeps interior
    functions that do not vanish between boundary nodes, which costs about one order of L2
    convergence with nodal elimination), "auto" picks by level 0's basis
    (:func:`pde.fem.default_dirichlet_method`). Nitsche's terms are assembled on level 0 only: every
    fine level vanishes on its box boundary, also where the box touches the domain boundary (the fine
    levels' normal-flux terms there are not assembled; measured, a C-HiDeNN box on the boundary keeps the
    L2 rates of an interior box: tests/pde/test_multilevel.py). The plain Gauss rule is used (no
    variationally consistent integration as in the single-level driver), so the C-HiDeNN patch test is
    not passed to round-off here."""
    if diffusion <= 0:
        raise ValueError(f"diffusion must be > 0, got {diffusion}")
    if dirichlet_method not in DIRICHLET_METHODS:
        raise ValueError(f"dirichlet_method must be one of {DIRICHLET_METHODS}, got {dirichlet_method!r}")
    V0 = ml.levels[0]
    method = default_dirichlet_method(V0) if dirichlet_method == "auto" else dirichlet_method
    K = ml.assemble(diffusion=diffusion)
    b = ml.load(source(ml.points))
    if method == "nodal":
        bd = V0.boundary_dofs()
        g = 0.0 if dirichlet is None else dirichlet(V0.dof_coords[bd])
        return ml.solve(K, b, ml.offsets[0] + bd, g)
    bq = BoundaryQuadrature(V0.mesh, V0.default_quadrature())
    AG, bG = assemble_nitsche(V0, diffusion, dirichlet, gamma=nitsche_gamma, boundary=(bq, V0.evaluate(bq.points, bq.elem)))
    rest = ml.n_dofs - V0.n_dofs
    if rest:
        AG = sp.bmat([[AG, None], [None, sp.csr_matrix((rest, rest))]], format="csr")
        bG = np.concatenate([bG, np.zeros(rest)])
    return ml.solve((K + AG).tocsr(), b + bG)


def multilevel_errors(ml: MultilevelSpace, u, exact, exact_grad):
    """(L2, H1-seminorm) errors of the total field using the composite quadrature."""
    e0 = ml.interpolate(u, ml.points) - exact(ml.points)
    e1 = ml.gradient(u, ml.points) - exact_grad(ml.points)
    return float(np.sqrt(np.sum(ml.weights * e0**2))), float(np.sqrt(np.sum(ml.weights * np.sum(e1**2, axis=1))))


class MovingBoxHeatSolver:
    """Transient ML-VMS heat conduction rho c dT/dt - div(k grad T) = q with fine boxes following a source.

    Time integration: Crank-Nicolson as in arXiv:2510.00516,
    a(w, u^n) = a_hat(w, u^{n-1}) + (w, q^{n-1/2}),  a = (rho c/dt) M + (k/2) K,  a_hat = (rho c/dt) M - (k/2) K.
    Boundaries adiabatic (natural condition on every face); no convective or radiative loss (the space-time
    model :class:`pde.lpbf.LPBFProblem` has the top-surface loss ``domain.h_conv`` / ``emissivity``).

    Each fine level l >= 1 is a box of half-widths ``halfwidths[l-1]`` centred on the source, snapped to
    its parent mesh with refinement ``ratios[l-1]``; when the source leaves the central ``recentre``
    fraction of the box, the boxes move and the field is L2-projected (module docstring).

    ``make_space(mesh, level)`` builds the basis of each level.
    """

    def __init__(self, coarse_mesh, make_space, halfwidths, ratios, rho_c, k, source, path, t0=0.0,
                 recentre: float = 0.25, comm=None):
        if k <= 0:
            raise ValueError(f"conductivity k must be > 0, got {k}")
        if rho_c <= 0:
            raise ValueError(f"volumetric heat capacity rho*c must be > 0, got {rho_c}")
        if len(halfwidths) != len(ratios):
            raise ValueError("halfwidths and ratios need one entry per fine level")
        self.coarse = coarse_mesh
        self.make_space = make_space
        self.halfwidths = [np.asarray(h, float) for h in halfwidths]
        self.ratios = list(ratios)
        self.rho_c, self.k = float(rho_c), float(k)
        self.source, self.path = source, path
        self.t = t0
        self.recentre = recentre
        self.comm = comm
        self.n_moves = 0
        self._build(path(t0))
        self.u = np.zeros(self.ml.n_dofs)

    def _build(self, centre):
        levels = [self.make_space(self.coarse, 0)]
        parent = self.coarse
        for l, (hw, r) in enumerate(zip(self.halfwidths, self.ratios)):
            m = refined_box_mesh(parent, centre - hw, centre + hw, r)
            levels.append(self.make_space(m, l + 1))
            parent = m
        self.centre = np.asarray(centre, float)
        self.ml = MultilevelSpace(levels, comm=self.comm)
        self.M = self.ml.assemble(mass=1.0)
        self.K = self.ml.assemble(diffusion=1.0)
        self._factor = {}

    def _needs_move(self, c):
        if not self.halfwidths:
            return False
        lo, hi = self.ml.boxes[1]
        inner = 0.5 * (hi - lo) * self.recentre
        mid = 0.5 * (lo + hi)
        return bool(np.any(np.abs(c - mid) > inner))

    def move_to(self, centre):
        old_ml, u_old = self.ml, self.u
        self._build(centre)
        vals = old_ml.interpolate(u_old, self.ml.points)
        self.u = self.ml.project(vals)
        self.n_moves += 1

    def step(self, dt):
        c_mid = self.path(self.t + 0.5 * dt)
        if self._needs_move(c_mid):
            self.move_to(c_mid)
        key = round(dt, 15)
        if key not in self._factor:
            A = (self.rho_c / dt) * self.M + 0.5 * self.k * self.K
            act = self.ml.active
            self._factor[key] = spla.splu(A[act][:, act].tocsc())
        B = (self.rho_c / dt) * self.M - 0.5 * self.k * self.K
        b = B @ self.u + self.ml.load(self.source(self.ml.points, self.t + 0.5 * dt))
        act = self.ml.active
        u = np.zeros(self.ml.n_dofs)
        u[act] = self._factor[key].solve(b[act])
        self.u = u
        self.t += dt
        return self.u

    def heat_content(self) -> float:
        """int rho c (T - T0) dx."""
        return float(self.rho_c * np.sum(self.ml.weights * self.ml.interpolate(self.u, self.ml.points)))

    def temperature(self, points):
        return self.ml.interpolate(self.u, points)
