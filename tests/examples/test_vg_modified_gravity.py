"""Smoke test: examples/vg_modified_gravity.py --quick writes its figure and the Delta chi^2 table."""
import importlib.util
import json
from pathlib import Path

EX = Path(__file__).resolve().parents[2] / "examples" / "vg_modified_gravity.py"


def test_vg_modified_gravity_quick(tmp_path):
    spec = importlib.util.spec_from_file_location("vg_modified_gravity", EX)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--quick", "--outdir", str(tmp_path)]) == 0
    s = json.loads((tmp_path / "numbers.json").read_text())["summary"]
    assert (tmp_path / "vg_modified_gravity.png").stat().st_size > 10000
    key = "SO_baseline x DESI_LRG"
    assert s[f"delta_chi2 fR_1e-4 ({key})"] > s[f"delta_chi2 fR_1e-5 ({key})"] > s[f"delta_chi2 fR_1e-6 ({key})"]
    assert s[f"delta_chi2 fR_1e-4 ({key})"] > 4
    # f(R) |f_R0| = 1e-5 suppresses E_G at k = 0.1 h/Mpc, z ~ 0.75, by a few per cent
    assert 0.85 < s["E_G fR_1e-5 / GR at k=0.1"] < 0.99
