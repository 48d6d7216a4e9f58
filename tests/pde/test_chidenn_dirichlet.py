"""C-HiDeNN with Dirichlet data in 2D/3D: Nitsche imposition + variationally consistent integration.

Patch test (exact polynomial of degree p reproduced to round-off), optimal convergence orders
(L2 ~ p + 1, H1 ~ p) where nodal elimination loses about one order, coercivity of the Nitsche form
with the default penalty, boundary quadrature, and the default dilations of docs/chidenn_guide.md
(Lebesgue constant bound)."""
import numpy as np
import pytest

from pde.chidenn import DEFAULT_DILATION, DEFAULT_DILATION_3D, CHiDeNNSpace, default_dilation, lebesgue_constant
from pde.fem import (LagrangeSpace, assemble_bilinear, assemble_nitsche, default_dirichlet_method, errors,
                     solve_poisson)
from pde.mesh import BoundaryQuadrature, Quadrature, StructuredMesh


def graded(n, lo, hi, seed):
    """Strictly increasing, non-uniform vertices (spacings within a factor ~3 of each other)."""
    rng = np.random.default_rng(seed)
    w = 1.0 + rng.random(n)
    return lo + (hi - lo) * np.concatenate([[0.0], np.cumsum(w) / w.sum()])


# ---------------------------------------------------------------- exact polynomials of degree p
def poly(dim, p):
    """(u, -Laplace u) for a degree-p polynomial with all variables present (non-harmonic for p >= 2)."""
    if p == 1:
        c = np.array([1.0, -2.0, 0.5][:dim])
        return (lambda X: 0.7 + X @ c), (lambda X: np.zeros(len(X)))
    if p == 2:
        z = (lambda X: X[:, 2]) if dim == 3 else (lambda X: 0.0 * X[:, 0])
        u = lambda X: 1 + X[:, 0] ** 2 + X[:, 0] * X[:, 1] - 0.5 * X[:, 1] ** 2 + 0.3 * X[:, 1] + 2 * z(X) ** 2
        lap = 2.0 - 1.0 + (4.0 if dim == 3 else 0.0)
        return u, (lambda X: np.full(len(X), -lap))
    # p == 3: x^3 - 3 x y^2 + y^3 (+ y^2 z in 3D);  Laplace = 6 y (+ 2 z)
    if dim == 2:
        return (lambda X: X[:, 0] ** 3 - 3 * X[:, 0] * X[:, 1] ** 2 + X[:, 1] ** 3), (lambda X: -6 * X[:, 1])
    return ((lambda X: X[:, 0] ** 3 - 3 * X[:, 0] * X[:, 1] ** 2 + X[:, 1] ** 3 + X[:, 1] ** 2 * X[:, 2]),
            (lambda X: -(6 * X[:, 1] + 2 * X[:, 2])))


def patch_error(V, p, **kw):
    u_ex, f = poly(V.mesh.dim, p)
    u = solve_poisson(V, f, dirichlet=u_ex, **kw)
    pts = V.mesh.lower + np.random.default_rng(9).random((400, V.mesh.dim)) * (V.mesh.upper - V.mesh.lower)
    return np.max(np.abs(V.evaluate(pts).interpolate(u) - u_ex(pts)))


@pytest.mark.parametrize("p", [1, 2, 3])
def test_patch_test_2d(p):
    """Degree-p solution on a graded 2D mesh: exact to 1e-10 with the default (Nitsche + VCI); nodal
    elimination (interior functions do not vanish on the boundary) and plain Gauss quadrature of the
    rational shape functions both miss it by orders of magnitude more."""
    mesh = StructuredMesh([graded(6, 0.0, 1.0, 1), graded(5, -0.5, 0.7, 2)])
    V = CHiDeNNSpace(mesh, s=p, p=p)
    assert default_dirichlet_method(V) == "nitsche"
    assert patch_error(V, p) < 1e-10
    if p >= 2:
        assert patch_error(V, p, dirichlet_method="nodal") > 1e-5
        assert patch_error(V, p, integration="gauss") > 1e-8


def test_patch_test_3d():
    mesh = StructuredMesh([graded(3, 0.0, 1.0, 3), graded(3, 0.0, 0.8, 4), graded(3, -0.4, 0.4, 5)])
    V = CHiDeNNSpace(mesh, s=2, p=2)
    assert patch_error(V, 2) < 1e-10


# ---------------------------------------------------------------- convergence
KW = np.array([1.0, 2.0]) * np.pi / 2


def sin_u(X):
    return np.prod(np.sin(KW * X + 0.3), axis=1)


def sin_grad(X):
    S, C = np.sin(KW * X + 0.3), np.cos(KW * X + 0.3)
    return np.stack([KW[0] * C[:, 0] * S[:, 1], KW[1] * S[:, 0] * C[:, 1]], axis=1)


def sin_f(X):
    return np.sum(KW**2) * sin_u(X)


