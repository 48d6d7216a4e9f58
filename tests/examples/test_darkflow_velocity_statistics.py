"""Smoke test of examples/darkflow_velocity_statistics.py --quick, asserting physical numbers."""
import importlib.util
import json
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "darkflow_velocity_statistics.py"


def test_darkflow_quick(tmp_path):
    spec = importlib.util.spec_from_file_location("darkflow_example", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--quick", "--outdir", str(tmp_path)]) == 0
    s = json.loads((tmp_path / "numbers.json").read_text())["summary"]
    for fig in ("moments_vs_r.png", "pdfs_small_large.png", "alpha_vs_z.png", "density_correlation.png"):
        assert (tmp_path / fig).stat().st_size > 10_000
    # large-scale mean pairwise velocity follows Juszkiewicz et al. (1999) (cosmic variance of a 100 Mpc/h box)
    assert s["v12_over_jsd_large_r"] == pytest.approx(1.0, abs=0.2)
    # DTFE contiguous cells tile the box: sum W_i / 4 = V
    assert s["dtfe_volume_check"] == pytest.approx(1.0, rel=1e-9)
    # small-scale pairwise velocities are non-Gaussian (kurtosis above 3) and the cascade rate is negative
    assert 3.2 < s["kurtosis_du_L_small_r_z0"] < 12
    assert s["epsilon_u_m2_s3_beta2_1"] < 0
    assert 0.1 < s["halo_fraction_z0"] < 0.7
