"""Nonlinear LPBF heat model: property tables, Kirchhoff steady conduction, the Neumann Stefan problem, enthalpy
balance with latent heat, Newton's convergence and its failure, evaporation capping the default track's peak."""
import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import brentq
from scipy.special import erf, erfc

from gpu.io import ResultError
from pde.analytic import green_gaussian
from pde.heat_source import GaussianBeam
from pde.materials import (P_ATM, R_GAS, THERMAL_TABLES, apparent_heat_capacity, evaporation_flux,
                           evaporation_flux_slope, get_material, get_thermal_table, kirchhoff, table_integral,
                           table_value, volumetric_enthalpy)
from pde.nonlinear import NonlinearHeatSolver, ThermalModel, graded_axis, solve_track

TAB = get_thermal_table("Ti6Al4V")
MAT = get_material("Ti6Al4V")


@pytest.mark.parametrize("name", sorted(THERMAL_TABLES))
def test_tables_integrals_and_derivatives(name):
    """table_integral against adaptive quadrature of table_value; dE/dT (apparent heat capacity) against a central
    difference of E; the latent heat is released exactly over the melting range; q_ev at boiling is the
    Hertz-Knudsen flux at 1 atm and its slope matches a difference quotient."""
    t = get_thermal_table(name)
    Tk, k, Tc, c = t.arrays()
    for T in (250.0, 800.0, t.solidus + 7.0, 2500.0, 4000.0):
        ref = quad(lambda s: table_value(s, Tk, k), 300.0, T, points=list(Tk), limit=200)[0]
        assert table_integral(T, Tk, k, 300.0) == pytest.approx(ref, rel=1e-12, abs=1e-9)
        assert kirchhoff(T, Tk, k, k[0], 300.0) == pytest.approx(ref / k[0], rel=1e-12, abs=1e-9)
    args = (Tc, c, t.density, t.latent_heat, t.solidus, t.liquidus)
    for T in (600.0, t.solidus + 0.3 * (t.liquidus - t.solidus), t.liquidus + 50.0):
        h = 1e-3
        fd = (volumetric_enthalpy(T + h, *args, 300.0) - volumetric_enthalpy(T - h, *args, 300.0)) / (2 * h)
        assert apparent_heat_capacity(T, *args) == pytest.approx(fd, rel=1e-6)
    jump = volumetric_enthalpy(t.liquidus, *args, 300.0) - volumetric_enthalpy(t.solidus, *args, 300.0)
    sens = t.density * quad(lambda s: table_value(s, Tc, c), t.solidus, t.liquidus, points=list(Tc))[0]
    assert jump - sens == pytest.approx(t.density * t.latent_heat, rel=1e-12)
    ev = (t.boiling, t.vaporisation_heat, t.molar_mass, 0.18)
    hk = t.vaporisation_heat * 0.82 * P_ATM * math.sqrt(t.molar_mass / (2 * math.pi * R_GAS * t.boiling))
    assert evaporation_flux(t.boiling, *ev) == pytest.approx(hk, rel=1e-12)
    T = 1.2 * t.boiling
    fd = (evaporation_flux(T + 0.01, *ev) - evaporation_flux(T - 0.01, *ev)) / 0.02
    assert evaporation_flux_slope(T, *ev) == pytest.approx(fd, rel=1e-6)


def test_tables_reject_bad_values():
    with pytest.raises(ValueError, match="increase strictly"):
        TAB.__class__("x", (300.0, 300.0), (1.0, 2.0), (300.0,), (500.0,), 1.0, 1000.0, 1100.0, 1.0, 3000.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="solidus <= liquidus < boiling"):
        TAB.__class__("x", (300.0,), (1.0,), (300.0,), (500.0,), 1.0, 1200.0, 1100.0, 1.0, 3000.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="no thermal table"):
        get_thermal_table("steel")


