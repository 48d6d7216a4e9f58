"""Nonlinear space-time TD of the LPBF heat equation (pde.nonlinear.solve_track_td): the enthalpy inverse, the
separated (HOSVD) form of non-separable data, the constant-property case reducing to the linear TD of the same
equations, agreement with the full-order Newton solver with k(T), c_p(T) and latent heat, and the config / CLI."""
import json

import numpy as np
import pytest
import scipy.sparse as sp

from pde.heat_source import GaussianBeam, ScanPath
from pde.materials import THERMAL_TABLES, get_material, get_thermal_table, temperature_of_enthalpy, \
    volumetric_enthalpy
from pde.nonlinear import (ThermalModel, p1_load, p1_matrices, reference_coefficients, solve_track, solve_track_td,
                           track_axes)
from pde.td import SeparatedProblem, separate_tensor, truncated_svd

MAT = get_material("Ti6Al4V")
TAB = get_thermal_table("Ti6Al4V")
BEAM = GaussianBeam(200.0, 0.4, 50e-6, 40e-6, 1.0, (0.3e-3, 0.0), 0.6e-3)
BLOCK = (1.2e-3, 0.8e-3, 0.4e-3)
#: a small track: 25 um mesh (4730 nodes), 10 us steps
H, DT = 25e-6, 10e-6


@pytest.mark.parametrize("name", sorted(THERMAL_TABLES))
def test_enthalpy_inverse_round_trip(name):
    """temperature_of_enthalpy inverts volumetric_enthalpy to 1e-8 K below, inside and above the melting range, from
    guesses far off (the bracketed Newton iteration)."""
    t = get_thermal_table(name)
    _, _, Tc, c = t.arrays()
    args = (Tc, c, t.density, t.latent_heat, t.solidus, t.liquidus, 300.0)
    for T in (250.0, 300.0, 1000.0, t.solidus + 1e-3, 0.5 * (t.solidus + t.liquidus), t.liquidus - 0.3, 3000.0):
        E = volumetric_enthalpy(T, *args)
        for guess in (300.0, T + 2000.0, 50.0):
            assert temperature_of_enthalpy(E, *args, guess) == pytest.approx(T, abs=1e-8)


def test_separate_tensor_recovers_rank_and_meets_its_tolerance():
    """A rank-3 4-way array is reproduced to round-off by 3 x 3 x 3 terms (the Tucker core of multilinear rank 3
    expanded along one direction); with noise of relative size ~1e-3 the reached error is below the requested 1e-2
    and equals the true Frobenius error of the returned terms."""
    rng = np.random.default_rng(1)
    shape = (9, 7, 6, 5)
    G = np.einsum("ir,jr,kr,lr->ijkl", *[rng.standard_normal((n, 3)) for n in shape])
    f, err = separate_tensor(G, 1e-6)
    assert f[0].shape[1] <= 27 and err < 1e-6
    assert np.linalg.norm(np.einsum("ir,jr,kr,lr->ijkl", *f) - G) < 1e-12 * np.linalg.norm(G)
    Gn = G + 1e-3 * np.linalg.norm(G) / np.sqrt(G.size) * rng.standard_normal(shape)
    f, err = separate_tensor(Gn, 1e-2)
    true = np.linalg.norm(np.einsum("ir,jr,kr,lr->ijkl", *f) - Gn) / np.linalg.norm(Gn)
    assert true <= 1e-2 and true == pytest.approx(err, rel=1e-6)
    f, err = separate_tensor(1e-20 * G, 1e-4, scale=np.linalg.norm(G))  # below tolerance: no term at all
    assert f[0].shape == (9, 0) and err < 1e-4


