"""Thermodynamics, growth law, Köhler theory and the implicit droplet integrator against closed forms."""
import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from clouds import droplets, growth, koehler
from clouds import thermo as th


def test_saturation_vapour_pressure_reference_values():
    # Bolton (1980) at 0, 20 C; WMO table values 611.2 and 2338.8 Pa (0.1 % accuracy claimed)
    assert th.saturation_vapor_pressure(273.15) == pytest.approx(611.2, rel=1e-12)
    assert th.saturation_vapor_pressure(293.15) == pytest.approx(2338.8, rel=2e-3)
    # Clausius-Clapeyron slope d ln e_s / dT = L / (R_v T^2) within 2 %
    T = 283.15
    slope = (np.log(th.saturation_vapor_pressure(T + 0.01)) - np.log(th.saturation_vapor_pressure(T - 0.01))) / 0.02
    assert slope == pytest.approx(th.latent_heat(T) / (th.R_V * T ** 2), rel=0.02)


def test_transport_coefficients_near_freezing():
    # Pruppacher & Klett 1997 (eqs. 13.3, 13.18) / Rogers & Yau 1989 table 7.1: D ~ 2.26e-5 m^2/s... at 273 K and 1000 hPa; K ~ 2.4e-2 W/m/K
    assert th.vapor_diffusivity(273.15, 1e5) == pytest.approx(2.11e-5 * 1.01325, rel=1e-12)
    assert th.vapor_diffusivity(273.15, 1e5) == pytest.approx(2.2e-5, rel=0.05)
    assert th.thermal_conductivity(273.15) == pytest.approx(2.4e-2, rel=0.01)
    # D ~ 1/p
    assert th.vapor_diffusivity(280, 5e4) / th.vapor_diffusivity(280, 1e5) == pytest.approx(2.0)


def test_growth_parameter_magnitude_and_trend():
    G = growth.growth_parameter(283.15, 9e4)
    assert 5e-11 < G < 1.5e-10          # Rogers & Yau Table 7.1 order of magnitude
    assert growth.growth_parameter(293.15, 9e4) > G  # faster growth when warmer
    # kinetic corrections slow down small droplets, vanish for large ones
    Gs = growth.growth_parameter(283.15, 9e4, r=0.5e-6, kinetic=True)
    Gl = growth.growth_parameter(283.15, 9e4, r=1e-3, kinetic=True)
    assert Gs < 0.9 * G and Gl == pytest.approx(G, rel=1e-3)


@pytest.mark.parametrize("t, r_um", [(60.0, 9.22), (300.0, 18.03), (600.0, 25.00)])
def test_implicit_growth_matches_r2_law(t, r_um):
    # issue numbers: G = 1e-10 m^2/s, S = 0.5 %, r0 = 5 um; one implicit step and 100 steps
    r1 = droplets.grow([5e-6], 0.005, 280.0, 8e4, t, curvature=False, G=1e-10)[0]
    assert r1 * 1e6 == pytest.approx(r_um, abs=0.005)
    r = np.array([5e-6])
    for _ in range(100):
        r = droplets.grow(r, 0.005, 280.0, 8e4, t / 100, curvature=False, G=1e-10)
    assert r[0] == pytest.approx(growth.radius_constant_S(5e-6, 0.005, 1e-10, t), rel=1e-12)


def test_evaporation_time_and_dry_radius_floor():
    G, S, r0 = 1e-10, -0.005, 5e-6
    te = growth.evaporation_time(r0, S, G)
    assert te == pytest.approx(25.0)
    r = np.array([r0])
    n = 50
    for k in range(n):
        r = droplets.grow(r, S, 280.0, 8e4, te / n * 0.999, curvature=False, G=G)
    assert 0 < r[0] < 0.05 * r0
    r = droplets.grow(r, S, 280.0, 8e4, 1.0, curvature=False, G=G)
    assert r[0] == 0.0
    # with a soluble core the droplet stops at (above) its dry radius, never below
    rd = 0.05e-6
    rr = np.array([r0])
    for _ in range(5):
        rr = droplets.grow(rr, -0.3, 280.0, 8e4, 1e4, r_dry=rd, kappa=0.6)
        assert rr[0] >= rd
    # and is at Köhler equilibrium: S_eq(r) = S
    assert koehler.equilibrium_supersaturation(rr[0], rd, 0.6, 280.0) == pytest.approx(-0.3, abs=1e-9)


