"""Smoke tests: examples/clouds_dispersion_vs_nc.py (full --quick run is slow; a tiny run asserts physics)."""
import importlib.util
import json
from pathlib import Path

import pytest

EX = Path(__file__).resolve().parents[2] / "examples" / "clouds_dispersion_vs_nc.py"


def _load():
    spec = importlib.util.spec_from_file_location("clouds_dispersion_vs_nc", EX)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_dispersion_tiny_mixing_run():
    mod = _load()
    less = mod.run_one(0.70, 300e6, "tiny")
    more = mod.run_one(0.90, 300e6, "tiny")
    # mixing with subsaturated air broadens the spectrum from its initial 0.1, more so when drier
    assert less["relative_dispersion"] > more["relative_dispersion"] > 0.1
    assert less["r_mean_um"] < 10.0
    assert less["water_drift"] < 1e-13


@pytest.mark.slow
def test_dispersion_vs_nc_quick(tmp_path):
    assert _load().main(["--quick", "--outdir", str(tmp_path)]) == 0
    s = json.loads((tmp_path / "numbers.json").read_text())["summary"]
    # Bhowmik et al.: ~0.2-0.37 (less humid) and ~0.1-0.26 (more humid)
    assert 0.15 < s["eps_min_less_humid"] and s["eps_max_less_humid"] < 0.45
    assert 0.08 < s["eps_min_more_humid"] and s["eps_max_more_humid"] < 0.3
    assert s["eps_max_more_humid"] < s["eps_max_less_humid"]


def test_dispersion_runs_share_the_cloud_liquid_water():
    """N_c is varied at fixed cloud liquid water (not at fixed radius): initial LWC equal for 100-700 cm^-3."""
    import numpy as np
    from clouds import thermo as th
    from clouds.dns import DNS

    mod = _load()
    lwc = []
    for Nc in (100e6, 300e6, 700e6):
        cfg = mod.config(0.70, Nc, "tiny")
        sim = DNS(cfg)
        cloud_volume = cfg.thermo.slab_fraction * cfg.grid.box ** 3
        lwc.append(np.sum(sim.mult * 4 / 3 * np.pi * th.RHO_W * (sim.r ** 3 - sim.rd ** 3)) / cloud_volume)
    # the DNS draws the same standard-gamma sample for every N_c (same seed), scaled by r_mean(N_c):
    # equal liquid water to round-off; vs the analytic value, the sampling error of <r^3> from 400
    # droplets of dispersion 0.1 is ~0.3 / sqrt(400) = 1.5 % (measured 1.5 %)
    assert np.allclose(lwc, lwc[0], rtol=1e-6)
    assert np.allclose(lwc, mod.LWC_CLOUD, rtol=0.05)
    assert mod.mean_radius_at_fixed_lwc(300e6) == 10e-6
