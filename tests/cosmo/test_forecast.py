"""VGForecast: the paper's default setup, GR consistency, MG separation, MPI, I/O and bad input."""
import json

import numpy as np
import pytest

from cosmo import VGForecast
from cosmo._kernels.forecast import cross_covariance_sum
from cosmo.growth import growth_rate
from gpu.config import ConfigError
from tests.mpi_harness import run_mpi

SMALL = {"forecast": {"experiments": ["SO_baseline"], "samples": ["DESI_LRG"], "power_method": "eh",
                      "n_bins": 6, "models": [{"type": "hu_sawicki", "fR0": 1e-5, "name": "fR5"}]}}


@pytest.fixture(scope="module")
def default():
    fc = VGForecast()
    fc.run()
    return fc


def test_default_snr_in_paper_range(default):
    # Patki et al. 2025: cumulative S/N about 20-55 (here per experiment, samples combined)
    for e, v in default.snr_combined.items():
        assert 20 <= v <= 55, (e, v)
    assert 20 <= default.results["SO_baseline x DESI_LRG"]["snr"] <= 55
    # SO beats ACT for every sample; LRG is the strongest sample
    for s in ("DESI_LRG", "DESI_ELG", "DESI_QSO"):
        assert default.results[f"SO_baseline x {s}"]["snr"] > default.results[f"ACT_DR6 x {s}"]["snr"]
    snr = [default.results[f"SO_baseline x {s}"]["snr"] for s in ("DESI_LRG", "DESI_ELG", "DESI_QSO")]
    assert snr[0] > snr[1] > snr[2]


def test_effective_redshifts_match_paper(default):
    for s, zp in (("DESI_LRG", 0.73), ("DESI_ELG", 1.33), ("DESI_QSO", 1.84)):
        assert default.results[f"SO_baseline x {s}"]["z_eff"] == pytest.approx(zp, abs=0.05)


def test_gr_vg_equals_omega_m_over_f(default):
    for r in default.results.values():
        eg = r["E_G_GR"]
        # independent: Omega_m0 / f(z_eff) with the GR growth rate
        from cosmo.background import background

        assert eg == pytest.approx(background().Om0_tot / growth_rate(z=r["z_eff"]), rel=1e-10)
        # window-averaged V_G in GR equals E_G at z_eff to the few-per-mille level (f varies across the shell)
        assert np.allclose(r["V_G"], eg, rtol=0.015)


def test_mg_separation_ordering(default):
    so = default.results["SO_baseline x DESI_LRG"]["delta_chi2"]
    act = default.results["ACT_DR6 x DESI_LRG"]["delta_chi2"]
    assert so["fR_1e-4"] > so["fR_1e-5"] > so["fR_1e-6"] >= 0
    assert so["fR_1e-4"] > 9  # SO x DESI LRG separates |f_R0| = 1e-4 from GR at > 3 sigma
    assert so["chameleon"] > 1
    for m in so:
        assert so[m] > act[m]
    # marginalising the amplitude (b_v) can only lose information
    marg = default.results["SO_baseline x DESI_LRG"]["delta_chi2_amp_marg"]
    assert all(marg[m] <= so[m] * (1 + 1e-12) for m in so)
    # f(R): V_G -> GR on large scales, suppressed on small scales
    v = np.array(default.results["SO_baseline x DESI_LRG"]["V_G_models"]["fR_1e-4"])
    g = np.array(default.results["SO_baseline x DESI_LRG"]["V_G"])
    assert abs(v[0] / g[0] - 1) < 0.03 and v[-1] / g[-1] < 0.9


def test_cross_covariance_small_bounded(default):
    for r in default.results.values():
        rho = np.asarray(r["rho"])
        assert np.all(np.abs(rho) < 0.05)
        assert np.all(np.isfinite(rho))


def test_cross_covariance_zero_for_top_hat_window():
    # a top-hat galaxy window has no power in the radial modes n != 0 of the shell -> rho = 0 exactly
    nb, nsub, nmax = 2, 4, 40
    edges = np.array([0.01, 0.02, 0.03])
    ones = np.ones((nb, nsub))
    lnk = np.linspace(np.log(1e-4), np.log(10), 64)
    lnp = np.log(1e4 * np.ones(64))
    f = 0.8 * np.ones(64)
    wk = np.linspace(0.3, 0.1, nmax + 1)
    z = np.zeros(nmax + 1)
    args = (edges, nsub, nmax, 1000.0, 1e6, 2000.0, 1e-6 * ones, 1e-6 * ones, 1e-5 * ones, wk, 0.5 * wk)
    tail = (100.0, 2.0, 1.0, f, lnk, lnp, 3e-4, 1e10, 1.0)
    assert np.all(cross_covariance_sum(*args, np.r_[1.0, z[1:]], z, *tail) == 0.0)
    rho = cross_covariance_sum(*args, np.r_[1.0, 0.1 * np.ones(nmax)], 0.05 * np.ones(nmax + 1), *tail)
    assert np.all(rho != 0) and np.all(np.abs(rho) < 1)


