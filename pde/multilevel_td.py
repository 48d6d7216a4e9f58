"""Multilevel separated (space-time TD) operators on nested tensor-product boxes.

The ML-VMS tensor decomposition of arXiv:2510.00516 / 2510.23004: level 0 is a tensor-product box over the
whole domain, levels l >= 1 nested tensor-product boxes, each with its own 1D bases per direction.  This module
builds, from the 1D level axes alone (no physics),

* the 1D spaces of every level and direction (:func:`space_1d`: C-HiDeNN or Lagrange);
* the free 1D dofs: fine-level dofs vanish at box ends inside the domain (ML-VMS condition), and with
  ``shared`` level modes level-l dofs whose support lies inside level l+1's interval are removed
  (``parent_rule``, :class:`MultilevelTDSpace`);
* the 1D mass and stiffness matrices of every level pair, the rank-one trace operator of one boundary
  point of one direction (a Robin face), and with ``shared`` modes their summed block matrices over the
  levels (the 1D space V^0_d + V^1_d + ...);
* integration vectors (int phi_i) and evaluation of the free 1D basis functions;
* the separated heat operator rho c dT/dt - div(k grad T) (+ h T on a Robin face) as Kronecker terms
  (:func:`heat_terms`, :func:`level_ridge_term`) and the load pieces of a time slab's initial state
  (:func:`initial_state_factors`), for :class:`pde.td.SeparatedProblem`.

The problem-specific parts (geometry of the boxes, the source loads, the time marching) live in the
driver (:mod:`pde.lpbf`).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .chidenn import CHiDeNNSpace
from .fem import LagrangeSpace, assemble_load
from .mesh import Quadrature, StructuredMesh
from .multilevel import nests
from .td import SeparatedProblem, matrices_1d


#: level-l 1D dofs that shared level modes remove (:class:`MultilevelTDSpace` ``parent_rule``)
PARENT_RULES = ("support", "nests")


def space_1d(axis, basis: str, order: int, dilation: float):
    """1D space on the nodes ``axis``: Lagrange of ``order`` (at most 2) for ``basis = "fem"``, C-HiDeNN with
    p = s = ``order`` otherwise; a mesh with fewer elements than ``order`` falls back to P1 Lagrange."""
    mesh = StructuredMesh([axis])
    if basis == "fem" or mesh.n_elements < order:
        return LagrangeSpace(mesh, min(order, 2) if basis == "fem" else 1)
    return CHiDeNNSpace(mesh, s=order, p=order, dilation=dilation)


def resample_rows(A, n):
    """Columns of A linearly resampled from len(A) to n rows (a warm start between slabs of different sizes)."""
    if len(A) == n:
        return A.copy()
    s_old, s_new = np.linspace(0, 1, len(A)), np.linspace(0, 1, n)
    return np.stack([np.interp(s_new, s_old, a) for a in A.T], axis=1)


def basis_values(V, free, x, deriv=False):
    """Values (or first derivatives) of the 1D basis functions ``free`` of V at the coordinates x:
    (len(x), len(free)); zero outside V's interval."""
    x = np.asarray(x, float)
    inside = (x >= V.mesh.lower[0] - 1e-15) & (x <= V.mesh.upper[0] + 1e-15)
    out = np.zeros((x.size, len(free)))
    if inside.any():
        ev = V.evaluate(x[inside][:, None])
        full = np.zeros((inside.sum(), V.n_dofs + 1))
        vals = ev.grads[:, :, 0] if deriv else ev.vals
        rows = np.repeat(np.arange(inside.sum()), ev.conn.shape[1])
        np.add.at(full, (rows, ev.conn.ravel()), vals.ravel())
        out[inside] = full[:, free]
    return out


def integral_vector(V, free):
    """w_i = int phi_i dx of the free 1D basis functions (Gauss rule two orders above V's default)."""
    q = Quadrature(V.mesh, V.default_quadrature() + 2)
    ev = V.evaluate(q.points, q.elem)
    return assemble_load(ev, q.weights, 1.0, V.n_dofs)[free]


def _point_values(V, x0):
    """All basis function values of V at the single coordinate x0 (length V.n_dofs)."""
    a = V.evaluate(np.array([[x0]]))
    va = np.zeros(V.n_dofs)
    va[a.conn[0][a.conn[0] >= 0]] = a.vals[0][a.conn[0] >= 0]
    return va


