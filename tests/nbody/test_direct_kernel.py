"""The chunked direct sum (nbody._kernels.direct.direct_accel): Newtonian/softened split, independence
of the target set and thread count, against the index-order subset kernel direct_accel_sources."""
import numba
import numpy as np

from nbody._kernels.direct import DIRECT_CHUNK, direct_accel, direct_accel_sources


def _particles():
    # 2.5 chunks of sources (a partial last chunk); clustered so that many pairs fall inside the spline
    # support; three softenings: h = 0 (unsoftened), the common one, and one particle with a support as
    # large as the cluster (every pair of its chunk goes through the softened pass); two particles on the
    # same spot (a softened r = 0 pair, summed with zero force) and two unsoftened on another spot
    # (r = 0 and h = 0: skipped)
    rng = np.random.default_rng(3)
    n = 2 * DIRECT_CHUNK + DIRECT_CHUNK // 2
    pos = rng.normal(scale=0.2, size=(n, 3))
    pos[1] = pos[0]
    pos[n - 1] = pos[n - 2]
    mass = rng.uniform(0.5, 1.5, n) / n
    h = np.full(n, 0.1)
    h[n - 40:] = 0.0
    h[DIRECT_CHUNK + 7] = 1.0
    return pos, mass, h


def test_chunked_direct_sum_matches_index_order_sum():
    # Tolerance 1e-12 relative per target: both kernels sum the same pair terms (spline_force_factor's
    # formula, Newtonian beyond the support), in a different order (chunks, vectorised partial sums,
    # Newtonian and softened passes apart); the round-off of either order is < N eps ~ 640 x 1.1e-16 of
    # the sum of |terms|, which exceeds |a| by less than a factor 100 here (checked).
    pos, mass, h = _particles()
    n = len(mass)
    t = np.arange(n, dtype=np.int64)
    for G, want in ((1.0, True), (0.37, False)):
        a, p = direct_accel(t, pos, mass, h, G, want)
        a0, p0 = direct_accel_sources(pos, h, pos, mass, h, G, want, t)
        amag = np.linalg.norm(a0, axis=1)
        d = pos[None, :, :] - pos[:, None, :]
        r = np.linalg.norm(d, axis=-1)
        with np.errstate(divide="ignore"):
            terms = np.where(r > np.maximum(h[:, None], h[None, :]), mass[None, :] / r**2, 0.0).sum(axis=1)
        assert np.all(terms < 100 * amag / G)
        assert np.max(np.linalg.norm(a - a0, axis=1) / amag) < 1e-12
        if want:
            assert np.max(np.abs(p - p0) / np.abs(p0)) < 1e-12
        else:
            assert np.all(p == 0.0)
        # the softened pass was exercised: pairs inside the support in every chunk
        hij = np.maximum(h[:, None], h[None, :])
        assert np.sum((r < hij) & (r > 0)) > n


def test_direct_rows_do_not_depend_on_the_targets_or_threads():
    # A target's sum runs over the chunks in index order whatever block it is in: the rows of a subset,
    # in any order, and the rows computed with one thread equal those of the full call bit for bit.
    pos, mass, h = _particles()
    n = len(mass)
    t = np.arange(n, dtype=np.int64)
    a, p = direct_accel(t, pos, mass, h, 1.0, True)
    sub = np.random.default_rng(1).permutation(n)[:37].astype(np.int64)
    a1, p1 = direct_accel(sub, pos, mass, h, 1.0, True)
    assert np.array_equal(a1, a[sub]) and np.array_equal(p1, p[sub])
    nthreads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        a2, p2 = direct_accel(t, pos, mass, h, 1.0, True)
    finally:
        numba.set_num_threads(nthreads)
    assert np.array_equal(a2, a) and np.array_equal(p2, p)


def test_rsqrt_is_one_over_sqrt_to_two_ulp():
    # Lomont's first guess and four Newton steps: the relative error squares each step from < 3.5e-2,
    # so only round-off remains (measured 3.9e-16); bound 4.5e-16 relative (about 2 ulp), over the whole normal range
    # of float64 (the first guess is worst at the ends of an octave, hence many values per octave)
    from numba import njit

    from nbody._kernels.direct import rsqrt

    @njit
    def apply(x):
        out = np.empty_like(x)
        for i in range(x.shape[0]):
            out[i] = rsqrt(x[i])
        return out

    rng = np.random.default_rng(0)
    x = np.concatenate([10.0 ** rng.uniform(-307, 308, 200_000), rng.uniform(1.0, 4.0, 200_000),
                        [np.finfo(float).tiny, 1.0, 2.0, 4.0, np.finfo(float).max]])
    ref = 1.0 / np.sqrt(x)
    rel = np.abs(apply(x) - ref) / ref
    assert rel.max() <= 4.5e-16
