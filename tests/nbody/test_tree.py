"""Softening kernel, direct summation and the Barnes-Hut tree against analytic results and each other."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.integrate import quad

from nbody.direct import direct_forces, potential_energy
from nbody.ics import spherical_galaxy
from nbody.softening import density_kernel, force_kernel, potential_kernel, spline_radius
from nbody.tree import Octree, tree_forces


def test_spline_kernel_limits_and_continuity():
    eps = 0.1
    h = spline_radius(eps)
    assert h == pytest.approx(0.28)
    # Plummer-equivalent: phi(0) = -G m / eps
    assert potential_kernel(0.0, eps) == pytest.approx(1 / eps, rel=1e-12)
    # exactly Newtonian at and beyond h
    r = np.array([h, 1.5 * h, 10 * h])
    assert np.allclose(potential_kernel(r, eps), 1 / r, rtol=1e-12)
    assert np.allclose(force_kernel(r, eps), 1 / r**3, rtol=1e-12)
    # continuity of g and f at u = 1/2 and u = 1
    for u in (0.5, 1.0):
        lo, hi = u * h * (1 - 1e-9), u * h * (1 + 1e-9)
        assert potential_kernel(lo, eps) == pytest.approx(potential_kernel(hi, eps), rel=1e-7)
        assert force_kernel(lo, eps) == pytest.approx(force_kernel(hi, eps), rel=1e-7)


def test_spline_force_is_gradient_of_potential_and_matches_kernel_mass():
    eps = 0.1
    h = spline_radius(eps)
    r = np.linspace(0.02, 1.2, 40) * h
    dr = 1e-6 * h
    dg = (potential_kernel(r + dr, eps) - potential_kernel(r - dr, eps)) / (2 * dr)
    # a = -dphi/dr = -G m f r  and phi = -G m g  =>  f r = -dg/dr
    assert np.allclose(force_kernel(r, eps) * r, -dg, rtol=1e-6)
    # Gauss: f(r) r^3 = mass enclosed by the kernel W (Springel 2005, eq. 4)
    for rr in (0.3 * h, 0.7 * h, h):
        menc = quad(lambda s: 4 * np.pi * s**2 * density_kernel(s, eps), 0, rr, points=[0.5 * h])[0]
        assert force_kernel(rr, eps) * rr**3 == pytest.approx(menc, rel=1e-8)
    assert quad(lambda s: 4 * np.pi * s**2 * density_kernel(s, eps), 0, h, points=[0.5 * h])[0] == pytest.approx(1)


def test_softening_rejects_negative():
    with pytest.raises(ValueError, match="eps"):
        spline_radius(-1.0)


def test_direct_two_body_newtonian_and_momentum():
    pos = np.array([[0.0, 0, 0], [1.0, 0, 0]])
    m = np.array([2.0, 3.0])
    acc, pot = direct_forces(pos, m, eps=0.01, G=1.0)
    assert acc[0] == pytest.approx([3.0, 0, 0])
    assert acc[1] == pytest.approx([-2.0, 0, 0])
    assert pot == pytest.approx([-3.0, -2.0])
    rng = np.random.default_rng(0)
    pos = rng.normal(size=(300, 3))
    m = rng.random(300)
    acc, _ = direct_forces(pos, m, eps=0.3)
    assert np.abs(m @ acc).max() < 1e-12 * np.abs(m[:, None] * acc).sum()


@pytest.fixture(scope="module")
def hernquist5k():
    return spherical_galaxy(5000, "hernquist", seed=11, r_max=50)


def test_tree_matches_direct_at_default_opening_angle(hernquist5k):
    p = hernquist5k
    eps = 0.01
    a0, p0 = direct_forces(p.pos, p.mass, eps)
    a, pot = tree_forces(p.pos, p.mass, eps, theta=0.5)
    err = np.linalg.norm(a - a0, axis=1) / np.linalg.norm(a0, axis=1)
    assert np.median(err) < 1e-3  # issue requirement at the default opening angle
    assert np.percentile(err, 99) < 1e-2
    assert np.median(np.abs(pot - p0) / np.abs(p0)) < 1e-3
    # the quadrupole term makes the tree more accurate (Hernquist 1987)
    am, _ = tree_forces(p.pos, p.mass, eps, theta=0.5, quadrupole=False)
    errm = np.linalg.norm(am - a0, axis=1) / np.linalg.norm(a0, axis=1)
    assert np.median(err) < 0.6 * np.median(errm)
    # smaller theta -> smaller error
    a3, _ = tree_forces(p.pos, p.mass, eps, theta=0.3)
    err3 = np.linalg.norm(a3 - a0, axis=1) / np.linalg.norm(a0, axis=1)
    assert np.median(err3) < np.median(err)


def test_default_tree_force_error_on_a_plummer_sphere():
    """The default walk (theta 0.5, group size 128, leaf size 16, quadrupole) against direct summation
    on a Plummer sphere of N = 2e4 (eps = 0.01), 2000 random targets. Measured with seeds 1-5: median
    relative force error 1.06-1.14e-4, 99th percentile 4.9-5.3e-4 (seed-to-seed spread +-4 %); the
    bounds sit ~25 % above the largest. The previous defaults (group 64, leaf 8) gave 1.24-1.32e-4 and
    6.8-8.5e-4: the percentile bound fails if the walk falls back to that accuracy."""
    n = 20000
    p = spherical_galaxy(n, "plummer", seed=3, r_max=20)
    sub = np.random.default_rng(3).choice(n, 2000, replace=False)
    a0, p0 = direct_forces(p.pos, p.mass, 0.01, targets=sub)
    a, pot = tree_forces(p.pos, p.mass, 0.01)
    err = np.linalg.norm(a[sub] - a0, axis=1) / np.linalg.norm(a0, axis=1)
    assert np.median(err) < 1.4e-4
    assert np.percentile(err, 99) < 6.5e-4
    assert np.median(np.abs(pot[sub] - p0) / np.abs(p0)) < 2e-5  # measured 1.1-1.3e-5


def test_tree_relative_criterion_and_targets(hernquist5k):
    p = hernquist5k
    eps = 0.01
    a0, _ = direct_forces(p.pos, p.mass, eps)
    tree = Octree(p.pos, p.mass, eps)
    idx = np.arange(0, 5000, 7)
    a, _ = tree.accelerations(idx, criterion="relative", alpha=0.002, a_old=np.linalg.norm(a0[idx], axis=1))
    err = np.linalg.norm(a - a0[idx], axis=1) / np.linalg.norm(a0[idx], axis=1)
    assert np.median(err) < 1e-3
    with pytest.raises(ValueError, match="a_old"):
        tree.accelerations(idx, criterion="relative")
    with pytest.raises(ValueError, match="criterion"):
        tree.accelerations(idx, criterion="bogus")
    with pytest.raises(ValueError, match="theta"):
        tree.accelerations(idx, theta=0)


def test_tree_interactions_scale_as_log_n():
    """Interactions per particle grow ~ log N (O(N log N) total), not ~ N."""
    counts = {}
    for n in (2000, 16000):
        p = spherical_galaxy(n, "plummer", seed=5, r_max=20)
        tree = Octree(p.pos, p.mass, 0.01)
        tree.accelerations(theta=0.5)
        counts[n] = tree.last_interactions.mean()
    ratio = counts[16000] / counts[2000]
    # measured 2.2 (log N growth plus the small-N regime where leaves are summed directly);
    # an O(N^2) method gives 8
    assert ratio < 3.0


def test_tree_degenerate_inputs():
    # coincident particles end at MAX_DEPTH leaves instead of recursing forever
    pos = np.zeros((50, 3))
    pos[25:] = 1.0
    m = np.ones(50)
    a, _ = tree_forces(pos, m, eps=0.1)
    a0, _ = direct_forces(pos, m, eps=0.1)
    assert np.allclose(a, a0, rtol=1e-10, atol=1e-12)
    a1, p1 = tree_forces(np.zeros((1, 3)), np.ones(1), 0.1)
    assert np.all(a1 == 0) and np.all(p1 == 0)
    with pytest.raises(ValueError, match="pos"):
        tree_forces(np.zeros((3, 2)), np.ones(3), 0.1)
    with pytest.raises(ValueError, match="mass"):
        tree_forces(np.zeros((3, 3)), -np.ones(3), 0.1)


@settings(max_examples=10, deadline=None)
@given(shift=st.tuples(*[st.floats(-100, 100)] * 3), seed=st.integers(0, 1000))
def test_tree_translation_invariance(shift, seed):
    rng = np.random.default_rng(seed)
    pos = rng.normal(size=(400, 3))
    m = rng.random(400) + 0.1
    a1, _ = tree_forces(pos, m, 0.05)
    a2, _ = tree_forces(pos + np.array(shift), m, 0.05)
    a0, _ = direct_forces(pos, m, 0.05)
    scale = np.linalg.norm(a0, axis=1)[:, None]
    # both within tree accuracy of the exact answer
    assert np.median(np.abs(a1 - a0) / scale) < 2e-3
    assert np.median(np.abs(a2 - a0) / scale) < 2e-3


def test_potential_energy_of_plummer_sphere():
    p = spherical_galaxy(4000, "plummer", seed=2, r_max=1e3)
    W = potential_energy(p.pos, p.mass, eps=1e-3)
    # W = -3 pi G M^2 / (32 a) for a Plummer sphere; sampling noise ~ 1/sqrt(N)
    assert W == pytest.approx(-3 * np.pi / 32, rel=0.03)


def test_grouped_walk_force_depends_only_on_the_particle(hernquist5k):
    """Groups and group boxes are fixed by the tree: a particle's force is bitwise the same whatever the
    other targets of the call (active subsets, MPI blocks)."""
    p = hernquist5k
    tree = Octree(p.pos, p.mass, 0.01)
    a_all, p_all = tree.accelerations(theta=0.5)
    rng = np.random.default_rng(3)
    for idx in (rng.choice(5000, 37, replace=False), np.arange(1234, 2345), np.array([4999, 0, 17])):
        a, pot = tree.accelerations(idx, theta=0.5)
        assert np.array_equal(a, a_all[idx]) and np.array_equal(pot, p_all[idx])


def test_grouped_walk_is_more_accurate_than_per_target_walk_at_equal_theta(hernquist5k):
    """The group test uses the box's nearest distance r_min <= r: a superset of nodes opens, so the error
    at equal theta is smaller (pytreegrav's grouped walk, group_size 8: 1.2e-4 vs 2.2e-4 at N = 1e5)."""
    p = hernquist5k
    eps = 0.01
    a0, p0 = direct_forces(p.pos, p.mass, eps)
    tree = Octree(p.pos, p.mass, eps)
    errs = {}
    for grouped in (False, True):
        a, pot = tree.accelerations(theta=0.7, grouped=grouped)
        errs[grouped] = np.median(np.linalg.norm(a - a0, axis=1) / np.linalg.norm(a0, axis=1))
        assert np.median(np.abs(pot - p0) / np.abs(p0)) < 1e-3
        nint = tree.last_interactions
        if grouped:
            assert nint.mean() > nint_single  # the price: longer interaction lists
        else:
            nint_single = nint.mean()
    assert errs[True] < errs[False] < 2e-3
    # group size 1 still groups whole leaves; error stays below the per-target walk's
    a1, _ = tree.accelerations(theta=0.7, group_size=1)
    assert np.median(np.linalg.norm(a1 - a0, axis=1) / np.linalg.norm(a0, axis=1)) <= errs[False]
    with pytest.raises(ValueError, match="group_size"):
        tree.accelerations(theta=0.7, group_size=0)


def test_grouped_walk_long_interaction_lists_converge_to_direct():
    """theta = 0.1: interaction lists of thousands of entries (the list buffers start at 1024 nodes,
    1024 far and 256 near particles and must grow); the tree then reproduces direct summation closely."""
    p = spherical_galaxy(3000, "plummer", seed=8, r_max=20)
    eps = 0.02
    a0, p0 = direct_forces(p.pos, p.mass, eps)
    tree = Octree(p.pos, p.mass, eps)
    a, pot = tree.accelerations(theta=0.1)
    assert tree.last_interactions.max() > 1024 + 1024 + 256  # some buffer overflowed and was grown
    err = np.linalg.norm(a - a0, axis=1) / np.linalg.norm(a0, axis=1)
    assert np.median(err) < 1e-6
    assert np.max(np.abs(pot - p0) / np.abs(p0)) < 1e-6


def test_grouped_relative_criterion_with_a_old_all_is_independent_of_the_targets(hernquist5k):
    p = hernquist5k
    eps = 0.01
    a0, _ = direct_forces(p.pos, p.mass, eps)
    amag = np.linalg.norm(a0, axis=1)
    tree = Octree(p.pos, p.mass, eps)
    a_all, _ = tree.accelerations(criterion="relative", alpha=0.002, a_old=amag, a_old_all=amag)
    err = np.linalg.norm(a_all - a0, axis=1) / np.linalg.norm(a0, axis=1)
    assert np.median(err) < 1e-3
    idx = np.arange(2500, 2600)  # a block of indices, as an MPI rank gets
    a, _ = tree.accelerations(idx, criterion="relative", alpha=0.002, a_old=amag[idx], a_old_all=amag)
    assert np.array_equal(a, a_all[idx])
    with pytest.raises(ValueError, match="a_old_all"):
        tree.accelerations(idx, criterion="relative", alpha=0.002, a_old=amag[idx], a_old_all=amag[:10])


@pytest.mark.parametrize("grouped", [False, True])
def test_serial_and_parallel_walks_agree(grouped, monkeypatch):
    """tree_accel / tree_accel_grouped and their serial variants are compiled from one body
    (gpu.jit.njit_variants). The grouped walk (the default) calls one compiled block kernel from both, so
    they agree bitwise. The per-target walk inlines its fastmath body into each variant and LLVM
    optimises the two loops differently: measured, 44 of 2100 components 1 ulp apart here (as were the
    hand-written twins before), so it is held to rounding."""
    import nbody.tree as nt
    from nbody._kernels import tree_walk

    rng = np.random.default_rng(11)
    n = 1500
    pos = rng.normal(size=(n, 3)) * rng.uniform(0.1, 1.0, (n, 1))
    mass = rng.uniform(0.5, 1.5, n) / n
    tree = Octree(pos, mass, np.full(n, 0.01), leaf_size=8)
    targets = rng.choice(n, 700, replace=False)
    aold = rng.uniform(0.5, 2.0, n)
    kw = dict(targets=targets, theta=0.6, grouped=grouped, group_size=16, quadrupole=True)
    monkeypatch.setattr(nt, "PARALLEL_MIN_TARGETS", 1)
    par = [tree.accelerations(**kw), tree.accelerations(criterion="relative", alpha=0.01, a_old=aold[targets], **kw)]
    monkeypatch.setattr(nt, "PARALLEL_MIN_TARGETS", 10**9)
    ser = [tree.accelerations(**kw), tree.accelerations(criterion="relative", alpha=0.01, a_old=aold[targets], **kw)]
    walk = tree_walk.tree_accel_grouped if grouped else tree_walk.tree_accel
    serial = tree_walk.tree_accel_grouped_serial if grouped else tree_walk.tree_accel_serial
    assert walk.signatures and serial.signatures  # both variants ran
    for (ap, pp), (as_, ps) in zip(par, ser):
        if grouped:
            assert np.array_equal(ap, as_) and np.array_equal(pp, ps)
        else:
            assert np.allclose(ap, as_, rtol=0, atol=4 * np.finfo(float).eps * np.abs(ap).max())
            assert np.allclose(pp, ps, rtol=0, atol=4 * np.finfo(float).eps * np.abs(pp).max())


def test_walk_opening_test_on_squares_equals_the_square_root_test():
    # The grouped walk decides sqrt(r2) * c > b from the squares and takes the square root only within
    # 1e-14 of the boundary: the decision must be the square root's for every input, boundary cases
    # (b = sqrt(r2) c and its neighbouring doubles) included, so the interaction lists are unchanged.
    from numba import njit

    from nbody._kernels.tree_walk import _sqrt_gt

    @njit
    def both(r2, c, b):
        out = np.empty((r2.shape[0], 2), dtype=np.bool_)
        for k in range(r2.shape[0]):
            out[k, 0] = _sqrt_gt(r2[k], c[k], b[k])
            out[k, 1] = np.sqrt(r2[k]) * c[k] > b[k]
        return out

    rng = np.random.default_rng(5)
    m = 100_000
    r2 = 10.0 ** rng.uniform(-8, 8, m)
    c = np.where(rng.random(m) < 0.5, 1.0, rng.uniform(0.2, 1.5, m))
    exact = np.sqrt(r2) * c
    b = np.concatenate([exact[:m // 4] * rng.uniform(0.5, 1.5, m // 4), exact[m // 4:m // 2],
                        np.nextafter(exact[m // 2:3 * m // 4], np.inf), np.nextafter(exact[3 * m // 4:], 0)])
    out = both(r2, c, b)
    assert np.array_equal(out[:, 0], out[:, 1])
    assert 0 < out[:, 0].sum() < m  # both outcomes occur
