"""ML-VMS multilevel solver: limits (fine over everything = single-level fine, no fine level = coarse),
energy-norm ordering coarse >= multilevel >= fine, convergence, three levels, C-HiDeNN levels, moving boxes."""
import numpy as np
import pytest

from pde.chidenn import CHiDeNNSpace
from pde.fem import LagrangeSpace, errors, solve_poisson
from pde.mesh import StructuredMesh
from pde.multilevel import (MovingBoxHeatSolver, MultilevelSpace, multilevel_errors, refined_box_mesh,
                            solve_poisson_multilevel, snap_box)

W = 0.04
X0 = np.array([0.53, 0.47])


def u_exact(X):
    r2 = np.sum((X - X0) ** 2, 1)
    return np.exp(-r2 / (2 * W * W)) * np.sin(np.pi * X[:, 0]) * np.sin(np.pi * X[:, 1])


def grad_exact(X):
    g = np.exp(-np.sum((X - X0) ** 2, 1) / (2 * W * W))
    sx, sy = np.sin(np.pi * X[:, 0]), np.sin(np.pi * X[:, 1])
    cx, cy = np.cos(np.pi * X[:, 0]), np.cos(np.pi * X[:, 1])
    dx = g * (-(X[:, 0] - X0[0]) / W**2 * sx + np.pi * cx) * sy
    dy = g * sx * (-(X[:, 1] - X0[1]) / W**2 * sy + np.pi * cy)
    return np.stack([dx, dy], 1)


def source(X):
    """-Laplacian of u_exact (sharp Gaussian source times the sine envelope), analytic."""
    g = np.exp(-np.sum((X - X0) ** 2, 1) / (2 * W * W))
    out = 0.0
    for i in range(2):
        s = np.sin(np.pi * X[:, i]); c = np.cos(np.pi * X[:, i])
        o = np.sin(np.pi * X[:, 1 - i])
        a = -(X[:, i] - X0[i]) / W**2
        d2 = ((a**2 - 1 / W**2) * s + 2 * a * np.pi * c - np.pi**2 * s) * o
        out = out + d2
    return -g * out


def energy_error(ml, u):
    return multilevel_errors(ml, u, u_exact, grad_exact)[1]


def test_source_is_minus_laplacian():
    X = np.random.default_rng(0).random((50, 2))
    h = 1e-4
    lap = sum((u_exact(X + h * e) - 2 * u_exact(X) + u_exact(X - h * e)) / h**2 for e in np.eye(2))
    assert np.allclose(-lap, source(X), rtol=1e-4, atol=1e-3)


def test_fine_level_everywhere_equals_single_level_fine():
    c = StructuredMesh.box([0, 0], [1, 1], 6)
    fm = refined_box_mesh(c, [0, 0], [1, 1], 4)
    ml = MultilevelSpace([LagrangeSpace(c), LagrangeSpace(fm)])
    u = solve_poisson_multilevel(ml, source)
    uf = solve_poisson(LagrangeSpace(fm), source)
    assert np.allclose(u[ml.level_dofs(1)], uf, atol=1e-12 * np.abs(uf).max())
    assert np.all(u[ml.level_dofs(0)] == 0.0)


def test_no_fine_level_equals_coarse():
    c = StructuredMesh.box([0, 0], [1, 1], 10)
    V = CHiDeNNSpace(c, 2, 2)
    u = solve_poisson_multilevel(MultilevelSpace([V]), source, dirichlet_method="nodal")
    assert np.allclose(u, solve_poisson(V, source, dirichlet_method="nodal"), atol=1e-12)
    # Nitsche on level 0 (the default for a 2D C-HiDeNN level 0) is the single-level Nitsche solve
    # with plain Gauss integration
    u = solve_poisson_multilevel(MultilevelSpace([V]), source)
    assert np.allclose(u, solve_poisson(V, source, dirichlet_method="nitsche", integration="gauss"), atol=1e-12)