def test_steady_conduction_with_k_of_T_matches_the_kirchhoff_solution():
    """Steady 1D conduction with the Ti-6Al-4V k(T) between 300 K and 3000 K: phi(T(x)) is linear in x (Kirchhoff
    transform), T(x) by root finding on the quadrature-based phi.  P1 nodal values of phi are exact for a linear
    phi, so the nodal T agree to the Newton tolerance on a graded mesh; the constant-k solution (linear T) is
    off by hundreds of kelvin, so the test would fail if k(T) were ignored."""
    L, Ta, Tb = 1e-3, 300.0, 3000.0
    x = graded_axis(0.0, L, 0.0, 0.2 * L, 2e-5, growth=1.2)
    model = ThermalModel.from_material(MAT, TAB, temperature_dependent=True, T0=Ta)
    n = len(x)
    s = NonlinearHeatSolver([x], model, dirichlet=([0, n - 1], [Ta, Tb]), T_init=np.linspace(Ta, Tb, n), tol=1e-12)
    s.step(1e10, np.zeros(n))  # one backward-Euler step of 1e10 s: the steady state (transient term ~1e-9 K)
    Tk, k, _, _ = TAB.arrays()

    def phi(T):
        return quad(lambda u: table_value(u, Tk, k), Ta, T, points=list(Tk), limit=200)[0]

    pb = phi(Tb)
    exact = np.array([brentq(lambda T: phi(T) - pb * xi / L, Ta, Tb, xtol=1e-10) for xi in x])
    assert np.abs(s.T - exact).max() < 1e-6
    assert np.abs(np.linspace(Ta, Tb, n) * 0 + Ta + (Tb - Ta) * x / L - exact).max() > 200


def _neumann_lambda(st_l, st_s):
    """Root of St_l / (exp(l^2) erf l) - St_s / (exp(l^2) erfc l) = l sqrt(pi) (two-phase Neumann solution, equal
    properties in both phases: Carslaw & Jaeger 1959, Sec. 11.2, Eq. 11.2(14); Alexiades & Solomon, *Mathematical
    Modeling of Melting and Freezing Processes*, 1993, Sec. 2.2)."""
    return brentq(lambda l: st_l / (math.exp(l * l) * erf(l)) - st_s / (math.exp(l * l) * erfc(l))
                  - l * math.sqrt(math.pi), 1e-6, 5.0)


def _stefan_run(n, steps, mushy):
    k, rho, c, Lf, Tm, Tw, Ti = 20.0, 4000.0, 700.0, 286e3, 1900.0, 2400.0, 1400.0
    alpha, t_end, L = k / (rho * c), 2e-3, 1.2e-3
    model = ThermalModel(np.array([Ti]), np.array([k]), np.array([Ti]), np.array([c]), rho, Ti, L_f=Lf,
                         T_s=Tm - mushy, T_l=Tm + mushy)
    x = np.linspace(0.0, L, n + 1)
    T0 = np.full(n + 1, Ti)
    s = NonlinearHeatSolver([x], model, dirichlet=([0], [Tw]), T_init=T0, tol=1e-10)
    for _ in range(steps):
        s.step(t_end / steps, np.zeros(n + 1))
    T = s.T
    i = int(np.argmax(T < Tm))
    front = x[i - 1] + (T[i - 1] - Tm) / (T[i - 1] - T[i]) * (x[i] - x[i - 1])
    lam = _neumann_lambda(c * (Tw - Tm) / Lf, c * (Tm - Ti) / Lf)
    exact = 2 * lam * math.sqrt(alpha * t_end)
    return front, exact, s


def test_neumann_stefan_problem_front_converges():
    """Melting of a half-space held at T_w > T_m at x = 0, initially at T_i < T_m: the T_m isotherm (centre of the
    smoothed melting range) follows s = 2 lambda sqrt(alpha t).  Halving h, dt and the mushy half-width together
    (first-order scheme: backward Euler, smoothed latent heat) must reduce the error, and the finest run is within
    1 % of the exact front (0.093 mm at 2 ms; measured errors 1.7 %, 0.60 %, 0.46 %)."""
    errs = []
    for n, steps, mushy in ((60, 50, 40.0), (120, 100, 20.0), (240, 200, 10.0)):
        front, exact, _ = _stefan_run(n, steps, mushy)
        errs.append(abs(front - exact) / exact)
    assert errs[2] < errs[1] < errs[0]
    assert errs[2] < 0.01