def test_b_v_reduces_snr():
    lo = VGForecast({"forecast": {**SMALL["forecast"], "b_v": 0.45}}).run()
    hi = VGForecast(SMALL).run()
    assert lo["SO_baseline x DESI_LRG"]["snr"] < hi["SO_baseline x DESI_LRG"]["snr"]


def _leaves(obj, path=""):
    """(path, value) of every number / string in a nested JSON structure."""
    if isinstance(obj, dict):
        for k in sorted(obj):
            yield from _leaves(obj[k], f"{path}/{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _leaves(v, f"{path}[{i}]")
    else:
        yield path, obj


@pytest.mark.mpi
def test_mpi_identical_to_serial(tmp_path):
    """README / module docstring: results equal the serial run bit for bit. Both runs use the same
    threads (1 per rank, mpi_harness), so every number of the summary must be equal, not close."""
    script = f"""
from cosmo import VGForecast
fc = VGForecast({SMALL!r})
fc.run()
fc.write_json("mpi_%d.json" % fc.comm.size)
"""
    run_mpi(script, 1, tmp_path, timeout=600)
    run_mpi(script, 2, tmp_path, timeout=600)
    one, two = (json.loads((tmp_path / f"mpi_{n}.json").read_text()) for n in (1, 2))
    a = list(_leaves({"results": one["results"], "snr_combined": one["snr_combined"]}))
    b = list(_leaves({"results": two["results"], "snr_combined": two["snr_combined"]}))
    assert [p for p, _ in a] == [p for p, _ in b]
    diff = [(p, x, y) for (p, x), (_, y) in zip(a, b) if x != y]
    assert not diff, diff[:5]
    assert len(a) > 50  # the comparison covers the per-bin arrays, not only the scalars


def test_cli_writes_outputs(tmp_path):
    from cosmo.__main__ import main
    from gpu.io import read_results

    cfg = tmp_path / "c.toml"
    cfg.write_text('[forecast]\nexperiments = ["SO_goal"]\nsamples = ["DESI_ELG"]\npower_method = "eh"\n'
                   'n_bins = 4\n[[models]]\ntype = "chameleon"\nname = "cham"\n')
    assert main(["forecast", str(cfg), "--out", str(tmp_path / "f.h5"), "--json", str(tmp_path / "s.json"),
                 "--quiet"]) == 0
    s = json.loads((tmp_path / "s.json").read_text())
    r = s["results"]["SO_goal x DESI_ELG"]
    assert {"z_eff", "snr", "E_G_GR", "V_G", "sigma_V_G", "delta_chi2"} <= set(r)
    assert "cham" in r["delta_chi2"] and len(r["V_G"]) == 4
    data, header = read_results(tmp_path / "f.h5")
    assert data["SO_goal__DESI_ELG/V_G"].shape == (4,)
    assert "experiments" in header


@pytest.mark.parametrize("cfg,match", [
    ({"forecast": {"experiments": ["Planck_HFI"]}}, "unknown CMB experiment"),
    ({"forecast": {"samples": ["Euclid"]}}, "unknown galaxy sample"),
    ({"forecast": {"b_v": -1.0}}, "b_v"),
    ({"forecast": {"k_min": 0.2, "k_max": 0.1}}, "k_max"),
    ({"surveys": {"cmb": {"SO_baseline": {"noise_uK_arcmin": [71, 36, -8, 10, 22, 54]}}}}, "noise_uK_arcmin"),
    ({"forecast": {"nbins": 3}}, "unknown config key"),
])
def test_bad_config(cfg, match):
    with pytest.raises((ConfigError, ValueError), match=match):
        VGForecast(cfg)


def test_z_outside_sample_range():
    from cosmo.surveys import load_surveys

    with pytest.raises(ValueError, match="outside the range"):
        load_surveys().sample("DESI_LRG").bias(1.5)


def test_velocity_fisher_cosmic_variance_limit():
    # perfectly correlated g and v (real space, no shot noise, no reconstruction noise, b_v = 1):
    # sigma_A / A = 1 / sqrt(N_modes), N_modes = V (k1^3 - k0^3) / (12 pi^2) independent modes in the bin
    from cosmo._kernels.forecast import velocity_fisher

    edges = np.array([0.01, 0.03, 0.06])
    lnk = np.linspace(np.log(1e-3), np.log(1.0), 50)
    lnp = np.log(2e4 * np.exp(-np.exp(lnk) / 0.2))
    f = 0.8 * np.ones(50)
    V = 3e9
    F, A = velocity_fisher(edges, 400, 64, V, 90.0, 1.8, 1.0, f, lnk, lnp, 1e12, 1e-12, 0.0)
    nmodes = V * (edges[1:] ** 3 - edges[:-1] ** 3) / (12 * np.pi**2)
    # Fisher on the amplitude of a k-dependent A: compare the fractional error per bin
    assert np.allclose(1 / np.sqrt(F) / A, 1 / np.sqrt(nmodes), rtol=2e-3)
