"""Space-time tensor decomposition (TD / PGD) reduced-order model, single- and multilevel.

Separated representation (C-HiDeNN-TD, arXiv:2409.00329; TAPS, arXiv:2503.13933)::

    u(x_1, ..., x_D) = sum_l sum_{m=1}^{M_l} prod_d  N^l_d(x_d) . U^l_d[:, m]

with ``x_D = t`` the time direction and ``l`` the ML-VMS level (u = u_0 + u_1 + ..., each level a
tensor-product box with its own 1D bases; arXiv:2510.00516).  The Galerkin space-time weak form of a
linear operator is a sum of Kronecker products of 1D matrices,

    A = sum_t c_t  A^t_1 (x) A^t_2 (x) ... (x) A^t_D ,

and the load is a CP tensor ``F = sum_r prod_d F_d[:, r]``.  For the heat equation
rho c dT/dt - div(k grad T) = q the terms are rho c (M (x) M (x) M (x) C_t) and
k (K (x) M (x) M (x) M_t) + permutations (+ h (M (x) M (x) B_top (x) M_t) for a convective face),
with ``C_t = int psi_i psi_j' dt`` (Bubnov-Galerkin in time, dof at t = 0 removed for T(0) = T0).

Solvers (alternating fixed point, Galerkin projection in each direction):

* ``greedy`` -- progressive PGD: add one mode (per level) at a time; alternate over directions until
  the new rank-one term changes by less than ``tol``; previous modes fixed.
* ``subspace`` -- all-modes subspace iteration (TAPS): for each direction solve for *all* modes of all
  levels at once, sum_t (A^t_d (x) G^t) vec_r(U_d) = vec_r(F_d H^T), where G^t / H are the Gram
  products of the other directions; iterate until the relative change of u < ``tol`` (measured on the
  summed field in the norm of ``norm_ops`` when given, e.g. space-time L2 through the 1D mass matrices).
* ``fast`` -- the same subspace iteration; for a single level each direction system (a two-matrix
  Kronecker sum) is solved by fast diagonalisation, i.e. M independent sparse 1D solves (distributed over
  MPI ranks); see :meth:`SeparatedProblem._level_solve`.  With several levels the coupled direct solve of
  ``subspace`` is used: a block Gauss-Seidel sweep over the levels (which would keep the fast solves) was
  tried and diverges with three or more nested levels (nearly dependent level spaces and the
  non-symmetric time operator), so it is not offered.  Multilevel problems whose modes are shared by the
  levels (each 1D factor in the summed 1D space V^0_d + V^1_d + ..., ``level_modes = "shared"`` in
  :mod:`pde.lpbf`) are single-level problems in the summed bases, so they take the fast path.
  The M independent 1D solves (A1 + lambda_m A2) y_m = r_m use, by size and structure
  (:meth:`SeparatedProblem._mode_solves`): for n <= DENSE_MAX and a symmetric pencil with A1 SPD (mass
  matrix) the generalised eigenvectors A2 V = A1 V diag(mu), V^T A1 V = I, so y_m = V (V^T r_m) / (1 +
  lambda_m mu) (the full fast diagonalisation of Lynch, Rice & Thomas, Numer. Math. 6 (1964) 185); a
  batched dense solve for other small pencils (time: C_t, M_t); banded LU (LAPACK gbsv) for large
  narrow-banded ones; sparse LU otherwise.

Memory is O(sum_d n_d M) (1D factors) instead of O(prod_d n_d); each direction update is a sparse solve
of size n_d * M.  Scaling indeterminacy is removed by normalising the other directions' factors before
each direction solve (column scaling only, which leaves the represented tensor subspace unchanged).
"""
from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp

from ._kernels import xp_linalg as xpl
from .fem import Evaluation, assemble_bilinear, assemble_load
from .mesh import Quadrature, StructuredMesh

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- 1D building blocks
def _finer(Va, Vb):
    """The space with the smaller box (its quadrature integrates products of both)."""
    la = Va.mesh.upper[0] - Va.mesh.lower[0]
    lb = Vb.mesh.upper[0] - Vb.mesh.lower[0]
    return Vb if lb < la else Va


def matrices_1d(Va, Vb, quad_order=None):
    """1D mass M_ab = int phi^a phi^b, stiffness K_ab = int phi^a' phi^b', advection C_ab = int phi^a phi^b'.

    Cross-level pairs are integrated on the finer (nested) space's elements, where both live."""
    F = _finer(Va, Vb)
    qo = quad_order or max(Va.default_quadrature(), Vb.default_quadrature())
    q = Quadrature(F.mesh, qo)
    ea = Va.evaluate(q.points)
    eb = Vb.evaluate(q.points)
    M = assemble_bilinear(ea, eb, q.weights, Va.n_dofs, Vb.n_dofs, mass=1.0)
    K = assemble_bilinear(ea, eb, q.weights, Va.n_dofs, Vb.n_dofs, diffusion=1.0)
    # C = int phi^a (phi^b)' : mass form with the gradient of b in place of its value
    eb_d = Evaluation(eb.conn, eb.grads[:, :, 0], eb.grads * 0.0, eb.elem)
    C = assemble_bilinear(ea, eb_d, q.weights, Va.n_dofs, Vb.n_dofs, mass=1.0)
    return M.tocsr(), K.tocsr(), C.tocsr()