def _smooth_dirichlet_problem():
    """u = e^x sin 2y + x y: O(1) across the fine box and on the boundary (-lap u = 3 e^x sin 2y)."""
    ue = lambda X: np.exp(X[:, 0]) * np.sin(2 * X[:, 1]) + X[:, 0] * X[:, 1]
    ge = lambda X: np.stack([np.exp(X[:, 0]) * np.sin(2 * X[:, 1]) + X[:, 1],
                             2 * np.exp(X[:, 0]) * np.cos(2 * X[:, 1]) + X[:, 0]], 1)
    f = lambda X: 3 * np.exp(X[:, 0]) * np.sin(2 * X[:, 1])
    return ue, ge, f


@pytest.mark.parametrize("fine, p, sizes, rate_min", [("Q1", 2, (4, 8, 16), 1.9), ("CH", 2, (4, 8, 16), 2.9),
                                                      ("CH", 3, (8, 16), 3.5)])
def test_chidenn_coarse_level_converges_with_a_box(fine, p, sizes, rate_min):
    """2D, C-HiDeNN (p = s) level 0 and a box at half the mesh size: the L2 error converges at the order of
    the finer space (2 with a Q1 box; p + 1 with a C-HiDeNN box, Nitsche on level 0). Before the parent
    functions inside the box were kept (pde.multilevel.nests), the error grew under refinement (C-HiDeNN +
    Q1: 1.4e-3, 1.7e-2, 3.6e-2 at 8, 16, 32 coarse elements). Before the C-HiDeNN box vanished on its whole
    boundary (pde.chidenn.ZeroTraceCHiDeNNSpace), the sum was nonconforming there and p = 3 lost order
    (L2 rates 2.9, 1.8, 2.0 from 4 to 32 coarse elements; p = 2: 3.0, 2.9, 2.4). Measured now: 2.1 / 2.2 (Q1
    box), 3.1 / 3.3 (p = 2), 3.9 / 3.8 (p = 3; 3.6 from 16 to 32, where the default Gauss rule of the
    rational functions starts to limit it; p = 3 runs only 8 -> 16, where the old box gave 1.8, to stay a
    few seconds). The box level of the solution is zero on the box boundary."""
    ue, ge, f = _smooth_dirichlet_problem()
    errs = []
    for n in sizes:
        c = StructuredMesh.box([0, 0], [1, 1], n)
        box = refined_box_mesh(c, [0.3, 0.3], [0.7, 0.7], 2)
        ml = MultilevelSpace([CHiDeNNSpace(c, p, p), LagrangeSpace(box) if fine == "Q1" else CHiDeNNSpace(box, p, p)])
        u = solve_poisson_multilevel(ml, f, dirichlet=ue)
        errs.append(multilevel_errors(ml, u, ue, ge)[0])
    (x0, y0), (x1, y1) = ml.boxes[1]  # the box snapped to the parent vertices
    tx, ty = np.linspace(x0, x1, 41), np.linspace(y0, y1, 41)
    edge = np.concatenate([np.stack([tx, np.full_like(tx, y)], 1) for y in (y0, y1)]
                          + [np.stack([np.full_like(ty, x), ty], 1) for x in (x0, x1)])
    u1 = u[ml.level_dofs(1)]
    assert np.abs(ml.levels[1].evaluate(edge).interpolate(u1)).max() < 1e-10 * np.abs(u1).max()
    rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(rates > rate_min), (errs, rates)


