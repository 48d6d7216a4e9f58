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


@pytest.mark.slow
def test_ketju_binary_hardening_rate(tmp_path):
    """N = 10000, no PN: the binary becomes hard and hardens at the scattering-experiment rate.

    H = sigma/(G rho) d(1/a)/dt (Quinlan 1996) is fitted over the whole hard phase (a < a_h, t ~ 4.5-12)
    with rho(t), sigma(t) the stellar density and 1D dispersion within r_infl (M_*(<r_infl) = 2 M_bin)
    sampled during the hardening. Reference: the scattering experiments of Sesana, Haardt & Madau
    (2006, Table 1; q = 1) give H(a) = 14.55 (1 + a/(3.48 a_h))^-0.95, i.e. 11.5 at a = a_h rising to
    the asymptotic 14.6 (Quinlan: ~16; the "15-20" of the issue) only for a << a_h; over the range
    a_h > a > 0.35 a_h that a 12-time-unit run covers it averages ~12.4. Sesana & Khan (2015) showed
    that N-body hardening matches this when rho, sigma are taken at r_infl; at N = 1e4 the loss cone is
    kept nearly full by relaxation and Brownian motion of the binary (refilling parameter
    ~ P/(t_rel R_lc) ~ 4 at r_infl), so H should be close to, and not above, the scattering value.
    Five runs (seeds, r_ketju = 3/6 eps, dt_max = 1/32 and 1/64, eps = 0.005/0.0025) gave
    H_within / H_SHM06 = 0.75-1.01 and H_at = 15-19 (see /work/notes/s2-s2-hardening.md); the bounds
    below allow for this realisation-to-realisation scatter (+-15 %). ~3 min on 2 idle cores."""
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
    # the scattering prediction over the a/a_h range covered (between its values at a_h and at 0)
    assert 11.4 < s["H_SHM06_within"] < 14.6
    # within r_infl (N-body convention): the scattering value, or up to 35 % less (loss cone not quite full)
    assert 0.65 < s["H_within"] / s["H_SHM06_within"] < 1.2
    assert 8 < s["hardening_rate_H"] < 15
    # at r_infl (Sesana & Khan 2015): the "15-20"
    assert 12 < s["H_at"] < 24