class MultilevelTDSpace:
    """1D bases, free dofs and 1D operators of nested tensor-product level boxes (module docstring).

    Parameters
    ----------
    axes : list over levels of the three 1D node arrays (x, y, z) of the level box (level 0 = the domain).
    lower, upper : the domain box corners (fine-level dofs at box ends strictly inside it are removed).
    basis, order, dilation : the 1D basis of every level and direction (:func:`space_1d`).
    shared : modes shared by the levels (summed 1D spaces, dependent parent functions removed per direction).
    parent_rule : which level-l 1D dofs with support inside level l+1's interval shared modes remove.
        ``"support"`` (default): all of them, C-HiDeNN ones included (exact for nested Lagrange levels).  A
        C-HiDeNN child of ratio r reproduces a C-HiDeNN parent function only to a fixed relative error, so the
        summed 1D space then has an error floor under refinement at fixed r (measured, best approximation of
        sin 5x + e^x on [0, 1], p = 2, 64 coarse elements: 6.0e-4, 1.7e-4, 2.7e-5 for r = 2, 4, 8, while the
        space without removal reaches 2e-6; tests/pde/test_multilevel_td.py).  In the LPBF TD runs this
        floor is below the TD's own error: Green's-function errors with tol 1e-5, 24 modes, r = 4 were
        6.1e-3 / 5.1e-4 / 3.1e-4 ("support") and 6.3e-3 / 2.7e-4 / 3.9e-4 ("nests", with the blocks
        integrated pair by pair) for 12 / 24 / 48 coarse elements along x, both limited by the TD.
        ``"nests"``: only where the child contains the parent (:func:`pde.multilevel.nests`, the rule of
        :class:`pde.multilevel.MultilevelSpace`); C-HiDeNN parents are all kept, the summed mass matrix is
        nearly singular (condition numbers 1e7 to 2e11 for p = 1-3 at r = 4-8 on the track axis)
        and is integrated by one rule (:meth:`_summed_gram`).  It is not the default: on the switch-off track
        of tests/pde/test_lpbf.py the TD cooling rate at the rear solidus point at 0.45 ms was then 1.34x the
        exact one (1.38x with 32 modes and tol 1e-5), against 1.03x with ``"support"``, while the
        Green's-function error was unchanged (0.0063).
    face : (direction, coordinate) of the Robin face whose trace operator ``Btop`` is built.

    Notes
    -----
    Attributes: ``spaces[l][d]``, ``free[l][d]``, ``Ms[d][l][l']``, ``Ks[d][l][l']`` (free rows/columns),
    ``Btop[l][l']`` (trace outer product on the face), ``top_vec[l]`` (face trace of the free functions),
    ``w_space[l][d]`` (int phi); with ``shared`` also ``Mc[d]``, ``Kc[d]``, ``Btopc`` (summed blocks) and the
    entries ``top_vec[-1]``, ``w_space[-1]`` of the summed space.  ``union_axes[d]``: all level vertices.
    """

    def __init__(self, axes, lower, upper, basis: str, order: int, dilation: float, shared: bool = False,
                 face=(2, 0.0), parent_rule: str = "support"):
        if parent_rule not in PARENT_RULES:
            raise ValueError(f"parent_rule must be one of {PARENT_RULES}, got {parent_rule!r}")
        self.parent_rule = parent_rule
        L = len(axes)
        self.L = L
        dom_lo, dom_hi = np.asarray(lower, float), np.asarray(upper, float)
        spaces = [[space_1d(ax, basis, order, dilation) for ax in axes[l]] for l in range(L)]
        self.spaces = spaces
        free = []
        for l in range(L):
            fl = []
            for dd in range(3):
                V = spaces[l][dd]
                keep = np.ones(V.n_dofs, bool)
                if l >= 1:
                    tol = 1e-9 * (dom_hi[dd] - dom_lo[dd])
                    if V.mesh.lower[0] > dom_lo[dd] + tol:
                        keep[0] = False
                    if V.mesh.upper[0] < dom_hi[dd] - tol:
                        keep[-1] = False
                fl.append(np.nonzero(keep)[0])
            free.append(fl)
        self.shared = bool(shared) and L > 1
        if self.shared:  # per-direction ML-VMS: drop level-l 1D dofs resolved by level l+1 (parent_rule)
            for l in range(L - 1):
                for dd in range(3):
                    V, box = spaces[l][dd], spaces[l + 1][dd].mesh
                    if parent_rule == "nests" and not nests(V, spaces[l + 1][dd]):
                        continue
                    tol = 1e-9 * (dom_hi[dd] - dom_lo[dd])
                    x0, h = V.mesh.element_x0[:, 0], V.mesh.element_h[:, 0]
                    inside = (x0 >= box.lower[0] - tol) & (x0 + h <= box.upper[0] + tol)
                    keep = np.unique(V.elem_conn[~inside])
                    free[l][dd] = np.intersect1d(free[l][dd], keep[keep >= 0])
        self.free = free
        # composite load quadrature: every level's load integrated on the union of all level vertices
        self.union_axes = [np.unique(np.concatenate([axes[l][dd] for l in range(L)])) for dd in range(3)]
        self._matrices(face)
        # integration vectors for energy diagnostics
        self.w_space = [[integral_vector(spaces[l][dd], free[l][dd]) for dd in range(3)] for l in range(L)]
        if self.shared:
            self.w_space.append([np.concatenate([self.w_space[l][dd] for l in range(L)]) for dd in range(3)])

    def _matrices(self, face):
        """1D mass / stiffness matrices of every level pair, the face trace operator, the summed blocks."""
        L, spaces, free = self.L, self.spaces, self.free
        fd, fx = face
        Ms = [[[None] * L for _ in range(L)] for _ in range(3)]
        Ks = [[[None] * L for _ in range(L)] for _ in range(3)]
        Btop = [[None] * L for _ in range(L)]
        for dd in range(3):
            for l in range(L):
                for lp in range(l, L):  # symmetric: the (lp, l) blocks are the transposes
                    M, K, _ = matrices_1d(spaces[l][dd], spaces[lp][dd])
                    Ms[dd][l][lp] = M[free[l][dd]][:, free[lp][dd]]
                    Ks[dd][l][lp] = K[free[l][dd]][:, free[lp][dd]]
                    if lp > l:
                        Ms[dd][lp][l] = Ms[dd][l][lp].T.tocsr()
                        Ks[dd][lp][l] = Ks[dd][l][lp].T.tocsr()
        for l in range(L):
            for lp in range(L):
                va_ = _point_values(spaces[l][fd], fx)[free[l][fd]]
                vb_ = _point_values(spaces[lp][fd], fx)[free[lp][fd]]
                ia, ib = np.nonzero(va_)[0], np.nonzero(vb_)[0]  # rank one, a few face dofs: stay sparse
                Btop[l][lp] = sp.csr_matrix((np.outer(va_[ia], vb_[ib]).ravel(), (np.repeat(ia, ib.size),
                                             np.tile(ib, ia.size))), shape=(va_.size, vb_.size))
        self.top_vec = [_point_values(spaces[l][fd], fx)[free[l][fd]] for l in range(L)]
        self.Ms, self.Ks, self.Btop = Ms, Ks, Btop
        if self.shared:  # summed 1D spaces: one block matrix per direction, index -1 = all levels
            if self.parent_rule == "nests":  # kept C-HiDeNN parents: one rule for all blocks
                self.Mc, self.Kc = (list(m) for m in zip(*(self._summed_gram(dd) for dd in range(3))))
            else:
                self.Mc = [sp.csr_matrix(sp.bmat(Ms[dd])) for dd in range(3)]
                self.Kc = [sp.csr_matrix(sp.bmat(Ks[dd])) for dd in range(3)]
            self.Btopc = sp.csr_matrix(sp.bmat(Btop))
            self.top_vec.append(np.concatenate(self.top_vec))

    def _summed_gram(self, dd):
        """Mass and stiffness Gram matrices of the summed 1D space of direction dd, every block integrated by one
        Gauss rule on the union of the level vertices (the functions are smooth between them).  One rule for all
        blocks makes them the Gram matrices of one set of sampled functions, positive semi-definite however
        nearly dependent the kept C-HiDeNN parents are; per-pair rules (:func:`pde.td.matrices_1d`: the parent
        block on the parent's elements) left the summed p = 1 mass matrix indefinite (measured smallest / largest
        eigenvalue -1.2e-6 on the 1.2 mm track axis at ratio 8, +2.0e-9 with one rule; the LPBF error was then
        5.1 instead of 0.002).  For nested Lagrange levels both rules are exact."""
        q = Quadrature(StructuredMesh([self.union_axes[dd]]),
                       max(self.spaces[l][dd].default_quadrature() for l in range(self.L)))
        x = q.points[:, 0]
        B = self.basis(-1, dd, x)
        D = self.basis(-1, dd, x, deriv=True)
        return sp.csr_matrix(B.T @ (q.weights[:, None] * B)), sp.csr_matrix(D.T @ (q.weights[:, None] * D))

    def basis(self, l, dd, x, deriv=False):
        """Values (or derivatives) of the free 1D basis functions of level l (``-1``: all levels, the summed
        space of shared modes) in direction dd at the coordinates x: (len(x), n)."""
        if l < 0 and self.shared:
            return np.hstack([basis_values(self.spaces[j][dd], self.free[j][dd], x, deriv) for j in range(self.L)])
        return basis_values(self.spaces[l][dd], self.free[l][dd], x, deriv)

    def constant_factors(self):
        """The constant 1 of each summed 1D space as one frozen mode: the L2 projection M a = int phi per
        direction, (n_d, 1) each (for :class:`pde.td.SeparatedProblem`'s ``frozen``)."""
        return [spla.spsolve(self.Mc[dd].tocsc(), self.w_space[-1][dd])[:, None] for dd in range(3)]