def study(make, u, g, f, sizes, dim, **kw):
    out = []
    for n in sizes:
        V = make(StructuredMesh.box([0.0] * dim, [1.0] * dim, n))
        uh = solve_poisson(V, f, dirichlet=u, **kw)
        out.append(errors(V, uh, u, g, quad_order=V.default_quadrature() + 2))
    e = np.array(out)
    h = 1.0 / np.array(sizes, float)
    return np.polyfit(np.log(h), np.log(e[:, 0]), 1)[0], np.polyfit(np.log(h), np.log(e[:, 1]), 1)[0], e


@pytest.mark.parametrize("p", [2, 3])
def test_nitsche_rates_2d(p):
    """u = sin(pi x / 2 + 0.3) sin(pi y + 0.3) on the unit square, n = 4, 8, 16 (s = p, default dilation).
    Measured: p = 2 L2 3.3, H1 2.1; p = 3 L2 4.4, H1 3.4 (pre-asymptotically above p + 1 and p).
    Nodal elimination gives L2 ~2.1 and H1 ~1.0-1.3 between n = 16 and 32 (issue's 2.2)."""
    r0, r1, e = study(lambda m: CHiDeNNSpace(m, s=p, p=p), sin_u, sin_grad, sin_f, (4, 8, 16), 2)
    assert r0 >= p + 0.7, (r0, e)
    assert r1 >= p - 0.3, (r1, e)


def test_nitsche_beats_nodal_2d():
    """Same dofs (p = 2, 16 x 16): the weakly imposed solution is several times more accurate."""
    V = CHiDeNNSpace(StructuredMesh.box([0, 0], [1, 1], 16), s=2, p=2)
    e_n = errors(V, solve_poisson(V, sin_f, dirichlet=sin_u), sin_u, sin_grad)
    e_d = errors(V, solve_poisson(V, sin_f, dirichlet=sin_u, dirichlet_method="nodal"), sin_u, sin_grad)
    assert e_n[0] < 0.5 * e_d[0] and e_n[1] < 0.8 * e_d[1], (e_n, e_d)


C3 = np.array([1.0, 0.5, -0.3])


def exp_u(X):
    return np.exp(X @ C3)


def exp_grad(X):
    return exp_u(X)[:, None] * C3


def exp_f(X):
    return -np.sum(C3**2) * exp_u(X)


@pytest.mark.slow
@pytest.mark.parametrize("p", [2])
def test_nitsche_rates_3d(p):
    """3D, u = exp(x + y/2 - 0.3 z) on the unit cube, n = 3, 4, 6 (s = p = 2): L2 >= p + 0.7, H1 >= p - 0.3."""
    r0, r1, e = study(lambda m: CHiDeNNSpace(m, s=p, p=p), exp_u, exp_grad, exp_f, (3, 4, 6), 3)
    print(f"3D p={p}: L2/H1 errors {e.tolist()}, rates {r0:.2f} {r1:.2f}")
    assert r0 >= p + 0.7, (r0, e)
    assert r1 >= p - 0.3, (r1, e)


# ---------------------------------------------------------------- Nitsche form and boundary quadrature
@pytest.mark.parametrize("dim", [2, 3])
def test_boundary_quadrature(dim):
    """sum_G w = |dOmega| and sum_G w x.n = dim |Omega| (divergence theorem) on a graded box."""
    axes = [graded(4, 0.0, 1.0, 1), graded(3, -1.0, 0.5, 2), graded(3, 0.0, 0.3, 3)][:dim]
    m = StructuredMesh(axes)
    bq = BoundaryQuadrature(m, 3)
    L = m.upper - m.lower
    area = 2 * (L[0] + L[1]) if dim == 2 else 2 * (L[0] * L[1] + L[1] * L[2] + L[0] * L[2])
    assert np.isclose(bq.weights.sum(), area, rtol=1e-13)
    assert np.isclose(np.sum(bq.weights * np.sum(bq.points * bq.normal, axis=1)), dim * np.prod(L), rtol=1e-13)
    assert np.all(m.contains(bq.points, tol=0.0))
    assert np.all(bq.h_normal > 0)
    with pytest.raises(ValueError, match="faces"):
        BoundaryQuadrature(m, 3, faces=[(dim, 0)])


@pytest.mark.parametrize("p,s", sorted(DEFAULT_DILATION))
@pytest.mark.parametrize("dilation", [1.5, 2.0, 4.0, 6.0])
def test_nitsche_matrix_spd(p, s, dilation):
    """Symmetric Nitsche stiffness (Gauss integration) is SPD with the default penalty gamma = 10 for every
    (p, s) of the guide and dilations 1.5..6 on a graded 2D mesh; with gamma = 0.05 it is not (the test can fail)."""
    mesh = StructuredMesh([graded(5, 0.0, 1.0, 6), graded(4, 0.0, 0.7, 7)])
    V = CHiDeNNSpace(mesh, s=s, p=p, dilation=dilation)
    q = Quadrature(mesh, V.default_quadrature())
    ev = V.evaluate(q.points, q.elem)
    K = assemble_bilinear(ev, ev, q.weights, V.n_dofs, V.n_dofs, diffusion=1.0)
    A = (K + assemble_nitsche(V)[0]).toarray()
    assert np.allclose(A, A.T, atol=1e-12 * np.abs(A).max())
    assert np.linalg.eigvalsh(A).min() > 1e-6
    if (p, s, dilation) == (2, 2, 2.0):
        A_weak = (K + assemble_nitsche(V, gamma=0.05)[0]).toarray()
        assert np.linalg.eigvalsh(A_weak).min() < 0


