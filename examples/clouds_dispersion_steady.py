#!/usr/bin/env python3
"""Relative dispersion of cloud droplets at statistically steady state: DNS of a cloud edge kept alive.

Bhowmik et al. (arXiv:2303.00987) report the relative dispersion eps = sigma_r / r_mean of droplets in
Eulerian-Lagrangian DNS of cloud-clear air mixing in the range ~0.2-0.37 when the clear air is less
humid and ~0.1-0.26 when it is more humid. In a closed box that number depends on when it is read:
droplet evaporation relaxes the box towards one humidity, the spectrum keeps broadening and a
low-N_c cloud in dry air evaporates completely (Sardina et al. 2015, PRL 115:184501, for the unbounded
growth of the size variance without sources and sinks). Here the box is open, so eps reaches a
statistically steady state:

* forced turbulence (``forcing.epsilon``, fixed-power forcing of the large scales);
* entrainment: theta and q_v relax towards the cloud slab (saturated) in clear air (rh_clear) at the
  rate 1 / tau_r (``thermo.relax_time``, :meth:`clouds.dns.DNS._relax_scalars`);
* droplet renewal: droplets that evaporate below 1 um are replaced by fresh droplets from the initial
  spectrum at random positions in the cloud slab (``droplets.renew_radius``,
  :meth:`clouds.dns.DNS._renew_droplets`; Chandrakar et al. 2016, Krueger 2020 for the steady droplet
  population of a cloud chamber with sources and sinks).

The set-up otherwise follows examples/clouds_dispersion_vs_nc.py (box 0.1 m, cloud slab 40 % of the box,
N_c = 300 cm^-3, gamma spectrum of mean radius 10 um and dispersion 0.1; clear air RH 0.70 "less humid"
and 0.90 "more humid"). For every run we record eps(t) of droplets larger than 1 um, and over the second
half of the run (the plateau window) its mean, its standard deviation in time, and its drift (the change
of a straight-line fit across the window). The water and moist-static-energy budgets including the
sources are checked (:meth:`clouds.dns.DNS.check_result`).

Each run's numbers are cached in OUTDIR/runs/ (so the runs can be made one at a time); the figure and
numbers.json summarise every run found there.

    python examples/clouds_dispersion_steady.py [--quick] [--size tiny|quick|full|full64] [--seeds 1 2]
                                               [--cases less_humid more_humid] [--outdir DIR]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from examples._figures import save_figure  # noqa: E402

from clouds.dns import DNS, make_config  # noqa: E402
from gpu.io import write_json  # noqa: E402

#: clear-air relative humidity of the two cases, and the paper's eps range for each
CASES = {"less_humid": 0.70, "more_humid": 0.90}
PAPER_RANGE = {"less_humid": (0.2, 0.37), "more_humid": (0.1, 0.26)}
#: grid, superdroplets, t_end [s], dt [s], relaxation time tau_r [s]
SIZES = {"tiny": (8, 400, 6.0, 0.025, 1.0), "quick": (16, 3000, 12.0, 0.02, 2.0),
         "full": (32, 40000, 24.0, 0.01, 2.0), "full64": (64, 320000, 10.0, 0.005, 2.0)}
RENEW_RADIUS = 1e-6


def config(rh_clear, size="quick", seed=1, relax_time=None, t_end=None):
    """DNS config of one steady mixing run (``size``: a key of SIZES; ``relax_time`` [s] and ``t_end`` [s]
    override its tau_r and duration)."""
    n, m, t_size, dt, tau = SIZES[size]
    tau = tau if relax_time is None else relax_time
    t_end = t_size if t_end is None else t_end
    return make_config(grid=dict(n=n, box=0.1), fluid=dict(u_rms=0.03),
                       forcing=dict(epsilon=1e-3, k_f=2.5),
                       thermo=dict(setup="slab", rh_cloud=1.0, rh_clear=rh_clear, slab_fraction=0.4,
                                   relax_time=tau),
                       droplets=dict(n_droplets=m, N_c=300e6, r_mean=10e-6, shape=100.0, r_dry=0.05e-6, kappa=0.6,
                                     renew_radius=RENEW_RADIUS),
                       run=dict(dt=dt, t_end=t_end, diag_every=max(1, int(round(0.1 / dt))), cfl_max=1.5, seed=seed))


def renewal_dispersion(r_renew=RENEW_RADIUS, r0=10e-6):
    """eps of a renewed, evaporating population: r^2 uniform on [r_renew^2, r0^2].

    Droplets enter at r0 and evaporate at a common subsaturation S, r dr/dt = G S (Rogers & Yau 1989,
    eq. 7.18, curvature and solute negligible above 1 um), so r^2 falls linearly with age; each is
    renewed at r_renew, and with a steady renewal rate the ages are uniform, hence r^2 is uniform on
    [a^2, b^2] (a = r_renew, b = r0): p(r) = 2 r / (b^2 - a^2), <r> = 2 (b^3 - a^3) / (3 (b^2 - a^2)),
    <r^2> = (a^2 + b^2) / 2. For a << b, eps -> 1 / sqrt(8) = 0.354; a = 1 um, b = 10 um: 0.340.
    """
    a, b = r_renew, r0
    mean = 2 * (b ** 3 - a ** 3) / (3 * (b ** 2 - a ** 2))
    return float(np.sqrt((a ** 2 + b ** 2) / 2 - mean ** 2) / mean)


def plateau(t, eps):
    """Statistics of eps over the second half of the run: mean, std in time, drift across the window."""
    t, eps = np.asarray(t), np.asarray(eps)
    w = t >= 0.5 * t[-1]
    slope = np.polyfit(t[w], eps[w], 1)[0]
    return {"mean": float(eps[w].mean()), "std": float(eps[w].std()),
            "drift": float(slope * (t[w][-1] - t[w][0])), "t_from": float(t[w][0])}


def run_one(case, size, seed, relax_time=None, t_end=None):
    """One run; returns its numbers (time series, plateau, budget)."""
    import time

    cfg = config(CASES[case], size, seed, relax_time, t_end)
    sim = DNS(cfg)
    c0 = time.process_time()
    h = sim.run()
    cpu = time.process_time() - c0
    reason = sim.check_result()
    if reason:
        raise RuntimeError(f"{case} {size} seed {seed}: {reason}")
    w = h["water_kg"] - h["water_source_kg"]
    e = h["mse_J"] - h["mse_source_J"]
    return {"case": case, "rh_clear": CASES[case], "size": size, "grid": cfg.grid.n, "superdroplets":
            cfg.droplets.n_droplets, "seed": seed, "relax_time_s": cfg.thermo.relax_time, "dt_s": cfg.run.dt,
            "cpu_s": cpu, "plateau": plateau(h["t"], h["relative_dispersion"]),
            "water_budget_rel": float(np.ptp(w) / w[0]), "mse_budget_rel": float(np.ptp(e) / (sim.L0 * w[0])),
            "renewed_per_superdroplet": float(h["renewed"][-1] / cfg.droplets.n_droplets),
            "history": {k: h[k].tolist() for k in ("t", "relative_dispersion", "r_mean", "S_mean", "q_mean",
                                                   "dissipation", "renewed")}}


def summarise(runs):
    """Per (case, grid, tau_r): plateau means over seeds, their spread and the paper's range."""
    out = {}
    key_of = (lambda r: (r["case"], r["grid"], r["relax_time_s"], r["history"]["t"][-1]))
    for key in sorted({key_of(r) for r in runs}):
        rs = [r for r in runs if key_of(r) == key]
        means = np.array([r["plateau"]["mean"] for r in rs])
        lo, hi = PAPER_RANGE[key[0]]
        out[f"{key[0]}_{key[1]}^3_tau{key[2]:g}s_T{key[3]:g}s"] = {
            "seeds": [r["seed"] for r in rs], "plateau_means": means.tolist(), "mean": float(means.mean()),
            "seed_spread": float(means.std(ddof=1)) if len(means) > 1 else None,
            "time_std": [r["plateau"]["std"] for r in rs], "drift": [r["plateau"]["drift"] for r in rs],
            "paper_range": [lo, hi], "in_paper_range": bool(lo <= means.mean() <= hi),
            "max_water_budget_rel": max(r["water_budget_rel"] for r in rs),
            "max_mse_budget_rel": max(r["mse_budget_rel"] for r in rs),
            "renewal_estimate": renewal_dispersion()}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="same as --size quick")
    ap.add_argument("--size", choices=sorted(SIZES), default=None, help="run size (default full)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--cases", nargs="+", choices=sorted(CASES), default=sorted(CASES))
    ap.add_argument("--relax-time", type=float, default=None,
                    help="entrainment relaxation time tau_r [s] (default: the size's, 2 s; 1 s for tiny)")
    ap.add_argument("--t-end", type=float, default=None, help="run length [s] (default: the size's)")
    ap.add_argument("--outdir", default="results/clouds_dispersion_steady")
    args = ap.parse_args(argv)
    size = args.size or ("quick" if args.quick else "full")
    out = Path(args.outdir)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    for case in args.cases:
        for seed in args.seeds:
            tau = SIZES[size][4] if args.relax_time is None else args.relax_time
            t_end = SIZES[size][2] if args.t_end is None else args.t_end
            f = out / "runs" / f"{case}_{SIZES[size][0]}_tau{tau:g}_T{t_end:g}_seed{seed}.json"
            if not f.exists():
                write_json(f, run_one(case, size, seed, tau, t_end))
    runs = [json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))]

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grids = sorted({r["grid"] for r in runs})
    fig, axes = plt.subplots(1, len(grids), figsize=(5.5 * len(grids), 4), squeeze=False)
    colors = {"less_humid": "C3", "more_humid": "C0"}
    for ax, g in zip(axes[0], grids):
        for r in (r for r in runs if r["grid"] == g):
            h = r["history"]
            ax.plot(h["t"], h["relative_dispersion"], color=colors[r["case"]], lw=0.8,
                    ls="-" if r["seed"] % 2 else "--",
                    label=f"{r['case']} seed {r['seed']}, tau_r {r['relax_time_s']:g} s, {h['t'][-1]:g} s run")
            ax.hlines(r["plateau"]["mean"], r["plateau"]["t_from"], h["t"][-1], color=colors[r["case"]], lw=2)
        ax.axhline(renewal_dispersion(), color="k", ls=":", lw=1, label="renewal estimate (r^2 uniform)")
        for case, (lo, hi) in PAPER_RANGE.items():
            ax.axhspan(lo, hi, color=colors[case], alpha=0.08, label=f"Bhowmik et al. range, {case}")
        ax.set(xlabel="t [s]", ylabel="relative dispersion (r > 1 um)", title=f"{g}^3, open box (relaxation + renewal)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, out / "dispersion_steady.png")
    summary = summarise(runs)
    write_json(out / "numbers.json", {"summary": summary, "runs": [{k: v for k, v in r.items() if k != "history"}
                                                                    for r in runs]})
    for k, v in summary.items():
        print(k, {kk: v[kk] for kk in ("plateau_means", "mean", "seed_spread", "paper_range")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
