"""Smoke test: examples/vg_forecast_snr.py --quick writes its figure and a physical S/N."""
import importlib.util
import json
from pathlib import Path

EX = Path(__file__).resolve().parents[2] / "examples" / "vg_forecast_snr.py"


def test_vg_forecast_snr_quick(tmp_path):
    spec = importlib.util.spec_from_file_location("vg_forecast_snr", EX)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--quick", "--outdir", str(tmp_path)]) == 0
    s = json.loads((tmp_path / "numbers.json").read_text())["summary"]
    assert (tmp_path / "vg_forecast_snr.png").stat().st_size > 10000
    # the paper's cumulative S/N range 20-55 for SO (10 bins up to k = 0.2 h/Mpc)
    assert 20 < s["snr_combined SO_baseline"] < 55
    assert abs(s["z_eff DESI_LRG"] - 0.73) < 0.05
