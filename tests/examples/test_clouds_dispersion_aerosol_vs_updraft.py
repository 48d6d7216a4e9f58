"""examples/clouds_dispersion_aerosol_vs_updraft.py --quick: figure, numbers and the signs of the eps-N_c slopes."""
import importlib.util
import json
from pathlib import Path

EX = Path(__file__).resolve().parents[2] / "examples" / "clouds_dispersion_aerosol_vs_updraft.py"


def test_dispersion_aerosol_vs_updraft_quick(tmp_path):
    spec = importlib.util.spec_from_file_location("clouds_dispersion_aerosol_vs_updraft", EX)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--quick", "--outdir", str(tmp_path)]) == 0
    for name in ("dispersion_aerosol_vs_updraft.png", "dispersion_aerosol_vs_updraft.pdf", "numbers.json"):
        assert (tmp_path / name).stat().st_size > 0
    data = json.loads((tmp_path / "numbers.json").read_text())
    s = data["summary"]
    # adiabatic parcels: aerosol-driven slope > 0 > updraft-driven slope (spread: tests/clouds/test_dispersion.py)
    assert s["slope_aerosol_adiabatic_per_cm3"] > 0 > s["slope_updraft_adiabatic_per_cm3"]
    # eddy hopping (two seeds): both slopes negative on average, the updraft one steeper; the
    # difference measured over 10 seed pairs is 5.4e-4 +- 1.6e-4 per cm^-3 (min 3.4e-4)
    assert s["slope_aerosol_eddy_per_cm3"] - s["slope_updraft_eddy_per_cm3"] > 1e-4
    # the closure changes the rate by the beta_6 ratio: Martin et al. (1994) raises it at high N_c
    assert s["ratio_at_1000cm3_martin_1994"] > 1 > s["ratio_at_50cm3_martin_1994"]
    assert 0.3 < s["lwc_g_m3"] < 0.7
    assert len(data["sweeps"]["aerosol_eddy"]) == 8
