"""Smoke test: the dynamical-friction example sinks the SMBH at roughly the Chandrasekhar rate."""
import importlib.util
import json
from pathlib import Path

import pytest

EX = Path(__file__).resolve().parents[2] / "examples" / "ketju_dynamical_friction.py"


def test_ketju_dynamical_friction_quick(tmp_path):
    spec = importlib.util.spec_from_file_location("ketju_df", EX)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--quick", "--outdir", str(tmp_path)]) == 0
    s = json.loads((tmp_path / "numbers.json").read_text())["summary"]
    assert (tmp_path / "ketju_dynamical_friction.png").exists()
    # the SMBH sinks from r0 = a well inside (Chandrasekhar predicts r = 0.42 a at t = 10)
    assert s["final_r_sim"] < 0.6
    # quick run (N = 4000, m_BH = 3 % of the galaxy, noisy): Chandrasekhar's sinking time (b_max = r) within
    # 40 % (measured 0.85); the 20 % comparison is the full-size run below
    assert 0.6 < s["ratio_sim_over_theory"] < 1.4


@pytest.mark.slow
def test_ketju_dynamical_friction_full(tmp_path):
    """N = 20000, m_BH = 0.02: sinking time from a to 0.6 a within 20 % of Chandrasekhar (b_max = r).

    Measured 1.03 (and 0.76 with the local b_max of Petts et al. 2015); ~12 min on 2 cores."""
    spec = importlib.util.spec_from_file_location("ketju_df", EX)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--n", "20000", "--outdir", str(tmp_path)]) == 0
    s = json.loads((tmp_path / "numbers.json").read_text())["summary"]
    assert abs(s["ratio_sim_over_theory"] - 1) < 0.2
