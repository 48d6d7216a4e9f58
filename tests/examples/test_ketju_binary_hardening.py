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
    """N = 10000, no PN: the binary becomes hard and hardens at H = sigma/(G rho) d(1/a)/dt of order 10.

    Quinlan (1996) and Sesana et al. (2006) find H ~ 15-20 for a full loss cone; at N = 1e4 the loss cone
    refills by relaxation only and we measure H = 8.6 (~4 min on 2 cores), hence the wide bounds."""
    spec = importlib.util.spec_from_file_location("ketju_hb", EX)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--n", "10000", "--m-bh", "0.005", "--r0", "0.15", "--t-end", "12", "--no-pn",
                     "--outdir", str(tmp_path)]) == 0
    s = json.loads((tmp_path / "numbers.json").read_text())["summary"]
    assert s["mergers"] == 0
    assert 5 < s["hardening_rate_H"] < 25