def test_constant_properties_reduce_to_the_linear_td_exactly():
    """With constant properties the reference operator is the linear heat operator (a = a_s = 1), the deviation
    phi(T(u)) - u is round-off, so the iteration stops after the first solve: the result equals the linear TD of the
    backward-Euler equations (built here independently, coefficients rho c and k) to round-off, and that agrees with
    the full-order linear solve to the TD truncation (measured rms 3e-5 of the peak rise at 15 modes)."""
    model = ThermalModel.from_material(MAT, T0=300.0)
    assert reference_coefficients(model) == (MAT.rho_c, 1.0, 1.0)
    t_end, modes = 6e-5, 12
    td = solve_track_td(BEAM, BLOCK, model, t_end, h_fine=H, dt=DT, modes=modes, T_melt=MAT.solidus, td_tol=1e-5)
    assert td["converged"] and len(td["picard"]) == 1 and td["picard"][0]["deviation_rank"] == 0
    # the linear TD, assembled here
    path = ScanPath(BEAM, 1)
    x, y, z, _ = track_axes(BEAM, BLOCK, path, H, (3.0, 3.0, 2.5))
    ts = np.linspace(0.0, t_end, 7)
    hs = np.diff(ts)
    (Mx, Kx, mx), (My, Ky, my), (Mz, Kz, mz) = (p1_matrices(a) for a in (x, y, z))
    Dt, It = sp.diags([1 / hs, -1 / hs[1:]], [0, -1]), sp.identity(6)
    ops = [[sp.diags(mx), sp.diags(my), sp.diags(mz), Dt], [Kx, My, Mz, It], [Mx, Ky, Mz, It], [Mx, My, Kz, It]]
    coefs = [MAT.rho_c] + [MAT.conductivity] * 3
    tg, wg = np.polynomial.legendre.leggauss(3)
    Bx = np.stack([sum(0.5 * w * p1_load(x, lambda xx, tq=tq: path.track_x_load(0, xx, tq))
                       for tq, w in zip(0.5 * (b - a) * (tg + 1) + a, wg)) for a, b in zip(ts[:-1], ts[1:])], 1)
    Ax, At = truncated_svd(Bx, 1e-8)
    by, bz = p1_load(y, lambda yy: path.track_gy(0, yy)), p1_load(z, BEAM.fz)
    R = Ax.shape[1]
    load = [Ax, np.repeat(by[:, None], R, 1), np.repeat(bz[:, None], R, 1), At]
    U = SeparatedProblem.single_level(ops, coefs, load, norm_ops=[Mx, My, Mz, sp.diags(hs)]).solve(
        modes, "subspace", tol=1e-5, max_iter=60)[0]
    T_lin = 300.0 + np.einsum("im,jm,km,m->ijk", U[0], U[1], U[2], U[3][-1])
    rise = T_lin.max() - 300.0
    assert np.abs(td["T_end"] - T_lin).max() <= 1e-10 * rise
    full = solve_track(BEAM, BLOCK, model, t_end, h_fine=H, dt=DT)
    err = td["T_end"] - full["solver"].field()
    assert np.sqrt(np.mean(err ** 2)) < 2e-4 * rise and np.abs(err).max() < 3e-3 * rise


@pytest.fixture(scope="module")
def latent_runs():
    model = ThermalModel.from_material(MAT, TAB, T0=300.0, temperature_dependent=True, latent_heat=True)
    t_end = 8e-5
    full = solve_track(BEAM, BLOCK, model, t_end, h_fine=H, dt=DT, T_melt=MAT.solidus)
    td = solve_track_td(BEAM, BLOCK, model, t_end, h_fine=H, dt=DT, modes=15, T_melt=MAT.solidus)
    return full, td


