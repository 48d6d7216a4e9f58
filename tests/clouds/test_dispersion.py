"""eps-N_c from parcel ascents (aerosol- vs updraft-driven), the eps(N_c) closure and Liu-Daum beta_6."""
import numpy as np
import pytest

from clouds import autoconversion, diagnostics
from clouds import dispersion as dsp

NA = np.geomspace(50, 2000, 4) * 1e6
WS = np.geomspace(0.25, 4.0, 4)


def _slope(points):
    return diagnostics.linear_fit([p["N_c_cm3"] for p in points],
                                         [p["relative_dispersion"] for p in points])[1]


def test_adiabatic_sweeps_give_opposite_slopes():
    """Aerosol-driven N_c: eps rises with N_c; updraft-driven: eps falls (adiabatic parcels, 200 m above base).

    The ascents are deterministic; their only noise is the superdroplet discretisation of the aerosol.
    Measured over n_sd = 96, 100, ..., 132 (10 sets): aerosol slope 5.8e-5 +- 2.1e-5 (min 4.5e-5),
    updraft slope -8.5e-5 +- 1.9e-5 (max -6.2e-5) per cm^-3, so the signs and a gap of 5e-5 hold with
    margin at n_sd = 100.
    """
    aer = dsp.sweep("aerosol", NA, 1.0, n_sd=100)
    upd = dsp.sweep("updraft", WS, 600e6, n_sd=100)
    b_aer, b_upd = _slope(aer), _slope(upd)
    assert b_aer > 0 > b_upd
    assert b_aer - b_upd > 5e-5
    # N_c follows the driver: more aerosol or a stronger updraft activates more droplets
    assert np.all(np.diff([p["N_c_cm3"] for p in aer]) > 0) and np.all(np.diff([p["N_c_cm3"] for p in upd]) > 0)
    # the peak supersaturation falls with aerosol and rises with w (Twomey 1959)
    assert np.all(np.diff([p["S_max_percent"] for p in aer]) < 0) and np.all(np.diff([p["S_max_percent"] for p in upd]) > 0)
    for p in aer + upd:
        assert p["N_c_cm3"] <= p["N_a_cm3"] * (1 + 1e-12)
        assert p["z_m"] == pytest.approx(p["z_cloud_base_m"] + 200.0, abs=1e-9)
    # at a fixed height above cloud base the adiabatic LWC hardly depends on N_c (measured spread 2 %),
    # so the eps-N_c relation is not an artefact of liquid water growing with N_c
    lwc = np.array([p["lwc_g_m3"] for p in aer])
    assert np.ptp(lwc) / lwc.mean() < 0.05


def test_ascent_bad_input():
    with pytest.raises(ValueError, match="N_a"):
        dsp.ascent(0.0, 1.0)
    with pytest.raises(ValueError, match="updraft w"):
        dsp.ascent(1e8, -1.0)
    with pytest.raises(ValueError, match="rh"):
        dsp.ascent(1e8, 1.0, rh=1.0)
    with pytest.raises(ValueError, match="sweep kind"):
        dsp.sweep("mixing", [1e8], 1.0)


def test_dispersion_closure_is_the_martin_line():
    """Default closure = Martin et al. (1994) as used by Morrison & Gettelman (2008)."""
    N = np.array([0.0, 100.0, 500.0, 1000.0])
    assert np.allclose(autoconversion.dispersion_closure(N), 0.0005714 * N + 0.2714, rtol=0, atol=1e-15)
    # fitted coefficients are used as given; negative values are clipped at eps_min
    assert autoconversion.dispersion_closure(400.0, -1e-3, 0.3) == 0.0
    assert autoconversion.dispersion_closure(100.0, -1e-3, 0.3) == pytest.approx(0.2)
    lo, hi = autoconversion.MG08_EPS_RANGE
    clipped = autoconversion.dispersion_closure(N, eps_min=lo, eps_max=hi)
    assert clipped.min() == pytest.approx(1 / np.sqrt(11)) and clipped.max() == pytest.approx(1 / np.sqrt(3))
    # MG08's shape mu = 1/eps^2 - 1 then lies in [2, 10]
    mu = 1 / clipped ** 2 - 1
    assert mu.min() == pytest.approx(2.0) and mu.max() == pytest.approx(10.0)
    for bad in (-1.0, np.nan):
        with pytest.raises(ValueError, match="N_c"):
            autoconversion.dispersion_closure(bad)


def test_beta6_known_values():
    """Liu & Daum (2004) beta_6 at eps = 1/2: ((7/4)(2)(9/4) / ((5/4)(3/2)))^(1/6) = 4.2^(1/6)."""
    assert autoconversion.beta6(0.5) == pytest.approx(4.2 ** (1 / 6), rel=1e-14)
    # eps = 1: (4 * 5 * 6 / (2 * 3))^(1/6) = 20^(1/6)
    assert autoconversion.beta6(1.0) == pytest.approx(20.0 ** (1 / 6), rel=1e-14)
    # small eps: beta_6^6 = 1 + 9 eps^2 + O(eps^4)
    e = 1e-4
    assert (autoconversion.beta6(e) ** 6 - 1) / e ** 2 == pytest.approx(9.0, rel=1e-6)


def test_closure_vs_fixed_ratio():
    """Without the threshold the rate ratio is (beta_6(eps(N)) / beta_6(eps_fixed))^6 for any L, N."""
    N = np.array([50e6, 200e6, 800e6])
    res = autoconversion.closure_vs_fixed(0.5e-3, N, 0.36, threshold=False)
    eps = 0.0005714 * N / 1e6 + 0.2714
    assert np.allclose(res["eps_closure"], eps)
    assert np.allclose(res["ratio"], (autoconversion.beta6(eps) / autoconversion.beta6(0.36)) ** 6, rtol=1e-12)
    # where the closure gives eps = 0.36 the schemes agree
    N36 = (0.36 - 0.2714) / 0.0005714 * 1e6
    assert autoconversion.closure_vs_fixed(0.5e-3, N36, 0.36)["ratio"] == pytest.approx(1.0, rel=1e-12)
    # with the threshold, a fixed-eps rate of 0 gives NaN, never a division by zero
    thr = autoconversion.closure_vs_fixed(1e-6, 1e9, 0.0, threshold=True)
    assert thr["rate_fixed"] == 0 and np.isnan(thr["ratio"])


def test_linear_fit_matches_scipy():
    from scipy import stats

    rng = np.random.default_rng(4)
    x = np.linspace(0, 10, 12)
    y = 0.3 + 0.02 * x + rng.normal(0, 0.01, x.size)
    a, b, sa, sb, rc = diagnostics.linear_fit(x, y)
    ref = stats.linregress(x, y)
    assert (a, b, sa, sb, rc) == pytest.approx((ref.intercept, ref.slope, ref.intercept_stderr, ref.stderr, ref.rvalue),
                                               rel=1e-10)
    with pytest.raises(ValueError):
        diagnostics.linear_fit([1, 2], [1, 2])