def test_enthalpy_balance_through_melting_matches_quadrature():
    """A uniformly heated adiabatic bar stays uniform: E(T(t)) = q t.  T(t) from the solver against the root of the
    enthalpy written by adaptive quadrature of c_p(T) plus L_f (the melting range crossed), and the solver's own
    energy record balances to round-off."""
    x = np.linspace(0.0, 1e-4, 11)
    model = ThermalModel.from_material(MAT, TAB, temperature_dependent=True, latent_heat=True, T0=300.0)
    s = NonlinearHeatSolver([x], model, tol=1e-12)
    q, t_end, steps = 4e10, 0.2, 40  # W/m^3: E = 8e9 J/m^3, past the liquidus of Ti-6Al-4V (5.8e9 J/m^3)
    F = q * np.diff(x).sum() * np.r_[0.5, np.ones(9), 0.5] / 10
    for _ in range(steps):
        s.step(t_end / steps, F)
    _, _, Tc, c = TAB.arrays()

    def E(T):
        f = min(max((T - TAB.solidus) / (TAB.liquidus - TAB.solidus), 0.0), 1.0)
        fl = f * f * (3 - 2 * f)
        return TAB.density * (quad(lambda u: table_value(u, Tc, c), 300.0, T, points=list(Tc), limit=200)[0]
                              + TAB.latent_heat * fl)

    T_exact = brentq(lambda T: E(T) - q * t_end, 300.0, 5000.0, xtol=1e-9)
    assert T_exact > TAB.liquidus
    assert np.abs(s.T - T_exact).max() < 1e-5  # 4e-9 of T: 40 steps of round-off in E ~ 1e10 J/m^3
    # Newton stops at 1e-12 of the terms in magnitude (|K| |phi| ~ 1e4 x the source here): 6e-10 measured
    assert abs(s.energy()["relative_imbalance"]) < 1e-8


def test_newton_jacobian_and_convergence_record():
    """The Newton matrix is the derivative of the residual (directional finite difference, all nonlinear terms on,
    surface node evaporating); constant properties converge in one update; a step with too few iterations
    raises ResultError naming the residual."""
    x = np.linspace(0.0, 2e-4, 21)
    model = ThermalModel.from_material(MAT, TAB, temperature_dependent=True, latent_heat=True, evaporation=True,
                                       T0=300.0, h_eff=50.0)
    s = NonlinearHeatSolver([x], model, surface=(0, 1))
    rng = np.random.default_rng(1)
    T = np.linspace(1500.0, 3900.0, 21) + rng.uniform(-5, 5, 21)
    T_old, dt = T - 40.0, 1e-6
    E_old = model.terms(T_old)[0]
    F = np.zeros(21)
    R, E, dE, kT, q, dq, _ = s._residual(T, E_old, dt, F)
    D = s.mL * dE / dt
    D[s.surf] += s.area * dq
    J = s.K.toarray() * (kT / model.k_ref)[None, :] + np.diag(D)
    v = rng.standard_normal(21)
    h = 1e-4
    fd = (s._residual(T + h * v, E_old, dt, F)[0] - s._residual(T - h * v, E_old, dt, F)[0]) / (2 * h)
    assert np.linalg.norm(J @ v - fd) < 1e-6 * np.linalg.norm(fd)

    lin = NonlinearHeatSolver([x], ThermalModel.from_material(MAT, T0=300.0), surface=(0, 1), tol=1e-9)
    info = lin.step(1e-5, 1e3 * np.r_[np.zeros(20), 1.0])
    assert info["iterations"] == 2 and info["residual"] < 1e-9  # one update, then the check

    hot = NonlinearHeatSolver([x], model, surface=(0, 1), max_iter=2)
    with pytest.raises(ResultError, match="did not converge in step 1 .*relative residual"):
        hot.step(1e-5, 3e5 * np.r_[np.zeros(20), 1.0])


DEFAULT_BEAM = GaussianBeam(200.0, 0.4, 50e-6, 40e-6, 1.0, (0.3e-3, 0.0), 0.6e-3)
BLOCK = (1.2e-3, 0.8e-3, 0.4e-3)


def test_linear_track_matches_the_green_function():
    """With constant properties the full-order track solver is the linear model: against the exact half-space
    Green's function at 16 points near the beam after 0.2 ms (25 um mesh, 10 us steps; the error is the mesh's:
    measured rms 3.5 % / max 12.7 % of the peak rise at 25 um with 5 or 10 us steps, 1.6 % / 5.9 % at 12.5 um),
    energy balanced to round-off."""
    model = ThermalModel.from_material(MAT, T0=300.0)
    r = solve_track(DEFAULT_BEAM, BLOCK, model, 0.2e-3, h_fine=25e-6, dt=10e-6)
    s = r["solver"]
    x, y, z = r["axes"]
    xs = DEFAULT_BEAM.position(0.2e-3)[0]
    pts = np.array([[xs + dx, dy, dz] for dx in (-150e-6, -75e-6, 0.0, 50e-6) for dy in (0.0, 50e-6)
                    for dz in (0.0, -50e-6)])
    from scipy.interpolate import RegularGridInterpolator

    Tn = RegularGridInterpolator((x, y, z), s.field())(pts)
    Tg = green_gaussian(pts, 0.2e-3, DEFAULT_BEAM, MAT.rho_c, MAT.diffusivity, 300.0)
    rise = Tg.max() - 300.0
    assert np.sqrt(np.mean((Tn - Tg) ** 2)) / rise < 0.05 and np.abs(Tn - Tg).max() / rise < 0.15
    assert abs(r["energy"]["relative_imbalance"]) < 1e-9
    assert r["energy"]["absorbed_J"] == pytest.approx(DEFAULT_BEAM.absorbed_power * 0.2e-3, rel=1e-3)


