#!/usr/bin/env python3
"""LPBF single track: full-order FEM (scikit-fem) vs single-level linear FEM-TD vs multilevel C-HiDeNN-TD.

The same case (Ti-6Al-4V, P = 200 W, eta = 0.4, r_b = 50 um, d = 40 um, v = 1 m/s, 0.6 mm track, T at
t = 0.45 ms) is solved by

  (a) full-order linear hexahedral FEM with Crank-Nicolson in scikit-fem (the anchor) where it fits,
  (b) single-level linear (P1 x P1 x P1 x P1-time) FEM-TD on a uniform grid, at the coarsest spacing that
      matches (c)'s accuracy (err_b <= 1.1 err_c),
  (c) multilevel C-HiDeNN-TD (p = s = 2, ratio 4 per level, finest spacing 25 um) with modes shared by the
      levels (``level_modes = "shared"``: every 1D factor lives in the summed 1D multilevel space, so each
      direction system is a two-matrix Kronecker sum solved by fast diagonalisation),
  (c0) for reference, the same levels with each level's own modes (``per_level``, 8 modes per level, coupled
      direct direction solves; the previous (c)), up to ``--c0-max`` (S <= 128),

all against the exact half-space Green's function (relative RMS error on four lines near the beam).
(b) and (c) march 3 time slabs of the same number of modes (``--modes``, default 24; time-marching TD,
arXiv:2510.00516) with all-modes subspace iteration, fast diagonalisation ('fast') and the same stopping rule
(relative change of the space-time L2 field < 3e-3, at most 100 sweeps); both share every code path (loads
restricted to the beam's x range, banded/dense/eigen 1D mode solves) and the same time grid (48 P1 elements).
A scaling study then grows the block (scale S = 1, 2, ..., 4096: S x 1.2 x 0.8 x 0.4 mm) with one level
added per factor 4 (up to 8 levels), so (c)'s cost follows the 1D dofs (O(n d M)) while the equivalent full-order
space-time dofs pass 1e14; (b) at matched accuracy is run while it fits in ``--b-budget`` seconds, and the
S at which the end-to-end ratio would reach 100x is extrapolated from (b)'s linear cost.  One BLAS thread.

Prints ``case  ours_s  anchor_s  ratio  agreement`` lines and writes a JSON table with ``--json``.

    python benchmarks/pde_lpbf.py [--quick] [--json results/pde_lpbf.json]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

# one BLAS thread: on the shared 2-core machine a threaded BLAS oversubscribes the cores and makes the small
# dense products of both TD solvers erratic (measured up to 5x slower); applies to (a), (b) and (c) alike
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pde.analytic import green_gaussian  # noqa: E402
from pde.lpbf import LPBFProblem  # noqa: E402
from pde.lpbf_cases import BASE as _BASE, MODES, T_EVAL, track_case_config, track_case_solver  # noqa: E402

BASE = np.array(_BASE)


def config(scale, solver):
    """The case of :func:`pde.lpbf_cases.track_case_config` with this run's ``--modes``."""
    return track_case_config(scale, solver, modes=MODES)


def run_td(scale, solver):
    P = LPBFProblem(config(scale, solver))
    t0 = time.perf_counter()
    R = P.solve()
    dt = time.perf_counter() - t0
    imb = 1.0 - (R.stored_energy(T_EVAL) + R.boundary_loss(T_EVAL)) / R.absorbed_energy(T_EVAL)
    return {"time_s": dt, "err": R.green_error(T_EVAL)["rms_rel"], "dofs": P.equivalent_dofs(), "energy_imbalance": imb,
            "iterations": int(sum(P.sweeps)), "sweeps": list(P.sweeps), "build_s": R.timings["build_s"],
            "solve_s": R.timings["solve_s"],
            "n1d": P.n_1d}


solver_c = track_case_solver


def solver_b(scale, h_um):
    n = [max(2, int(round(BASE[i] * scale / (h_um * 1e-6)))) for i in range(3)]
    # the same time grid as (c): (b)'s error is spatial (at h = 12.5 um, 48 / 72 / 96 time elements give
    # 0.0053 / 0.0053 / 0.0052), so refining the time step with h would only slow (b) down
    return {"levels": 1, "basis": "fem", "order": 1, "coarse_elements": n, "time_elements": 48, "time_basis": "fem"}


