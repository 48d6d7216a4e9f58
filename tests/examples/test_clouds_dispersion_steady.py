"""examples/clouds_dispersion_steady.py: the tiny open-box runs, their summary, figure and budgets."""
import importlib.util
import json
from pathlib import Path

EX = Path(__file__).resolve().parents[2] / "examples" / "clouds_dispersion_steady.py"


def _load():
    spec = importlib.util.spec_from_file_location("clouds_dispersion_steady", EX)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_steady_dispersion_tiny(tmp_path):
    mod = _load()
    assert mod.main(["--size", "tiny", "--seeds", "1", "--outdir", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "numbers.json").read_text())
    s = data["summary"]
    less, more = s["less_humid_8^3_tau1s_T6s"], s["more_humid_8^3_tau1s_T6s"]
    # drier entrained air broadens the steady spectrum more (the paper's ordering of the two cases)
    assert less["mean"] > more["mean"] > 0.1
    assert less["max_water_budget_rel"] < 1e-13 and more["max_mse_budget_rel"] < 1e-13
    assert all(r["renewed_per_superdroplet"] > 0 for r in data["runs"])
    assert (tmp_path / "dispersion_steady.png").exists()
    # one cached run file per case and seed (the figure and summary cover every run in runs/)
    assert len(list((tmp_path / "runs").glob("*.json"))) == 2


def test_renewal_estimate_matches_sampling():
    # r^2 uniform on [a^2, b^2]: the closed form against 400,000 samples (standard error of eps ~4e-4)
    import numpy as np

    mod = _load()
    rng = np.random.default_rng(1)
    for a, b in ((1e-6, 10e-6), (4e-6, 10e-6)):
        r = np.sqrt(rng.uniform(a * a, b * b, 400_000))
        assert abs(r.std() / r.mean() - mod.renewal_dispersion(a, b)) < 2e-3
    assert abs(mod.renewal_dispersion(1e-12, 1.0) - 1 / np.sqrt(8)) < 1e-9
