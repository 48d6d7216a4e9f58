"""Smoke test of examples/darkflow_velocity_statistics.py --quick, asserting physical numbers."""
import importlib.util
import json
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "darkflow_velocity_statistics.py"


def _example():
    spec = importlib.util.spec_from_file_location("darkflow_example", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_darkflow_quick(tmp_path):
    mod = _example()
    assert mod.main(["--quick", "--outdir", str(tmp_path)]) == 0
    numbers = json.loads((tmp_path / "numbers.json").read_text())
    s = numbers["summary"]
    assert s["gravity"] == "pm" and s["softening_Mpc_h"] is None  # --quick defaults to the PM force
    assert numbers["xu_claims"]["window_Mpc_h"] == list(mod.CLAIMS_WINDOW)
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


@pytest.mark.parametrize("argv", [["--gravity", "pm", "--softening", "0.1"], ["--nside", "4"], ["--box", "nan"],
                                  ["--softening", "-1"], ["--gravity", "p3m"]])
def test_darkflow_bad_options(tmp_path, argv):
    """Bad options end with argparse's exit 2 before any work (no output folder)."""
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as e:
        _example().main(argv + ["--outdir", str(out)])
    assert e.value.code == 2
    assert not out.exists()
