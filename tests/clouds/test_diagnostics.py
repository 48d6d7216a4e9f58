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
    a, b, _, _, rc = diagnostics.linear_fit([1, 2, 3, 4], [1.5, 2.0, 2.5, 3.0])
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
    a, b, _, _, rc = diagnostics.linear_fit(m["N_c"] / 1e6, m["relative_dispersion"])
    assert b > 0 and rc > 0.8
    r = obs.sample(5000, rng=1, time_index=3)
    assert diagnostics.mean_radius(r) == pytest.approx(m["r_mean"][3], rel=0.05)


def test_shipped_spectra_state_their_provenance():
    """Every file in clouds/data/ says what it is (tabulated/digitised with a source, or a synthetic fixture)."""
    files = sorted(observations.DATA_DIR.glob("*.csv")) + sorted(observations.DATA_DIR.glob("*.h5"))
    assert files
    for path in files:
        spec = observations.read_spectrum(path)
        assert spec.kind in observations.KINDS, path.name
        assert len(spec.meta.get("source", "")) > 20, f"{path.name} must cite its source"
    fixture = observations.read_spectrum(observations.SYNTHETIC)
    assert fixture.kind == "synthetic test fixture" and not fixture.is_observed
    assert observations.SYNTHETIC not in observations.shipped_spectra("observed")


def test_growth_coefficient_of_a_spectrum(tmp_path):
    """c_m of a spectrum is the number-weighted mean of G/r at the bin centres (cm/s)."""
    from clouds import growth

    G = float(growth.growth_parameter(285.0, 8.5e4))
    one_bin = observations.ObservedSpectrum([9e-6, 11e-6], [0.0], [[5e7]], {"T_K": "285", "p_hPa": "850"})
    assert observations.growth_coefficient(one_bin)[0] == pytest.approx(100 * G / 10e-6, rel=1e-12)
    two = observations.ObservedSpectrum([4e-6, 6e-6, 19e-6, 21e-6], [0.0], [[1e8, 0.0, 3e8]])
    expect = 100 * G * (1e8 / 5e-6 + 3e8 / 20e-6) / 4e8
    assert observations.growth_coefficient(two, T=285.0, p=8.5e4)[0] == pytest.approx(expect, rel=1e-12)
    # r_min drops the small bin
    assert observations.growth_coefficient(two, 285.0, 8.5e4, r_min=10e-6)[0] == pytest.approx(100 * G / 20e-6)
    with pytest.raises(ValueError, match="temperature T"):
        observations.growth_coefficient(two)
    # metadata round trip through the CSV layout keeps kind, source, T and p
    spec = observations.make_synthetic(seed=3, n_times=2)
    spec.meta.update(T_K="285", p_hPa="850")
    observations.write_spectrum_csv(tmp_path / "f.csv", spec)
    back = observations.read_spectrum(tmp_path / "f.csv")
    assert back.kind == "synthetic test fixture" and back.meta["T_K"] == "285"
    assert np.allclose(observations.growth_coefficient(back), observations.growth_coefficient(spec), rtol=1e-5)