def test_nonlinear_td_matches_the_full_order_solver_with_latent_heat(latent_runs):
    """k(T), c_p(T) and latent heat (Ti-6Al-4V), 80 us of the default track: the fixed point converges (change
    <= 1e-3, contracting every iteration after the second) and the TD field at t_end agrees with the full-order
    Newton solution of the same equations: rms < 5e-4 and max < 1e-2 of the peak rise, peak temperature within
    0.3 %, melt-pool length, width and depth within 2 % (measured: rms 1.8e-4, max 4.3e-3, peak 6 K low, length
    0.2 %, width and depth < 0.1 %).  The full-order residual of the iterates falls."""
    full, td = latent_runs
    recs = td["picard"]
    assert td["converged"] and recs[-1]["change"] <= 1e-3 and len(recs) <= 12
    ch = [r["change"] for r in recs[1:]]
    assert all(b < a for a, b in zip(ch, ch[1:]))
    assert recs[-1]["residual"] < 0.5 * recs[0]["residual"]
    T_full = full["solver"].field()
    rise = T_full.max() - 300.0
    err = td["T_end"] - T_full
    assert np.sqrt(np.mean(err ** 2)) < 5e-4 * rise and np.abs(err).max() < 1e-2 * rise
    assert td["peak_T"] == pytest.approx(full["peak_T"], rel=3e-3)
    for key in ("length", "width", "depth"):
        assert full["melt_pool"][key] > 0
        assert td["melt_pool"][key] == pytest.approx(full["melt_pool"][key], rel=0.02)
    assert abs(td["energy"]["relative_imbalance"]) < 0.01


def test_anderson_acceleration_reaches_the_same_fixed_point_in_fewer_iterations():
    """Anderson mixing (depth 3, Walker & Ni 2011) of the fixed point on the small latent-heat track: to a change of
    2e-4 it takes fewer iterations than the plain iteration (measured 7 against 9), and both stop at the same fixed
    point: the two fields at t_end differ by less than the distance of either to the fixed point, which the stopping
    change bounds as change / (1 - rho) with the measured contraction rho <= 0.6 (measured: rms 6e-5, max 1.5e-3 of
    the peak rise between the tol 1e-4 results and 40 plain iterations; asserted rms < 5e-4 and max < 1e-2)."""
    model = ThermalModel.from_material(MAT, TAB, T0=300.0, temperature_dependent=True, latent_heat=True)
    kw = dict(h_fine=H, dt=DT, modes=15, T_melt=MAT.solidus, tol=2e-4)
    plain = solve_track_td(BEAM, BLOCK, model, 8e-5, anderson=0, **kw)
    acc = solve_track_td(BEAM, BLOCK, model, 8e-5, anderson=3, **kw)
    assert plain["converged"] and acc["converged"]
    assert len(acc["picard"]) < len(plain["picard"])
    assert max(r["anderson_depth"] for r in acc["picard"]) >= 2  # the mixing was used, not only plain steps
    rise = plain["T_end"].max() - 300.0
    d = acc["T_end"] - plain["T_end"]
    assert np.sqrt(np.mean(d ** 2)) < 5e-4 * rise and np.abs(d).max() < 1e-2 * rise
    assert acc["peak_T"] == pytest.approx(plain["peak_T"], rel=1e-3)


def test_nonlinear_td_rejects_what_it_does_not_model():
    model = ThermalModel.from_material(MAT, TAB, T0=300.0, temperature_dependent=True, evaporation=True)
    with pytest.raises(ValueError, match="evaporation"):
        solve_track_td(BEAM, BLOCK, model, 1e-4, h_fine=H, dt=DT)
    from gpu.config import ConfigError

    with pytest.raises(ConfigError, match="modes"):
        solve_track_td(BEAM, BLOCK, ThermalModel.from_material(MAT, T0=300.0), 1e-4, modes=0)
    with pytest.raises(ConfigError, match="anderson"):
        solve_track_td(BEAM, BLOCK, ThermalModel.from_material(MAT, T0=300.0), 1e-4, anderson=-1)


TD_CFG = """[domain]
t_end = 6e-5
[nonlinear]
mesh_spacing = 25e-6
time_step = 10e-6
td_modes = 12
"""


