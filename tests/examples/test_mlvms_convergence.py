"""Smoke test: examples/mlvms_convergence.py --quick reproduces the convergence rates."""
import importlib.util
import json
from pathlib import Path

EX = Path(__file__).resolve().parents[2] / "examples" / "mlvms_convergence.py"


def test_mlvms_convergence_quick(tmp_path):
    spec = importlib.util.spec_from_file_location("mlvms_convergence", EX)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--quick", "--outdir", str(tmp_path)]) == 0
    s = json.loads((tmp_path / "numbers.json").read_text())["summary"]
    assert abs(s["P1_L2_rate"] - 2.0) < 0.1 and abs(s["P1_H1_rate"] - 1.0) < 0.1
    assert s["CHiDeNN_p3_L2_rate"] > 3.4  # ~ p + 1 = 4 (pre-asymptotic at the quick sizes)
    assert s["P1_dofs_to_match_CHiDeNN_p3"] > 10 * s["CHiDeNN_p3_dofs"]
    assert s["ML_energy_error_over_fine"] < 1.05 and s["ML_dofs_over_fine"] < 0.5
    assert (tmp_path / "mlvms_convergence.png").stat().st_size > 10000
