"""Analytic checks of nbody.galaxy_physics: the hardening-rate estimator, SHM06's H(a) and the influence sphere."""
import numpy as np
import pytest

from nbody.galaxy_physics import (hard_binary_separation, hardening_rate, influence_quantities,
                                  quinlan_hard_separation, sesana_hardening_H)


def test_hardening_rate_recovers_H_with_time_dependent_background():
    # d(1/a)/dt = H G rho(t)/sigma(t) integrated exactly for rho = rho0 exp(-t/T), sigma constant
    H0, rho0, T, sig = 13.0, 1.4, 5.0, 0.37
    t = np.linspace(2.0, 12.0, 321)
    inv_a = 100.0 + H0 * rho0 * T / sig * (np.exp(-2.0 / T) - np.exp(-t / T))
    H = hardening_rate(t, 1 / inv_a, sig, rho0 * np.exp(-t / T))
    assert H == pytest.approx(H0, rel=1e-4)  # trapezoidal tau: O(dt^2)
    # taking rho at the start of the window instead (the old measurement) underestimates H
    assert hardening_rate(t, 1 / inv_a, sig, rho0 * np.exp(-2.0 / T)) < 0.6 * H0


def test_hardening_rate_constant_background_is_slope_times_sigma_over_rho():
    t = np.linspace(0, 4, 50)
    rng = np.random.default_rng(1)
    inv_a = 50 + 30 * t + rng.normal(0, 1, t.size)
    slope = np.polyfit(t, inv_a, 1)[0]
    assert hardening_rate(t, 1 / inv_a, 0.3, 1.2) == pytest.approx(0.3 / 1.2 * slope, rel=1e-12)


@pytest.mark.parametrize("kw, msg", [({"a": [0.01, -0.02, 0.01]}, "a must be positive"),
                                     ({"t": [0.0, 0.0, 1.0]}, "strictly increasing"),
                                     ({"rho": -1.0}, "rho and sigma"),
                                     ({"t": [0.0, 1.0], "a": [0.01, 0.009]}, "at least 3")])
def test_hardening_rate_bad_input(kw, msg):
    args = {"t": [0.0, 1.0, 2.0], "a": [0.01, 0.009, 0.008], "sigma": 0.3, "rho": 1.0}
    args.update(kw)
    with pytest.raises(ValueError, match=msg):
        hardening_rate(**args)


def test_sesana_H_limits():
    # SHM06 Table 1 (q = 1, e = 0): A = 14.55 for a << a_h, decreasing with a (softer binaries harden less)
    assert sesana_hardening_H(1e-6) == pytest.approx(14.55, rel=1e-5)
    x = np.geomspace(0.01, 10, 50)
    h = sesana_hardening_H(x)
    assert np.all(np.diff(h) < 0)
    # at the hardening radius H is ~ 11-12, i.e. below the asymptotic "15-20" of the literature
    assert 11 < sesana_hardening_H(1.0) < 12
    # smaller mass ratios harden more efficiently for a << a_h (A grows with 1/q)
    assert sesana_hardening_H(1e-6, q=1 / 9) > sesana_hardening_H(1e-6, q=1.0)
    with pytest.raises(ValueError, match="q must be one of"):
        sesana_hardening_H(0.5, q=0.5)
    with pytest.raises(ValueError, match="a_over_ah"):
        sesana_hardening_H(-1.0)


def test_hard_separations():
    # equal masses: Merritt's a_h = r_m/16; Quinlan's G m2/(4 sigma^2)
    assert hard_binary_separation(0.005, 0.005, 0.16) == pytest.approx(0.01)
    assert quinlan_hard_separation(0.005, 0.5) == pytest.approx(0.005)


def test_influence_quantities_uniform_maxwellian():
    rng = np.random.default_rng(7)
    n, R, sig0 = 200_000, 1.0, 0.4
    r = R * rng.random(n) ** (1 / 3)
    u = rng.normal(size=(n, 3))
    pos = r[:, None] * u / np.linalg.norm(u, axis=1)[:, None]
    vel = rng.normal(0, sig0, (n, 3))
    m = np.full(n, 1.0 / n)  # rho0 = 3/(4 pi)
    rho0 = 3 / (4 * np.pi)
    q = influence_quantities(pos, vel, m, np.zeros(3), np.zeros(3), m_binary=0.05)
    # M(<r) = r^3 -> r_infl = 0.1^(1/3)
    assert q["r_infl"] == pytest.approx(0.1 ** (1 / 3), rel=0.01)
    # Poisson: 20000 stars within (0.7 %), ~40000 in the shell (0.5 %); 4-5 sigma bounds
    assert q["rho_within"] == pytest.approx(rho0, rel=0.03)
    assert q["rho_at"] == pytest.approx(rho0, rel=0.03)
    assert q["sigma_within"] == pytest.approx(sig0, rel=0.02)
    assert q["sigma_at"] == pytest.approx(sig0, rel=0.02)
    with pytest.raises(ValueError, match="m_binary"):
        influence_quantities(pos, vel, m, np.zeros(3), np.zeros(3), m_binary=0.0)
    with pytest.raises(ValueError, match="the stars hold"):
        influence_quantities(pos, vel, m, np.zeros(3), np.zeros(3), m_binary=0.6)


def test_influence_quantities_hernquist_cusp():
    # Hernquist (M = a = 1): M(<r) = r^2/(1+r)^2, rho = 1/(2 pi r (1+r)^3); radii by inverting M(r)
    rng = np.random.default_rng(3)
    n = 400_000
    s = np.sqrt(rng.random(n))
    r = s / (1 - s)
    u = rng.normal(size=(n, 3))
    pos = r[:, None] * u / np.linalg.norm(u, axis=1)[:, None]
    vel = np.zeros((n, 3))
    q = influence_quantities(pos, vel, np.full(n, 1.0 / n), np.zeros(3), np.zeros(3), m_binary=0.01)
    r_inf = np.sqrt(0.02) / (1 - np.sqrt(0.02))
    assert q["r_infl"] == pytest.approx(r_inf, rel=0.01)
    assert q["rho_within"] == pytest.approx(0.02 / (4 / 3 * np.pi * r_inf**3), rel=0.03)
    # the shell average of the density over r/1.3..1.3 r, from M(r) analytically
    M = lambda x: x**2 / (1 + x) ** 2  # noqa: E731
    r1 = q["r_infl"]
    shell = (M(1.3 * r1) - M(r1 / 1.3)) / (4 / 3 * np.pi * r1**3 * (1.3**3 - 1.3**-3))
    assert q["rho_at"] == pytest.approx(shell, rel=0.05)  # ~7000 shell stars: 1.2 % Poisson
    # the mean density inside r is 1.5 (1 + r) times the local one (1.75 here): "within" and "at" differ
    assert q["rho_within"] / q["rho_at"] > 1.5
