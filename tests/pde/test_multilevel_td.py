"""pde.multilevel_td (the generic multilevel separated operator) and the formulas written once for it:
the slab initial-state load equals the space-time operator applied to the state (constant in time), the
Gaussian profile is normalised and is the beam's profile, the linearised radiation coefficient is the
derivative of the Stefan-Boltzmann law, SeparatedProblem validates its constructor arguments."""
import numpy as np
import pytest
import scipy.sparse as sp

from pde.heat_source import GaussianBeam, gaussian
from pde.materials import SIGMA_SB, effective_heat_transfer
from pde.multilevel_td import MultilevelTDSpace, heat_terms, initial_state_factors, space_1d
from pde.td import SeparatedProblem, matrices_1d


def test_initial_state_load_is_the_operator_applied_to_the_state():
    """u_init (x) 1(t) enters slab k's right-hand side as -A (u_init (x) 1): the time-derivative term drops out
    (C_t 1 = 0, partition of unity of the time basis), every other term gives c_t (A_x X)(A_y Y)(A_z Z)(M_t 1)."""
    axes = [[np.linspace(0, 1, 5), np.linspace(-0.5, 0.5, 4), np.linspace(-0.3, 0, 3)]]
    S = MultilevelTDSpace(axes, [0, -0.5, -0.3], [1, 0.5, 0], "fem", 1, 4.0)
    Vt = space_1d(np.linspace(0, 1e-3, 5), "fem", 1, 4.0)
    Mt_full, _, Ct_full = matrices_1d(Vt, Vt)
    tf = np.arange(1, Vt.n_dofs)
    M = [S.Ms[d][0][0] for d in range(3)]
    K = [S.Ks[d][0][0] for d in range(3)]
    ops, coefs = heat_terms(M, K, Mt_full[tf][:, tf], Ct_full[tf][:, tf], 3.0e6, 7.0, 2.0e4, S.Btop[0][0])
    assert len(ops) == 5 and coefs[-1] == 2.0e4
    rng = np.random.default_rng(3)
    X, Y, Z = (rng.standard_normal((S.spaces[0][d].n_dofs, 2)) for d in range(3))
    w = np.array([0.7, -1.3])
    mt_one = np.asarray(Mt_full[tf] @ np.ones(Vt.n_dofs)).ravel()
    fac = initial_state_factors([[], [], [], []], ops, coefs, [(0, X, Y, Z, w)], mt_one)
    got = sum(np.einsum("i,j,k,n->ijkn", *(fac[d][p][:, m] for d in range(4)))
              for p in range(len(fac[0])) for m in range(2))
    # full operator on the (x, y, z, t) grid with the whole time basis, applied to u_init (x) 1, test rows tf
    u = sum(w[m] * np.einsum("i,j,k->ijk", X[:, m], Y[:, m], Z[:, m]) for m in range(2))
    full_t = [Ct_full, Mt_full, Mt_full, Mt_full, Mt_full]
    Au = 0.0
    for t, term in enumerate(ops):
        A = sp.kron(sp.kron(term[0], term[1]), term[2]).toarray()
        Au = Au + coefs[t] * np.multiply.outer((A @ u.ravel()).reshape(u.shape),
                                               np.asarray(full_t[t][tf] @ np.ones(Vt.n_dofs)).ravel())
    assert np.abs(got + Au).max() <= 1e-12 * np.abs(Au).max()


def test_gaussian_is_normalised_and_is_the_beam_profile():
    x = np.linspace(-1e-3, 1e-3, 20001)
    s = 25e-6
    assert np.trapezoid(gaussian(x, s), x) == pytest.approx(1.0, rel=1e-9)
    b = GaussianBeam(200.0, 0.4, 2 * s, 40e-6, 1.0, (0.0, 0.0), 1e-3)
    assert np.array_equal(b.gy(x), gaussian(x, b.sigma))
    z = np.linspace(-0.4e-3, 0.0, 40001)
    assert np.trapezoid(b.fz(z), z) == pytest.approx(1.0, rel=1e-6)
    assert np.trapezoid(b.gx_t(x, 0.0), x) == pytest.approx(b.absorbed_power, rel=1e-9)


def test_linearised_radiation_is_the_stefan_boltzmann_derivative():
    T0, eps, h = 300.0, 0.4, 10.0
    dT = 1e-3
    slope = eps * SIGMA_SB * ((T0 + dT) ** 4 - T0 ** 4) / dT
    assert effective_heat_transfer(h, eps, T0) - h == pytest.approx(slope, rel=1e-5)
    assert effective_heat_transfer(h, 0.0, T0) == h