def test_cli_nonlinear_td(tmp_path, capsys):
    """``python -m pde lpbf --temperature-dependent --latent-heat --nonlinear-solver td``: the nonlinear TD runs and
    the summary carries the fixed-point record; a fixed point that does not reach picard_tol is written as failed
    (exit 1); td with evaporation, td without a nonlinear option and an unknown
    --material are bad input (exit 2, one error line naming the keys, nothing written)."""
    from gpu.io import read_results
    from pde.__main__ import main

    cfg = tmp_path / "td.toml"
    cfg.write_text(TD_CFG + "picard_anderson = 3\n")  # the Anderson-accelerated fixed point through the config
    out, js = tmp_path / "r.h5", tmp_path / "s.json"
    assert main(["lpbf", str(cfg), "--out", str(out), "--json", str(js), "--temperature-dependent", "--latent-heat",
                 "--nonlinear-solver", "td"]) == 0
    s = json.loads(js.read_text())
    assert s["status"] == "ok" and s["model"].startswith("nonlinear TD") and s["picard"]["converged"]
    assert s["picard"]["change"][-1] <= 1e-3 and len(s["picard"]["residual"]) == s["picard"]["iterations"]
    data, _ = read_results(out)
    assert data["T_end"].size == s["nodes"] and data["T_end"].max() == pytest.approx(s["melt_pool"]["peak_T"])
    assert "fixed-point iterations" in capsys.readouterr().out
    # one fixed-point iteration allowed: not converged -> written with status "failed", one error line, exit 1
    cfg.write_text(TD_CFG + "picard_max_iter = 1\n")
    out2, js2 = tmp_path / "r2.h5", tmp_path / "s2.json"
    assert main(["lpbf", str(cfg), "--out", str(out2), "--json", str(js2), "--latent-heat",
                 "--nonlinear-solver", "td"]) == 1
    err = capsys.readouterr().err.strip().splitlines()  # "warning:" lines (peak above boiling) and one error
    errors = [e for e in err if not e.startswith("warning:")]
    assert len(errors) == 1 and errors[0].startswith("error:") and "fixed-point change" in errors[0]
    s2 = json.loads(js2.read_text())
    assert s2["status"] == "failed" and not s2["picard"]["converged"] and s2["picard"]["iterations"] == 1
    for extra, words in ((["--temperature-dependent", "--nonlinear-solver", "td"], "boundary.evaporation"),
                         (["--nonlinear-solver", "td"], "nonlinear.solver"),
                         (["--material", "IN719"], "material.name")):
        text = TD_CFG + ("[boundary]\nevaporation = true\n" if "boundary" in words else "")
        cfg.write_text(text)
        bad = tmp_path / "bad.h5"
        assert main(["lpbf", str(cfg), "--out", str(bad)] + extra) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error:") and words in err[0]
        assert not bad.exists()


@pytest.mark.slow
def test_nonlinear_td_default_track_at_12um_matches_the_full_order_solver():
    """The README's validation (about 1 CPU minute each): Ti-6Al-4V with k(T), c_p(T) and latent heat, default track,
    0.2 ms, 12.5 um mesh (26,809 nodes), 5 us steps, 20 modes.  Measured: 11 fixed-point iterations (the plain
    default; 9 with anderson=3) to a change of 1e-3 (1, 0.13, 0.029, 0.011, 0.005, ... 0.00098), peak 6017 K vs 6056 K (-0.65 %), melt-pool length -0.3 %,
    width -1.9 %, depth +0.1 %, field rms 9.2e-4 and max 2.6e-2 of the peak rise at t_end."""
    model = ThermalModel.from_material(MAT, TAB, T0=300.0, temperature_dependent=True, latent_heat=True)
    full = solve_track(BEAM, BLOCK, model, 2e-4, h_fine=12.5e-6, dt=5e-6, T_melt=MAT.solidus)
    td = solve_track_td(BEAM, BLOCK, model, 2e-4, h_fine=12.5e-6, dt=5e-6, modes=20, T_melt=MAT.solidus)
    assert td["converged"] and len(td["picard"]) <= 15
    T_full = full["solver"].field()
    rise = T_full.max() - 300.0
    err = td["T_end"] - T_full
    assert np.sqrt(np.mean(err ** 2)) < 2e-3 * rise and np.abs(err).max() < 5e-2 * rise
    assert td["peak_T"] == pytest.approx(full["peak_T"], rel=0.01)
    for key in ("length", "width", "depth"):
        assert td["melt_pool"][key] == pytest.approx(full["melt_pool"][key], rel=0.03)