def test_plain_chidenn_box_is_nonconforming():
    """With ``zero_trace_boxes=False`` the plain C-HiDeNN box (boundary dofs removed) is nonzero on its boundary
    between nodes, so the multilevel field jumps there; the default zero-trace box does not."""
    c = StructuredMesh.box([0, 0], [1, 1], 4)
    box = refined_box_mesh(c, [0.3, 0.3], [0.7, 0.7], 2)
    t = np.linspace(0.25, 0.75, 41)
    edge = np.stack([t, np.full_like(t, 0.25)], 1)  # the lower edge of the snapped box
    for zt in (True, False):
        ml = MultilevelSpace([CHiDeNNSpace(c, 3, 3), CHiDeNNSpace(box, 3, 3)], zero_trace_boxes=zt)
        u1 = np.zeros(ml.levels[1].n_dofs)
        inner = np.setdiff1d(np.arange(u1.size), ml.levels[1].boundary_dofs())
        u1[inner] = np.random.default_rng(2).standard_normal(inner.size)
        jump = np.abs(ml.levels[1].evaluate(edge).interpolate(u1)).max()
        assert (jump < 1e-10) if zt else (jump > 1e-2), (zt, jump)


def test_chidenn_box_touching_the_domain_boundary_converges():
    """A fine box on the domain boundary vanishes there (every fine level does, C-HiDeNN boxes included), so
    only level 0 carries Nitsche's terms; the L2 rates equal those of an interior box (measured 3.2 / 3.4 for
    p = 2 with the box [0, 0.5] x [0.3, 0.7]; 3.2 / 3.3 for the interior box). An unknown method is refused."""
    ue, ge, f = _smooth_dirichlet_problem()
    errs = []
    for n in (4, 8, 16):
        c = StructuredMesh.box([0, 0], [1, 1], n)
        box = refined_box_mesh(c, [0.0, 0.3], [0.5, 0.7], 2)
        ml = MultilevelSpace([CHiDeNNSpace(c, 2, 2), CHiDeNNSpace(box, 2, 2)])
        errs.append(multilevel_errors(ml, solve_poisson_multilevel(ml, f, dirichlet=ue), ue, ge)[0])
    rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(rates > 2.9), (errs, rates)
    with pytest.raises(ValueError, match="dirichlet_method"):
        solve_poisson_multilevel(ml, source, dirichlet_method="weak")


def test_non_nested_levels_keep_parent_functions_and_stay_well_conditioned():
    c = StructuredMesh.box([0, 0], [1, 1], 8)
    box = refined_box_mesh(c, X0 - 0.2, X0 + 0.2, 4)
    ml = MultilevelSpace([CHiDeNNSpace(c, 2, 2), LagrangeSpace(box)])
    nested = MultilevelSpace([LagrangeSpace(c), LagrangeSpace(box)])
    # only the box boundary of level 1 is removed for the C-HiDeNN parent; nested Q1 parents lose the
    # functions the box reproduces
    assert ml.removed.size == ml.levels[1].boundary_dofs().size
    assert nested.removed.size > nested.levels[1].boundary_dofs().size
    K = ml.assemble(diffusion=1.0)
    bd = ml.offsets[0] + ml.levels[0].boundary_dofs()
    free = np.setdiff1d(ml.active, bd)
    ev = np.linalg.eigvalsh(K[free][:, free].toarray())
    assert ev.min() > 1e-9 * ev.max()


def test_multilevel_between_coarse_and_fine_and_converges():
    prev = None
    for nc in (8, 16):
        c = StructuredMesh.box([0, 0], [1, 1], nc)
        fm = refined_box_mesh(c, X0 - 0.2, X0 + 0.2, 4)
        ml = MultilevelSpace([LagrangeSpace(c), LagrangeSpace(fm)])
        e_ml = energy_error(ml, solve_poisson_multilevel(ml, source))
        e_c = energy_error(MultilevelSpace([LagrangeSpace(c)]), solve_poisson(LagrangeSpace(c), source))
        F = LagrangeSpace(StructuredMesh.box([0, 0], [1, 1], 4 * nc))
        e_f = errors(F, solve_poisson(F, source), u_exact, grad_exact)[1]
        # nested conforming spaces: Galerkin energy-norm optimality orders the errors
        assert e_f <= e_ml * (1 + 1e-9) and e_ml < 0.5 * e_c
        assert e_ml < 1.05 * e_f  # the fine box captures the sharp source: near-fine accuracy
        if prev is not None:
            assert prev / e_ml > 1.8  # H1 rate ~1 for Q1 levels when both refine
        prev = e_ml


