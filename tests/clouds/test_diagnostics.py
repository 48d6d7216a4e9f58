"""Diagnostics, Liu-Daum autoconversion and the observation reader."""
import numpy as np
import pytest
from scipy import special

from clouds import autoconversion, diagnostics, droplets, observations


def test_beta6_equals_gamma_moment_ratio():
    # beta_6 = (<r^6>)^(1/6) / (<r^3>)^(1/3) for a gamma spectrum with dispersion eps (independent check)
    for eps in (0.05, 0.2, 0.36, 0.6):
        a = 1 / eps ** 2              # gamma shape; sigma/mean = 1/sqrt(a)
        m = lambda k: np.exp(special.gammaln(a + k) - special.gammaln(a))  # noqa: E731  moments / scale^k
        ratio = m(6) ** (1 / 6) / m(3) ** (1 / 3)
        assert autoconversion.beta6(eps) == pytest.approx(ratio, rel=1e-12)
    assert autoconversion.beta6(0.0) == 1.0


def test_autoconversion_scaling_and_dispersion_effect():
    L, N = 1e-3, 1e8
    P = autoconversion.autoconversion_rate(L, N, 0.36, threshold=False)
    assert autoconversion.autoconversion_rate(2 * L, N, 0.36, threshold=False) == pytest.approx(8 * P)
    assert autoconversion.autoconversion_rate(L, 2 * N, 0.36, threshold=False) == pytest.approx(P / 2)
    # broader spectra convert faster (beta_6^6 grows with eps)
    assert autoconversion.autoconversion_rate(L, N, 0.5, threshold=False) > P > \
        autoconversion.autoconversion_rate(L, N, 0.1, threshold=False)
    # threshold: a polluted thin cloud (small droplets) gives zero, a clean wet one does not
    assert autoconversion.autoconversion_rate(0.1e-3, 1e9, 0.3) == 0.0
    assert autoconversion.autoconversion_rate(2e-3, 5e7, 0.3) > 0.0
    with pytest.raises(ValueError, match="number concentration"):
        autoconversion.autoconversion_rate(L, -1.0, 0.3)


def test_spectrum_diagnostics_on_gamma_quadrature():
    r, n = droplets.gamma(1e8, 10e-6, 25.0, 20000)
    assert diagnostics.mean_radius(r, n) == pytest.approx(10e-6, rel=1e-3)
    assert diagnostics.relative_dispersion(r, n) == pytest.approx(0.2, rel=5e-3)
    # effective radius of a gamma spectrum: mean * (a + 2) / a
    assert diagnostics.effective_radius(r, n) == pytest.approx(10e-6 * 27 / 25, rel=2e-3)
    lwc = diagnostics.liquid_water(r, n)
    assert lwc == pytest.approx(4 / 3 * np.pi * 1000 * 1e8 * (10e-6 / 25) ** 3 * 25 * 26 * 27, rel=3e-3)
    a, b, rc = diagnostics.linear_fit([1, 2, 3, 4], [1.5, 2.0, 2.5, 3.0])
    assert (a, b, rc) == pytest.approx((1.0, 0.5, 1.0))
    with pytest.raises(ValueError, match="number concentration"):
        diagnostics.mean_radius([1e-6], [-1.0])


def test_lognormal_and_histogram_samplers():
    r, n = droplets.lognormal(1e8, 50e-9, 1.5, 400)
    assert n.sum() == pytest.approx(1e8)
    # median of the lognormal
    c = np.cumsum(n) / n.sum()
    assert r[np.searchsorted(c, 0.5)] == pytest.approx(50e-9, rel=0.02)
    r2, n2 = droplets.from_histogram([1e-6, 2e-6, 3e-6], [10.0, 30.0], n_per_bin=4)
    assert n2.sum() == pytest.approx(40.0) and r2.size == 8 and r2.min() > 1e-6 and r2.max() < 3e-6


def test_observation_reader_roundtrip(tmp_path):
    spec = observations.make_synthetic(seed=7, n_times=4)
    observations.write_spectrum_csv(tmp_path / "s.csv", spec)
    back = observations.read_spectrum(tmp_path / "s.csv")
    assert np.allclose(back.edges, spec.edges) and np.allclose(back.concentration, spec.concentration, rtol=1e-5)
    import h5py
    with h5py.File(tmp_path / "s.h5", "w") as f:
        f["bin_edges"] = spec.edges
        f["time"] = spec.time
        f["concentration"] = spec.concentration
    h = observations.read_spectrum(tmp_path / "s.h5")
    assert np.array_equal(h.concentration, spec.concentration)
    (tmp_path / "bad.csv").write_text("edges_um, 1, 2, 3\n0, 1, -2\n")
    with pytest.raises(ValueError, match="negative number concentration"):
        observations.read_spectrum(tmp_path / "bad.csv")


def test_shipped_synthetic_file():
    obs = observations.read_spectrum(observations.SYNTHETIC)
    m = obs.moments()
    assert obs.concentration.shape == (12, 24)
    # documented ranges: N_c 100-600 cm^-3, dispersion 0.2-0.5, LWC ~ 0.6 g/m^3
    assert 80e6 < m["N_c"].min() and m["N_c"].max() < 650e6
    assert 0.15 < m["relative_dispersion"].min() and m["relative_dispersion"].max() < 0.55
    assert np.all(np.abs(m["lwc"] / 0.6e-3 - 1) < 0.3)
    # dispersion rises with N_c in this synthetic set
    a, b, rc = diagnostics.linear_fit(m["N_c"] / 1e6, m["relative_dispersion"])
    assert b > 0 and rc > 0.8
    r = obs.sample(5000, rng=1, time_index=3)
    assert diagnostics.mean_radius(r) == pytest.approx(m["r_mean"][3], rel=0.05)