@pytest.mark.parametrize("dilation", [2.0, 6.0])
def test_nitsche_matrix_spd_3d(dilation):
    """The same in 3D (p = s = 2, graded 3 x 2 x 2 mesh), for the 3D default a = 2 and the 2D one a = 6."""
    mesh = StructuredMesh([graded(3, 0.0, 1.0, 8), graded(2, 0.0, 0.7, 9), graded(2, 0.0, 0.5, 10)])
    V = CHiDeNNSpace(mesh, s=2, p=2, dilation=dilation)
    q = Quadrature(mesh, V.default_quadrature())
    ev = V.evaluate(q.points, q.elem)
    A = (assemble_bilinear(ev, ev, q.weights, V.n_dofs, V.n_dofs, diffusion=1.0) + assemble_nitsche(V)[0]).toarray()
    assert np.allclose(A, A.T, atol=1e-12 * np.abs(A).max())
    assert np.linalg.eigvalsh(A).min() > 1e-6


def test_lagrange_unaffected_and_validation():
    """Lagrange FEM keeps nodal elimination by default (conforming); bad options are rejected."""
    m = StructuredMesh.box([0, 0], [1, 1], 4)
    F = LagrangeSpace(m, 2)
    assert default_dirichlet_method(F) == "nodal"
    assert default_dirichlet_method(CHiDeNNSpace(StructuredMesh.box([0], [1], 6), 2, 2)) == "nodal"
    u_ex, f = poly(2, 2)
    # Q2 with nodal data and Nitsche on Q2 both reproduce the quadratic exactly
    for method in ("nodal", "nitsche"):
        u = solve_poisson(F, f, dirichlet=u_ex, dirichlet_method=method)
        assert np.allclose(u, u_ex(F.dof_coords), atol=1e-11)
    V = CHiDeNNSpace(m, 2, 2)
    with pytest.raises(ValueError, match="dirichlet_method"):
        solve_poisson(V, f, dirichlet_method="weak")
    with pytest.raises(ValueError, match="integration"):
        solve_poisson(V, f, integration="exact")
    with pytest.raises(ValueError, match="needs dirichlet_method='nitsche'"):
        solve_poisson(V, f, dirichlet_method="nodal", integration="vci")
    with pytest.raises(ValueError, match="gamma"):
        solve_poisson(V, f, nitsche_gamma=0.0)


# ---------------------------------------------------------------- default dilations (docs/chidenn_guide.md)
LAMBDA_MAX = 10.0  # interpolant within (1 + Lambda) ~ 11x the best approximation (Lebesgue's lemma)


@pytest.mark.parametrize("p,s", sorted(DEFAULT_DILATION))
def test_default_dilation_lebesgue_bound(p, s):
    """Each default (p, s, a) of the guide has a 2D Lebesgue constant below 10 on an 8 x 8 mesh."""
    V = CHiDeNNSpace(StructuredMesh.box([0, 0], [1, 1], 8), s=s, p=p)
    assert V.dilation == default_dilation(p, s) == DEFAULT_DILATION[(p, s)]
    assert lebesgue_constant(V) < LAMBDA_MAX


@pytest.mark.parametrize("p,s", [(1, 1), pytest.param(2, 2, marks=pytest.mark.slow)])  # (2, 2): ~20 s
def test_default_dilation_lebesgue_bound_3d(p, s):
    """3D defaults (s <= 2 measured) keep Lambda below 10 on a 4^3 mesh; the 2D choice a = 6 for (2, 2)
    would not (Lambda ~24), which is why the 3D table differs."""
    m = StructuredMesh.box([0, 0, 0], [1, 1, 1], 4)
    V = CHiDeNNSpace(m, s=s, p=p)
    assert V.dilation == default_dilation(p, s, 3) == DEFAULT_DILATION_3D[(p, s)]
    assert lebesgue_constant(V, samples=5) < LAMBDA_MAX
    if (p, s) == (2, 2):
        assert lebesgue_constant(CHiDeNNSpace(m, s=2, p=2, dilation=DEFAULT_DILATION[(2, 2)]), samples=5) > LAMBDA_MAX


def test_former_default_unstable_for_s3():
    """The instability the guide replaced: a = 4 with s = 3 has Lambda > 30 (the default a = 2 has ~2.4)."""
    m = StructuredMesh.box([0, 0], [1, 1], 8)
    assert lebesgue_constant(CHiDeNNSpace(m, s=3, p=3, dilation=4.0)) > 30
    assert lebesgue_constant(CHiDeNNSpace(m, s=3, p=3)) < 3.0