def test_implicit_integrator_is_stable_for_huge_steps():
    # backward Euler: huge dt converges to the equilibrium radius instead of oscillating
    rd, kappa, T, S = 0.1e-6, 0.5, 285.0, -0.02
    req = koehler.equilibrium_radius(S, rd, kappa, T)
    for dt in (1e-3, 1.0, 1e3, 1e6):
        r = np.array([3e-6])
        for _ in range(200):
            r = droplets.grow(r, S, T, 9e4, dt, r_dry=rd, kappa=kappa)
        assert r[0] >= rd
    assert r[0] == pytest.approx(req, rel=1e-6)


def test_koehler_critical_point_closed_form():
    T, rd, kappa = 298.15, 50e-9, 0.61
    A = koehler.curvature_A(T)
    assert A == pytest.approx(2 * th.surface_tension(T) / (1000 * 461.5 * T))
    B = kappa * rd ** 3
    rc = koehler.critical_radius(rd, kappa, T)
    Sc = koehler.critical_supersaturation(rd, kappa, T)
    assert rc == pytest.approx(np.sqrt(3 * B / A), rel=1e-14)
    assert Sc == pytest.approx(np.sqrt(4 * A ** 3 / (27 * B)), rel=1e-14)
    # numerical maximum of A/r - B/r^3 is at (rc, Sc)
    res = minimize_scalar(lambda lr: -koehler.equilibrium_supersaturation(np.exp(lr), rd, kappa, T, form="approx"),
                          bounds=(np.log(2 * rd), np.log(100 * rc)), method="bounded", options={"xatol": 1e-10})
    assert np.exp(res.x) == pytest.approx(rc, rel=1e-4)
    assert -res.fun == pytest.approx(Sc, rel=1e-8)
    # the full kappa-Köhler curve peaks within a few per cent of the two-term value for rc >> rd
    full = minimize_scalar(lambda lr: -koehler.equilibrium_supersaturation(np.exp(lr), rd, kappa, T),
                           bounds=(np.log(1.01 * rd), np.log(100 * rc)), method="bounded")
    assert -full.fun == pytest.approx(Sc, rel=0.03)
    # ~0.15 % for 100 nm ammonium sulfate (Petters & Kreidenweis 2007 Fig. 1)
    assert 0.12e-2 < Sc < 0.18e-2


def test_equilibrium_radius_below_activation():
    T, rd, kappa = 283.15, 40e-9, 0.6
    for S in (-0.2, -0.01, 0.0, 0.5 * koehler.critical_supersaturation(rd, kappa, T)):
        r = koehler.equilibrium_radius(S, rd, kappa, T)
        assert rd < r < koehler.critical_radius(rd, kappa, T)
        assert koehler.equilibrium_supersaturation(r, rd, kappa, T) == pytest.approx(S, abs=1e-10)
    vec = droplets.equilibrium_radii(np.array(0.0), np.array([rd, 2 * rd]), kappa, T)
    assert vec[0] == pytest.approx(koehler.equilibrium_radius(0.0, rd, kappa, T), rel=1e-8)
    with pytest.raises(ValueError, match="critical"):
        koehler.equilibrium_radius(2 * koehler.critical_supersaturation(rd, kappa, T), rd, kappa, T)


def test_phase_relaxation_and_growth_coefficient():
    T, p, N, r = 280.0, 8e4, 2e8, 8e-6
    tau = growth.phase_relaxation_time(T, p, N, r)
    # leading order 1/tau ~ 4 pi D N r within ~15 %
    assert tau == pytest.approx(1 / (4 * np.pi * th.vapor_diffusivity(T, p) * N * r), rel=0.15)
    assert growth.quasi_steady_supersaturation(T, p, 1.0, N, r) == pytest.approx(growth.A1(T) * tau)
    # coefficient G/r in cm/s for 5-30 um droplets lies in the paper's 2.5e-4 .. 1.5e-3 cm/s span
    c = [growth.mean_growth_coefficient(np.array([x]), 288.0, 8.5e4) for x in (8e-6, 12e-6, 20e-6)]
    assert all(2.5e-4 < v < 1.5e-3 for v in c) and c[0] > c[1] > c[2]


def test_bad_input_raises_with_parameter_name():
    with pytest.raises(ValueError, match="dry radius"):
        droplets.grow([1e-6], 0.0, 280, 8e4, 1.0, r_dry=2e-6, kappa=0.5)
    with pytest.raises(ValueError, match="dt"):
        droplets.grow([1e-6], 0.0, 280, 8e4, 0.0)
    with pytest.raises(ValueError, match="number concentration"):
        droplets.lognormal(-1.0, 1e-7, 1.5, 10)
    with pytest.raises(ValueError, match="temperature"):
        th.saturation_vapor_pressure(-5.0)
    with pytest.raises(ValueError, match="pressure"):
        th.vapor_diffusivity(280.0, 0.0)