def heat_terms(M, K, Mt, Ct, rho_c: float, conductivity: float, h_eff: float = 0.0, B=None):
    """Kronecker terms (ops, coefs) of the space-time Galerkin form of rho c dT/dt - div(k grad T) with a
    Robin face h_eff T (arXiv:2409.00329; the module docstring of :mod:`pde.td`):

        rho c (M (x) M (x) M (x) C_t) + k (K (x) M (x) M (x) M_t + M (x) K (x) M (x) M_t + M (x) M (x) K (x) M_t)
        + h_eff (M (x) M (x) B (x) M_t)

    ``M[d]``, ``K[d]``: the space 1D matrices per direction (single matrices or [l][l'] level blocks); ``Mt``,
    ``Ct``: time mass and int psi_i psi_j' in the same form; ``B``: the face trace operator (term added only
    when h_eff > 0)."""
    ops = [[M[0], M[1], M[2], Ct], [K[0], M[1], M[2], Mt], [M[0], K[1], M[2], Mt], [M[0], M[1], K[2], Mt]]
    coefs = [rho_c, conductivity, conductivity, conductivity]
    if h_eff > 0:
        ops.append([M[0], M[1], B, Mt])
        coefs.append(h_eff)
    return ops, coefs


def level_ridge_term(Ms, Mt, L):
    """Ridge term (fine-level mass (x) M_t on the diagonal level blocks l >= 1, zero elsewhere): fixes the
    non-unique split of the total field between nearly dependent per-level modes.  ``Mt``: one time matrix."""
    ridge_ops = []
    for dd in range(3):
        R = [[sp.csr_matrix((Ms[dd][l][lp].shape)) for lp in range(L)] for l in range(L)]
        for l in range(1, L):
            R[l][l] = Ms[dd][l][l]
        ridge_ops.append(R)
    return ridge_ops + [[[Mt if l == lp else sp.csr_matrix(Mt.shape) for lp in range(L)] for l in range(L)]]