def skfem_full_order(h_um=25.0, n_steps=40):
    """(a) full-order linear hexahedral FEM + Crank-Nicolson with scikit-fem on the S = 1 block."""
    try:
        import skfem
        from skfem.helpers import dot, grad
    except Exception as exc:  # pragma: no cover
        return {"skipped": f"scikit-fem not importable: {exc}"}
    import scipy.sparse.linalg as spla

    P = LPBFProblem(config(1, solver_c(1)))
    b, mat = P.beam, P.material
    n = [int(round(BASE[i] / (h_um * 1e-6))) for i in range(3)]
    t0 = time.perf_counter()
    mesh = skfem.MeshHex.init_tensor(np.linspace(0, BASE[0], n[0] + 1), np.linspace(-BASE[1] / 2, BASE[1] / 2, n[1] + 1),
                                     np.linspace(-BASE[2], 0, n[2] + 1))
    basis = skfem.Basis(mesh, skfem.ElementHex1(), intorder=3)

    @skfem.BilinearForm
    def mass(u, v, w):
        return u * v

    @skfem.BilinearForm
    def lap(u, v, w):
        return dot(grad(u), grad(v))

    M = mass.assemble(basis) * mat.rho_c
    K = lap.assemble(basis) * mat.conductivity
    dt = T_EVAL / n_steps
    A = (M / dt + 0.5 * K).tocsc()
    B = (M / dt - 0.5 * K).tocsr()
    lu = spla.splu(A)
    u = np.zeros(basis.N)
    for k in range(n_steps):
        tm = (k + 0.5) * dt

        @skfem.LinearForm
        def load(v, w):
            X = np.stack([w.x[0].ravel(), w.x[1].ravel(), w.x[2].ravel()], 1)
            return b.q(X, tm).reshape(w.x[0].shape) * v

        u = lu.solve(B @ u + load.assemble(basis))
    elapsed = time.perf_counter() - t0
    xs, _ = b.position(T_EVAL)
    x = np.linspace(xs - 8 * b.radius, xs + 3 * b.radius, 23)
    errs, peak = [], 0.0
    for y, z in [(0, 0), (1.5 * b.radius, 0), (0, -b.radius), (3 * b.radius, -2 * b.radius)]:
        pts = np.stack([x, 0 * x + y, 0 * x + z], 1)
        Tg = green_gaussian(pts, T_EVAL, b, mat.rho_c, mat.diffusivity, 0.0)
        Tf = basis.probes(pts.T) @ u
        errs.append(Tf - Tg)
        peak = max(peak, Tg.max())
    e = np.concatenate(errs)
    return {"time_s": elapsed, "err": float(np.sqrt(np.mean(e**2)) / peak), "dofs": int(basis.N)}


def best_of(n, fn):
    """Best (fastest) of n runs of fn() -> dict with 'time_s' (the shared machine is noisy)."""
    runs = [fn() for _ in range(n)]
    return min(runs, key=lambda r: r["time_s"])


