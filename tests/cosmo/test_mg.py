"""Modified-gravity models: limits of mu and Sigma, E_G(k, z) in GR and f(R)."""
import numpy as np
import pytest
from astropy.cosmology import FlatLambdaCDM, Planck18

from cosmo.growth import growth_integral_solution, solve_growth
from cosmo.mg import GR, BertschingerZukin, HuSawicki, MuSigma, e_g, make_model

K = np.logspace(-4, 1, 60)


def test_hu_sawicki_mu_limits_and_sigma():
    m = HuSawicki(fR0=1e-5, n=1).bind(None)
    a = 0.7
    am = a * m.mass(a)
    assert m.mu(1e3 * am, a) == pytest.approx(4.0 / 3.0, rel=1e-6)
    assert m.mu(1e-3 * am, a) == pytest.approx(1.0, abs=1e-6)
    assert m.mu(am, a) == pytest.approx(1 + 1 / 6.0, rel=1e-12)
    assert np.all(m.sigma(K, a) == 1.0)


def test_hu_sawicki_compton_wavelength():
    # m0 = (H0/c) sqrt((Om + 4 OL)/((n+1) fR0)): fR0 = 1e-4, Planck18 -> 1/m0 ~ 24 Mpc/h
    m = HuSawicki(fR0=1e-4, n=1).bind(None)
    om, ol = Planck18.Om0, Planck18.Ode0
    expect = (100 / 299792.458) * np.sqrt((om + 4 * ol) / (2 * 1e-4))
    assert m.mass(1.0) == pytest.approx(expect, rel=1e-12)
    assert 20 < 1 / m.mass(1.0) < 30


def test_eg_gr_equals_omega_m_over_f_independent():
    # independent f from the Heath integral solution (no radiation), finite difference in ln a
    c = FlatLambdaCDM(H0=67.66, Om0=0.31, Ob0=0.049, Tcmb0=0)
    z = np.array([0.5, 0.73, 1.33, 1.84])
    a = 1 / (1 + z)
    h = 1e-4
    f_int = (np.log(growth_integral_solution(a=a * np.exp(h), cosmology=c))
             - np.log(growth_integral_solution(a=a * np.exp(-h), cosmology=c))) / (2 * h)
    eg = e_g(GR(), [0.01, 0.1], z=z, cosmology=c)
    assert eg.shape == (z.size, 2)  # (n_z, n_k)
    assert np.allclose(eg, 0.31 / f_int[:, None], rtol=1e-5)


def test_fr_eg_large_scale_limit_and_suppression():
    z = np.array([0.73])
    gr = e_g(GR(), K, z=z)[0]
    fr = e_g(HuSawicki(1e-5), K, z=z)[0]
    assert fr[0] == pytest.approx(gr[0], rel=1e-4)         # k -> 0: GR
    assert np.all(np.diff(fr) <= 1e-12)                    # monotonically suppressed towards small scales
    assert fr[-1] < 0.9 * gr[-1]


def test_fr_small_scale_limit_matches_constant_mu_in_eds():
    # EdS background: mu = 4/3 for k >> a m at all relevant times -> f = (-1 + sqrt(1 + 32)) / 4 = 1.186
    c = FlatLambdaCDM(H0=70, Om0=1.0, Ob0=0.05, Tcmb0=0)
    m = HuSawicki(fR0=1e-3, n=1, Om0=1.0, Ode0=0.0)
    _, f = solve_growth([1e3], a=[1.0], mu=m, cosmology=c)
    p = (-1 + np.sqrt(33.0)) / 4
    assert f[0, 0] == pytest.approx(p, rel=5e-3)
    eg = e_g(m, [1e3], z=[0.0], cosmology=c)
    assert eg[0, 0] == pytest.approx(1.0 / p, rel=5e-3)


def test_bz_fr_mapping_and_chameleon_sigma_one():
    lam = 500.0
    bz = BertschingerZukin(beta1=4 / 3, lambda1_sq=lam, s=4, beta2=0.5, lambda2_sq=4 / 3 * lam)
    a = np.array([0.3, 0.6, 1.0])
    assert np.allclose(bz.sigma(K[:, None], a[None]), 1.0, rtol=1e-12)
    ch = BertschingerZukin.chameleon(beta1=1.5, lambda1_sq=1e3)
    assert np.allclose(ch.sigma(K[:, None], a[None]), 1.0, rtol=1e-12)
    assert ch.mu(1e4, 1.0) == pytest.approx(1.5, rel=1e-4)
    assert ch.mu(1e-5, 1.0) == pytest.approx(1.0, rel=1e-6)
    gen = BertschingerZukin(beta1=1.2, lambda1_sq=1e3, beta2=2.0, lambda2_sq=1e3)
    assert gen.sigma(1e4, 1.0) == pytest.approx(1.2 * 1.5, rel=1e-3)


def test_mu_sigma_generic_and_factory():
    m = MuSigma(mu0=0.1, sigma0=-0.05)
    assert m.mu(0.1, 1.0) == pytest.approx(1.1)
    assert m.sigma(0.1, 1.0) == pytest.approx(0.95)
    assert m.mu(0.1, 1e-3) == pytest.approx(1.0, abs=1e-6)
    f = MuSigma(mu0=lambda k, a: 1 + 0 * k, sigma0=lambda k, a: 1.2 + 0 * k)
    assert e_g(f, [0.1], z=[0.5])[0, 0] == pytest.approx(1.2 * e_g(GR(), [0.1], z=[0.5])[0, 0], rel=1e-6)
    assert isinstance(make_model({"type": "hu_sawicki", "fR0": 1e-6}), HuSawicki)
    with pytest.raises(ValueError, match="unknown"):
        make_model({"type": "dgp"})
    with pytest.raises(ValueError, match="fR0"):
        HuSawicki(fR0=-1e-5)
    with pytest.raises(ValueError, match="bad parameters"):
        make_model({"type": "hu_sawicki", "f_R0": 1e-5})


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(k=st.floats(1e-5, 1e3), a=st.floats(0.05, 1.0), lfr=st.floats(-7, -3),
       beta1=st.floats(1.01, 3.0), lam=st.floats(1.0, 1e5))
def test_mu_bounds_and_sigma_property(k, a, lfr, beta1, lam):
    hs = HuSawicki(fR0=10**lfr).bind(None)
    assert 1.0 <= hs.mu(k, a) <= 4.0 / 3.0 + 1e-12
    ch = BertschingerZukin.chameleon(beta1=beta1, lambda1_sq=lam)
    assert 1.0 - 1e-12 <= ch.mu(k, a) <= beta1 + 1e-12
    assert ch.sigma(k, a) == pytest.approx(1.0, rel=1e-10)


def test_e_g_takes_z_by_keyword_only():
    # the old call e_g(model, k, z) returned (n_k, n_z): refused now rather than silently transposed
    with pytest.raises(TypeError, match="by keyword"):
        e_g(GR(), [0.1], [0.5])