def test_separated_problem_checks_its_constructor_arguments():
    A = sp.eye(4, format="csr")
    ops, load = [[A, A]], [np.ones((4, 1)), np.ones((4, 1))]
    P = SeparatedProblem.single_level(ops, [1.0], load, norm_ops=[A, A], frozen=[np.ones((4, 1))])
    assert P.frozen[0].shape == (4, 1) and P.norm_ops[1][0][0] is A and P.comm is None
    with pytest.raises(ValueError, match="frozen"):
        SeparatedProblem.single_level(ops, [1.0], load, frozen=[np.ones((3, 1))])
    with pytest.raises(ValueError, match="norm_ops"):
        SeparatedProblem.single_level(ops, [1.0], load, norm_ops=[A])


@pytest.mark.parametrize("ridge,h_conv", [(0.0, 0.0), (1e-3, 2e4)])
def test_level_block_direction_solves_equal_the_coupled_sparse_solves(ridge, h_conv, monkeypatch):
    """LevelBlockProblem (per-level modes: dense level-block systems, fast diagonalisation in time) solves the
    same linear system as SeparatedProblem's coupled sparse LU: from the same random factors every direction
    update of three ALS sweeps agrees to round-off (measured <= 1e-11 relative in the coefficients and the
    space-time L2 field; limit 1e-9), with and without the ridge term (time blocks not all equal: dense path)
    and the Robin top face (a third space operator); the field inner product equals the parent's.  Without the
    Tikhonov shift (the same system)."""
    from pde.lpbf import LPBFProblem
    from pde.multilevel_td import LevelBlockProblem

    cfg = {"domain": {"t_end": 0.3e-3, "h_conv": h_conv},
           "solver": {"levels": 3, "coarse_elements": [12, 8, 4], "time_elements": 12, "modes": 5, "ridge": ridge,
                      "level_modes": "per_level", "method": "subspace"}}
    pb = LPBFProblem(cfg).build()
    assert isinstance(pb, LevelBlockProblem) and pb.L == 3
    monkeypatch.setattr(LevelBlockProblem, "TIKHONOV", 0.0)
    U = pb._init(5, np.random.default_rng(1))
    for _ in range(3):
        for d in range(4):
            U1, U2 = ([[a.copy() for a in Ul] for Ul in U] for _ in range(2))
            pb._direction_solve(U1, d, [np.arange(5)] * 3)
            SeparatedProblem._direction_solve(pb, U2, d, [np.arange(5)] * 3)
            x1, x2 = (np.concatenate([V[l][d].ravel() for l in range(3)]) for V in (U1, U2))
            assert np.linalg.norm(x1 - x2) <= 1e-9 * np.linalg.norm(x2), d
            diff = [[U1[l][e] - U2[l][e] if e == d else U2[l][e] for e in range(4)] for l in range(3)]
            assert abs(pb._inner_field(diff, diff)) <= 1e-18 * pb._inner_field(U2, U2), d
            U = U2
    assert pb._inner_field(U, U) == pytest.approx(SeparatedProblem._inner_field(pb, U, U), rel=1e-12)


def test_per_level_track_has_no_field_jumps_and_matches_green(monkeypatch):
    """The 3-level per-level track at S = 16 (ratio 8, finest 25 um, 8 modes per level; the ``--paper`` case of
    benchmarks/pde_lpbf.py): without the Tikhonov shift the singular level-coupled systems made the ALS field
    jump by up to 8e3x its norm between sweeps (measured); with it every change after the first sweep stays
    below 1 (measured <= 0.16) and the error against the exact Green's function stays at the unregularised
    run's level (measured 0.0092 vs 0.0079, within the ALS stopping noise; limit 0.015)."""
    import pde.td as td
    from pde.lpbf import LPBFProblem
    from pde.lpbf_cases import T_EVAL, track_case_config

    solver = {"levels": 3, "basis": "chidenn", "order": 2, "ratio": 8, "coarse_elements": [12, 8, 4],
              "time_elements": 48, "level_modes": "per_level", "method": "subspace", "modes": 8}
    changes = []
    orig = td.SeparatedProblem.solve

    def solve(self, *a, **k):
        U = orig(self, *a, **k)
        changes.extend(h[2] for h in self.history[1:])
        return U

    monkeypatch.setattr(td.SeparatedProblem, "solve", solve)
    R = LPBFProblem(track_case_config(16, solver, modes=8)).solve()
    assert max(changes) < 1.0, max(changes)
    assert R.green_error(T_EVAL)["rms_rel"] < 0.015