def main(argv=None) -> int:
    global MODES
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="S = 1, 2 only")
    ap.add_argument("--json", default=None)
    ap.add_argument("--b-budget", type=float, default=300.0, help="skip (b) beyond this many seconds")
    ap.add_argument("--scales", default="1,2,4,8,16,32,64,128,256,512,1024,2048,4096",
                    help="block scales S (comma separated)")
    ap.add_argument("--modes", type=int, default=MODES, help="TD modes of (b) and (c)")
    ap.add_argument("--c0-max", type=int, default=128, help="largest S at which the per-level (c0) is run")
    args = ap.parse_args(argv)
    MODES = args.modes
    scales = (1, 2) if args.quick else tuple(int(v) for v in args.scales.split(","))
    rows = []
    print("case                          ours_s  anchor_s    ratio  agreement")
    a = skfem_full_order()
    c1 = best_of(3, lambda: run_td(1, solver_c(1)))
    if "skipped" in a:
        print(f"(a) scikit-fem: {a['skipped']}")
    else:
        print(f"S=1 (c) vs (a) skfem h=25um   {c1['time_s']:7.2f}  {a['time_s']:8.2f}  {a['time_s'] / c1['time_s']:7.1f}x  "
              f"err_c={c1['err']:.4f} err_a={a['err']:.4f}")
    rows.append({"case": "a_skfem_S1", **a})
    b_prev_time = 0.0
    for S in scales:
        c = c1 if S == 1 else best_of(3, lambda: run_td(S, solver_c(S)))
        row = {"scale": S, "c": c}
        if S <= args.c0_max:
            row["c0"] = run_td(S, solver_c(S, "per_level"))
        b = None
        if b_prev_time * 2.5 < args.b_budget:
            # matched accuracy: the coarsest (b) with err_b <= 1.1 err_c.  From 25 um the spacing is predicted
            # by P1's O(h^2) error (with 3 % margin) and then shrunk by 8 % per failed try, so (b) is never
            # run much finer than it needs; best of 2 while it is cheap
            h, target = 25.0, 1.1 * c["err"]
            for _ in range(12):
                b = run_td(S, solver_b(S, h))
                b["h_um"] = h
                if b["err"] <= target or b["time_s"] > args.b_budget:
                    break
                h = min(0.92 * h, 0.97 * h * math.sqrt(target / b["err"]))
            if b["err"] <= target and b["time_s"] < 10:
                b = min(b, run_td(S, solver_b(S, h)), key=lambda r: r["time_s"])
                b["h_um"] = h
            b_prev_time = b["time_s"]
            row["b"] = b
        rows.append(row)
        eq = c["dofs"]["full_spacetime"]
        sw_c = c["solve_s"] / max(c["iterations"], 1)
        c0 = row.get("c0")
        c0s = (f" (c0 per-level {c0['time_s']:.2f}s err={c0['err']:.4f} sweeps={c0['iterations']} "
               f"1D={c0['n1d']})") if c0 else ""
        if b is not None:
            sw_b = b["solve_s"] / max(b["iterations"], 1)
            print(f"S={S:<4d} (c) vs (b) FEM-TD h={b['h_um']:.2f}um  {c['time_s']:7.2f}  {b['time_s']:8.2f}  "
                  f"{b['time_s'] / c['time_s']:7.1f}x  err_c={c['err']:.4f} err_b={b['err']:.4f} sweeps={c['iterations']}/"
                  f"{b['iterations']} per-sweep={sw_c * 1e3:.1f}/{sw_b * 1e3:.1f}ms build={c['build_s']:.2f}/"
                  f"{b['build_s']:.2f}s 1D={c['n1d']}/{b['n1d']} energy_imb={c['energy_imbalance']:.1e}/"
                  f"{b['energy_imbalance']:.1e} equiv_dofs={eq:.2e}{c0s}", flush=True)
        else:
            print(f"S={S:<4d} (c) ML C-HiDeNN-TD            {c['time_s']:7.2f}       n/a      n/a  err_c={c['err']:.4f} "
                  f"sweeps={c['iterations']} per-sweep={sw_c * 1e3:.1f}ms 1D={c['n1d']} equiv_dofs={eq:.2e}{c0s}",
                  flush=True)
    # where would the end-to-end ratio reach 100x?  (b)'s cost is linear in S (its 1D dofs), (c)'s nearly flat
    with_b = [r for r in rows if "b" in r]
    if len(with_b) >= 2:
        Sb = np.array([r["scale"] for r in with_b], float)
        tb = np.array([r["b"]["time_s"] for r in with_b])
        slope = float(np.sum(Sb * tb) / np.sum(Sb * Sb))  # t_b ~ slope * S (least squares through 0)
        tc = rows[-1]["c"]["time_s"]
        print(f"(b) ~ {slope:.4f} s per unit S; at (c)'s largest-S time {tc:.2f} s the 100x point is S ~ {100 * tc / slope:.0f}")
        rows.append({"b_seconds_per_S": slope, "S_for_100x": 100 * tc / slope})
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