def test_three_levels_and_dependence_removed():
    c = StructuredMesh.box([0, 0], [1, 1], 8)
    m1 = refined_box_mesh(c, X0 - 0.3, X0 + 0.3, 2)
    m2 = refined_box_mesh(m1, X0 - 0.12, X0 + 0.12, 2)
    ml = MultilevelSpace([LagrangeSpace(c), LagrangeSpace(m1), LagrangeSpace(m2)])
    K = ml.assemble(diffusion=1.0)
    act = ml.active
    bd = ml.offsets[0] + ml.levels[0].boundary_dofs()
    free = np.setdiff1d(act, bd)
    ev = np.linalg.eigvalsh(K[free][:, free].toarray())
    assert ev.min() > 1e-8 * ev.max()  # linear dependence between nested levels removed
    u = solve_poisson_multilevel(ml, source)
    F = LagrangeSpace(m2)
    e3 = energy_error(ml, u)
    e2 = energy_error(MultilevelSpace(ml.levels[:2]), solve_poisson_multilevel(MultilevelSpace(ml.levels[:2]), source))
    assert e3 < e2


def test_chidenn_levels_1d_limits_and_accuracy():
    """1D: C-HiDeNN on both levels; when the fine box covers everything the multilevel space contains the
    single-level fine one (the C-HiDeNN parent is kept: pde.multilevel.nests), so its energy error is
    no larger; otherwise it gives a much better solution than the coarse one for a sharp source."""
    w = 0.03
    ue = lambda X: np.exp(-(X[:, 0] - 0.5) ** 2 / (2 * w * w)) - np.exp(-0.25 / (2 * w * w))
    ge = lambda X: (-(X[:, 0] - 0.5) / w**2 * np.exp(-(X[:, 0] - 0.5) ** 2 / (2 * w * w)))[:, None]
    f = lambda X: -((X[:, 0] - 0.5) ** 2 / w**4 - 1 / w**2) * np.exp(-(X[:, 0] - 0.5) ** 2 / (2 * w * w))
    c = StructuredMesh.box([0], [1], 10)
    full = refined_box_mesh(c, [0], [1], 8)
    ml = MultilevelSpace([CHiDeNNSpace(c, 2, 2), CHiDeNNSpace(full, 2, 2)])
    u = solve_poisson_multilevel(ml, f, dirichlet=ue)
    uf = solve_poisson(CHiDeNNSpace(full, 2, 2), f, dirichlet=ue)
    e_ml = multilevel_errors(ml, u, ue, ge)
    e_f = errors(CHiDeNNSpace(full, 2, 2), uf, ue, ge)
    # Galerkin optimality in the energy norm for the larger space; the levels are then nearly linearly
    # dependent (condition number ~1e16 at ratio 8), which the direct solver tolerates: the total field
    # is determined even where the split between levels is not (measured L2 7.32e-5 vs 7.40e-5)
    assert e_ml[1] <= e_f[1] * (1 + 1e-6)
    assert e_ml[0] <= 1.05 * e_f[0]
    box = refined_box_mesh(c, [0.3], [0.7], 8)
    ml2 = MultilevelSpace([CHiDeNNSpace(c, 2, 2), CHiDeNNSpace(box, 2, 2)])
    u2 = solve_poisson_multilevel(ml2, f, dirichlet=ue)
    e2 = multilevel_errors(ml2, u2, ue, ge)[0]
    ec = errors(CHiDeNNSpace(c, 2, 2), solve_poisson(CHiDeNNSpace(c, 2, 2), f, dirichlet=ue), ue, ge)[0]
    ef = errors(CHiDeNNSpace(full, 2, 2), uf, ue, ge)[0]
    assert e2 < 0.01 * ec and e2 < 3.0 * ef


