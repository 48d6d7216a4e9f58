#!/usr/bin/env python3
"""Single-track LPBF on Ti-6Al-4V with multilevel C-HiDeNN-TD: temperature snapshots, melt-pool
dimensions vs time, validation against the exact Green's function, and a speed table vs single-level
linear FEM-TD at matched accuracy.

Figure panels: (a) top-surface temperature at three times, (b) longitudinal section at the last time with
the solidus isotherm, (c) melt-pool length/width/depth vs time, (d) centreline temperature vs the
Green's-function reference.  numbers.json "summary": peak temperature, melt-pool sizes, cooling rate,
Green's-function error, energy imbalance, speedup of (c) over single-level FEM-TD and the equivalent
full-order DoFs.

    python examples/mlvms_lpbf.py --quick --outdir results/mlvms_lpbf
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from examples._figures import save_figure  # noqa: E402

from gpu.io import write_json  # noqa: E402
from pde.analytic import green_gaussian  # noqa: E402
from pde.lpbf import LPBFProblem  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small run (about a minute)")
    ap.add_argument("--outdir", default="results/mlvms_lpbf")
    args = ap.parse_args(argv)
    out = Path(args.outdir)
    out.mkdir(parents=True, exist_ok=True)
    t_end = 0.45e-3 if args.quick else 0.6e-3
    # modes shared by the levels (1D factors in the summed multilevel spaces, fast-diagonalisation solves)
    ml = {"levels": 2, "basis": "chidenn", "order": 2, "ratio": 4, "coarse_elements": [12, 8, 4],
          "time_elements": 48 if args.quick else 60, "modes": 24, "level_modes": "shared", "method": "fast",
          "tol": 1e-3, "time_slabs": 3 if args.quick else 4, "max_iter": 40 if args.quick else 60}
    P = LPBFProblem({"domain": {"t_end": t_end}, "solver": ml})
    R = P.solve()
    b, mat = P.beam, P.material
    gerr = R.green_error(t_end)
    times = np.linspace(0.15e-3, t_end, 6 if args.quick else 10)
    pools = [R.melt_pool(t) for t in times]
    E_in, E_st = R.absorbed_energy(t_end), R.stored_energy(t_end)

    # single-level linear FEM-TD at (about) matched accuracy for the speed table
    rows = [{"solver": "ML C-HiDeNN-TD (2 levels, p=2)", "time_s": R.timings["solve_s"] + R.timings["build_s"],
             "rms_err": gerr["rms_rel"], "dofs_1d": P.n_1d}]
    for h in ((25.0, 12.5) if args.quick else (25.0, 12.5, 8.33)):
        n = [int(round(L / (h * 1e-6))) for L in (1.2e-3, 0.8e-3, 0.4e-3)]
        Pb = LPBFProblem({"domain": {"t_end": t_end}, "solver": {
            "levels": 1, "basis": "fem", "order": 1, "coarse_elements": n, "time_elements": ml["time_elements"],
            "modes": ml["modes"], "time_slabs": ml["time_slabs"], "method": "fast", "tol": ml["tol"],
            "max_iter": ml["max_iter"]}})
        Rb = Pb.solve()
        rows.append({"solver": f"single-level P1 FEM-TD h={h:g} um",
                     "time_s": Rb.timings["solve_s"] + Rb.timings["build_s"],
                     "rms_err": Rb.green_error(t_end)["rms_rel"], "dofs_1d": Pb.n_1d})
    matched = [r for r in rows[1:] if r["rms_err"] <= 1.1 * rows[0]["rms_err"]]
    ref = matched[0] if matched else rows[-1]
    speedup = ref["time_s"] / rows[0]["time_s"]

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dom = P.config.domain
    xs = np.linspace(0, dom.length, 241)
    ys = np.linspace(-dom.width / 2, dom.width / 2, 161)
    zs = np.linspace(-dom.depth, 0, 81)
    fig, ax = plt.subplots(2, 2, figsize=(12, 8))
    snaps = [times[1], times[len(times) // 2], times[-1]]
    Tt = [R.temperature_grid(xs, ys, zs[-1:], t)[:, :, 0] for t in snaps]
    vmax = max(T.max() for T in Tt)
    for k, (t, T) in enumerate(zip(snaps, Tt)):
        off = k * dom.width * 1.1e3
        ax[0, 0].contourf(xs * 1e3, ys * 1e3 + off, T.T, levels=30, vmin=300, vmax=vmax, cmap="inferno")
        ax[0, 0].contour(xs * 1e3, ys * 1e3 + off, T.T, levels=[mat.solidus], colors="c", linewidths=1)
        ax[0, 0].text(0.02, off + 0.3, f"t = {t * 1e3:.2f} ms", color="w", fontsize=8)
    ax[0, 0].set(xlabel="x [mm]", ylabel="y [mm] (stacked snapshots)", title="(a) top surface T, solidus in cyan")
    Txz = R.temperature_grid(xs, np.array([0.0]), zs, t_end)[:, 0, :]
    cs = ax[0, 1].contourf(xs * 1e3, zs * 1e3, Txz.T, levels=30, cmap="inferno")
    ax[0, 1].contour(xs * 1e3, zs * 1e3, Txz.T, levels=[mat.solidus], colors="c")
    fig.colorbar(cs, ax=ax[0, 1], label="T [K]")
    ax[0, 1].set(xlabel="x [mm]", ylabel="z [mm]", title=f"(b) section y = 0 at t = {t_end * 1e3:.2f} ms")
    for key, lab in (("length", "length"), ("width", "width"), ("depth", "depth")):
        ax[1, 0].plot(times * 1e3, [p[key] * 1e6 for p in pools], "o-", label=lab)
    ax[1, 0].set(xlabel="t [ms]", ylabel="melt pool size [um]", title="(c) melt-pool dimensions (solidus)")
    ax[1, 0].legend()
    xc = np.linspace(0, dom.length, 301)
    pts = np.stack([xc, 0 * xc, 0 * xc], 1)
    ax[1, 1].plot(xc * 1e3, R.temperature(pts, t_end), label="ML C-HiDeNN-TD")
    ax[1, 1].plot(xc * 1e3, green_gaussian(pts, t_end, b, mat.rho_c, mat.diffusivity, dom.T0), "--",
                  label="Green's function (exact)")
    ax[1, 1].axhline(mat.solidus, color="gray", lw=0.8)
    ax[1, 1].set(xlabel="x [mm]", ylabel="T [K]", title="(d) centreline, top surface")
    ax[1, 1].legend()
    fig.tight_layout()
    save_figure(fig, out / "mlvms_lpbf.png")

    last = pools[-1]
    summary = {
        "peak_T_K": last["peak_T"], "melt_length_um": last["length"] * 1e6, "melt_width_um": last["width"] * 1e6,
        "melt_depth_um": last["depth"] * 1e6, "cooling_rate_K_per_s": last["cooling_rate"],
        "green_rms_rel_error": gerr["rms_rel"], "green_max_rel_error": gerr["max_rel"],
        "energy_imbalance": (E_in - E_st) / E_in, "speedup_vs_single_level_FEM_TD": speedup,
        "equivalent_spacetime_dofs": P.equivalent_dofs()["full_spacetime"],
    }
    write_json(out / "numbers.json", {"summary": summary, "speed_table": rows,
                                      "melt_pool": pools, "source_rank": P.source_rank})
    for r in rows:
        print(f"{r['solver']:36s} {r['time_s']:8.2f} s  rms err {r['rms_err']:.4f}  1D dofs {r['dofs_1d']}")
    for k, v in summary.items():
        print(f"{k:32s} {v:.4g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
