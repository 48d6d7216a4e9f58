"""Pair statistics engine (cosmo.pairwise) against brute force, symmetries and a Poisson sample."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from cosmo.pairwise import QUANTITIES, pair_counts, pair_moments, density_pair_statistics
from tests.mpi_harness import run_mpi

ORDERS = tuple(range(1, 9))


def brute_force(pos, vel, box, rb, orders=ORDERS, w=None, pos2=None, vel2=None, w2=None, hedges=None):
    """O(N^2) reference: every pair, explicit orientations, numpy only."""
    n = len(pos)
    auto = pos2 is None
    if auto:
        pos2, vel2, w2 = pos, vel, w
    w = np.ones(n) if w is None else w
    w2 = np.ones(len(pos2)) if w2 is None else w2
    d = pos2[None, :, :] - pos[:, None, :]
    if box:
        d -= box * np.round(d / box)
    r = np.sqrt((d ** 2).sum(-1))
    mask = np.triu(np.ones((n, len(pos2)), bool), 1) if auto else np.ones((n, len(pos2)), bool)
    I, J = np.nonzero(mask)
    rr = r[I, J]
    m = (rr >= rb[0]) & (rr < rb[-1]) & (rr > 0)
    I, J, rr = I[m], J[m], rr[m]
    e = d[I, J] / rr[:, None]
    ul, ulp = (vel[I] * e).sum(1), (vel2[J] * e).sum(1)
    t1 = vel[I] - ul[:, None] * e
    t2 = vel2[J] - ulp[:, None] * e
    ww = w[I] * w2[J]
    nb = len(rb) - 1
    b = np.searchsorted(rb, rr, side="right") - 1
    cnt = np.bincount(b, minlength=nb)
    fwd = {"u_L": ul, "u_L'": ulp, "du_L": ulp - ul, "su_L": ulp + ul, "u_T": np.linalg.norm(t1, axis=1),
           "du_T": np.linalg.norm(t2 - t1, axis=1)}
    bwd = {"u_L": -ulp, "u_L'": -ul, "du_L": ulp - ul, "su_L": -(ulp + ul), "u_T": np.linalg.norm(t2, axis=1),
           "du_T": np.linalg.norm(t2 - t1, axis=1)}
    sides = [fwd, bwd] if auto else [fwd]
    mom, pdf = {}, {}
    den = sum(np.bincount(b, ww, minlength=nb) for _ in sides)
    for k in fwd:
        mom[k] = np.stack([sum(np.bincount(b, ww * s[k] ** o, minlength=nb) for s in sides) / den
                           for o in orders], axis=1)
        if hedges is not None and k in ("u_L", "u_L'", "du_L", "su_L"):
            h = np.zeros((nb, len(hedges) - 1))
            for s in sides:
                for ib in range(nb):
                    h[ib] += np.histogram(s[k][b == ib], bins=hedges, weights=ww[b == ib])[0]
            pdf[k] = h / den[:, None] / np.diff(hedges)
    return cnt, mom, pdf


def close(a, b, rtol=1e-10):
    """Equal to round-off, relative to the moment's scale (empty bins are NaN in both)."""
    a, b = np.asarray(a), np.asarray(b)
    assert np.array_equal(np.isnan(a), np.isnan(b))
    ok = ~np.isnan(a)
    scale = np.maximum(np.abs(b[ok]), 1.0)
    assert np.all(np.abs(a[ok] - b[ok]) <= rtol * scale), np.max(np.abs(a[ok] - b[ok]) / scale)


@pytest.fixture(scope="module")
def sample():
    rng = np.random.default_rng(42)
    pos = rng.uniform(0, 10.0, (300, 3))
    pos[:60] = 5.0 + 0.3 * rng.normal(size=(60, 3))  # a clump, so pairs exist at small r
    vel = rng.normal(0, 1.0, (300, 3))
    vel[:60] -= 0.8 * (pos[:60] - 5.0)  # infall: approaching pairs
    return pos % 10.0, vel


@pytest.mark.parametrize("periodic", [True, False])
def test_counts_and_moments_match_brute_force(sample, periodic):
    pos, vel = sample
    box = 10.0 if periodic else None
    rb = np.linspace(0.0, 5.0, 11) if periodic else np.logspace(-1.5, 0.9, 9)
    hedges = np.linspace(-4, 4, 33)
    st = pair_moments(pos, vel, box, rb, pdf_bins=hedges)
    cnt, mom, pdf = brute_force(pos, vel, box, rb, hedges=hedges)
    assert np.array_equal(st.counts, cnt)  # exact
    for k in QUANTITIES:
        close(st.moments[k], mom[k])
    for k in pdf:
        close(st.pdf[k], pdf[k])
    assert np.array_equal(pair_counts(pos, box, rb), cnt)


