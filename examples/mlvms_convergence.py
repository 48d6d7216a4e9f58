#!/usr/bin/env python3
"""ML-VMS / C-HiDeNN convergence: error vs DoFs and vs time for P1/P2 FEM, C-HiDeNN and multilevel.

Panel (a): 1D Poisson -u'' = b on [0, 10] with the two-Gaussian-bump solution (c = 5), the benchmark of
the C-HiDeNN papers (Lu et al. 2023; arXiv:2505.18141): L2 error vs DoFs for P1, P2 Lagrange and
C-HiDeNN p = 2, 3 (s = p, cubic-spline kernel, default dilation of docs/chidenn_guide.md).  Panel (b): the same errors vs wall time.
Panel (c): 2D Poisson with a sharp Gaussian source: energy error vs DoFs for single-level Q1, single-level
C-HiDeNN and two-level ML-VMS (coarse + fine box around the source).

    python examples/mlvms_convergence.py --quick --outdir results/mlvms_convergence
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from examples._figures import save_figure  # noqa: E402

from gpu.io import write_json  # noqa: E402
from pde.chidenn import CHiDeNNSpace  # noqa: E402
from pde.fem import LagrangeSpace, errors, solve_poisson  # noqa: E402
from pde.mesh import StructuredMesh  # noqa: E402
from pde.multilevel import MultilevelSpace, multilevel_errors, refined_box_mesh, solve_poisson_multilevel  # noqa: E402

C, CENTRES = 5.0, (2.5, 7.5)


def u1(x):
    x = x[:, 0]
    return sum(np.exp(-C * (x - c) ** 2) for c in CENTRES)


def du1(x):
    x = x[:, 0]
    return sum(-2 * C * (x - c) * np.exp(-C * (x - c) ** 2) for c in CENTRES)[:, None]


def f1(x):
    x = x[:, 0]
    return sum(-(4 * C**2 * (x - c) ** 2 - 2 * C) * np.exp(-C * (x - c) ** 2) for c in CENTRES)


W, X0 = 0.04, np.array([0.53, 0.47])


def u2(X):
    return np.exp(-np.sum((X - X0) ** 2, 1) / (2 * W * W)) * np.sin(np.pi * X[:, 0]) * np.sin(np.pi * X[:, 1])


def du2(X):
    g = np.exp(-np.sum((X - X0) ** 2, 1) / (2 * W * W))
    sx, sy, cx, cy = np.sin(np.pi * X[:, 0]), np.sin(np.pi * X[:, 1]), np.cos(np.pi * X[:, 0]), np.cos(np.pi * X[:, 1])
    return np.stack([g * (-(X[:, 0] - X0[0]) / W**2 * sx + np.pi * cx) * sy,
                     g * sx * (-(X[:, 1] - X0[1]) / W**2 * sy + np.pi * cy)], 1)


def f2(X):
    g = np.exp(-np.sum((X - X0) ** 2, 1) / (2 * W * W))
    out = 0.0
    for i in range(2):
        s, c, o = np.sin(np.pi * X[:, i]), np.cos(np.pi * X[:, i]), np.sin(np.pi * X[:, 1 - i])
        a = -(X[:, i] - X0[i]) / W**2
        out = out + ((a**2 - 1 / W**2) * s + 2 * a * np.pi * c - np.pi**2 * s) * o
    return -g * out


def timed(fn, repeat=3):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def study_1d(sizes, extra_fem=()):
    makers = {"P1 FEM": lambda m: LagrangeSpace(m, 1), "P2 FEM": lambda m: LagrangeSpace(m, 2),
              "C-HiDeNN p=2": lambda m: CHiDeNNSpace(m, 2, 2), "C-HiDeNN p=3": lambda m: CHiDeNNSpace(m, 3, 3)}
    res = {}
    for name, mk in makers.items():
        rows = []
        for ne in sizes + (extra_fem if "FEM" in name else ()):
            def run():
                V = mk(StructuredMesh.box([0.0], [10.0], ne))
                return V, solve_poisson(V, f1, dirichlet=u1)
            (V, u), dt = timed(run)
            e0, e1 = errors(V, u, u1, du1, quad_order=10)
            rows.append((V.n_dofs, e0, e1, dt))
        res[name] = np.array(rows)
    return res


def study_2d(sizes):
    res = {"Q1 single level": [], "C-HiDeNN single level": [], "ML-VMS Q1 + Q1 box": [], "ML-VMS C-HiDeNN + Q1 box": []}
    for nc in sizes:
        c = StructuredMesh.box([0, 0], [1, 1], nc)
        fine = StructuredMesh.box([0, 0], [1, 1], 4 * nc)
        for name, V in (("Q1 single level", LagrangeSpace(fine)), ("C-HiDeNN single level", CHiDeNNSpace(c, 2, 2))):
            (u), dt = timed(lambda: solve_poisson(V, f2), 1)
            res[name].append((V.n_dofs, *errors(V, u, u2, du2), dt))
        box = refined_box_mesh(c, X0 - 0.2, X0 + 0.2, 4)
        for name, V0 in (("ML-VMS Q1 + Q1 box", LagrangeSpace(c)), ("ML-VMS C-HiDeNN + Q1 box", CHiDeNNSpace(c, 2, 2))):
            def run():
                ml = MultilevelSpace([V0, LagrangeSpace(box)])
                return ml, solve_poisson_multilevel(ml, f2)
            (ml, u), dt = timed(run, 1)
            res[name].append((ml.n_active, *multilevel_errors(ml, u, u2, du2), dt))
    return {k: np.array(v) for k, v in res.items()}


def slope(n, e):
    return float(-np.polyfit(np.log(n), np.log(e), 1)[0])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    ap.add_argument("--outdir", default="results/mlvms_convergence")
    args = ap.parse_args(argv)
    out = Path(args.outdir)
    out.mkdir(parents=True, exist_ok=True)
    sizes1 = (40, 80, 160, 320) if args.quick else (20, 40, 80, 160, 320, 640, 1280)
    sizes2 = (8, 16) if args.quick else (8, 16, 32)
    r1 = study_1d(sizes1, () if args.quick else (2560, 5120, 10240, 20480))
    r2 = study_2d(sizes2)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(1, 3, figsize=(15, 4.3))
    for name, tab in r1.items():
        ax[0].loglog(tab[:, 0], tab[:, 1], "o-", label=name)
        ax[1].loglog(tab[:, 3], tab[:, 1], "o-", label=name)
    ax[0].set(xlabel="DoFs", ylabel="L2 error", title="(a) 1D Poisson, two Gaussian bumps")
    # plain DoF numbers at 1 and 3 per decade: the automatic minor-tick labels of a short log axis overlap
    ax[0].xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 3.0)))
    ax[0].xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax[0].xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax[1].set(xlabel="assembly + solve time [s]", ylabel="L2 error", title="(b) error vs time")
    # measured times span under a decade or two and vary from run to run: label 1-2-5 steps only, so the
    # automatic minor-tick labels can never overlap whatever the timings
    ax[1].xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax[1].xaxis.set_major_formatter(matplotlib.ticker.LogFormatterSciNotation(labelOnlyBase=False))
    ax[1].xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    for name, tab in r2.items():
        ax[2].loglog(tab[:, 0], tab[:, 2], "o-", label=name)
    ax[2].set(xlabel="DoFs", ylabel="H1 seminorm error", title="(c) 2D sharp source: multilevel")
    for a in ax:
        a.legend(fontsize=8)
        a.grid(alpha=0.3, which="both")
    fig.tight_layout()
    save_figure(fig, out / "mlvms_convergence.png")

    n_as = len(sizes1)
    asym = slice(n_as - 3, n_as)  # the three finest common sizes (asymptotic range)
    rates = {name: (slope(t[asym, 0], t[asym, 1]), slope(t[asym, 0], t[asym, 2])) for name, t in r1.items()}
    # DoFs P1 needs to reach C-HiDeNN p=3's error at its second-finest size (log-log interpolation)
    ch = r1["C-HiDeNN p=3"][n_as - 2]
    p1 = r1["P1 FEM"]
    k = np.polyfit(np.log(p1[:, 1]), np.log(p1[:, 0]), 1)
    dofs_p1_needed = float(np.exp(np.polyval(k, np.log(ch[1]))))
    summary = {
        "P1_L2_rate": rates["P1 FEM"][0], "P1_H1_rate": rates["P1 FEM"][1],
        "CHiDeNN_p2_L2_rate": rates["C-HiDeNN p=2"][0], "CHiDeNN_p2_H1_rate": rates["C-HiDeNN p=2"][1],
        "CHiDeNN_p3_L2_rate": rates["C-HiDeNN p=3"][0], "CHiDeNN_p3_H1_rate": rates["C-HiDeNN p=3"][1],
        "P1_dofs_to_match_CHiDeNN_p3": dofs_p1_needed, "CHiDeNN_p3_dofs": float(ch[0]),
        "ML_energy_error_over_fine": float(r2["ML-VMS Q1 + Q1 box"][-1, 2] / r2["Q1 single level"][-1, 2]),
        "ML_dofs_over_fine": float(r2["ML-VMS Q1 + Q1 box"][-1, 0] / r2["Q1 single level"][-1, 0]),
    }
    write_json(out / "numbers.json", {"summary": summary,
                                      "study_1d": {k: v.tolist() for k, v in r1.items()},
                                      "study_2d": {k: v.tolist() for k, v in r2.items()},
                                      "columns_1d": ["dofs", "L2", "H1", "time_s"],
                                      "columns_2d": ["dofs", "L2", "H1", "time_s"]})
    for k_, v in summary.items():
        print(f"{k_:32s} {v:.4g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