def _quad_points(V, n_sub, quad_order, quad_axis=None):
    """Gauss points of every element of ``quad_axis`` (default: V's own vertices) split into ``n_sub`` pieces,
    restricted to V's interval.  A multilevel run passes the union of all level vertices (the composite rule
    of :class:`pde.multilevel.MultilevelSpace`), so a coarse level's load is integrated on the finest
    elements where a sharp source lives."""
    a = V.mesh.axes[0] if quad_axis is None else np.asarray(quad_axis, float)
    t = np.linspace(0, 1, n_sub + 1)[:-1]
    sub = StructuredMesh([np.concatenate([(a[:-1, None] + np.diff(a)[:, None] * t).ravel(), a[-1:]])])
    q = Quadrature(sub, quad_order)
    if quad_axis is not None:
        lo, hi = V.mesh.lower[0], V.mesh.upper[0]
        tol = 1e-12 * (hi - lo)
        keep = (q.points[:, 0] >= lo - tol) & (q.points[:, 0] <= hi + tol)
        q.points, q.weights = q.points[keep], q.weights[keep]
    return q


def load_1d(V, func, n_sub: int = 8, quad_order: int = 6, quad_axis=None):
    """b_i = int phi_i(x) f(x) dx with each element split into ``n_sub`` pieces (sharp sources).

    ``func`` maps an (n,) array of coordinates to values (n,) or to (n, R) for R load columns; ``quad_axis``:
    see :func:`_quad_points`."""
    q = _quad_points(V, n_sub, quad_order, quad_axis)
    ev = V.evaluate(q.points)
    vals = func(q.points[:, 0])
    vals = vals[:, None] if vals.ndim == 1 else vals
    return np.stack([assemble_load(ev, q.weights, vals[:, r], V.n_dofs) for r in range(vals.shape[1])], axis=1)


