"""Space-time TD ROM: separable problems need one mode; TD -> full-grid Galerkin solution as modes grow;
greedy and subspace solvers agree; O(n d M) storage."""
import numpy as np
import pytest
import scipy.sparse.linalg as spla

from pde.chidenn import CHiDeNNSpace
from pde.fem import LagrangeSpace
from pde.mesh import StructuredMesh
from pde.td import (SeparatedProblem, full_operator, load_1d, load_2d_xt, matrices_1d, to_full,
                    truncated_svd)

RHO_C, K = 1.0, 0.05


def heat_2d(Vx, Vy, Vt, load):
    """rho c u_t - k (u_xx + u_yy) = q on the unit square, u = 0 on the boundary, u(0) = 0."""
    (Mx, Kx, _), (My, Ky, _), (Mt, _, Ct) = matrices_1d(Vx, Vx), matrices_1d(Vy, Vy), matrices_1d(Vt, Vt)
    fx, fy, ft = np.arange(1, Vx.n_dofs - 1), np.arange(1, Vy.n_dofs - 1), np.arange(1, Vt.n_dofs)
    r = lambda A, f: A[f][:, f]
    ops = [[r(Mx, fx), r(My, fy), r(Ct, ft)], [r(Kx, fx), r(My, fy), r(Mt, ft)], [r(Mx, fx), r(Ky, fy), r(Mt, ft)]]
    return SeparatedProblem.single_level(ops, [RHO_C, K, K], [load[0][fx], load[1][fy], load[2][ft]]), (fx, fy, ft)


def test_separable_source_recovered_with_one_mode():
    """u = sin(pi x) sin(pi y) (1 - exp(-t)) with its separable source: one TD mode reaches the full-grid
    Galerkin accuracy against the exact solution, and more modes do not improve it."""
    mk = lambda n, T=1.0: CHiDeNNSpace(StructuredMesh.box([0], [T], n), s=2, p=2)
    Vx, Vy, Vt = mk(12), mk(12), mk(10)
    sx = lambda x: np.sin(np.pi * x)
    tt = lambda t: RHO_C * np.exp(-t) + 2 * K * np.pi**2 * (1 - np.exp(-t))
    load = [load_1d(Vx, sx), load_1d(Vy, sx), load_1d(Vt, tt)]
    P, (fx, fy, ft) = heat_2d(Vx, Vy, Vt, load)
    A, F = full_operator(P)
    u_full = spla.spsolve(A, F).reshape(len(fx), len(fy), len(ft))
    exact = np.einsum("i,j,k->ijk", sx(Vx.dof_coords[fx, 0]), sx(Vy.dof_coords[fy, 0]),
                      1 - np.exp(-Vt.dof_coords[ft, 0]))  # Kronecker delta: dof values = nodal values
    U1 = P.solve(1, "greedy", tol=1e-10, max_iter=50)
    u1 = to_full(U1[0])
    e_full = np.abs(u_full - exact).max()
    e_td1 = np.abs(u1 - exact).max()
    assert e_full < 2e-3
    assert e_td1 < 1.5 * e_full
    assert np.abs(u1 - u_full).max() < 1e-3 * np.abs(exact).max()


def moving_problem(nx=20, ny=14, nt=16):
    Vx, Vy, Vt = (LagrangeSpace(StructuredMesh.box([0], [1], n)) for n in (nx, ny, nt))
    B = load_2d_xt(Vx, Vt, lambda x, t: np.exp(-(x - 0.2 - 0.6 * t) ** 2 / (2 * 0.06**2)))
    Ax, Bt = truncated_svd(B, 1e-10)
    by = load_1d(Vy, lambda y: np.exp(-(y - 0.5) ** 2 / (2 * 0.06**2)))
    R = Ax.shape[1]
    return heat_2d(Vx, Vy, Vt, [Ax, np.repeat(by, R, 1), Bt])


def test_td_converges_to_full_grid_solution_with_modes():
    P, _ = moving_problem()
    A, F = full_operator(P)
    u_full = spla.spsolve(A, F).reshape(P.n[0])
    errs = []
    for M in (1, 3, 6, 12):
        U = P.solve(M, "subspace", tol=1e-9, max_iter=80)
        errs.append(np.linalg.norm(to_full(U[0]) - u_full) / np.linalg.norm(u_full))
    assert all(b < a for a, b in zip(errs, errs[1:])), errs
    assert errs[-1] < 0.02 and errs[0] > 0.2  # the moving source is not separable: 1 mode is poor
    # the separated residual agrees with the full-grid residual
    U = P.solve(12, "subspace", tol=1e-9, max_iter=80)
    r_full = np.linalg.norm(F - A @ to_full(U[0]).ravel()) / np.linalg.norm(F)
    assert P.residual_norm(U) == pytest.approx(r_full, rel=1e-6, abs=1e-10)


