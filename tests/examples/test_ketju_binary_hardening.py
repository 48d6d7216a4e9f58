"""Smoke test: the SMBH-binary example forms a binary that hardens and (with 2.5PN) coalesces."""
import importlib.util
import json
from pathlib import Path

import pytest

EX = Path(__file__).resolve().parents[2] / "examples" / "ketju_binary_hardening.py"


def test_ketju_binary_hardening_quick(tmp_path):
    spec = importlib.util.spec_from_file_location("ketju_hb", EX)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--quick", "--outdir", str(tmp_path)]) == 0
    d = json.loads((tmp_path / "numbers.json").read_text())
    s = d["summary"]
    assert (tmp_path / "ketju_binary_hardening.png").exists()
    # a bound binary forms: 1/a grows well beyond its initial value (r0 = 0.15)
    a = [x for x in d["a"] if x > 0]
    assert 1 / min(a) > 3 / s["r0"]
    # with the (lowered-c) 2.5PN radiation reaction the binary coalesces; the remnant lost mass to GWs
    assert s["mergers"] == 1
    assert s["remnant_mass"] < 2 * s["m_bh"]


def _load():
    spec = importlib.util.spec_from_file_location("ketju_hb", EX)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_measure_hardening_synthetic():
    """The example's H measurement on a synthetic orbit log with a known H and a scouring background."""
    import numpy as np

    mod = _load()
    m = 0.005
    t = np.arange(1, 385) / 32.0
    ti = np.arange(1, 49) / 4.0
    rho_i = 1.2 * np.exp(-ti / 10)  # the nucleus is scoured: rho within r_infl falls with time
    infl = {"t": ti, "r_infl": 0.16 + 0.002 * ti, "rho_within": rho_i, "sigma_within": np.full(ti.size, 0.38),
            "rho_at": 0.6 * rho_i, "sigma_at": np.full(ti.size, 0.35)}
    H0 = 12.0  # d(1/a)/dt = H0 rho/sigma (G = 1) with rho inside r_infl, from 1/a = 20 at t = 0
    inv_a = 20 + H0 / 0.38 * 1.2 * 10 * (1 - np.exp(-t / 10))
    log = {"t": t, "a": 1 / inv_a, "e": np.full(t.size, 0.3)}
    out = mod.measure_hardening(log, infl, m, m)
    a_h = (0.16 + 0.002 * t) / 16
    assert out["t_hard"] == pytest.approx(t[np.argmax(1 / inv_a < a_h)])
    assert out["t_window_end"] == t[-1]
    assert out["H_within"] == pytest.approx(H0, rel=1e-3)
    assert out["H_at"] == pytest.approx(H0 * 0.35 / 0.38 / 0.6, rel=1e-3)
    assert out["hardening_rate_H"] == out["H_within"]
    # with a (low) speed of light the window stops where Peters' GW decay reaches 10 % of the stellar rate
    pn = mod.measure_hardening(log, infl, m, m, c=15.0, pn=True)
    assert pn["t_hard"] == out["t_hard"] and pn["t_window_end"] < out["t_window_end"]
    assert pn["H_within"] == pytest.approx(H0, rel=1e-3)
    # no hard phase: nothing measured
    assert mod.measure_hardening({"t": t, "a": np.full(t.size, 0.05), "e": log["e"]}, infl, m, m) == {}


@pytest.mark.slow
def test_ketju_binary_hardening_rate(tmp_path):
    """N = 10000, no PN: the binary becomes hard and hardens at the scattering-experiment rate.

    H = sigma/(G rho) d(1/a)/dt (Quinlan 1996) is fitted over the whole hard phase (a < a_h, t ~ 4.6-12)
    with rho(t), sigma(t) the stellar density and 1D dispersion within r_infl (M_*(<r_infl) = 2 M_bin)
    sampled during the hardening. Reference: the scattering experiments of Sesana, Haardt & Madau
    (2006, Table 1, q = 1) give H(a) = 14.55 (1 + a/(3.48 a_h))^-0.95, i.e. 11.5 at a = a_h, rising to
    the asymptotic 14.6 (Quinlan: ~16; Sesana & Khan 2015's "15-20") only for a << a_h; over the range
    a_h > a > ~0.35 a_h that a 12-time-unit run covers it averages ~12.4 (``H_SHM06_within``).
    Sesana & Khan (2015) found N-body hardening equal to the scattering rate once rho and sigma are
    those near r_infl; at N = 1e4 two-body relaxation and the binary's Brownian wandering (~0.3 r_infl)
    keep the loss cone close to full, so H / H_SHM06 ~ 1 is expected.

    Measured (seven N = 1e4 runs: seeds 2 (twice: two realisations), 3, 4; seed 2 with r_ketju = 6 eps,
    with dt_max = 1/64 and eta = 0.01, with eps = 0.0025): H_within = 12.4, 11.3, 10.7, 19.4, 9.3, 10.1,
    9.95, i.e. H/H_SHM06 = 1.01, 0.91, 0.86, 1.52, 0.75, 0.80, 0.79 (mean 0.95); H with rho, sigma in a
    shell at r_infl (Sesana & Khan's "at r_infl") = 19.3, 18.1, 16.1, 28.7, 15.2, 17.0, 15.6 (mean 18.6).
    With m_star/M_bin = 0.01 single slingshot ejections change 1/a by up to 40 % (seed 4, e ~ 0.8): the
    realisation scatter is +-30 % and the bounds below allow for it (the N-body is chaotic: rounding-level
    differences give another realisation). ~3 min on 2 idle cores."""
    spec = importlib.util.spec_from_file_location("ketju_hb", EX)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--n", "10000", "--m-bh", "0.005", "--r0", "0.15", "--t-end", "12", "--no-pn",
                     "--outdir", str(tmp_path)]) == 0
    s = json.loads((tmp_path / "numbers.json").read_text())["summary"]
    assert s["mergers"] == 0
    # the binary becomes hard well before the end and 1/a grows by more than 2x during the hard phase
    assert s["t_hard"] < 7.0
    assert s["inv_a_window"][1] > 2 * s["inv_a_window"][0]
    # the hardening is not an integration artefact: the total energy error (3-5e-3 of |E|, the bulk
    # leapfrog's: the same galaxy without SMBHs drifts by the same -4e-5 per time unit) stays well below
    # the binding energy the binary gains in the hard phase (7 runs: 5-19 %)
    gain = 0.5 * s["m_bh"] ** 2 * (s["inv_a_window"][1] - s["inv_a_window"][0])
    assert abs(s["energy_drift"]) < 0.3 * gain
    # the scattering prediction over the a/a_h range covered lies between its values at a_h and at 0
    assert 11.4 < s["H_SHM06_within"] < 14.6
    # within r_infl (N-body convention): the scattering value within the realisation scatter
    assert 0.6 < s["H_within"] / s["H_SHM06_within"] < 1.7
    assert s["hardening_rate_H"] == s["H_within"]
    # at r_infl (Sesana & Khan 2015): their "about 15-20", same scatter
    assert 12 < s["H_at"] < 32