def load_2d_xt(Vx, Vt, func, n_sub: int = 4, quad_order: int = 5, support=None, quad_axis=None):
    """B[i, n] = int int phi_i(x) psi_n(t) f(x, t) dx dt for a non-separable x-t source (moving beam).

    ``support = (lo, hi)``: f is negligible for x outside [lo, hi] (e.g. a Gaussian beam beyond 12 sigma of
    its path, relative size < 1e-31); quadrature points there are skipped, so the cost follows the beam's
    path, not the length of the x axis."""
    def fine_points(V):
        a = V.mesh.axes[0]
        s = np.linspace(0, 1, n_sub + 1)[:-1]
        sub = StructuredMesh([np.concatenate([(a[:-1, None] + np.diff(a)[:, None] * s).ravel(), a[-1:]])])
        return Quadrature(sub, quad_order)

    qx, qt = _quad_points(Vx, n_sub, quad_order, quad_axis), fine_points(Vt)
    if support is not None:
        keep = (qx.points[:, 0] >= support[0]) & (qx.points[:, 0] <= support[1])
        if not keep.any():
            return np.zeros((Vx.n_dofs, Vt.n_dofs))
        qx.points, qx.weights = qx.points[keep], qx.weights[keep]
    ex, et = Vx.evaluate(qx.points), Vt.evaluate(qt.points)
    Px = sp.csr_matrix((ex.vals.ravel(), (np.repeat(np.arange(len(qx.weights)), ex.conn.shape[1]),
                                          ex.conn.ravel().clip(0))), shape=(len(qx.weights), Vx.n_dofs))
    Pt = sp.csr_matrix((et.vals.ravel(), (np.repeat(np.arange(len(qt.weights)), et.conn.shape[1]),
                                          et.conn.ravel().clip(0))), shape=(len(qt.weights), Vt.n_dofs))
    # B = Px^T (w_x F w_t) Pt, accumulated over blocks of x points (memory O(block * nqt), not O(nqx * nqt))
    B = np.zeros((Vx.n_dofs, Vt.n_dofs))
    xq, tq = qx.points[:, 0], qt.points[:, 0]
    step = max(1, int(4e6 // max(len(tq), 1)))
    PxT = Px.T.tocsr()
    for a in range(0, len(xq), step):
        Fq = func(xq[a:a + step, None], tq[None, :]) * qx.weights[a:a + step, None] * qt.weights[None, :]
        B += PxT[:, a:a + step] @ np.asarray((Pt.T @ Fq.T).T)
    return B


def truncated_svd(B, rtol: float = 1e-4, max_rank: int | None = None):
    """Low-rank compression B ~ sum_r s_r a_r b_r^T, keeping singular values until the discarded
    Frobenius fraction is below ``rtol``.  Returns (A (n x R) * s, Bt (m x R))."""
    U, s, Vt = np.linalg.svd(B, full_matrices=False)
    if s[0] == 0:
        return U[:, :1] * 0, Vt[:1].T
    tail = np.sqrt(np.cumsum(s[::-1] ** 2)[::-1]) / np.sqrt(np.sum(s**2))
    R = int(np.searchsorted(-tail, -rtol)) if np.any(tail < rtol) else s.size
    R = max(1, min(R, s.size, max_rank or s.size))
    return U[:, :R] * s[:R], Vt[:R].T


# --------------------------------------------------------------------------- separated problem
class SeparatedProblem:
    """A linear problem sum_t c_t (x)_d A^t_d in separated form, possibly over several levels.

    Parameters
    ----------
    ops : list over terms of list over directions of list-of-lists ``[l][l']`` of sparse 1D matrices
        (test level l, trial level l'), already restricted to the free dofs.  For one level pass
        ``[[A]]`` per direction, or use :meth:`single_level`.
    coefs : coefficient of each term.
    loads : list over levels of list over directions of arrays (n_{d,l}, R_l).
    comm : MPI communicator over which the ``fast`` solver distributes its independent 1D mode solves
        (None: serial).
    norm_ops : optional norm of the stopping test (see :meth:`_inner_field`): list over directions of
        ``[l][l']`` matrices (e.g. the 1D mass matrices -> space-time L2); None: Euclidean norm of each level's
        coefficients.
    frozen : optional frozen spatial modes (single level, method ``fast``): list over the directions 0..D-2 of
        (n_d, k) factors kept fixed while their last-direction (time) factors are solved with the other modes;
        e.g. the constant 1(x) 1(y) 1(z), which puts the energy test function into the time-direction Galerkin
        test space (see :mod:`pde.lpbf`).  :meth:`solve` appends them after the ``modes`` free modes.
    backend : "cpu", "cuda" or "auto" (:func:`gpu.get_backend`): where the mode solves and Gram products run.
        The solver is written once against the array module ``xp`` (:func:`gpu.xp`: NumPy or CuPy) and the
        adapter :mod:`pde._kernels.xp_linalg` (SciPy or cupyx.scipy); the CPU run executes the same code with
        NumPy.  The small M x M eigenproblem of the fast diagonalisation (M = modes) and the one-time
        factorisation set-up of the 1D mode solves run on the host; every per-iteration product and solve on
        the device.  ``solve`` returns host (NumPy) factors on every backend.  "cuda" without a usable GPU
        raises :class:`gpu.GPUUnavailableError` with the reason (never a silent fallback).
    """

    def __init__(self, ops, coefs, loads, comm=None, norm_ops=None, frozen=None, backend: str = "cpu"):
        from gpu import get_backend, xp as array_module

        # "cuda" without a usable device raises gpu.GPUUnavailableError (with the reason) here, before any work
        self.backend = get_backend(backend)
        self.xp = array_module(self.backend)
        self.ops = ops
        self.coefs = [float(c) for c in coefs]
        self.loads = loads
        self.L = len(loads)
        self.D = len(loads[0])
        self.n = [[loads[l][d].shape[0] for d in range(self.D)] for l in range(self.L)]
        for t, term in enumerate(ops):
            if len(term) != self.D:
                raise ValueError(f"ops[{t}]: need {self.D} directions, got {len(term)}")
        self.history = []
        self._pattern = {}  # union sparsity patterns, built on first use (see _pattern_of)
        # terms sharing the same 1D matrix in direction d on the diagonal level block (for the fast solver)
        self._groups = {}
        for d in range(self.D):
            for l in range(self.L):
                reps, labels, ids = [], [], []
                for term in ops:
                    if id(term[d][l][l]) in ids:  # the very same matrix object
                        labels.append(ids.index(id(term[d][l][l])))
                        continue
                    A = sp.csr_matrix(term[d][l][l])
                    for k, B in enumerate(reps):
                        if A.shape == B.shape and abs(A - B).max() <= 1e-14 * max(abs(B).max(), 1e-300):
                            labels.append(k)
                            break
                    else:
                        reps.append(A)
                        ids.append(id(term[d][l][l]))
                        labels.append(len(reps) - 1)
                self._groups[d, l] = (reps, np.array(labels))
        self.comm = comm
        self._gcache = {}
        if frozen is not None and (len(frozen) != self.D - 1 or any(
                f.shape[0] != self.n[0][d] or f.shape[1] != frozen[0].shape[1] for d, f in enumerate(frozen))):
            raise ValueError(f"frozen: need {self.D - 1} arrays (n_d, k) for the directions 0..{self.D - 2}")
        self.frozen = frozen
        self._nfrozen = 0
        if norm_ops is not None and len(norm_ops) != self.D:
            raise ValueError(f"norm_ops: need {self.D} directions, got {len(norm_ops)}")
        self.norm_ops = norm_ops
        # the operands of the solve on the backend's device (the very same objects on the CPU)
        dev = self._dev
        self._ops = [[[[dev(A) for A in row] for row in blocks] for blocks in term] for term in ops]
        self._loads = [[dev(F) for F in Fl] for Fl in loads]
        self._norm_ops = None if norm_ops is None else [[[dev(A) for A in row] for row in blocks]
                                                         for blocks in norm_ops]
        self._frozen = None if frozen is None else [dev(f) for f in frozen]

    def _pattern_of(self, d, l, lp):
        """Union sparsity pattern of block (d, l, lp) over the terms and each term's values on it: the coupled
        direction systems are then assembled in one vectorised step per iteration (no per-term kron)."""
        if (d, l, lp) not in self._pattern:
            S = None
            for term in self.ops:
                A = abs(sp.csr_matrix(term[d][l][lp]))
                S = A if S is None else S + A
            S = S.tocoo()
            r, c = S.row.astype(np.int64), S.col.astype(np.int64)
            vals = np.stack([np.asarray(sp.csr_matrix(term[d][l][lp])[r, c]).ravel() for term in self.ops])
            self._pattern[d, l, lp] = (r, c, vals)
        return self._pattern[d, l, lp]

    def _pattern_dev(self, d, l, lp):
        """:meth:`_pattern_of` on the backend's device (copied once)."""
        if self.xp is np:
            return self._pattern_of(d, l, lp)
        cache = self.__dict__.setdefault("_pattern_x", {})
        if (d, l, lp) not in cache:
            cache[d, l, lp] = tuple(self.xp.asarray(a) for a in self._pattern_of(d, l, lp))
        return cache[d, l, lp]

    @classmethod
    def single_level(cls, ops, coefs, load, comm=None, norm_ops=None, frozen=None, backend: str = "cpu"):
        """One level: ``ops`` terms of 1D matrices, ``load`` list over directions, ``norm_ops`` (optional) one
        matrix per direction; ``comm``, ``frozen`` and ``backend`` as in the class."""
        return cls([[[[A]] for A in term] for term in ops], coefs, [load], comm=comm,
                   norm_ops=None if norm_ops is None else [[[A]] for A in norm_ops], frozen=frozen, backend=backend)

    def _dev(self, a):
        """A host operand (NumPy array or scipy.sparse matrix) on the backend's device."""
        return xpl.to_device(self.xp, a)

    def _host(self, a):
        from gpu import to_host

        return a if self.xp is np else to_host(a)

    # -- tensor algebra on factor lists U[l][d] (n_{d,l} x M_l)
    def _gram(self, t, e, l, lp, Ul, Ulp):
        return Ul.T @ (self._ops[t][e][l][lp] @ Ulp)

    def _direction_solve(self, U, d, test):
        """Update direction d for the modes ``test[l]`` (index arrays) of every level; other modes fixed."""
        L, D, xp = self.L, self.D, self.xp
        unk = [np.asarray(test[l], int) for l in range(L)]
        fix = [np.setdiff1d(np.arange(U[l][d].shape[1]), unk[l]) for l in range(L)]
        unk_x, fix_x = [xp.asarray(u) for u in unk], [xp.asarray(f) for f in fix]  # device indices
        # normalise the other directions' unknown columns
        for l in range(L):
            for e in range(D):
                if e != d and unk[l].size:
                    nrm = xp.linalg.norm(U[l][e][:, unk_x[l]], axis=0)
                    nrm[nrm == 0] = 1.0
                    U[l][e][:, unk_x[l]] /= nrm
        rhs = []
        nT = len(self.ops)
        row_off = np.concatenate([[0], np.cumsum([self.n[l][d] * unk[l].size for l in range(L)])])
        R_, C_, V_ = [], [], []
        for l in range(L):
            Tl = unk_x[l]
            nTl = unk[l].size
            r = xp.zeros((self.n[l][d], nTl))
            # load
            H = xp.ones((nTl, self.loads[l][d].shape[1]))
            for e in range(D):
                if e != d:
                    H *= U[l][e][:, Tl].T @ self._loads[l][e]
            r += self._loads[l][d] @ H.T
            for lp in range(L):
                Gs = xp.empty((nT, nTl, U[lp][d].shape[1]))
                cache = {}  # terms share 1D matrices (M in most directions): one Gram product per distinct matrix
                for t in range(nT):
                    G = xp.full((nTl, U[lp][d].shape[1]), self.coefs[t])
                    for e in range(D):
                        if e != d:
                            key = (id(self.ops[t][e][l][lp]), e)
                            if key not in cache:
                                cache[key] = self._gram(t, e, l, lp, U[l][e][:, Tl], U[lp][e])
                            G *= cache[key]
                    Gs[t] = G
                    if fix[lp].size:
                        r -= self._ops[t][d][l][lp] @ U[lp][d][:, fix_x[lp]] @ G[:, fix_x[lp]].T
                # row-major vec (index i * M + m): (A (x) G) vec_r(U) = vec_r(A U G^T); banded ordering
                pr, pc, pv = self._pattern_dev(d, l, lp)
                a_, b_ = nTl, unk[lp].size
                data = xp.einsum("tk,tab->kab", pv, Gs[:, :, unk_x[lp]])
                R_.append((int(row_off[l]) + pr[:, None, None] * a_ + xp.arange(a_)[None, :, None]
                           + 0 * xp.arange(b_)[None, None, :]).ravel())
                C_.append((int(row_off[lp]) + pc[:, None, None] * b_ + xp.arange(b_)[None, None, :]
                           + 0 * xp.arange(a_)[None, :, None]).ravel())
                V_.append(data.ravel())
            rhs.append(r.ravel())
        N = int(row_off[-1])
        A = xpl.sparse_matrix(xp, xp.concatenate(V_), xp.concatenate(R_), xp.concatenate(C_), (N, N))
        # SuperLU, not a dense LU: these systems are 15-50 % filled and a dense LU was 2-8x faster with one
        # BLAS thread, but up to 6x slower with a threaded BLAS on oversubscribed cores
        x = xpl.spsolve(xp, A, xp.concatenate(rhs))
        pos = 0
        for l in range(L):
            k = unk[l].size * self.n[l][d]
            U[l][d][:, unk_x[l]] = x[pos:pos + k].reshape(self.n[l][d], unk[l].size)
            pos += k

    def _level_solve(self, U, d, l):
        """Update all modes of level l in direction d, the other levels fixed (block Gauss-Seidel over levels).

        The level block is sum_t A_t (x) G_t.  When the terms use only two distinct 1D matrices (heat equation:
        M and K in space, C_t and M_t in time) the Sylvester-type equation A1 U G1^T + A2 U G2^T = R is solved
        by fast diagonalisation (:meth:`_fast_diagonalisation`).  Otherwise (or when that pencil's eigenvectors
        are ill-conditioned) one sparse direct solve is used.
        """
        L, D, xp = self.L, self.D, self.xp
        Ml = U[l][d].shape[1]
        # single level: the Gram products U_e^T A U_e and U_e^T F_e of each direction are kept between the
        # direction solves of a sweep (one product per distinct 1D matrix, redone only when U_e changes;
        # the column normalisation rescales them).  ``_gcache`` is reset by :meth:`solve`.
        gc = self._gcache if L == 1 else None
        kf = self._nfrozen if L == 1 else 0  # frozen spatial modes: the last kf columns (see solve)
        for e in range(D):
            if e != d:
                nrm = xp.linalg.norm(U[l][e], axis=0)
                nrm[nrm == 0] = 1.0
                if kf:
                    nrm[Ml - kf:] = 1.0  # a frozen mode keeps its factors
                U[l][e] /= nrm
                if gc is not None and e in gc:
                    for key in gc[e]:
                        gc[e][key] = gc[e][key] / nrm[:, None] if key == "load" else gc[e][key] / xp.outer(nrm, nrm)

        def gram(t, e, lp):
            if gc is None:
                return self._gram(t, e, l, lp, U[l][e], U[lp][e])
            key = id(self.ops[t][e][l][lp])
            ge = gc.setdefault(e, {})
            if key not in ge:
                ge[key] = self._gram(t, e, l, lp, U[l][e], U[lp][e])
            return ge[key]

        H = xp.ones((Ml, self.loads[l][d].shape[1]))
        for e in range(D):
            if e != d:
                if gc is None:
                    H *= U[l][e].T @ self._loads[l][e]
                else:
                    ge = gc.setdefault(e, {})
                    if "load" not in ge:
                        ge["load"] = U[l][e].T @ self._loads[l][e]
                    H *= ge["load"]
        if gc is not None:
            gc.pop(d, None)  # U_d is about to change
        r = self._loads[l][d] @ H.T
        nT = len(self.ops)
        Gs = xp.empty((nT, Ml, Ml))
        for lp in range(L):
            for t in range(nT):
                G = xp.full((Ml, U[lp][d].shape[1]), self.coefs[t])
                for e in range(D):
                    if e != d:
                        G *= gram(t, e, lp)
                if lp == l:
                    Gs[t] = G
                else:
                    r -= self._ops[t][d][l][lp] @ U[lp][d] @ G.T
        cols = slice(0, Ml)
        if kf and d < D - 1:  # space directions: frozen columns move to the right-hand side
            cols = slice(0, Ml - kf)
            Uf = U[l][d][:, Ml - kf:]
            r = r[:, cols] - sum(self._ops[t][d][l][l] @ Uf @ Gs[t][cols, Ml - kf:].T for t in range(nT))
            Gs = xp.ascontiguousarray(Gs[:, cols, cols])
            Ml = Ml - kf
        reps, labels = self._groups[d, l]
        Gg = [Gs[xp.asarray(np.nonzero(labels == k)[0])].sum(axis=0) for k in range(len(reps))]
        if len(reps) == 2:
            X = self._fast_diagonalisation(d, l, reps, Gg, r)
            if X is not None:
                U[l][d][:, cols] = X
                return
        n = self.n[l][d]
        pr, pc, pv = self._pattern_dev(d, l, l)
        data = xp.einsum("tk,tab->kab", pv, Gs)
        R_ = (pr[:, None, None] * Ml + xp.arange(Ml)[None, :, None] + 0 * xp.arange(Ml)[None, None, :]).ravel()
        C_ = (pc[:, None, None] * Ml + xp.arange(Ml)[None, None, :] + 0 * xp.arange(Ml)[None, :, None]).ravel()
        A = xpl.sparse_matrix(xp, data.ravel(), R_, C_, (n * Ml, n * Ml))
        U[l][d][:, cols] = xpl.spsolve(xp, A, r.ravel()).reshape(n, Ml)

    def _fast_diagonalisation(self, d, l, reps, Gg, r):
        """Solve A1 U G1^T + A2 U G2^T = r by diagonalising the small M x M pencil (fast diagonalisation /
        Bartels-Stewart; Lynch, Rice & Thomas, Numer. Math. 6 (1964) 185): with S = G2^T G1^-T = Q Lambda Q^-1
        the modes decouple into M independent 1D solves (A1 + lambda_m A2) y_m = (r G1^-T Q)[:, m] and
        U = Y Q^-1.  The 1D solves are distributed over MPI ranks (``self.comm``).  The M x M inverse and
        eigendecomposition run on the host (NumPy has the general ``eig``); returns None when G1 is singular or
        Q ill-conditioned (cond >= 1e8), for the caller's direct solve."""
        xp = self.xp
        G1, G2 = (self._host(G) for G in Gg)
        try:
            G1inv_T = np.linalg.inv(G1).T
            lam, Q = np.linalg.eig(G2.T @ G1inv_T)
            ok = np.linalg.cond(Q) < 1e8
        except np.linalg.LinAlgError:
            ok = False
        if not ok:
            return None
        Rhat = r @ self._dev(G1inv_T) @ self._dev(Q)
        n, Ml = r.shape
        Y = xp.zeros((n, Ml), dtype=complex)
        from gpu import block_range, get_comm

        comm = get_comm(self.comm) if self.comm is not None else None
        size, rank = (comm.size, comm.rank) if comm is not None else (1, 0)
        lo, hi = block_range(Ml, size, rank)
        self._mode_solves(d, l, reps, lam, Rhat, Y, lo, hi)
        if size > 1:
            parts = comm.allgather(self._host(Y[:, lo:hi]))
            Y = self._dev(np.concatenate(parts, axis=1))
        return xp.real(Y @ self._dev(np.linalg.inv(Q)))

    # largest 1D size solved densely (all modes in one batched LAPACK call) in the fast diagonalisation
    DENSE_MAX = 400

    def _mode_solve_setup(self, A1, A2):
        """How to solve (A1 + lam A2) y = r for many lam: ("eig", mu, V) for a small symmetric pencil with A1
        SPD, ("dense", D1, D2) for another small one, ("banded", (kl, ku), ab1, ab2) for a narrow band,
        ("sparse", A1, A2) otherwise; the operands on the backend's device."""
        xp = self.xp
        A1, A2 = A1.tocsr(), A2.tocsr()
        n = A1.shape[0]
        if n <= self.DENSE_MAX:
            D1, D2 = A1.toarray(), A2.toarray()
            sym = (np.abs(D1 - D1.T).max() <= 1e-13 * np.abs(D1).max()
                   and np.abs(D2 - D2.T).max() <= 1e-13 * np.abs(D2).max())
            if sym:
                # symmetric pencil with A1 SPD (a mass matrix): A2 V = A1 V diag(mu), V^T A1 V = I, so
                # (A1 + lam A2)^-1 = V diag(1 / (1 + lam mu)) V^T -- every mode solve is two products
                from scipy.linalg import LinAlgError

                try:
                    mu, V = xpl.eigh_generalized(xp, self._dev(D2), self._dev(D1))
                    if bool(xp.isfinite(mu).all()) and bool(xp.isfinite(V).all()):
                        return ("eig", mu, V)
                except (LinAlgError, ValueError, np.linalg.LinAlgError):
                    pass
            return ("dense", self._dev(D1), self._dev(D2))
        P = (abs(A1) + abs(A2)).tocoo()
        off = P.col - P.row
        kl, ku = int(max(0, -off.min())), int(max(0, off.max()))
        if kl + ku + 1 <= 64:
            ab1 = np.zeros((kl + ku + 1, n)); ab2 = np.zeros((kl + ku + 1, n))
            for A, ab in ((A1.tocoo(), ab1), (A2.tocoo(), ab2)):
                ab[ku + A.row - A.col, A.col] = A.data
            return ("banded", (kl, ku), self._dev(ab1), self._dev(ab2))
        return ("sparse", self._dev(A1.tocsc()), self._dev(A2.tocsc()))

    def _mode_solves(self, d, l, reps, lam, Rhat, Y, lo, hi):
        """Y[:, m] = (A1 + lam_m A2)^-1 Rhat[:, m] for m in [lo, hi): the independent 1D solves of the fast
        diagonalisation (``lam``: host array; ``Rhat``, ``Y``: on the backend's device).  Small systems
        (n <= DENSE_MAX, e.g. the summed multilevel 1D spaces) are solved densely, all modes in one batched
        call; large narrow-banded ones (single-level Lagrange/C-HiDeNN meshes) by banded LU (LAPACK gbsv on the
        CPU, a batched dense LU on the device: :func:`pde._kernels.xp_linalg.solve_banded`); anything else by a
        sparse direct solve.  Same results to round-off, chosen only for speed."""
        if hi <= lo:
            return
        xp = self.xp
        key = (d, l)
        cache = self.__dict__.setdefault("_solve_cache", {})
        if key not in cache:
            cache[key] = self._mode_solve_setup(reps[0], reps[1])
        kind, a, b_ = cache[key][0], cache[key][1], cache[key][2:]
        lam_x = self._dev(lam)
        if kind == "eig":
            mu, V = a, b_[0]
            W = (V.T @ Rhat[:, lo:hi]) / (1.0 + lam_x[None, lo:hi] * mu[:, None])
            Y[:, lo:hi] = V @ W
        elif kind == "dense":
            A = a[None, :, :] + lam_x[lo:hi, None, None] * b_[0][None, :, :]
            Y[:, lo:hi] = xpl.batched_solve(xp, A, Rhat[:, lo:hi].T.astype(complex)).T
        elif kind == "banded":
            ab1, ab2 = b_
            ab = ab1[None, :, :] + lam_x[lo:hi, None, None] * ab2[None, :, :]
            Y[:, lo:hi] = xpl.solve_banded(xp, a, ab, Rhat[:, lo:hi].T.astype(complex)).T
        else:
            A1, A2 = a, b_[0]
            for m in range(lo, hi):
                Y[:, m] = xpl.spsolve(xp, (A1 + complex(lam[m]) * A2).tocsc(), Rhat[:, m].astype(complex))

    def _inner(self, U, V):
        """Euclidean inner product of two separated tensors (sum over levels of the Gram products)."""
        tot = 0.0
        for Ul, Vl in zip(U, V):
            G = self.xp.ones((Ul[0].shape[1], Vl[0].shape[1]))
            for a, b in zip(Ul, Vl):
                G *= a.T @ b
            tot += float(G.sum())
        return tot

    def _inner_field(self, U, V):
        """(u, v) of the represented fields u = sum_l u_l, v = sum_l v_l in the separated norm given by
        ``norm_ops`` (per direction, [l][l'] matrices, e.g. the 1D mass matrices -> space-time L2), with all
        cross-level terms, so the nearly dependent level components are measured through their sum."""
        tot = 0.0
        for l in range(len(U)):
            for lp in range(len(V)):
                G = self.xp.ones((U[l][0].shape[1], V[lp][0].shape[1]))
                for d in range(len(U[l])):
                    G *= U[l][d].T @ (self._norm_ops[d][l][lp] @ V[lp][d])
                tot += float(G.sum())
        return tot

    def _rel_change(self, U, Uold):
        inner = self._inner if self.norm_ops is None else self._inner_field
        nn = inner(U, U)
        diff = nn + inner(Uold, Uold) - 2 * inner(U, Uold)
        return np.sqrt(max(diff, 0.0) / max(nn, 1e-300))

    def _init(self, M, rng):
        """Random start factors (host random numbers, so every backend starts from the same factors)."""
        return [[self._dev(rng.standard_normal((self.n[l][d], M)) * 0.1 + 1.0) for d in range(self.D)]
                for l in range(self.L)]

    def solve(self, modes: int, method: str = "subspace", tol: float = 1e-6, max_iter: int = 50, seed: int = 0,
              init=None):
        """Return factors U[l][d] (n_{d,l} x modes, NumPy arrays on every backend; ``init``: start factors of
        the same shapes, host or device arrays).  ``history`` records (mode, iteration, change)."""
        if modes < 1:
            raise ValueError(f"modes must be >= 1, got {modes}")
        if method not in ("greedy", "subspace", "fast"):
            raise ValueError(f"method must be 'greedy', 'subspace' or 'fast', got {method!r}")
        rng = np.random.default_rng(seed)
        self.history = []
        self._gcache = {}
        self._nfrozen = 0
        xp = self.xp
        if init is not None:
            init = [[self._dev(a) for a in Ul] for Ul in init]
        if method == "fast":
            U = init if init is not None else self._init(modes, rng)
            if self.frozen is not None and self.L == 1:
                kf = self.frozen[0].shape[1]
                if init is None or U[0][0].shape[1] == modes:  # append the frozen modes (time factor 0)
                    U = [[xp.hstack([U[0][d], self._frozen[d]]) for d in range(self.D - 1)]
                         + [xp.hstack([U[0][-1], xp.zeros((self.n[0][-1], kf))])]]
                self._nfrozen = kf
            for it in range(max_iter):
                Uold = [[a.copy() for a in Ul] for Ul in U]
                for d in range(self.D):
                    if self.L == 1:
                        self._level_solve(U, d, 0)
                    else:
                        self._direction_solve(U, d, [np.arange(modes)] * self.L)
                ch = self._rel_change(U, Uold)
                if not np.isfinite(ch):  # a singular direction system must never read as converged
                    ch = np.inf
                self.history.append((modes, it, ch))
                if ch < tol:
                    break
            self.converged = ch < tol
            return self._to_host(U)
        if method == "subspace":
            U = init if init is not None else self._init(modes, rng)
            allm = [np.arange(modes)] * self.L
            for it in range(max_iter):
                Uold = [[a.copy() for a in Ul] for Ul in U]
                for d in range(self.D):
                    self._direction_solve(U, d, allm)
                ch = self._rel_change(U, Uold)
                if not np.isfinite(ch):  # a singular direction system must never read as converged
                    ch = np.inf
                self.history.append((modes, it, ch))
                if ch < tol:
                    break
            self.converged = ch < tol
            return self._to_host(U)
        U = [[xp.zeros((self.n[l][d], 0)) for d in range(self.D)] for l in range(self.L)]
        self.converged = True
        for m in range(modes):
            new = self._init(1, rng)
            U = [[xp.hstack([U[l][d], new[l][d]]) for d in range(self.D)] for l in range(self.L)]
            test = [np.array([m])] * self.L
            ch = np.inf
            for it in range(max_iter):
                Uold = [[a[:, m:m + 1].copy() for a in Ul] for Ul in U]
                for d in range(self.D):
                    self._direction_solve(U, d, test)
                ch = self._rel_change([[a[:, m:m + 1] for a in Ul] for Ul in U], Uold)
                self.history.append((m, it, ch))
                if ch < tol:
                    break
            self.converged &= bool(ch < tol)
        return self._to_host(U)

    def _to_host(self, U):
        return U if self.xp is np else [[self._host(a) for a in Ul] for Ul in U]

    def residual_norm(self, U) -> float:
        """Relative Euclidean residual ||F - A u|| / ||F|| evaluated in separated form (Gram products)."""
        # represent A u as CP tensor list and F likewise; ||F - Au||^2 via inner products
        U = [[self._dev(a) for a in Ul] for Ul in U]
        AU = []
        for l in range(self.L):
            fac = [[] for _ in range(self.D)]
            for t in range(len(self.ops)):
                for lp in range(self.L):
                    for d in range(self.D):
                        M = self._ops[t][d][l][lp] @ U[lp][d]
                        fac[d].append(M * (self.coefs[t] if d == 0 else 1.0))
            AU.append([self.xp.hstack(f) for f in fac])
        F = [[self._loads[l][d] for d in range(self.D)] for l in range(self.L)]
        ff = self._inner(F, F)
        r2 = ff + self._inner(AU, AU) - 2 * self._inner(F, AU)
        return float(np.sqrt(max(r2, 0.0) / ff))


def full_operator(problem: SeparatedProblem):
    """Assemble the full-grid (single level) Kronecker operator and load: for small validation grids only."""
    if problem.L != 1:
        raise ValueError("full_operator: single-level problems only")
    A = None
    for t, term in enumerate(problem.ops):
        K = sp.csr_matrix(term[0][0][0])
        for d in range(1, problem.D):
            K = sp.kron(K, term[d][0][0], format="csr")
        A = problem.coefs[t] * K if A is None else A + problem.coefs[t] * K
    F = 0.0
    load = problem.loads[0]
    for r in range(load[0].shape[1]):
        v = load[0][:, r]
        for d in range(1, problem.D):
            v = np.kron(v, load[d][:, r])
        F = F + v
    return A.tocsc(), F


def to_full(U_level) -> np.ndarray:
    """Dense tensor of one level's factors (validation only)."""
    D = len(U_level)
    M = U_level[0].shape[1]
    out = 0.0
    for m in range(M):
        t = U_level[0][:, m]
        for d in range(1, D):
            t = np.multiply.outer(t, U_level[d][:, m])
        out = out + t
    return out


def separate_tensor(G, tol: float = 1e-4, max_rank: int = 4000, scale: float | None = None):
    """Separated (CP) form of a full D-way array, G ~ sum_r a^r_1 o a^r_2 o ... o a^r_D, by a truncated
    higher-order SVD (De Lathauwer, De Moor & Vandewalle, SIAM J. Matrix Anal. Appl. 21 (2000) 1253).

    Each direction's orthonormal basis U_d holds the leading left singular vectors of the unfolding G_(d) (the
    eigenvectors of G_(d) G_(d)^T); the core C = G x_1 U_1^T ... x_D U_D^T; with orthonormal bases the error is
    exactly ||G||^2 - ||C||^2.  The Tucker form is then written as a sum of rank-one terms along the direction e
    with the largest basis: one term U_e C[:, j] o U_1[:, j_1] o ... per core fibre j (all directions but e), the
    weakest fibres dropped while ||G - G_R|| <= ``tol`` * ``scale`` (default scale ||G||; Frobenius norms; half of
    the error budget for the bases, half for the dropped fibres), at most ``max_rank`` terms.  This is the
    separated approximation of non-separable data that a PGD needs for its input (Zlotnik, Diez, Gonzalez, Cueto &
    Huerta, Adv. Model. Simul. Eng. Sci. 2 (2015) 28).  Returns (factors: list over directions of (n_d, R) arrays,
    R >= 0, and the reached ||G - G_R|| / scale).  The error is computed from squared norms, so tolerances below
    ~1e-7 are not resolved (the terms themselves are then exact to round-off)."""
    G = np.asarray(G, dtype=float)
    D = G.ndim
    gn2 = float(np.sum(G * G))
    scale = float(np.sqrt(gn2)) if scale is None else float(scale)
    budget = (tol * scale) ** 2
    if gn2 <= budget or scale <= 0:
        return [np.zeros((n, 0)) for n in G.shape], (float(np.sqrt(gn2)) / scale if scale > 0 else 0.0)
    bases = []
    for d in range(D):
        X = np.moveaxis(G, d, 0).reshape(G.shape[d], -1)
        lam, V = np.linalg.eigh(X @ X.T)
        lam, V = np.clip(lam[::-1], 0.0, None), V[:, ::-1]
        tail = np.cumsum(lam[::-1])[::-1]  # tail[r] = sum of lam[r:]: the squared error of keeping r vectors
        r = int(np.searchsorted(-tail, -0.5 * budget / D)) if (tail <= 0.5 * budget / D).any() else len(lam)
        bases.append(V[:, :max(1, r)])
    C = G
    for d in range(D - 1, -1, -1):  # core: descending axes keep the lower ones in place
        C = np.moveaxis(np.tensordot(C, bases[d], axes=([d], [0])), -1, d)
    e = int(np.argmax([b.shape[1] for b in bases]))
    Ce = np.moveaxis(C, e, 0).reshape(C.shape[e], -1)  # (r_e, fibres)
    w = np.sum(Ce * Ce, axis=0)
    err2 = max(gn2 - float(w.sum()), 0.0)
    order = np.argsort(w)
    drop = np.cumsum(w[order]) <= max(budget - err2, 0.0)
    keep = order[~drop][::-1][:max_rank]  # the strongest fibres first
    err2 += float(w.sum() - w[keep].sum())
    others = [d for d in range(D) if d != e]
    idx = np.unravel_index(keep, [C.shape[d] for d in others])
    facs = [None] * D
    facs[e] = bases[e] @ Ce[:, keep]
    for d, j in zip(others, idx):
        facs[d] = bases[d][:, j]
    return facs, float(np.sqrt(err2)) / scale
