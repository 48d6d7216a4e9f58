"""Smoke test: examples/clouds_parcel_spectra.py --quick."""
import importlib.util
import json
from pathlib import Path

EX = Path(__file__).resolve().parents[2] / "examples" / "clouds_parcel_spectra.py"


def _load():
    spec = importlib.util.spec_from_file_location("clouds_parcel_spectra", EX)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_parcel_spectra_quick(tmp_path):
    assert _load().main(["--quick", "--outdir", str(tmp_path)]) == 0
    s = json.loads((tmp_path / "numbers.json").read_text())["summary"]
    assert (tmp_path / "parcel_spectra.png").stat().st_size > 1000
    # adiabatic growth keeps the activated spectrum narrow; eddy hopping broadens it to the
    # observed range (0.2-0.4)
    assert s["relative_dispersion_activated_adiabatic"] < 0.05
    assert 0.15 < s["relative_dispersion_activated_eddy_hopping"] < 0.5
    assert 0.1 < s["S_max_percent_adiabatic"] < 1.0
    assert abs(s["water_drift_adiabatic"]) < 1e-15
