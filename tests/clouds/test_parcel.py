"""Parcel model: Rogers (1975) monodisperse test, quasi-steady supersaturation, conservation, eddy hopping, MPI."""
import numpy as np
import pytest

from clouds import droplets, growth, koehler
from clouds import thermo as th
from clouds.parcel import EddyHopping, ParcelModel
from tests.mpi_harness import run_mpi


def test_rogers_monodisperse_peak_supersaturation():
    # Rogers (1975) / Rogers & Yau (1989) ch. 7: p = 800 hPa, T = 7 C, saturated, r0 = 8 um,
    # N = 200 cm^-3, w = 10 m/s: S peaks near 0.97 % about 7 s after the start.
    m = ParcelModel.from_concentration(80000.0, 280.15, [8e-6], [200e6], w=10.0, dt=0.05)
    h = m.run(15.0)
    i = int(np.argmax(h["S"]))
    assert 100 * h["S"][i] == pytest.approx(0.97, rel=0.03)
    assert 6.0 < h["t"][i] < 8.5
    # without the Kelvin term (Rogers' pure growth law) the peak is within 3 % as well
    m2 = ParcelModel.from_concentration(80000.0, 280.15, [8e-6], [200e6], w=10.0, dt=0.05, curvature=False)
    h2 = m2.run(10.0)
    assert 100 * h2["S"].max() == pytest.approx(0.97, rel=0.03)


