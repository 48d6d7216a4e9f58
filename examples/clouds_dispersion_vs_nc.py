#!/usr/bin/env python3
"""Relative dispersion versus droplet number concentration from Eulerian-Lagrangian DNS of cloud-edge mixing.

Set-up after Kumar, Schumacher & Shaw (2014) and Bhowmik et al. (arXiv:2303.00987): a periodic box
whose central slab (40 % of the box in x) is saturated cloud with droplets (gamma spectrum, initial
dispersion 0.1), the rest clear air of relative humidity 0.70 ("less humid")
or 0.90 ("more humid"); forced turbulence (epsilon_f) mixes the two while droplets evaporate and
feed vapour and latent cooling back to the flow. For several initial number concentrations we
measure, at the end of the run, the relative dispersion eps = sigma_r / r_mean of droplets larger
than 1 um and their number concentration N_c (per cloud volume), then fit eps = a + b N_c per case
and compare with the observed monsoon-cloud value 0.36 quoted by the paper.

N_c is varied at FIXED cloud liquid water: every run starts with the liquid water content of
300 cm^-3 droplets of mean radius 10 um (LWC_CLOUD, ~1.3 g/m^3), so the initial mean radius is
r_mean = 10 um (300 cm^-3 / N_c)^(1/3) (7.5-15 um for 700-100 cm^-3). Only the droplet number, and
with it the evaporation per droplet during mixing, changes between runs. (Earlier versions kept
r_mean = 10 um for every N_c, so the liquid water grew 7-fold with N_c and the eps-N_c slope measured
the liquid water, not N_c.) Here N_c changes with neither aerosol nor updraft; for those drivers see
examples/clouds_dispersion_aerosol_vs_updraft.py.

(The quick run uses a 16^3 grid of a 10 cm box, which under-resolves the Kolmogorov scale by ~2;
the full run uses 32^3.)

    python examples/clouds_dispersion_vs_nc.py [--quick] [--outdir DIR]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from examples._figures import save_figure  # noqa: E402

from clouds import diagnostics  # noqa: E402
from clouds.dns import DNS, make_config  # noqa: E402
from gpu.io import write_json  # noqa: E402

OBSERVED_EPS = 0.36
CASES = {"less_humid": 0.70, "more_humid": 0.90}


R_REF, N_REF, SHAPE = 10e-6, 300e6, 100.0
#: cloud liquid water [kg/m^3] shared by all runs: gamma spectrum (shape k) of N_REF droplets with mean
#: radius R_REF; <r^3> = r_mean^3 (k + 1)(k + 2) / k^2 for a gamma spectrum
LWC_CLOUD = 4.0 / 3.0 * np.pi * 1000.0 * N_REF * R_REF ** 3 * (SHAPE + 1) * (SHAPE + 2) / SHAPE ** 2


def mean_radius_at_fixed_lwc(Nc):
    """Initial mean radius [m] giving the cloud liquid water LWC_CLOUD with Nc droplets per m^3."""
    return R_REF * (N_REF / Nc) ** (1.0 / 3.0)


SIZES = {"tiny": (8, 400, 1.0, 0.025), "quick": (16, 3000, 3.0, 0.015), "full": (32, 40000, 6.0, 0.008)}


def config(rh_clear, Nc, quick, seed=5):
    """DNS config of one mixing run; ``quick`` is True/False or a key of SIZES (grid, droplets, t_end, dt)."""
    size = quick if isinstance(quick, str) else ("quick" if quick else "full")
    n, m, t_end, dt = SIZES[size]
    return make_config(grid=dict(n=n, box=0.1), fluid=dict(u_rms=0.03),
                       forcing=dict(epsilon=1e-3, k_f=2.5),
                       thermo=dict(setup="slab", rh_cloud=1.0, rh_clear=rh_clear, slab_fraction=0.4),
                       droplets=dict(n_droplets=m, N_c=Nc, r_mean=mean_radius_at_fixed_lwc(Nc), shape=SHAPE,
                                     r_dry=0.05e-6, kappa=0.6),
                       run=dict(dt=dt, t_end=t_end, diag_every=10, cfl_max=1.5, seed=seed))


def run_one(rh_clear, Nc, quick, seed=5):
    """One mixing run (see :func:`config`)."""
    cfg = config(rh_clear, Nc, quick, seed)
    sim = DNS(cfg)
    h = sim.run()
    r, n_ = sim.r, sim.mult
    act = r > 1e-6
    eps = diagnostics.relative_dispersion(r[act], n_[act])
    Nc_final = float(np.sum(n_[act]) / (cfg.thermo.slab_fraction * cfg.grid.box ** 3))
    return {"rh_clear": rh_clear, "N_c_initial_cm3": Nc / 1e6, "N_c_cm3": Nc_final / 1e6,
            "r_mean_initial_um": 1e6 * mean_radius_at_fixed_lwc(Nc), "lwc_cloud_initial_g_m3": 1e3 * LWC_CLOUD,
            "relative_dispersion": eps, "r_mean_um": 1e6 * diagnostics.mean_radius(r[act], n_[act]),
            "evaporated_fraction": float(1 - act.mean()), "history": {k: h[k] for k in ("t", "relative_dispersion",
                                                                                       "r_mean", "N_c", "dissipation")},
            "water_drift": float(np.ptp(h["water_kg"]) / h["water_kg"][0])}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--outdir", default="results/clouds_dispersion_vs_nc")
    args = ap.parse_args(argv)
    out = Path(args.outdir)
    out.mkdir(parents=True, exist_ok=True)
    Ncs = np.array([100e6, 300e6, 600e6]) if args.quick else np.array([100e6, 200e6, 350e6, 500e6, 700e6])
    runs = {name: [run_one(rh, Nc, args.quick) for Nc in Ncs] for name, rh in CASES.items()}

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    summary = {}
    for name, rs in runs.items():
        x = np.array([r["N_c_cm3"] for r in rs])
        y = np.array([r["relative_dispersion"] for r in rs])
        a, b, _, _, rc = diagnostics.linear_fit(x, y)
        (pts,) = ax[0].plot(x, y, "o", label=f"{name} (RH {CASES[name]:.2f})")
        xx = np.linspace(0, x.max() * 1.1, 10)
        ax[0].plot(xx, a + b * xx, "-", lw=0.8, color=pts.get_color())
        for r in rs:
            ax[1].plot(r["history"]["t"], r["history"]["relative_dispersion"],
                       label=f"{name}, N0={r['N_c_initial_cm3']:.0f}")
        summary[f"eps_min_{name}"] = float(y.min())
        summary[f"eps_max_{name}"] = float(y.max())
        summary[f"fit_intercept_{name}"] = a
        summary[f"fit_slope_per_cm3_{name}"] = b
        summary[f"fit_r_{name}"] = rc
        summary[f"max_water_drift_{name}"] = max(r["water_drift"] for r in rs)
    ax[0].axhline(OBSERVED_EPS, color="k", ls=":", label="observed 0.36")
    ax[0].set(xlabel="N_c [cm^-3]", ylabel="relative dispersion", title="end of mixing run")
    ax[1].set(xlabel="t [s]", ylabel="relative dispersion (r > 1 um)", title="time series")
    ax[0].legend(fontsize=7)
    ax[1].legend(fontsize=6)
    fig.tight_layout()
    save_figure(fig, out / "dispersion_vs_nc.png")
    summary["observed_eps"] = OBSERVED_EPS
    write_json(out / "numbers.json", {"summary": summary, "runs": runs})
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
