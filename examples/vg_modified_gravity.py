#!/usr/bin/env python3
"""E_G(k, z) in GR, Hu-Sawicki f(R) and chameleon gravity, with the SO x DESI LRG V_G forecast errors,
and the Delta chi^2 table separating each model from GR (Patki, Battaglia & Bean 2025, arXiv:2510.27605).

    python examples/vg_modified_gravity.py --outdir results/vg_modified_gravity [--quick]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from examples._figures import save_figure  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer k bins and curve points")
    ap.add_argument("--outdir", default="results/vg_modified_gravity")
    args = ap.parse_args(argv)
    out = Path(args.outdir)
    out.mkdir(parents=True, exist_ok=True)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from cosmo import VGForecast, e_g
    from gpu.io import write_json

    n_bins = 10 if args.quick else 20
    fc = VGForecast({"forecast": {"n_bins": n_bins, "experiments": ["ACT_DR6", "SO_baseline", "SO_goal"]}})
    res = fc.run()
    key = "SO_baseline x DESI_LRG"
    r = res[key]
    z_eff = r["z_eff"]
    k = np.logspace(-3, 0, 60 if args.quick else 200)

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    ax = axes[0]
    curves = {}
    for name, model in fc.models.items():
        eg = e_g(model, k, z=[z_eff], cosmology=fc.cosmology)[0]
        curves[name] = eg
        ax.plot(k, eg, label=name)
    ax.errorbar(r["k"], r["V_G"], yerr=r["sigma_V_G"], fmt="ko", ms=3, capsize=2, label="SO x DESI LRG (GR fid.)")
    ax.set_xscale("log")
    ax.set_xlabel(r"$k$ [$h$/Mpc]")
    ax.set_ylabel(r"$E_G(k, z_{\rm eff}=%.2f)$" % z_eff)
    ax.legend(fontsize=7)
    ax = axes[1]
    for zz in (0.0, 0.5, 1.0, 2.0):
        eg = (e_g(fc.models["fR_1e-5"], k, z=[zz], cosmology=fc.cosmology)[0]
              / e_g(fc.models["GR"], k, z=[zz], cosmology=fc.cosmology)[0])
        ax.plot(k, eg, label=f"f(R) 1e-5, z = {zz}")
    ax.set_xscale("log")
    ax.set_xlabel(r"$k$ [$h$/Mpc]")
    ax.set_ylabel(r"$E_G^{f(R)} / E_G^{\rm GR}$")
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, out / "vg_modified_gravity.png")
    plt.close(fig)

    models = [m for m in fc.models if m != "GR"]
    lines = ["| experiment x sample | " + " | ".join(models) + " |", "|---" * (len(models) + 1) + "|"]
    for kk, rr in res.items():
        lines.append(f"| {kk} | " + " | ".join(f"{rr['delta_chi2'][m]:.2f}" for m in models) + " |")
    (out / "delta_chi2_table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

    summary = {f"delta_chi2 {m} ({key})": round(r["delta_chi2"][m], 3) for m in models}
    summary.update({f"delta_chi2 {m} (SO_goal x DESI_LRG)": round(res["SO_goal x DESI_LRG"]["delta_chi2"][m], 3)
                    for m in models})
    summary["E_G_GR z_eff LRG"] = round(r["E_G_GR"], 4)
    summary["E_G fR_1e-5 / GR at k=0.1"] = round(float(np.interp(0.1, k, curves["fR_1e-5"] / curves["GR"])), 4)
    write_json(out / "numbers.json", {"summary": summary, "results": res,
                                      "E_G_curves": {"k": k, "z_eff": z_eff, **curves}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
