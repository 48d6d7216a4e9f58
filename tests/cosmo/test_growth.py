"""GR and scale-dependent linear growth."""
import numpy as np
import pytest
from astropy.cosmology import FlatLambdaCDM, Planck18

from cosmo.growth import (growth_factor, growth_factor_k, growth_integral_solution, growth_rate, growth_rate_k,
                          solve_growth)

A = np.array([0.2, 0.33, 0.5, 0.7, 1.0])


def test_normalisation():
    assert growth_factor(z=0.0) == pytest.approx(1.0, abs=1e-12)


def test_growth_rate_vs_omega_m_055():
    # Linder (2005): f = Omega_m(z)^0.55 to better than ~1% in LCDM
    f = growth_rate(a=A)
    assert np.allclose(f, Planck18.Om(1 / A - 1) ** 0.55, rtol=0.01)


def test_D_vs_integral_solution_without_radiation():
    c = FlatLambdaCDM(H0=70, Om0=0.3, Ob0=0.05, Tcmb0=0)
    assert np.allclose(growth_factor(a=A, cosmology=c), growth_integral_solution(a=A, cosmology=c), rtol=1e-6)


def test_eds_exact():
    c = FlatLambdaCDM(H0=70, Om0=1.0, Ob0=0.05, Tcmb0=0)
    assert np.allclose(growth_factor(a=A, cosmology=c), A, rtol=1e-6)
    assert np.allclose(growth_rate(a=A, cosmology=c), 1.0, rtol=1e-6)


def test_constant_mu_power_law_in_eds():
    # D'' + D'/2 - (3/2) mu D = 0 in EdS: D ∝ a^p, p = (-1 + sqrt(1 + 24 mu)) / 4
    c = FlatLambdaCDM(H0=70, Om0=1.0, Ob0=0.05, Tcmb0=0)
    mu = 1.3
    _, f = solve_growth([0.1], a=A, mu=lambda k, a: np.full_like(k, mu), cosmology=c)
    p = (-1 + np.sqrt(1 + 24 * mu)) / 4
    assert np.allclose(f[A >= 0.2, 0], p, rtol=2e-3)  # transient from the mu=1 initial mode decays as a^-(p+...)


def test_gr_scale_independent_and_consistent():
    k = np.logspace(-3, 0, 7)
    D, f = solve_growth(k, a=A)
    assert D.shape == f.shape == (A.size, k.size)  # (n_z, n_k)
    assert np.allclose(D, D[:, :1], rtol=1e-12) and np.allclose(f, f[:, :1], rtol=1e-12)
    assert np.allclose(D[:, 0], growth_factor(a=A), rtol=1e-6)
    assert np.allclose(f[:, 0], growth_rate(a=A), rtol=1e-6)
    z = 1 / A - 1
    assert np.array_equal(growth_factor(z=z), growth_factor(a=1 / (1 + z)))
    assert np.array_equal(solve_growth(k, z=z)[1], solve_growth(k, a=1 / (1 + z))[1])


def test_mu_object_and_shapes():
    class Model:
        def mu(self, k, a):
            return 1 + 0.1 * k / (k + 0.1)

    k = np.array([1e-3, 1.0])
    D = growth_factor_k(k, a=A, mu=Model())
    f = growth_rate_k(k, a=A, mu=Model())
    assert D.shape == f.shape == (A.size, 2)  # (n_z, n_k)
    assert D[-1, 1] > D[-1, 0] > 0.99 and f[-1, 1] > f[-1, 0]


def test_bad_input():
    with pytest.raises(ValueError, match="scale factor"):
        growth_factor(a=-0.5)
    with pytest.raises(ValueError, match="redshift z"):
        growth_factor(z=-1.0)
    with pytest.raises(ValueError, match="wavenumbers"):
        solve_growth([-1.0], a=A)
    with pytest.raises(TypeError, match="mu"):
        solve_growth([0.1], a=A, mu=3.0)


@pytest.mark.parametrize("call", [lambda: growth_factor(0.5), lambda: growth_rate(0.5),
                                  lambda: growth_integral_solution(0.5), lambda: solve_growth([0.1], [0.5]),
                                  lambda: growth_factor_k([0.1], [0.5]), lambda: growth_rate_k([0.1], [0.5])])
def test_positional_epoch_is_refused(call):
    # the old API took the scale factor positionally: now an epoch must be named z= or a=
    with pytest.raises(TypeError, match="z=<redshift> or a=<scale factor>"):
        call()


def test_exactly_one_epoch():
    with pytest.raises(TypeError, match="exactly one"):
        growth_factor(z=0.5, a=0.5)
    with pytest.raises(TypeError, match="exactly one"):
        growth_rate()