def initial_state_factors(fac, ops, coefs, init, mt_one, level=None):
    """Append to the CP load factors ``fac`` (list over the 4 directions of lists of arrays) the load of a
    time slab's initial state (time-marching TD, arXiv:2510.00516).

    The slab solution is u = u_init (x) 1(t) + w with w = 0 at the slab start; ``init`` is a list of separated
    pieces (level, X, Y, Z, weights) of u_init.  The time derivative of the constant vanishes (partition of
    unity of the time basis; term 0 is the time-derivative term of :func:`heat_terms`), so u_init enters the
    right-hand side through the other terms: F -= sum_{t >= 1} c_t (A_x X w) (A_y Y) (A_z Z) (M_t 1), with
    ``mt_one`` = M_t 1.  ``level``: test level l of level-block operators (``ops[t][d][l][l']``, blocks with
    an empty time matrix skipped), None for single matrices."""
    for (lp, X, Y, Z, w) in init:
        for t in range(1, len(ops)):
            if level is None:
                A = [ops[t][d] for d in range(4)]
            else:
                if ops[t][3][level][lp].nnz == 0:
                    continue
                A = [ops[t][d][level][lp] for d in range(4)]
            fac[0].append(-coefs[t] * (A[0] @ (X * w)))
            fac[1].append(A[1] @ Y)
            fac[2].append(A[2] @ Z)
            fac[3].append(np.repeat(mt_one[:, None], X.shape[1], axis=1))
    return fac


