"""Smoke test: the SMBH-binary example forms a binary that hardens and (with 2.5PN) coalesces."""
import importlib.util
import json
from pathlib import Path

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