def test_evaporation_caps_the_default_track_peak_near_boiling():
    """Default track (Ti-6Al-4V, 200 W, eta 0.4, 50 um, 1 m/s), 0.2 ms, 25 um mesh.  Linear: peak > 3 T_b.  k(T),
    c_p(T) and latent heat lower it but leave it above boiling; evaporation holds it between T_b and T_cap, where
    q_ev(T_cap) equals the beam's peak absorbed intensity 2 eta P / (pi r_b^2) (evaporation alone could carry the
    whole incident flux there).  Energy balances to the Newton tolerance with the evaporative loss counted."""
    Tb = TAB.boiling
    ev = (Tb, TAB.vaporisation_heat, TAB.molar_mass, 0.18)
    I_peak = 2 * DEFAULT_BEAM.absorbed_power / (math.pi * DEFAULT_BEAM.radius ** 2)
    T_cap = brentq(lambda T: evaporation_flux(T, *ev) - I_peak, Tb, 3 * Tb)
    peaks = {}
    for key, opts in (("linear", {}), ("k_c_latent", dict(temperature_dependent=True, latent_heat=True)),
                      ("evaporation", dict(temperature_dependent=True, latent_heat=True, evaporation=True))):
        model = ThermalModel.from_material(MAT, TAB, T0=300.0, **opts)
        r = solve_track(DEFAULT_BEAM, BLOCK, model, 0.2e-3, h_fine=25e-6, dt=10e-6, T_melt=MAT.solidus)
        peaks[key] = r["peak_T"]
        assert abs(r["energy"]["relative_imbalance"]) < 1e-7
        assert r["convergence"]["residual_max"] <= r["convergence"]["tol"]
    assert peaks["linear"] > 3 * Tb
    assert Tb < peaks["k_c_latent"] and peaks["evaporation"] < peaks["k_c_latent"] - 500
    assert Tb < peaks["evaporation"] < T_cap
    assert r["energy"]["surface_lost_J"] > 0 and r["melt_pool"]["width"] > 2 * DEFAULT_BEAM.radius


NL_CFG = """[material]
temperature_dependent = true
latent_heat = true
[boundary]
evaporation = true
[domain]
t_end = 1e-4
[nonlinear]
mesh_spacing = 25e-6
time_step = 10e-6
"""


