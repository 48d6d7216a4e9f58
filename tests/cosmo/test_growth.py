"""GR and scale-dependent linear growth."""
import numpy as np
import pytest
from astropy.cosmology import FlatLambdaCDM, Planck18

from cosmo.growth import (growth_factor, growth_factor_k, growth_integral_solution, growth_rate, growth_rate_k,
                          solve_growth)

A = np.array([0.2, 0.33, 0.5, 0.7, 1.0])


def test_normalisation():
    assert growth_factor(1.0) == pytest.approx(1.0, abs=1e-12)


def test_growth_rate_vs_omega_m_055():
    # Linder (2005): f = Omega_m(z)^0.55 to better than ~1% in LCDM
    f = growth_rate(A)
    assert np.allclose(f, Planck18.Om(1 / A - 1) ** 0.55, rtol=0.01)


def test_D_vs_integral_solution_without_radiation():
    c = FlatLambdaCDM(H0=70, Om0=0.3, Ob0=0.05, Tcmb0=0)
    assert np.allclose(growth_factor(A, c), growth_integral_solution(A, c), rtol=1e-6)


def test_eds_exact():
    c = FlatLambdaCDM(H0=70, Om0=1.0, Ob0=0.05, Tcmb0=0)
    assert np.allclose(growth_factor(A, c), A, rtol=1e-6)
    assert np.allclose(growth_rate(A, c), 1.0, rtol=1e-6)


def test_constant_mu_power_law_in_eds():
    # D'' + D'/2 - (3/2) mu D = 0 in EdS: D ∝ a^p, p = (-1 + sqrt(1 + 24 mu)) / 4
    c = FlatLambdaCDM(H0=70, Om0=1.0, Ob0=0.05, Tcmb0=0)
    mu = 1.3
    _, f = solve_growth([0.1], A, mu=lambda k, a: np.full_like(k, mu), cosmology=c)
    p = (-1 + np.sqrt(1 + 24 * mu)) / 4
    assert np.allclose(f[0, A >= 0.2], p, rtol=2e-3)  # transient from the mu=1 initial mode decays as a^-(p+...)


def test_gr_scale_independent_and_consistent():
    k = np.logspace(-3, 0, 7)
    D, f = solve_growth(k, A)
    assert np.allclose(D, D[0], rtol=1e-12) and np.allclose(f, f[0], rtol=1e-12)
    assert np.allclose(D[0], growth_factor(A), rtol=1e-6)
    assert np.allclose(f[0], growth_rate(A), rtol=1e-6)


def test_mu_object_and_shapes():
    class Model:
        def mu(self, k, a):
            return 1 + 0.1 * k / (k + 0.1)

    k = np.array([1e-3, 1.0])
    D = growth_factor_k(k, A, Model())
    f = growth_rate_k(k, A, Model())
    assert D.shape == (2, A.size)
    assert D[1, -1] > D[0, -1] > 0.99 and f[1, -1] > f[0, -1]


def test_bad_input():
    with pytest.raises(ValueError, match="scale factor"):
        growth_factor(-0.5)
    with pytest.raises(ValueError, match="wavenumbers"):
        solve_growth([-1.0], A)
    with pytest.raises(TypeError, match="mu"):
        solve_growth([0.1], A, mu=3.0)