@pytest.mark.parametrize("rb", [np.array([0.5, 1.0, 2.0, 3.0, 4.0]), np.array([0.9, 1.0, 2.0, 2.5, 3.0, 4.5])])
def test_separations_exactly_on_bin_edges(rb):
    """A unit lattice puts r = 1, 2, 3, 4 exactly on r-bin edges: half-open [r_k, r_k+1) bins must
    still match brute force (exercises the r^2 lookup table's round-off margins)."""
    g = np.arange(10.0)
    pos = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)[::3]
    vel = np.zeros_like(pos)
    with np.errstate(invalid="ignore", divide="ignore"):  # empty bins: 0/0 moments in the reference
        cnt, _, _ = brute_force(pos, vel, 10.0, rb, orders=(1,))
        cnt_open = brute_force(pos, vel, 0.0, rb, orders=(1,))[0]
    assert cnt.sum() > 0
    assert np.array_equal(pair_counts(pos, 10.0, rb), cnt)
    assert np.array_equal(pair_counts(pos, None, rb), cnt_open)


@pytest.mark.parametrize("precision", ["double", "mixed"])
def test_pdf_values_exactly_on_bin_edges(precision):
    """Bins are half-open [e_k, e_k+1): velocities landing exactly on edges (including +-the outer
    edges) are binned like a direct searchsorted, also on the kernel's mirrored-bin path used for
    antisymmetric edges. precision="mixed": the values are the float32 ones (reproduced here with
    numpy float32, IEEE like the kernel), on or within a float32 unit of the edges, and their bins
    must be exact as well (the float32 bin arithmetic of pair_binning._hbin flags them)."""
    f32 = np.float32
    rng = np.random.default_rng(7)
    n = 40
    pos = np.full((n, 3), 5.0)
    pos[:, 0] = rng.permutation(np.arange(n) * 0.25)  # all pairs along x: rhat = (+-1, 0, 0) exactly
    vel = np.zeros((n, 3))
    vel[:, 0] = 0.25 * rng.integers(-20, 21, n)  # multiples of the bin width, some at +-4 and beyond
    vel[:, 1:] = rng.normal(size=(n, 2))
    rb = np.array([0.1, 1.0, 3.0, 4.9])
    # antisymmetric, then not; then edges with a step that binary floating point cannot hold
    # (0.1; exactly antisymmetric, then a plain linspace that is not), with values on them: the
    # uniform-bin arithmetic misplaces some of these by round-off and the kernel's exact edge
    # fix-up must catch them
    half = np.linspace(0.0, 1.3, 14)
    sets = [(np.linspace(-4, 4, 33), vel), (np.linspace(-4, 4.5, 35), vel)]
    for awkward in (np.concatenate([-half[::-1], half[1:]]), np.linspace(-1.3, 1.3, 27)):
        vel_awk = vel.copy()
        vel_awk[:, 0] = rng.choice(np.concatenate([awkward, awkward[[0, -1]] * 1.5]), n)
        sets.append((awkward, vel_awk))
    for hedges, vel in sets:
        st = pair_moments(pos, vel, 10.0, rb, orders=(1,), pdf_bins=hedges, precision=precision)
        # the Delta u_L-only pass (its own formula: ((v' - v) . r)/|r|, one projection per pair)
        st_d = pair_moments(pos, vel, 10.0, rb, orders=(1,), pdf_bins=hedges, quantities=("du_L",),
                            precision=precision)
        nh = len(hedges) - 1
        ref = {k: np.zeros((len(rb) - 1, nh)) for k in ("u_L", "u_L'", "du_L", "su_L")}
        ref_d = np.zeros((len(rb) - 1, nh))
        for i in range(n):
            for j in range(i + 1, n):
                d = pos[j, 0] - pos[i, 0]
                d -= 10.0 * np.round(d / 10.0)
                b = np.searchsorted(rb, abs(d), side="right") - 1
                if not 0 <= b < len(rb) - 1:
                    continue
                # u_L = (v . r)/|r|, the kernel's formula (one rounding in the product, one in the
                # division; equal to +-v_x exactly whenever v_x d is exact, as for the first two sets)
                ul, ulp = (vel[i, 0] * d) / abs(d), (vel[j, 0] * d) / abs(d)
                du1 = ((vel[j, 0] - vel[i, 0]) * d) / abs(d)
                if precision == "mixed":
                    # pair_flush._project in float32: one reciprocal of |r| for u_L, u_L'; a division for
                    # the Delta u_L-only pass
                    ir = f32(1.0) / np.sqrt(f32(d * d))
                    ul, ulp = f32(vel[i, 0] * d) * ir, f32(vel[j, 0] * d) * ir
                    du1 = f32((vel[j, 0] - vel[i, 0]) * d) / np.sqrt(f32(d * d))
                for k, vals in (("u_L", (ul, -ulp)), ("u_L'", (ulp, -ul)), ("du_L", (ulp - ul, ulp - ul)),
                                ("su_L", (ulp + ul, -(ulp + ul)))):
                    for x in vals:
                        h = np.searchsorted(hedges, np.float64(x), side="right") - 1
                        if 0 <= h < nh:
                            ref[k][b, h] += 1.0
                h = np.searchsorted(hedges, np.float64(du1), side="right") - 1
                if 0 <= h < nh:
                    ref_d[b, h] += 2.0  # both orientations
        for k in ref:
            got = st.pdf[k] * (2.0 * st.weighted_counts[:, None]) * np.diff(hedges)
            assert np.allclose(got, ref[k], rtol=1e-12, atol=1e-9), k
        assert set(st_d.pdf) == {"du_L"}
        got = st_d.pdf["du_L"] * (2.0 * st_d.weighted_counts[:, None]) * np.diff(hedges)
        assert np.allclose(got, ref_d, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("orders, quantities", [((1, 2), ("du_L",)), ((1, 2, 3), None), ((1, 5, 12), None),
                                                 ((2, 4), ("u_L", "su_L"))])
def test_specialised_paths_match_brute_force(sample, orders, quantities):
    """The kernel specialises on what is asked (Delta u_L only: one stored projection per pair;
    power sums unrolled to 1, 2, 4 or 8 orders, a generic loop above 8): each matches brute force."""
    pos, vel = sample
    rb = np.logspace(-1, np.log10(4.9), 7)
    st = pair_moments(pos, vel, 10.0, rb, orders=orders, quantities=quantities)
    cnt, mom, _ = brute_force(pos, vel, 10.0, rb, orders=orders)
    assert np.array_equal(st.counts, cnt)
    assert set(st.moments) == set(quantities or QUANTITIES)
    for k in st.moments:
        close(st.moments[k], mom[k])


def test_pdfs_cross_pairs_and_nonuniform_edges_match_brute_force(sample):
    """Histogram paths other than uniform antisymmetric edges: cross pairs (no mirroring),
    antisymmetric but non-uniform edges (bisection, then mirroring with edge weights) and
    non-antisymmetric uniform edges; plus values just next to uniform edges (round-off fix-up)."""
    pos, vel = sample
    rng = np.random.default_rng(9)
    rb = np.logspace(-1, np.log10(4.9), 6)
    half = np.geomspace(0.05, 4.0, 12)
    edge_sets = [np.concatenate([-half[::-1], half]), np.linspace(-3.0, 4.0, 29)]
    # velocities a hair away from the uniform edges of the second set
    vnear = vel.copy()
    vnear[:100] = np.round(vel[:100] * 4) / 4 + rng.choice([-1e-13, 0.0, 1e-13], (100, 3))
    for v in (vel, vnear):
        for hedges in edge_sets + [np.linspace(-4, 4, 33)]:
            st = pair_moments(pos, v, 10.0, rb, orders=(1,), pdf_bins=hedges)
            _, _, pdf = brute_force(pos, v, 10.0, rb, orders=(1,), hedges=hedges)
            for k in pdf:
                close(st.pdf[k], pdf[k])
    pos2, vel2 = rng.uniform(0, 10, (150, 3)), rng.normal(0, 1.5, (150, 3))
    for hedges in edge_sets:
        st = pair_moments(pos, vel, 10.0, rb, orders=(1,), pdf_bins=hedges, pos2=pos2, vel2=vel2)
        _, _, pdf = brute_force(pos, vel, 10.0, rb, orders=(1,), pos2=pos2, vel2=vel2, hedges=hedges)
        for k in pdf:
            close(st.pdf[k], pdf[k])


@pytest.mark.parametrize("case", ["periodic", "open", "weighted", "cross"])
def test_pairwise_velocity_pdf_only_pass_matches_brute_force(sample, case):
    """``quantities=("du_L",)`` with ``pdf_bins`` runs the kernel's Delta u_L-only pass (one stored
    projection per pair, one histogram): moments and the Delta u_L PDF match brute force, and the
    other PDFs are not returned."""
    pos, vel = sample
    rng = np.random.default_rng(5)
    box = None if case == "open" else 10.0
    rb = np.logspace(-1.5, 0.9, 8) if case == "open" else np.logspace(-1, np.log10(4.9), 7)
    hedges = np.linspace(-4, 4, 33)
    kw, ref_kw = {}, {}
    if case == "weighted":
        w = rng.uniform(0.2, 2.0, len(pos))
        kw, ref_kw = {"weights": w}, {"w": w}
    if case == "cross":
        pos2, vel2 = rng.uniform(0, 10, (150, 3)), rng.normal(0, 1.5, (150, 3))
        kw = ref_kw = {"pos2": pos2, "vel2": vel2}
    st = pair_moments(pos, vel, box, rb, orders=ORDERS, pdf_bins=hedges, quantities=("du_L",), **kw)
    cnt, mom, pdf = brute_force(pos, vel, box, rb, hedges=hedges, **ref_kw)
    assert np.array_equal(st.counts, cnt)
    assert set(st.moments) == {"du_L"} and set(st.pdf) == {"du_L"}
    close(st.moments["du_L"], mom["du_L"])
    close(st.pdf["du_L"], pdf["du_L"])


def test_large_sample_many_flushes_matches_brute_force():
    """Enough pairs to fill the per-thread pair buffers many times (and a dense clump, so a
    column holds many particles), periodic with a cell grid (no explicit minimum image)."""
    rng = np.random.default_rng(21)
    pos = rng.uniform(0, 30.0, (2500, 3))
    pos[:500] = (15.0 + 0.4 * rng.normal(size=(500, 3))) % 30.0
    vel = rng.normal(0, 1.0, (2500, 3))
    rb = np.logspace(-1.5, np.log10(6.0), 9)
    hedges = np.linspace(-4, 4, 41)
    st = pair_moments(pos, vel, 30.0, rb, pdf_bins=hedges)
    cnt, mom, pdf = brute_force(pos, vel, 30.0, rb, hedges=hedges)
    assert cnt.sum() > 20 * 2048
    assert np.array_equal(st.counts, cnt)
    for k in QUANTITIES:
        close(st.moments[k], mom[k])
    for k in pdf:
        close(st.pdf[k], pdf[k])
    assert np.array_equal(pair_counts(pos, 30.0, rb), cnt)


def test_cross_pairs_and_weights_match_brute_force(sample):
    pos, vel = sample
    rng = np.random.default_rng(3)
    pos2, vel2 = rng.uniform(0, 10, (200, 3)), rng.normal(0, 2.0, (200, 3))
    w, w2 = rng.uniform(0.5, 2, 300), rng.uniform(0.5, 2, 200)
    rb = np.logspace(-1, np.log10(4.9), 7)
    st = pair_moments(pos, vel, 10.0, rb, pos2=pos2, vel2=vel2, weights=w, weights2=w2)
    cnt, mom, _ = brute_force(pos, vel, 10.0, rb, w=w, pos2=pos2, vel2=vel2, w2=w2)
    assert np.array_equal(st.counts, cnt)
    for k in QUANTITIES:
        close(st.moments[k], mom[k])
    # weighted auto pairs too
    st = pair_moments(pos, vel, 10.0, rb, weights=w)
    cnt, mom, _ = brute_force(pos, vel, 10.0, rb, w=w)
    for k in QUANTITIES:
        close(st.moments[k], mom[k])


def test_label_swap_symmetry(sample):
    """Auto pairs: odd moments of Sigma u_L vanish, u_L' mirrors u_L, Delta u_L odd moments survive."""
    pos, vel = sample
    rb = np.logspace(-1, np.log10(4.9), 7)
    st = pair_moments(pos, vel, 10.0, rb, pdf_bins=np.linspace(-5, 5, 41))
    for n in (1, 3, 5, 7):
        scale = np.sqrt(st.moment("su_L", 2)) ** n
        assert np.all(np.abs(st.moment("su_L", n)) <= 1e-12 * scale)
        close(st.moment("u_L'", n), -st.moment("u_L", n))
    close(st.pdf["u_L'"], st.pdf["u_L"][:, ::-1])
    close(st.pdf["su_L"], st.pdf["su_L"][:, ::-1])
    # <u_L> = -<Delta u_L>/2 exactly for symmetrised pairs; infall makes <Delta u_L> < 0 at small r
    close(st.mean("u_L"), -0.5 * st.mean("du_L"))
    small = st.r < 1.0
    assert np.sum(st.mean("du_L")[small] * st.counts[small]) / st.counts[small].sum() < -0.2
    # relabelling the particles changes nothing
    perm = np.random.default_rng(0).permutation(len(pos))
    st2 = pair_moments(pos[perm], vel[perm], 10.0, rb)
    for k in QUANTITIES:
        close(st2.moments[k], st.moments[k])


@settings(max_examples=8, deadline=None)
@given(shift=st.tuples(*[st.floats(-30, 30, allow_nan=False)] * 3), seed=st.integers(0, 1000))
def test_translation_and_rewrap_invariance(shift, seed):
    rng = np.random.default_rng(seed)
    pos = rng.uniform(0, 8.0, (120, 3))
    vel = rng.normal(0, 1, (120, 3))
    rb = np.linspace(0.2, 4.0, 6)
    a = pair_moments(pos, vel, 8.0, rb, orders=(1, 2, 3, 4))
    b = pair_moments((pos + np.array(shift)) % 8.0, vel, 8.0, rb, orders=(1, 2, 3, 4))
    assert np.array_equal(a.counts, b.counts)
    for k in QUANTITIES:
        close(b.moments[k], a.moments[k], rtol=1e-9)


def test_poisson_sample_pairwise_dispersion():
    """Unclustered positions, independent Gaussian velocities: <du_L> = 0, <du_L^2> = 2 sigma^2, kurtosis 3."""
    rng = np.random.default_rng(7)
    n, sigma = 20000, 3.0
    pos = rng.uniform(0, 100.0, (n, 3))
    vel = rng.normal(0, sigma, (n, 3))
    st = pair_moments(pos, vel, 100.0, np.linspace(2.0, 10.0, 5))
    npairs = st.counts
    # pairs share particles, so use a conservative error: per-particle count ~ N, not npairs
    err_mean = 5 * np.sqrt(2) * sigma / np.sqrt(n)
    assert np.all(np.abs(st.mean("du_L")) < err_mean)
    assert np.allclose(st.moment("du_L", 2), 2 * sigma ** 2, rtol=0.05)
    assert np.allclose(st.kurtosis("du_L"), 3.0, atol=0.15)
    assert np.allclose(st.moment("u_T", 2), 2 * sigma ** 2, rtol=0.05)  # two transverse components
    # xi = 0 for a Poisson sample within Poisson errors of the counts
    assert np.all(np.abs(st.xi()) < 5 / np.sqrt(npairs) + 0.01)


def test_density_pair_statistics_brute_force(sample):
    pos, _ = sample
    s = np.random.default_rng(5).normal(size=len(pos)) + 0.1 * pos[:, 0]
    rb = np.linspace(0.3, 4.5, 6)
    d = density_pair_statistics(pos, s, 10.0, rb)
    dd = pos[None] - pos[:, None]
    dd -= 10.0 * np.round(dd / 10.0)
    r = np.linalg.norm(dd, axis=-1)
    I, J = np.nonzero(np.triu(np.ones_like(r, bool), 1))
    rr = r[I, J]
    b = np.searchsorted(rb, rr, side="right") - 1
    ok = (rr >= rb[0]) & (rr < rb[-1])
    cnt = np.bincount(b[ok], minlength=5)
    assert np.array_equal(d["counts"], cnt)
    close(d["corr"], np.bincount(b[ok], (s[I] * s[J])[ok], minlength=5) / cnt)
    close(d["dispersion"], np.bincount(b[ok], ((s[J] - s[I]) ** 2)[ok], minlength=5) / cnt)


def test_bad_input_raises():
    rng = np.random.default_rng(0)
    pos, vel = rng.uniform(0, 10, (50, 3)), rng.normal(size=(50, 3))
    rb = np.linspace(0.1, 4, 5)
    with pytest.raises(ValueError, match="inside the periodic box"):
        pair_moments(pos + 11, vel, 10.0, rb)
    with pytest.raises(ValueError, match="vel has 49 rows"):
        pair_moments(pos, vel[:49], 10.0, rb)
    with pytest.raises(ValueError, match="exceeds half the box"):
        pair_moments(pos, vel, 10.0, np.linspace(0.1, 6, 5))
    with pytest.raises(ValueError, match="strictly increasing"):
        pair_moments(pos, vel, 10.0, rb[::-1])
    with pytest.raises(ValueError, match="orders"):
        pair_moments(pos, vel, 10.0, rb, orders=(0, 2))
    with pytest.raises(ValueError, match="box must be"):
        pair_moments(pos, vel, -1.0, rb)
    with pytest.raises(ValueError, match="weights"):
        pair_moments(pos, vel, 10.0, rb, weights=np.ones(3))
    with pytest.raises(ValueError, match=r"shape \(N, 3\)"):
        pair_moments(pos[:, :2], vel, 10.0, rb)


MPI_SCRIPT = """
import numpy as np, gpu
from cosmo.pairwise import pair_moments
comm = gpu.get_comm()
rng = np.random.default_rng(11)
pos = rng.uniform(0, 20, (3000, 3)); pos[:500] = (10 + rng.normal(size=(500, 3))) % 20
vel = rng.normal(size=(3000, 3))
st = pair_moments(pos, vel, 20.0, np.logspace(-1, 1, 9), pdf_bins=np.linspace(-5, 5, 21), comm=comm)
if comm.rank == 0:
    np.savez("out_%d.npz" % comm.size, counts=st.counts, m=st.moments["du_L"], p=st.pdf["du_L"],
             s=st.moments["su_L"])
"""


@pytest.mark.mpi
def test_mpi_two_ranks_equal_serial(tmp_path):
    run_mpi(MPI_SCRIPT, 2, tmp_path, timeout=240)
    run_mpi(MPI_SCRIPT, 1, tmp_path, timeout=240)
    a, b = np.load(tmp_path / "out_1.npz"), np.load(tmp_path / "out_2.npz")
    # module docstring: counts and (unit-weight) histograms exact, moments to round-off (1e-12)
    assert np.array_equal(a["counts"], b["counts"])
    assert np.array_equal(a["p"], b["p"])
    close(b["m"], a["m"], rtol=1e-12)
    close(b["s"], a["s"], rtol=1e-12)


def _clustered(seed=4, n=1500, box=20.0):
    rng = np.random.default_rng(seed)
    c = rng.uniform(0, box, (30, 3))
    pos = (c[rng.integers(0, 30, n)] + 0.2 * rng.normal(size=(n, 3))) % box
    return pos, rng.normal(0, 100, (n, 3))


def test_halo_split_statistics_partitions_the_pairs():
    """Library halo split: the FoF split of friends_of_friends, and every pair of the sample in exactly
    one of halo-halo, out-out, halo -> out: counts add up exactly, Delta u_L sums and histograms
    (label-swap invariant, so the orientation of the cross pairs does not matter) to round-off."""
    from cosmo.fof import friends_of_friends
    from cosmo.pairwise import halo_split_statistics

    pos, vel = _clustered()
    rb = np.logspace(-1, np.log10(5), 7)
    hb = np.linspace(-600, 600, 25)
    res = halo_split_statistics(pos, vel, 20.0, rb, b=0.2, min_size=2, orders=(1, 2), pdf_bins=hb)
    assert set(res.samples) == {"all", "halo", "out", "cross"}
    assert np.array_equal(res.in_halo, friends_of_friends(pos, 20.0, b=0.2, min_size=2).in_halo)
    assert 0.1 < res.params()["halo_fraction"] < 0.99
    a, h, o, x = (res.samples[k] for k in ("all", "halo", "out", "cross"))
    assert a.auto and not x.auto  # cross pairs are one orientation (halo -> out)
    assert np.array_equal(h.counts + o.counts + x.counts, a.counts)
    assert a.counts.min() > 10
    # sums over the pairs of each bin (empty bins of a split sample contribute nothing); round-off
    # bound: 1e-12 of sum |du_L|^n <= sqrt(N sum du_L^2) for n = 1
    tot = lambda s, n: np.nan_to_num(s.moment("du_L", n)) * s.counts
    for n in (1, 2):
        bound = 1e-12 * (np.sqrt(a.counts * tot(a, 2)) if n == 1 else tot(a, 2))
        assert np.all(np.abs(tot(h, n) + tot(o, n) + tot(x, n) - tot(a, n)) <= bound)
    # PDFs: auto pairs are normalised by both orientations (2 N), cross pairs by N; weights are 1
    hist = lambda s: np.nan_to_num(s.pdf["du_L"]) * (2.0 if s.auto else 1.0) * s.counts[:, None] * np.diff(hb)
    assert np.allclose(hist(h) + hist(o) + 2.0 * hist(x), hist(a), rtol=1e-12, atol=1e-9)
    ds = res.to_datasets()
    assert np.array_equal(ds["cross/counts"], x.counts) and "fof/group" in ds


@pytest.mark.parametrize("kw, key", [({"b": 0.0}, "'b'"), ({"b": float("nan")}, "'b'"),
                                     ({"min_size": 0}, "'min_size'"), ({"min_size": 2.5}, "min_size")])
def test_halo_split_statistics_rejects_bad_arguments(kw, key):
    from gpu.config import ConfigError
    from cosmo.pairwise import halo_split_statistics

    pos, vel = _clustered(n=50)
    with pytest.raises(ConfigError, match=key):
        halo_split_statistics(pos, vel, 20.0, [0.1, 1.0], **kw)


def test_cli_pairwise_with_halo_split(tmp_path):
    """python -m cosmo pairwise on a GADGET snapshot: HDF5 + JSON outputs equal the API results."""
    import json

    from cosmo.__main__ import main
    from gpu.io import read_results
    from nbody.particles import PTYPE_DM, Particles
    from nbody.snapshot import Snapshot, write_snapshot

    rng = np.random.default_rng(4)
    c = rng.uniform(0, 20, (30, 3))
    pos = (c[rng.integers(0, 30, 1500)] + 0.2 * rng.normal(size=(1500, 3))) % 20
    vel = rng.normal(0, 100, (1500, 3))
    snap = Snapshot({1: Particles.from_arrays(np.ones(1500), pos, vel, PTYPE_DM, ids=np.arange(1500, dtype=np.uint64))},
                    {"BoxSize": 20.0, "Time": 0.5, "Redshift": 1.0},
                    {"UnitLength_in_cm": 3.085678e24, "ComovingIntegrationOn": 1})
    write_snapshot(tmp_path / "snap_000.hdf5", snap)
    rc = main(["pairwise", str(tmp_path / "snap_000.hdf5"), "--halo-split", "--rbins", "0.1,5,6",
               "--out", str(tmp_path / "st.h5"), "--json", str(tmp_path / "s.json"), "--quiet"])
    assert rc == 0
    data, header = read_results(tmp_path / "st.h5")
    summary = json.loads((tmp_path / "s.json").read_text())
    assert set(summary["samples"]) == {"all", "halo", "out", "cross"}
    ref = pair_moments(pos, vel, 20.0, np.logspace(-1, np.log10(5), 7))
    assert np.array_equal(data["all/counts"], ref.counts)
    close(data["all/moments/duL"], ref.moments["du_L"])
    g = data["fof/group"]
    assert np.array_equal(data["halo/counts"] + data["out/counts"] + data["cross/counts"], ref.counts)
    assert header["n_groups"] == g.max() + 1
    # --quantities du_L: the Delta u_L-only pass, same moments and PDF, the other quantities absent
    rc = main(["pairwise", str(tmp_path / "snap_000.hdf5"), "--rbins", "0.1,5,6", "--quantities", "du_L",
               "--fit", "--out", str(tmp_path / "d.h5"), "--quiet"])
    assert rc == 0
    d, _ = read_results(tmp_path / "d.h5")
    assert np.array_equal(d["all/counts"], ref.counts)
    close(d["all/moments/duL"], ref.moments["du_L"])
    close(d["all/pdf/duL"], data["all/pdf/duL"])
    assert "all/moments/uL" not in d and "all/pdf/uL" not in d
    # --precision mixed: same counts, moments within the mixed-precision budget (float32 projections)
    from cosmo.pairwise import MIXED_ERROR_BUDGET

    rc = main(["pairwise", str(tmp_path / "snap_000.hdf5"), "--rbins", "0.1,5,6", "--precision", "mixed",
               "--out", str(tmp_path / "m.h5"), "--quiet"])
    assert rc == 0
    mx, mh = read_results(tmp_path / "m.h5")
    assert np.array_equal(mx["all/counts"], ref.counts)
    even = slice(1, None, 2)   # orders 2, 4, 6, 8: positive, so relative differences are well defined
    close(mx["all/moments/duL"][:, even], ref.moments["du_L"][:, even], rtol=MIXED_ERROR_BUDGET["moments"])
    assert not np.array_equal(mx["all/moments/duL"], ref.moments["du_L"])
    # bad input: one error line naming the option, exit 2 (tests/cosmo/test_cli_faults.py has the full suite)
    assert main(["pairwise", str(tmp_path / "snap_000.hdf5"), "--quantities", "v12", "--out",
                 str(tmp_path / "x.h5")]) == 2


@pytest.mark.parametrize("periodic", [True, False])
def test_exact_z_window_boundaries_match_brute_force(periodic):
    """The kernel scans, per particle and neighbour column, only the z-window
    ``|dz| <= sqrt(r_max^2 - d_xy^2)`` found by binary search in z-sorted cells. Integer
    coordinates put many pairs exactly at r_max (3-4-5 triangles, pure z offsets of r_max, which
    must be excluded) and on the window's ends, with ties in z and wraps through the periodic
    boundary; counts and moments must equal brute force."""
    rng = np.random.default_rng(5)
    box = 20.0
    lat = rng.integers(0, 20, (700, 3)).astype(float)
    lat = np.unique(lat, axis=0)
    col = np.stack([np.full(40, 7.0), np.full(40, 9.0), rng.integers(0, 20, 40) + 0.0], 1)  # one crowded column
    col = np.unique(col, axis=0)
    pos = np.vstack([lat, col, rng.uniform(0, box, (200, 3))])
    pos = np.unique(pos, axis=0)
    vel = rng.normal(0, 1.0, pos.shape)
    rb = np.array([0.5, 1.0, 2.5, 4.0, 5.0])
    b = box if periodic else 0.0
    st = pair_moments(pos, vel, box if periodic else None, rb, orders=(1, 2, 3))
    cnt, mom, _ = brute_force(pos, vel, b, rb, orders=(1, 2, 3))
    d = pos[None] - pos[:, None]
    if periodic:
        d -= box * np.round(d / box)
    assert np.sum(np.isclose((d ** 2).sum(-1), 25.0, rtol=0, atol=0)) > 100  # many pairs exactly at r_max
    assert np.array_equal(st.counts, cnt)
    assert np.array_equal(pair_counts(pos, box if periodic else None, rb), cnt)
    for k in QUANTITIES:
        close(st.moments[k], mom[k])


def test_simd_range_mask_and_compressing_store():
    """``inrange8``/``compress8`` (the scan's 8-candidate compaction) against numpy: half-open range
    ``[lo, hi)`` with values exactly on both ends and NaN, order kept, bits copied exactly, nothing
    written past the selected elements."""
    from numba import njit

    from cosmo._kernels.simd import compress8, inrange8, popcount

    @njit
    def compact(a, lo, hi, out):
        m = np.uint64(0)
        for k in range(0, a.shape[0] - 7, 8):
            msk = inrange8(a, np.uint64(k), lo, hi)
            compress8(a, np.uint64(k), out, m, msk)
            m += popcount(msk)
        return m

    rng = np.random.default_rng(3)
    a = rng.uniform(-1, 3, 800)
    a[::7] = 0.5
    a[3::11] = 2.0
    a[5::13] = np.nan
    a[6::17] = -0.0
    lo, hi = 0.5, 2.0
    out = np.full(900, -7.0)
    m = compact(a, lo, hi, out)
    sel = a[(a >= lo) & (a < hi)]
    assert m == len(sel) and np.array_equal(out[:m], sel)
    assert np.all(out[m:] == -7.0)
    out2 = np.full(900, -7.0)
    m2 = compact(a, -0.0, 0.75, out2)
    sel2 = a[(a >= 0.0) & (a < 0.75)]
    assert m2 == len(sel2) and np.array_equal(out2[:m2], sel2) and np.all(out2[m2:] == -7.0)


@pytest.mark.slow
def test_scalar_compaction_fallback_matches_brute_force(tmp_path):
    """The scalar compaction (CPUs without AVX-512) against brute force: the brute-force tests run
    in a subprocess with ``SCALEFORGE_NO_SIMD=1`` and a fresh Numba cache (~1 min of compilation)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    code = ("import sys, pytest\n"
            "from cosmo._kernels import simd\n"
            "assert not simd.HAVE_AVX512\n"
            "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', 'tests/cosmo/test_pairwise.py', '-k', "
            "'z_window or specialised_paths or counts_and_moments or many_flushes or weights']))\n")
    env = dict(os.environ, SCALEFORGE_NO_SIMD="1", NUMBA_CACHE_DIR=str(tmp_path / "numba"), NUMBA_NUM_THREADS="1")
    res = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert " passed" in res.stdout


def _clustered_km_s(n, box, seed):
    """Clustered mock in km/s: half the points in Gaussian clumps (1 Mpc/h) falling in at 50 km/s per
    Mpc/h on top of 300 km/s Gaussian velocities (the sample of benchmarks/pairwise_vs_halotools.py)."""
    rng = np.random.default_rng(seed)
    pos = rng.uniform(0, box, (n, 3))
    c = rng.uniform(0, box, (max(n // 200, 1), 3))
    k = rng.integers(0, len(c), n // 2)
    pos[: n // 2] = c[k] + rng.normal(0, 1.0, (n // 2, 3))
    vel = rng.normal(0, 300.0, (n, 3))
    vel[: n // 2] += -50.0 * (pos[: n // 2] - c[k])
    return np.mod(pos, box), vel


@pytest.mark.parametrize("case", ["all", "du_L", "weighted", "cross", "nonuniform"])
def test_mixed_precision_counts_identical_and_within_error_budget(case):
    """precision="mixed" (float32 projections, float64 r bins and power sums): pair counts and weighted
    counts identical to the float64 path, moments 1-8 of all quantities and the PDFs within
    MIXED_ERROR_BUDGET. The budget is about 10x the float32 round-off the mode brings (a value's
    relative error is a few 6e-8, so an n-th moment moves by ~n times that; measured <= 6e-7 on a
    PM snapshot); accumulating the power sums in float32, or dropping the float64 r binning, would
    exceed it or change the counts."""
    from cosmo.pairwise import MIXED_ERROR_BUDGET, mixed_precision_errors

    box = 40.0
    pos, vel = _clustered_km_s(4000, box, 5)
    rb = np.logspace(-1, np.log10(15.0), 11)
    hb = np.linspace(-3000, 3000, 121) if case != "nonuniform" else np.array([-3000, -700, -150, 0, 60, 500, 3000.])
    kw = {"du_L": dict(quantities=("du_L",)), "weighted": dict(weights=np.random.default_rng(1).uniform(0.5, 2, 4000)),
          "cross": dict(pos2=pos[:1500], vel2=vel[:1500])}.get(case, {})
    p, v = (pos[1500:], vel[1500:]) if case == "cross" else (pos, vel)
    d = pair_moments(p, v, box, rb, pdf_bins=hb, backend="cpu", **kw)
    m = pair_moments(p, v, box, rb, pdf_bins=hb, backend="cpu", precision="mixed", **kw)
    assert np.array_equal(d.counts, m.counts) and np.array_equal(d.weighted_counts, m.weighted_counts)
    assert d.counts.sum() > 1e5
    e = mixed_precision_errors(d, m)
    assert set(e["moments"]) == set(d.moments) and all(len(r) == 8 for r in e["moments"].values())
    assert 0 < e["worst_moment"] <= MIXED_ERROR_BUDGET["moments"], e["moments"]
    assert e["pdf_moved"] <= MIXED_ERROR_BUDGET["pdf_moved"]
    assert e["pdf_bin_rel"] <= 1e-2   # a few values near an edge, of >= 1000 in the bin
    # the mixed results differ from the float64 ones (float32 arithmetic really ran)
    assert any(not np.array_equal(d.moments[q], m.moments[q]) for q in d.moments)


def test_mixed_precision_bad_arguments():
    from gpu.config import ConfigError
    from cosmo.pairwise import mixed_precision_errors

    rng = np.random.default_rng(0)
    pos, vel = rng.uniform(0, 10, (200, 3)), rng.normal(size=(200, 3))
    rb = np.linspace(0.1, 4, 5)
    with pytest.raises(ConfigError, match="precision"):
        pair_moments(pos, vel, 10.0, rb, precision="single")
    with pytest.raises(ConfigError, match="CPU backend only"):
        pair_moments(pos, vel, 10.0, rb, precision="mixed", backend="cuda")
    a = pair_moments(pos, vel, 10.0, rb, backend="cpu")
    b = pair_moments(pos[:150], vel[:150], 10.0, rb, backend="cpu")
    with pytest.raises(ValueError, match="counts"):
        mixed_precision_errors(a, b)