class LevelBlockProblem(SeparatedProblem):
    """:class:`pde.td.SeparatedProblem` with each level's own modes (``level_modes = "per_level"``), whose
    all-modes direction solves (``subspace`` / ``fast`` on several levels) use the level-block structure.

    The per-level ALS direction system of arXiv:2510.00516 couples every mode of every level:

        sum_t sum_l' A^t_d[l][l'] X_l' G^t[l][l']^T = R_l   for every level l,

    with G^t[l][l'] = c_t prod_{e != d} U_l,e^T A^t_e[l][l'] U_l',e.  Stacking the level factors as the
    block-diagonal X = diag(X_0, ..., X_{L-1}) over the summed 1D space turns all L^2 Gram blocks of one
    direction e into one product U_e^T A_e U_e with the dense block matrix A_e = [A_e[l][l']] (the summed 1D
    sizes are tens to a few hundred), and the system into one dense matrix sum_k A_k[l][l'] (x) G_k[l][l']
    (k: the distinct 1D operators of the direction) solved by one LU, instead of a sparse LU of the same
    system assembled from L^2 sparse Kronecker blocks.

    Where every block of every distinct operator of a direction is one and the same 1D matrix (the time
    direction: all levels share the time basis, so A^t_t[l][l'] = C_t or M_t for every l, l') the system is
    the two-matrix Kronecker sum C_t X G_0^T + M_t X G_1^T = R with X = [X_0 ... X_{L-1}] and LM x LM Grams,
    solved exactly by fast diagonalisation (:meth:`pde.td.SeparatedProblem._fast_diagonalisation`: L M
    independent 1D solves).  Both are direct solves of the same linear system as the parent's coupled sparse
    solve: with ``TIKHONOV = 0`` every update agrees with the parent's to round-off
    (``tests/pde/test_multilevel_td.py``); by default the space-direction systems carry a tiny Tikhonov shift
    (``TIKHONOV``) that keeps the near-null level splits bounded.

    The array code runs through ``xp`` (NumPy, or CuPy on a GPU), as the parent's.  For greedy (single-mode)
    updates, for unequal mode counts per level or for a summed size above ``DENSE_COUPLED_MAX`` unknowns the
    parent's sparse path is used.
    """

    #: largest coupled direction system (summed 1D dofs x modes) solved densely
    DENSE_COUPLED_MAX = 3000
    #: Tikhonov shift of the dense space-direction systems, relative to their mean |diagonal|.  The nested level
    #: spaces are (nearly) linearly dependent, so these systems are singular to working precision (rcond
    #: 1e-17..1e-19 measured on the S = 64 track): an unregularised solve returns near-null level splits with huge
    #: coefficients, and the ALS field jumped by up to 8e3x its norm between sweeps (3-level track, S = 16;
    #: 113 sweeps).  1e-10 damps only those directions: no jumps, 30 sweeps there (22 instead of 81 at S = 64),
    #: errors against the Green's function within the ALS stopping noise of the unregularised run
    #: (``benchmarks/pde_lpbf.py --paper``).  0 gives the parent's system exactly.
    TIKHONOV = 1e-10

    def _dense_blocks(self, blocks):
        """The dense block matrix [A[l][l']] of a list-of-lists of 1D matrices (cached by object)."""
        cache = self.__dict__.setdefault("_dense_cache", {})
        key = id(blocks)
        if key not in cache:
            # keep ``blocks`` alive with its id; the dense matrix on the backend's device
            cache[key] = (blocks, self._dev(np.asarray(sp.bmat(blocks).toarray())))
        return cache[key][1]

    def _block_diagonal(self, F):
        """diag(F_0, ..., F_{L-1}) of the level factors (sum n_l x sum M_l), dense, on the backend's device."""
        out = self.xp.zeros((sum(f.shape[0] for f in F), sum(f.shape[1] for f in F)))
        r = c = 0
        for f in F:
            out[r:r + f.shape[0], c:c + f.shape[1]] = f
            r, c = r + f.shape[0], c + f.shape[1]
        return out

    def _inner_field(self, U, V):
        """The parent's field inner product (all level pairs, ``norm_ops``) as one dense product per direction
        (the block-diagonal factors against the dense block norm matrices; same value to round-off)."""
        if self.norm_ops is None:
            return super()._inner_field(U, V)
        G = 1.0
        for d in range(self.D):
            Ub = self._block_diagonal([U[l][d] for l in range(len(U))])
            Vb = self._block_diagonal([V[l][d] for l in range(len(V))])
            G = G * (Ub.T @ (self._dense_blocks(self.norm_ops[d]) @ Vb))
        return float(G.sum())

    def _distinct(self, d):
        """Distinct operators of direction d: (list of list-of-lists, label of every term)."""
        groups, labels = [], []
        for term in self.ops:
            for k, g in enumerate(groups):
                if g is term[d]:
                    labels.append(k)
                    break
            else:
                groups.append(term[d])
                labels.append(len(groups) - 1)
        return groups, np.array(labels)

    def _direction_solve(self, U, d, test):
        L, D = self.L, self.D
        M = U[0][d].shape[1]
        full = all(np.array_equal(np.asarray(test[l]), np.arange(U[l][d].shape[1])) for l in range(L))
        xp = self.xp
        if (L == 1 or not full or any(U[l][e].shape[1] != M for l in range(L) for e in range(D))
                or sum(self.n[l][d] for l in range(L)) * M > self.DENSE_COUPLED_MAX):
            return super()._direction_solve(U, d, test)
        # normalise the other directions' factors (as the parent: column scaling, same represented subspace)
        for l in range(L):
            for e in range(D):
                if e != d:
                    nrm = xp.linalg.norm(U[l][e], axis=0)
                    nrm[nrm == 0] = 1.0
                    U[l][e] /= nrm
        # all L^2 Gram blocks of every other direction and distinct operator at once: Ub^T A Ub (LM x LM)
        gram = {}
        for e in range(D):
            if e == d:
                continue
            Ub = self._block_diagonal([U[l][e] for l in range(L)])
            groups, _ = self._distinct(e)
            gram[e] = [Ub.T @ (self._dense_blocks(g) @ Ub) for g in groups]
        Gt = []
        for t in range(len(self.ops)):
            G = xp.full((L * M, L * M), self.coefs[t])
            for e in gram:
                G *= gram[e][self._distinct(e)[1][t]]
            Gt.append(G)
        groups, labels = self._distinct(d)
        Gk = [sum(Gt[t] for t in np.nonzero(labels == k)[0]) for k in range(len(groups))]
        # right-hand side per level: F_l,d (prod_{e != d} U_l,e^T F_l,e)^T, levels stacked
        rhs = []
        for l in range(L):
            H = xp.ones((M, self.loads[l][d].shape[1]))
            for e in range(D):
                if e != d:
                    H *= U[l][e].T @ self._loads[l][e]
            rhs.append(self._loads[l][d] @ H.T)
        n = [self.n[l][d] for l in range(L)]
        same = len(set(n)) == 1 and all(all(B is g[0][0] for row in g for B in row) for g in groups)
        if same and len(groups) == 2:  # Kronecker sum over the levels' shared 1D space: fast diagonalisation
            R = xp.hstack(rhs)
            X = self._fast_diagonalisation(d, -1, [sp.csr_matrix(g[0][0]) for g in groups], Gk, R)
            if X is not None:
                for l in range(L):
                    U[l][d][:] = X[:, l * M:(l + 1) * M]
                return
        # dense coupled system: block (l, l') = sum_k A_k[l][l'] (x) G_k[l][l'], row-major vec (i * M + m)
        off = np.concatenate([[0], np.cumsum(n)])
        N = int(off[-1])
        A = xp.zeros((N, M, N, M))
        for g, G in zip(groups, Gk):
            Ad, G4 = self._dense_blocks(g), G.reshape(L, M, L, M)
            for l in range(L):
                a = slice(off[l], off[l + 1])
                for lp in range(L):
                    b = slice(off[lp], off[lp + 1])
                    A[a, :, b, :] += Ad[a, None, b, None] * G4[l, None, :, lp, None, :]
        A = A.reshape(N * M, N * M)
        if self.TIKHONOV > 0:
            idx = xp.arange(N * M)
            A[idx, idx] += self.TIKHONOV * float(xp.abs(xp.diagonal(A)).mean())
        b = xp.concatenate([r.ravel() for r in rhs])
        if xp is np:
            import scipy.linalg as sla

            x = sla.solve(A, b, overwrite_a=True, overwrite_b=True, check_finite=False)
        else:  # the device's dense LU (CuPy: cuSOLVER getrf/getrs)
            x = xp.linalg.solve(A, b)
        for l in range(L):
            U[l][d][:] = x[off[l] * M:off[l + 1] * M].reshape(n[l], M)