def test_greedy_and_subspace_both_converge():
    P, _ = moving_problem(12, 10, 10)
    A, F = full_operator(P)
    u_full = spla.spsolve(A, F).reshape(P.n[0])
    for method, M in (("greedy", 16), ("subspace", 8)):
        U = P.solve(M, method, tol=1e-8, max_iter=100)
        assert np.linalg.norm(to_full(U[0]) - u_full) / np.linalg.norm(u_full) < 0.05, method
    with pytest.raises(ValueError, match="method"):
        P.solve(2, "newton")
    with pytest.raises(ValueError, match="modes"):
        P.solve(0)


def test_truncated_svd_and_storage_scaling():
    x = np.linspace(0, 1, 200)
    t = np.linspace(0, 1, 150)
    B = np.exp(-(x[:, None] - 0.2 - 0.6 * t[None, :]) ** 2 / (2 * 0.05**2))
    A, Bt = truncated_svd(B, 1e-3)
    assert np.linalg.norm(A @ Bt.T - B) / np.linalg.norm(B) < 1e-3
    assert A.shape[1] < 40  # a Gaussian band is strongly compressible
    P, _ = moving_problem()
    U = P.solve(4, "subspace", tol=1e-6, max_iter=5)
    stored = sum(u.size for u in U[0])
    assert stored == 4 * sum(P.n[0])  # O(n d M), not prod(n)


def test_fast_diagonalisation_solver_matches_coupled_subspace():
    """The 'fast' solver (two-matrix Kronecker sums diagonalised, M independent 1D solves) converges to the
    same full-grid solution as the coupled subspace iteration."""
    P, _ = moving_problem()
    A, F = full_operator(P)
    u_full = spla.spsolve(A, F).reshape(P.n[0])
    Uf = P.solve(12, "fast", tol=1e-9, max_iter=80)
    assert P.history[-1][2] < 1e-3  # fixed-point change small (ALS converges linearly)
    err_fast = np.linalg.norm(to_full(Uf[0]) - u_full) / np.linalg.norm(u_full)
    Us = P.solve(12, "subspace", tol=1e-9, max_iter=80)
    err_sub = np.linalg.norm(to_full(Us[0]) - u_full) / np.linalg.norm(u_full)
    assert err_fast < 0.02 and err_fast < 1.5 * err_sub


@pytest.mark.parametrize("n, kind", [(40, "eig"), (40, "dense"), (600, "banded"), (600, "sparse")])
def test_mode_solve_paths_match_direct_solve(n, kind):
    """The 1D mode solves (A1 + lam_m A2) y_m = r_m of the fast diagonalisation: symmetric-pencil eigen
    solve, batched dense, banded LU and sparse LU all equal a direct sparse solve (complex shifts)."""
    import scipy.sparse as sp

    rng = np.random.default_rng(1)
    mesh = StructuredMesh([np.linspace(0, 1, n + 1)])
    M, K, C = matrices_1d(LagrangeSpace(mesh, 1), LagrangeSpace(mesh, 1))
    A1, A2 = M, K
    if kind == "dense":  # a non-symmetric pencil (time-like advection matrix): no eigen path
        A2 = K + 3.0 * C
    if kind == "sparse":  # a wide coupling breaks the narrow band
        A2 = (K + sp.csr_matrix(([1e-3, 1e-3], ([0, n], [n, 0])), shape=K.shape)).tocsr()
    P = SeparatedProblem.single_level([[A1], [A2]], [1.0, 1.0], [np.ones((n + 1, 1))])
    lam = rng.uniform(0.1, 2.0, 5) + 1j * rng.uniform(-1, 1, 5)
    R = rng.standard_normal((n + 1, 5)) + 1j * rng.standard_normal((n + 1, 5))
    Y = np.zeros((n + 1, 5), complex)
    P._mode_solves(0, 0, [A1, A2], lam, R, Y, 0, 5)
    assert P._solve_cache[0, 0][0] == kind
    for m in range(5):
        ref = spla.spsolve((A1 + lam[m] * A2).tocsc(), R[:, m])
        assert np.allclose(Y[:, m], ref, rtol=1e-9, atol=1e-9 * np.abs(ref).max())
