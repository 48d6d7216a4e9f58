"""Smoke test of examples/ketju_pn_inspiral.py --quick: figure written and physical numbers right."""
import importlib.util
import json
from pathlib import Path

import pytest

EX = Path(__file__).resolve().parents[2] / "examples" / "ketju_pn_inspiral.py"


def test_ketju_pn_inspiral_quick(tmp_path):
    spec = importlib.util.spec_from_file_location("ketju_pn_inspiral", EX)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--quick", "--outdir", str(tmp_path)]) == 0
    assert (tmp_path / "ketju_pn_inspiral.png").stat().st_size > 10_000
    s = json.loads((tmp_path / "numbers.json").read_text())["summary"]
    # 2.5PN only follows Peters' orbit-averaged evolution to merger (0.2% measured)
    assert s["merger_time_over_peters_25pn"] == pytest.approx(1.0, abs=0.02)
    # the higher PN orders at a periapsis of 25 r_s shorten the inspiral by a few percent (measured 0.946)
    assert 0.85 < s["merger_time_over_peters"] < 1.0
    # periapsis advance: 1PN formula up to the 2PN correction ~ few x GM/(c^2 a (1-e^2)) = 1e-2
    assert s["precession_measured_over_1pn"] == pytest.approx(1.0, abs=0.1)
    assert 0.6 < s["remnant_spin"] < 0.95 and 0.9 < s["remnant_mass_over_M"] < 0.99
