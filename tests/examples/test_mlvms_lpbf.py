"""Smoke test: examples/mlvms_lpbf.py --quick matches the Green's function and conserves energy."""
import importlib.util
import json
from pathlib import Path

EX = Path(__file__).resolve().parents[2] / "examples" / "mlvms_lpbf.py"


def test_mlvms_lpbf_quick(tmp_path):
    spec = importlib.util.spec_from_file_location("mlvms_lpbf", EX)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--quick", "--outdir", str(tmp_path)]) == 0
    s = json.loads((tmp_path / "numbers.json").read_text())["summary"]
    assert s["green_rms_rel_error"] < 0.02
    assert abs(s["energy_imbalance"]) < 0.01
    assert 50.0 < s["melt_width_um"] < 300.0 and s["melt_length_um"] > s["melt_width_um"]
    assert s["equivalent_spacetime_dofs"] > 1e6
    assert (tmp_path / "mlvms_lpbf.png").stat().st_size > 20000