def test_snap_box_and_validation():
    c = StructuredMesh.box([0, 0], [1, 1], 10)
    lo, hi, _ = snap_box(c, [0.23, 0.31], [0.47, 0.5])
    assert np.allclose(lo, [0.2, 0.3]) and np.allclose(hi, [0.5, 0.5])
    with pytest.raises(ValueError, match="not inside"):
        MultilevelSpace([LagrangeSpace(StructuredMesh.box([0, 0], [0.5, 0.5], 2)), LagrangeSpace(c)])


def test_moving_box_conserves_heat_and_follows_source():
    """Adiabatic square, Gaussian source moving along x: the heat content equals the injected energy
    (CN + L2 transfer keep constants exactly) while the fine box moves several times."""
    P, sig, v = 2.0, 0.03, 1.0
    path = lambda t: np.array([0.2 + v * t, 0.5])
    def q(X, t):
        c = path(t)
        return P / (2 * np.pi * sig**2) * np.exp(-np.sum((X - c) ** 2, 1) / (2 * sig**2))
    coarse = StructuredMesh.box([0, 0], [1, 1], 10)
    solver = MovingBoxHeatSolver(coarse, lambda m, l: LagrangeSpace(m, 1), halfwidths=[[0.15, 0.15]],
                                 ratios=[4], rho_c=1.0, k=0.05, source=q, path=path)
    dt, n = 0.01, 50
    for _ in range(n):
        solver.step(dt)
    assert solver.n_moves >= 2
    assert solver.heat_content() == pytest.approx(P * dt * n, rel=2e-3)
    # hottest point trails the source
    xs = np.linspace(0.05, 0.95, 181)
    T = solver.temperature(np.stack([xs, np.full_like(xs, 0.5)], 1))
    assert 0.45 < xs[np.argmax(T)] <= path(solver.t)[0] + 0.01
    with pytest.raises(ValueError, match="conductivity"):
        MovingBoxHeatSolver(coarse, lambda m, l: LagrangeSpace(m, 1), [[0.1, 0.1]], [2], 1.0, -1.0, q, path)


def test_3d_limits_and_ordering():
    """3D sharp source: fine-everywhere ML = single-level fine; a fine box around the source lies between."""
    w, c0 = 0.08, np.array([0.5, 0.45, 0.55])
    ue = lambda X: np.exp(-np.sum((X - c0) ** 2, 1) / (2 * w * w)) * np.prod(np.sin(np.pi * X), 1)
    h = 1e-4
    f = lambda X: -sum((ue(X + h * e) - 2 * ue(X) + ue(X - h * e)) / h**2 for e in np.eye(3))
    def ge(X):
        return np.stack([(ue(X + 1e-6 * e) - ue(X - 1e-6 * e)) / 2e-6 for e in np.eye(3)], 1)
    c = StructuredMesh.box([0, 0, 0], [1, 1, 1], 4)
    full = refined_box_mesh(c, [0, 0, 0], [1, 1, 1], 2)
    ml = MultilevelSpace([LagrangeSpace(c), LagrangeSpace(full)])
    u = solve_poisson_multilevel(ml, f)
    assert np.allclose(u[ml.level_dofs(1)], solve_poisson(LagrangeSpace(full), f), atol=1e-12)
    box = refined_box_mesh(c, c0 - 0.2, c0 + 0.2, 2)
    ml2 = MultilevelSpace([LagrangeSpace(c), LagrangeSpace(box)])
    e_ml = multilevel_errors(ml2, solve_poisson_multilevel(ml2, f), ue, ge)[1]
    e_c = errors(LagrangeSpace(c), solve_poisson(LagrangeSpace(c), f), ue, ge)[1]
    e_f = errors(LagrangeSpace(full), solve_poisson(LagrangeSpace(full), f), ue, ge)[1]
    assert e_f <= e_ml * (1 + 1e-9) and e_ml < e_c
