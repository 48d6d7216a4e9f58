"""Linear P(k): CAMB vs Eisenstein-Hu, sigma_8, units and bad input."""
import astropy.units as u
import numpy as np
import pytest
from astropy.cosmology import FlatLambdaCDM

from cosmo.power import camb_sigma8, eh_transfer, linear_power, nonlinear_power, sigma8_of, sigma_R, tophat_window

K = np.logspace(-3, 0, 120)


def test_eh_vs_camb_few_percent():
    # EH98 quote residuals of a few per cent in T(k) (hence ~5% in P) against Boltzmann codes
    pc = linear_power(K, 0.0, method="camb")
    pe = linear_power(K, 0.0, method="eh")
    rel = pe / pc - 1
    assert np.max(np.abs(rel)) < 0.06
    assert np.sqrt(np.mean(rel**2)) < 0.035


def test_sigma8_normalisation_both_methods():
    assert sigma8_of(method="camb") == pytest.approx(0.8102, rel=2e-4)
    assert sigma8_of(method="eh") == pytest.approx(0.8102, rel=2e-4)
    assert sigma8_of(method="eh", sigma8=0.75) == pytest.approx(0.75, rel=2e-4)


def test_camb_sigma8_from_As_matches_planck():
    # Planck 2018 (TT,TE,EE+lowE+lensing+BAO): A_s = 2.105e-9 -> sigma_8 = 0.8102 +- 0.0060
    assert camb_sigma8() == pytest.approx(0.8102, abs=0.006)


def test_growth_scaling_of_eh_and_camb():
    from cosmo.growth import growth_factor

    d = growth_factor(z=1.0)
    for m in ("eh", "camb"):
        r = linear_power(0.05, 1.0, method=m) / linear_power(0.05, 0.0, method=m)
        # CAMB includes neutrino free-streaming (scale-dependent growth at the 0.1% level here)
        assert r == pytest.approx(d * d, rel=3e-3)


def test_eh_limits():
    assert eh_transfer(1e-5) == pytest.approx(1.0, abs=1e-3)
    t = eh_transfer(np.logspace(-4, 1, 200))
    assert np.all(t > 0) and np.all(t <= 1.0 + 1e-3)


def test_tophat_and_sigma_R_analytic():
    # white noise P = A: sigma^2(R) = int 4 pi k^2 A W^2 / (2 pi)^3 = 3 A / (4 pi R^3) ... (int x^2 W^2 dx = 3 pi / 2)
    k = np.logspace(-4, 4, 40000)
    R = 5.0
    s = sigma_R(R, k, np.ones_like(k))
    assert s**2 == pytest.approx(3.0 / (4 * np.pi * R**3), rel=1e-3)
    assert tophat_window(1e-6) == pytest.approx(1.0)


def test_quantity_input_and_shapes():
    h = 0.6766
    p1 = linear_power(0.1, 0.0, method="eh")
    p2 = linear_power(0.1 * h / u.Mpc, 0.0, method="eh")
    assert p2 == pytest.approx(p1, rel=1e-12)
    assert linear_power(K, [0.0, 1.0, 2.0], method="eh").shape == (3, K.size)


def test_other_cosmology_changes_shape():
    c = FlatLambdaCDM(H0=70, Om0=0.25, Ob0=0.045, Tcmb0=2.7255, meta={"n": 0.96, "sigma8": 0.8})
    assert sigma8_of(c, method="eh") == pytest.approx(0.8, rel=2e-4)
    assert not np.allclose(linear_power(K, 0, c, "eh"), linear_power(K, 0, None, "eh"), rtol=0.02)


@pytest.mark.parametrize("kw,match", [({"method": "class"}, "method"), ({"z": -1.0}, "redshift"),
                                      ({"sigma8": -0.1}, "sigma8")])
def test_bad_input(kw, match):
    args = {"k": K, "z": 0.0, "method": "eh"}
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        linear_power(**args)
    with pytest.raises(ValueError, match="k must"):
        linear_power(np.array([-1.0, 0.1]), method="eh")
    with pytest.raises(TypeError, match="cosmology"):
        linear_power(K, cosmology="planck")


def test_nonlinear_power_has_no_eh_fallback():
    # there is no non-linear Eisenstein-Hu model: refused, never the linear spectrum in disguise
    with pytest.raises(ValueError, match='no method="eh"'):
        nonlinear_power(K, 0.0, method="eh")