def test_quasi_steady_supersaturation_and_conservation():
    m = ParcelModel.from_concentration(9e4, 285.0, [10e-6], [100e6], w=1.0, dt=0.5, curvature=False)
    tau = m.phase_relaxation_time()
    h = m.run(15 * tau)
    rho = th.dry_air_density(m.p, m.T, m.qv)
    s0 = m.pop.n.sum() * rho
    Sqs = growth.quasi_steady_supersaturation(m.T, m.p, 1.0, s0, m.pop.r.mean())
    # S relaxes to S_qs = A1 w tau_phase, plus the lag -tau dS_qs/dt (measured +0.40 %); what remains
    # (measured 0.81 %) is the approximation of the theory: A2 takes 1/q_vs for d ln e / d q_v =
    # (1 - e/p) / q_v (0.6 %), A1 the hydrostatic term with T for T_v (0.15 %)
    Sqs_t = growth.quasi_steady_supersaturation(h["T"], h["p"], 1.0, h["N"], h["r_mean"])
    tau_t = growth.phase_relaxation_time(h["T"], h["p"], h["N"], h["r_mean"], h["qv"])
    assert Sqs_t[-1] == pytest.approx(Sqs, rel=1e-12)
    lag = -tau_t[-1] * np.gradient(Sqs_t, h["t"])[-1]
    assert h["S"][-1] == pytest.approx(Sqs + lag, rel=0.01)
    # total water: q_v + q_l recomputed from the droplets equals the initial q_t to round-off
    ql = m.pop.liquid_mass()
    assert abs(m.qv + ql - (h["qv"][0] + h["ql"][0])) < 1e-16
    # liquid water grows at the adiabatic rate once saturated: dq_l/dz ~ (A1 / A2) ~ 2 g/kg/km
    dqdz = (h["ql"][-1] - h["ql"][len(h["ql"]) // 2]) / (h["z"][-1] - h["z"][len(h["z"]) // 2])
    assert dqdz == pytest.approx(growth.A1(m.T) / growth.A2(m.T, m.p), rel=0.05)


def test_activation_from_lognormal_aerosol():
    r_dry, n = droplets.lognormal(100e6, 40e-9, 1.6, 64)
    T, p = 283.0, 9e4
    r_wet = droplets.equilibrium_radii(-0.01, r_dry, 0.6, T)
    pop = droplets.Population(r_wet, r_dry, 0.6, n / th.dry_air_density(p, T, th.mixing_ratio_from_rh(p, T, 0.99)))
    m = ParcelModel(p, T, 0.5, pop, rh=0.99, dt=0.5)
    h = m.run(300.0)
    Smax = h["S"].max()
    # activated: grew beyond the critical radius; the critical supersaturation of the
    # smallest activated particle is below S_max (Köhler consistency)
    from clouds import koehler
    Sc = koehler.critical_supersaturation(pop.r_dry, 0.6, T)
    act = m.pop.r > 1e-6
    assert 0 < act.sum() < len(act)
    assert np.all(Sc[act] < Smax * 1.05) and np.all(Sc[~act] > Smax * 0.95)
    assert 0.1e-2 < Smax < 1.0e-2


def test_eddy_hopping_broadens_spectrum():
    r, n = droplets.gamma(1.0, 8e-6, 400, 1000)
    out = {}
    for name, eh in (("adiabatic", None), ("eddy", EddyHopping(1e-2, 50.0, seed=3))):
        pop = droplets.Population(r, 0.0, 0.0, n * 1e8)
        m = ParcelModel(9e4, 285.0, 1.0, pop, rh=1.0, dt=0.5, eddy_hopping=eh)
        out[name] = m.run(200.0)["epsilon"]
    # adiabatic growth narrows the spectrum (r dr/dt = G S), eddy hopping broadens it
    assert out["adiabatic"][-1] < out["adiabatic"][0]
    assert out["eddy"][-1] > 3 * out["adiabatic"][-1]


def test_parcel_bad_input():
    with pytest.raises(ValueError, match="number concentration"):
        ParcelModel.from_concentration(9e4, 285.0, [10e-6], [-1.0], w=1.0)
    with pytest.raises(ValueError, match="dry radius"):
        droplets.Population([1e-7], [2e-7], 0.5, 1.0)
    with pytest.raises(ValueError, match="dt"):
        ParcelModel.from_concentration(9e4, 285.0, [10e-6], [1e8], w=1.0, dt=-1)
    with pytest.raises(ValueError, match="epsilon"):
        EddyHopping(epsilon=0.0)


def test_astropy_quantities_at_the_edge():
    import astropy.units as u
    a = ParcelModel.from_concentration(800 * u.hPa, 7 * u.deg_C,
                                       [8e-6], [200e6], w=10 * u.m / u.s, dt=0.1)
    b = ParcelModel.from_concentration(80000.0, 280.15, [8e-6], [200e6], w=10.0, dt=0.1)
    assert a.run(1.0)["S"][-1] == pytest.approx(b.run(1.0)["S"][-1], rel=1e-12)


@pytest.mark.mpi
def test_parcel_two_ranks_match_serial(tmp_path):
    script = """
    import numpy as np, gpu
    from clouds import droplets, thermo as th
    from clouds.parcel import ParcelModel, EddyHopping
    comm = gpu.get_comm()
    def make(c):
        r, n = droplets.gamma(1e8, 8e-6, 100, 301)
        pop = droplets.Population(r, 0.0, 0.0, n)
        return ParcelModel(9e4, 285.0, 2.0, pop, dt=0.5, comm=c)
    h2 = make(comm).run(20.0)
    if comm.rank == 0:
        h1 = make(gpu.SerialComm()).run(20.0)
        for k in ("S", "T", "qv", "epsilon"):
            assert np.allclose(h1[k], h2[k], rtol=1e-11, atol=1e-17), k
        print("OK", comm.size, h2["S"].max())
    """
    proc = run_mpi(script, 2, tmp_path, timeout=240)
    assert "OK 2" in proc.stdout


def test_kinetic_corrections_slow_growth_and_raise_peak():
    # gas-kinetic corrections reduce G for small droplets -> slower uptake, higher S_max (a few %
    # for 8 um droplets; Pruppacher & Klett 1997 sec. 13.1.3)
    a = ParcelModel.from_concentration(80000.0, 280.15, [8e-6], [200e6], w=10.0, dt=0.05).run(10.0)
    b = ParcelModel.from_concentration(80000.0, 280.15, [8e-6], [200e6], w=10.0, dt=0.05, kinetic=True).run(10.0)
    assert b["S"].max() > a["S"].max()
    assert b["S"].max() == pytest.approx(a["S"].max(), rel=0.1)
    assert b["r_mean"][-1] < a["r_mean"][-1]


def _activation_parcel(dt):
    r_dry, n = droplets.lognormal(100e6, 40e-9, 1.6, 64)
    T, p = 283.0, 9e4
    r_wet = droplets.equilibrium_radii(-0.01, r_dry, 0.6, T)
    pop = droplets.Population(r_wet, r_dry, 0.6, n / th.dry_air_density(p, T, th.mixing_ratio_from_rh(p, T, 0.99)))
    return ParcelModel(p, T, 0.5, pop, rh=0.99, dt=dt)


def test_parcel_step_is_second_order_through_activation():
    # dt-halving study on the peak supersaturation of an activating lognormal aerosol: the observed
    # order log2(|S(dt) - S(dt/2)| / |S(dt/2) - S(dt/4)|) (measured 2.00 at dt = 0.5 s; 1.98-2.05 for
    # dt = 0.5 ... 1/16 s; the backward-Euler growth law it replaces gave 1.0-1.4)
    smax = [_activation_parcel(dt).run(120.0)["S"].max() for dt in (0.5, 0.25, 0.125)]
    order = np.log2(abs(smax[0] - smax[1]) / abs(smax[1] - smax[2]))
    assert order >= 1.8
    assert abs(smax[2] / smax[1] - 1) < 2e-4        # measured 7.4e-5 at dt = 0.125 s


def test_haze_droplets_do_not_oscillate():
    # stiff haze droplets (tau << dt) are integrated by backward Euler (fitted theta -> 1): two
    # identical particles that start at different radii both reach the same equilibrium radius in
    # strongly subsaturated air at dt = 5 s (the plain trapezoidal rule leaves them oscillating about
    # it, measured 18 % apart)
    m = ParcelModel.from_concentration(9e4, 285.0, [3e-6, 10e-6], [100e6, 50e6], r_dry=0.05e-6, kappa=0.6,
                                       rh=0.8, w=-2.0, dt=5.0)
    h = m.run(200.0)
    r_eq = koehler.equilibrium_radius(h["S"][-1], 0.05e-6, 0.6, h["T"][-1])
    assert m.pop.r[0] == pytest.approx(m.pop.r[1], rel=1e-9)
    # within the quasi-equilibrium lag behind the still falling S (measured 0.15 %)
    assert m.pop.r[0] == pytest.approx(r_eq, rel=5e-3)


def test_parcel_energy_budget_with_latent_heat_of_T():
    # c_p dT + g dz + L(T) dq_v = 0 (Rogers & Yau 1989 ch. 3; Korolev & Mazin 2003), so with the
    # linear L(T) the moist static energy h = c_p T + g z + L q_v is not conserved: it changes by
    # exactly the integral of q_v dL, which the parcel step integrates as the trapezoid over each step
    # (L at the mid-step temperature). Over 360 m the drift is ~40 J/kg at any dt; the budget closes
    # to round-off.
    for dt in (1.0, 0.25):
        m = ParcelModel.from_concentration(9e4, 285.0, [10e-6], [100e6], w=1.0, dt=dt, curvature=False)
        h = m.run(360.0)
        L = th.latent_heat(h["T"])
        mse = th.C_P * h["T"] + th.G_ACC * h["z"] + L * h["qv"]
        qdL = np.concatenate([[0.0], np.cumsum(0.5 * (h["qv"][1:] + h["qv"][:-1]) * np.diff(L))])
        assert 30.0 < mse[-1] - mse[0] < 50.0                   # measured 39.6 J/kg
        assert np.max(np.abs(mse - mse[0] - qdL)) < 1e-6        # J/kg; round-off (measured 5e-9)


def test_liquid_water_on_the_reversible_adiabat():
    """Parcel at 300 m (aerosol activation, 1 m/s) against the independently integrated reversible adiabat.

    Its pressure is hypsometric (measured 0.13 Pa off), its (T, q_l) lies on the energy line
    c_p (T - T_ref) = L (q_l - q_l,ref) through the reference (measured 2e-5 K), and the liquid
    water it lacks equals the vapour held by its supersaturation, S q_s / (1 + L dq_s/dT / c_p)
    (measured ratio 1.02; linearised). The fuller moist heat capacity moves q_l,ref by 0.07 %.
    """
    from clouds import droplets, thermo as th

    p0, T0, rh = 9.0e4, 288.0, 0.99
    qv0 = float(th.mixing_ratio_from_rh(p0, T0, rh))
    rho = float(th.dry_air_density(p0, T0, qv0))
    rd, n = droplets.lognormal(300e6, 40e-9, 1.6, 256)
    m = ParcelModel(p0, T0, 1.0, droplets.Population(droplets.equilibrium_radii(rh - 1, rd, 0.6, T0), rd, 0.6,
                                                      n / rho), qv=qv0, dt=0.5)
    m.run(300.0)
    T_ref, p_ref, ql_ref = (float(x[-1]) for x in th.reversible_adiabat(p0, T0, m.qt, [0.0, m.z]))
    ql = m.qt - m.qv
    L = float(th.latent_heat_linear(m.T))
    assert abs(m.p - p_ref) < 0.5
    assert abs((m.T - T_ref) - L * (ql - ql_ref) / th.C_P) < 2e-4
    qs = float(th.saturation_mixing_ratio(m.p, m.T))
    dqs_dT = (float(th.saturation_mixing_ratio(p_ref, T_ref + 1e-3)) -
              float(th.saturation_mixing_ratio(p_ref, T_ref - 1e-3))) / 2e-3
    assert (ql_ref - ql) / (m.S * qs / (1 + L * dqs_dT / th.C_P)) == pytest.approx(1.0, abs=0.05)
    ql_moist = th.reversible_adiabat(p0, T0, m.qt, [0.0, m.z], moist_heat_capacity=True)[2][-1]
    assert abs(ql_moist / ql_ref - 1) < 2e-3


def test_pyrcel_basic_run_activation_benchmark():
    """Published parcel benchmark: the pyrcel "Basic Run" example (Rothenberg & Wang 2016 model;
    github.com/darothen/pyrcel, doc/examples/basic_run.rst at commit 8ea7d67).

    P0 = 77500 Pa, T0 = 274 K, S0 = -2 %, w = 1 m/s for 250 m, condensation coefficient
    0.3; sulfate (kappa 0.54, median 0.015 um, sigma_g 1.6, 850 cm^-3, 200 bins) and sea salt (kappa 1.2,
    0.85 um, 1.2, 10 cm^-3, 40 bins). pyrcel reports S_max "about 0.63 %" and an equilibrium CDNC
    (critical supersaturation below S_max) of 146.9 sulfate + 10.0 sea salt = 156.9 cm^-3.
    Ours: S_max 0.669 % (+6 %), CDNC 168.0 + 10.0 (+13 %; bin-quantised, steep in S_max: d ln N /
    d ln S_max ~ 2). pyrcel's constants differ (constant latent heat, its kinetic form with
    thermal accommodation 1), so the bounds are 10 % on S_max and 20 % on CDNC.
    """
    from clouds import droplets, koehler, thermo as th

    P0, T0, S0 = 77500.0, 274.0, -0.02
    modes = [droplets.lognormal(850e6, 0.015e-6, 1.6, 200), droplets.lognormal(10e6, 0.85e-6, 1.2, 40)]
    rd = np.concatenate([m[0] for m in modes])
    n = np.concatenate([m[1] for m in modes])
    ka = np.concatenate([np.full(200, 0.54), np.full(40, 1.2)])
    rho = float(th.dry_air_density(P0, T0, th.mixing_ratio_from_rh(P0, T0, 1 + S0)))
    m = ParcelModel(P0, T0, 1.0, droplets.Population(droplets.equilibrium_radii(S0, rd, ka, T0), rd, ka, n / rho),
                    rh=1 + S0, dt=0.25, kinetic=True, alpha_c=0.3)
    h = m.run(250.0)
    S_max = float(h["S"].max())
    assert 100 * S_max == pytest.approx(0.63, rel=0.10)
    Sc = koehler.critical_supersaturation(rd, ka, m.T)   # at the final temperature, as pyrcel does
    cdnc = n[Sc < S_max].sum() / 1e6
    assert cdnc == pytest.approx(156.9, rel=0.20)
    assert n[200:][Sc[200:] < S_max].sum() / 1e6 == pytest.approx(10.0, rel=1e-9)   # all sea salt activates