def test_cli_runs_the_nonlinear_model_and_reports_newton(tmp_path, capsys):
    """``python -m pde lpbf`` with the nonlinear options: the full-order model runs, the summary reports the Newton
    record and the energy balance with the evaporative loss; the same run with one Newton iteration allowed fails
    with one error line and exit 1 (ResultError), writing nothing."""
    import json

    from gpu.io import read_results
    from pde.__main__ import main

    cfg = tmp_path / "nl.toml"
    cfg.write_text(NL_CFG)
    out, js = tmp_path / "r.h5", tmp_path / "s.json"
    assert main(["lpbf", str(cfg), "--out", str(out), "--json", str(js)]) == 0
    s = json.loads(js.read_text())
    assert s["status"] == "ok" and s["model"].startswith("full-order nonlinear")
    assert s["nonlinear"]["residual_max"] <= s["nonlinear"]["tol"] == 1e-9 and s["nonlinear"]["steps"] == 10
    assert abs(s["energy"]["relative_imbalance"]) < 1e-7 and s["energy"]["surface_lost_J"] > 0
    assert TAB.boiling < s["melt_pool"]["peak_T_run"] < 2 * TAB.boiling
    data, head = read_results(out)
    assert data["T_end"].size == s["nodes"] and data["T_end"].max() == pytest.approx(s["melt_pool"]["peak_T"])
    assert "Newton iterations" in capsys.readouterr().out
    cfg.write_text(NL_CFG + "max_iter = 1\n")
    out2 = tmp_path / "r2.h5"
    assert main(["lpbf", str(cfg), "--out", str(out2)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "did not converge" in err[0]
    assert not out2.exists()


def test_scan_path_positions_and_turns():
    from pde.heat_source import ScanPath

    p = ScanPath(DEFAULT_BEAM, 3, 80e-6, serpentine=True)
    tt = p.t_track
    assert p.discontinuities() == pytest.approx((0.0, tt, 2 * tt, 3 * tt))
    assert p.position(0.25 * tt) == pytest.approx((0.3e-3 + 0.15e-3, 0.0))
    assert p.position(1.25 * tt) == pytest.approx((0.9e-3 - 0.15e-3, 80e-6))  # second track runs back
    assert p.position(2.25 * tt) == pytest.approx((0.3e-3 + 0.15e-3, 160e-6))
    x = np.linspace(0, 1.2e-3, 2401)
    for i in range(3):  # each track's x-load carries the absorbed power while it is on, nothing otherwise
        assert np.trapezoid(p.track_x_load(i, x, (i + 0.5) * tt), x) == pytest.approx(80.0, rel=1e-6)
        assert not p.track_x_load(i, x, (i + 1.5) * tt).any()
    with pytest.raises(ValueError, match="hatch"):
        ScanPath(DEFAULT_BEAM, 2, 0.0)


@pytest.mark.parametrize("hatch, fused_between", [(60e-6, True), (200e-6, False)])
def test_two_tracks_fuse_below_the_track_width_and_not_above(hatch, fused_between):
    """Two serpentine tracks (linear model, 25 um mesh).  A hatch below the single track's fused width melts one
    continuous zone at least (single width + hatch) wide (the second track also runs on preheated metal); a hatch
    wider than it leaves unfused metal between the tracks (lack of fusion: smallest fused depth 0).  The absorbed
    energy is 2 eta P t_track."""
    from pde.heat_source import ScanPath

    beam = GaussianBeam(200.0, 0.4, 50e-6, 40e-6, 1.0, (0.3e-3, -0.2e-3), 0.3e-3)
    model = ThermalModel.from_material(MAT, T0=300.0)
    block = (0.9e-3, 1.0e-3, 0.4e-3)
    single = solve_track(beam, block, model, beam.t_off, h_fine=25e-6, dt=10e-6, T_melt=MAT.solidus,
                         path=ScanPath(beam, 1))
    path = ScanPath(beam, 2, hatch)
    two = solve_track(beam, block, model, path.t_off, h_fine=25e-6, dt=10e-6, T_melt=MAT.solidus, path=path)
    assert two["energy"]["absorbed_J"] == pytest.approx(2 * beam.absorbed_power * beam.t_off, rel=1e-3)
    assert abs(two["energy"]["relative_imbalance"]) < 1e-9
    w1 = single["fused"]["width"]
    assert w1 > 60e-6 + 25e-6
    if fused_between:
        assert two["fused"]["depth_min"] > 0 and two["fused"]["width"] >= w1 + hatch - 25e-6
    else:
        assert w1 < hatch and two["fused"]["depth_min"] == 0.0


def test_lpbf_problem_routes_multi_track_scans_to_the_full_order_model():
    """``laser.tracks > 1`` (constant properties) runs the full-order solver over the whole scan: default t_end is
    tracks x length / v, the summary carries the fused zone and the Newton record."""
    from pde.lpbf import LPBFProblem, NonlinearLPBFResult

    cfg = {"laser": {"tracks": 2, "hatch": 80e-6, "length": 0.2e-3, "start_x": 0.2e-3},
           "domain": {"length": 0.6e-3, "width": 0.8e-3},
           "nonlinear": {"mesh_spacing": 25e-6, "time_step": 10e-6}}
    P = LPBFProblem(cfg)
    assert P.t_end == pytest.approx(0.4e-3)
    R = P.solve()
    assert isinstance(R, NonlinearLPBFResult)
    s = R.summary()
    assert s["status"] == "ok" and s["nonlinear"]["steps"] == 40
    assert s["energy"]["absorbed_J"] == pytest.approx(80.0 * 0.4e-3, rel=1e-3)
    assert s["melt_pool"]["fused"]["width"] > 80e-6


def test_thermal_model_rejects_a_zero_melting_range():
    with pytest.raises(ValueError, match="melting range"):
        ThermalModel(np.array([300.0]), np.array([7.0]), np.array([300.0]), np.array([500.0]), 4000.0, 300.0,
                     L_f=1e5, T_s=1900.0, T_l=1900.0)