def _summed_space_error(r, n, rule):
    """L2 best-approximation error of sin 5x + e^x on [0, 1] by the summed 1D space (shared level modes) of a
    C-HiDeNN (p = 2) level 0 with n elements and a box [0.3, 0.7] (snapped) of ratio r, parent dofs removed by
    ``rule`` (MultilevelTDSpace's parent_rule)."""
    from pde.mesh import StructuredMesh, gauss_legendre
    from pde.multilevel import refined_box_mesh

    c = StructuredMesh.box([0.0], [1.0], n)
    a, b = c.axes[0], refined_box_mesh(c, [0.3], [0.7], r).axes[0]
    S = MultilevelTDSpace([[a, a, a], [b, b, b]], [0, 0, 0], [1, 1, 1], "chidenn", 2, 4.0, shared=True,
                          parent_rule=rule)
    xg, wg = gauss_legendre(8)
    grid = S.union_axes[0]  # every level vertex: the integrand is smooth on each interval
    xq, wq = (grid[:-1, None] + np.diff(grid)[:, None] * xg).ravel(), (np.diff(grid)[:, None] * wg).ravel()
    f = np.sin(5 * xq) + np.exp(xq)
    B, sw = S.basis(-1, 0, xq), np.sqrt(wq)
    coef = np.linalg.lstsq(sw[:, None] * B, sw * f, rcond=1e-14)[0]
    return float(np.sqrt(np.sum(wq * (B @ coef - f) ** 2))), S


def test_shared_mode_parent_rules():
    """Shared level modes, parent_rule "nests": a C-HiDeNN parent keeps every 1D function (pde.multilevel.nests;
    a child of ratio r reproduces them only to a fixed relative error), so the summed 1D space converges at
    order p + 1 = 3 under refinement at fixed ratio r = 4 (measured 3.3, 3.2 from 16 to 64 coarse elements).
    The default "support" (parents inside the box removed) stalls at a floor (measured rates 0.8, 0.5; errors
    4.1e-4, 2.4e-4, 1.7e-4 against 1.7e-4, 1.7e-5, 1.8e-6).  Nested Lagrange levels drop the parent functions
    the box contains under both rules; an unknown rule is refused."""
    new = [_summed_space_error(4, n, "nests")[0] for n in (16, 32, 64)]
    old = [_summed_space_error(4, n, "support")[0] for n in (16, 32, 64)]
    assert np.all(np.log2(np.array(new[:-1]) / new[1:]) > 2.8), new
    assert np.all(np.log2(np.array(old[:-1]) / old[1:]) < 1.2), old
    assert new[-1] < 0.05 * old[-1]
    S = _summed_space_error(4, 16, "nests")[1]
    assert all(S.free[0][d].size == S.spaces[0][d].n_dofs for d in range(3))
    axes = [[np.linspace(0, 1, 9)] * 3, [np.linspace(0.25, 0.75, 9)] * 3]
    for rule in ("support", "nests"):
        F = MultilevelTDSpace(axes, [0, 0, 0], [1, 1, 1], "fem", 1, 4.0, shared=True, parent_rule=rule)
        assert F.free[0][0].size == 9 - 3  # the three parent hats inside [0.25, 0.75] are fine-level functions
    with pytest.raises(ValueError, match="parent_rule"):
        MultilevelTDSpace(axes, [0, 0, 0], [1, 1, 1], "fem", 1, 4.0, shared=True, parent_rule="all")


def test_summed_mass_matrix_is_a_gram_matrix():
    """Shared modes with parent_rule "nests" keep every C-HiDeNN parent function, nearly dependent on the box's
    at ratio 8: the summed 1D mass matrix, integrated by one rule on the union of the level vertices, stays
    positive definite (measured smallest / largest eigenvalue 2.0e-9); the blocks integrated pair by pair (the
    parent's on its own elements) give an indefinite matrix (measured -1.2e-6), with which the p = 1 LPBF
    track failed (error 5.1). Nested P1 levels: both rules agree."""
    import scipy.sparse as sp
    from pde.mesh import StructuredMesh
    from pde.multilevel import refined_box_mesh

    c = StructuredMesh.box([0.0], [1.2e-3], 12)
    a, b = c.axes[0], refined_box_mesh(c, [0.25e-3], [0.95e-3], 8).axes[0]
    S = MultilevelTDSpace([[a, a, a], [b, b, b]], [0, 0, 0], [1.2e-3] * 3, "chidenn", 1, 4.0, shared=True,
                          parent_rule="nests")
    ev = np.linalg.eigvalsh(S.Mc[0].toarray())
    assert ev[0] > 1e-10 * ev[-1]
    ev_pairs = np.linalg.eigvalsh(sp.bmat(S.Ms[0]).toarray())
    assert ev_pairs[0] < 0.0
    # the same rule integrates the mass exactly where the functions are polynomials (nested P1 levels)
    F = MultilevelTDSpace([[a, a, a], [b, b, b]], [0, 0, 0], [1.2e-3] * 3, "fem", 1, 4.0, shared=True,
                          parent_rule="nests")
    assert np.allclose(F.Mc[0].toarray(), sp.bmat(F.Ms[0]).toarray(), rtol=0, atol=1e-12 * abs(F.Mc[0]).max())
