#!/usr/bin/env python3
"""C-HiDeNN hyperparameter guide: stability and accuracy over (p, s, dilation) in 2D.

The C-HiDeNN papers (Lu et al. 2023, Comput. Mech. 72:333; Park et al. 2023; arXiv:2505.18141 App. A.1)
leave the reproduction order p, the patch size s and the kernel dilation a as user choices.  This
script measures, on the unit square with a uniform n x n quad mesh, for p in {1, 2, 3}, s in {p..3}
and a in DILATIONS (cubic spline kernel, a in element sizes):

* ``Lambda`` -- the Lebesgue constant max_x sum_i |phi_i(x)| over SAMPLES^2 points per element of the
  8 x 8 mesh (every node patch type, interior and one-sided, occurs there).  It bounds the
  interpolation error by (1 + Lambda) times the best approximation in the span, so a large Lambda
  means oscillating shape functions;
* ``cond(M)`` and ``cond(K_N)`` -- 2-norm condition numbers of the mass matrix and of the symmetric
  Nitsche stiffness matrix (:func:`pde.fem.assemble_nitsche`, default penalty) on the 8 x 8 mesh;
  ``lmin(K_N) > 0`` is the coercivity check of that penalty;
* ``err16`` -- the L2 error of the Poisson solution (Nitsche Dirichlet data) for the smooth bump
  u = exp(-|x - c|^2 / (2 sigma^2)), sigma = 0.15, c = (0.45, 0.55) on the 16 x 16 mesh (289 dofs for
  every (p, s, a): the same nodes, so this is the error per DoF) and ``rate`` its observed L2 order
  between the 8 x 8 and 16 x 16 meshes.

The default dilation of each (p, s) (``pde.chidenn.DEFAULT_DILATION``) is the value with the smallest
``err16`` among those with Lambda <= LAMBDA_MAX = 10 (an interpolant at most ~11x its best
approximation; linear FEM has Lambda = 1).  The 3D defaults (``DEFAULT_DILATION_3D``) follow the same rule
with the 3D Lebesgue constant on a 4^3 mesh also <= 10, trying the 2D candidates best-first (s <= 2;
s = 3 keeps its 2D value).  Writes the markdown table to docs/chidenn_guide.md
(``--out``) and prints the chosen defaults; ``--check`` exits 1 if they differ from the shipped
lookup.  Takes about two minutes (the 3D part half of it).

    python benchmarks/pde_chidenn_guide.py [--out docs/chidenn_guide.md] [--check]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from pde.chidenn import DEFAULT_DILATION, DEFAULT_DILATION_3D, CHiDeNNSpace, lebesgue_constant  # noqa: E402
from pde.fem import assemble_bilinear, assemble_nitsche, errors, solve_poisson  # noqa: E402
from pde.mesh import Quadrature, StructuredMesh  # noqa: E402

DILATIONS = (1.5, 2.0, 2.5, 3.0, 4.0, 6.0)
PS = [(1, 1), (1, 2), (1, 3), (2, 2), (2, 3), (3, 3)]
LAMBDA_MAX = 10.0
SIGMA, CENTRE = 0.15, np.array([0.45, 0.55])


def bump(X):
    return np.exp(-np.sum((X - CENTRE) ** 2, axis=1) / (2 * SIGMA**2))


def bump_grad(X):
    return -(X - CENTRE) / SIGMA**2 * bump(X)[:, None]


def bump_source(X):
    """-Laplace(u) of the 2D Gaussian bump: (2 / sigma^2 - |x - c|^2 / sigma^4) u."""
    r2 = np.sum((X - CENTRE) ** 2, axis=1)
    return (2 / SIGMA**2 - r2 / SIGMA**4) * bump(X)


def measure(p, s, a):
    m8 = StructuredMesh.box([0, 0], [1, 1], 8)
    V = CHiDeNNSpace(m8, s=s, p=p, dilation=a)
    lam = lebesgue_constant(V)
    q = Quadrature(m8, V.default_quadrature())
    ev = V.evaluate(q.points, q.elem)
    M = assemble_bilinear(ev, ev, q.weights, V.n_dofs, V.n_dofs, mass=1.0).toarray()
    K = assemble_bilinear(ev, ev, q.weights, V.n_dofs, V.n_dofs, diffusion=1.0).toarray()
    KN = K + assemble_nitsche(V)[0].toarray()
    em = np.linalg.eigvalsh(0.5 * (M + M.T))
    ek = np.linalg.eigvalsh(0.5 * (KN + KN.T))
    errs = []
    for n in (8, 16):
        W = CHiDeNNSpace(StructuredMesh.box([0, 0], [1, 1], n), s=s, p=p, dilation=a)
        u = solve_poisson(W, bump_source, dirichlet=bump)
        errs.append(errors(W, u, bump, bump_grad, quad_order=10)[0])
    return dict(p=p, s=s, a=a, lam=lam, condM=em[-1] / em[0], condK=ek[-1] / ek[0], lminK=ek[0],
                err8=errs[0], err16=errs[1], rate=np.log2(errs[0] / errs[1]))


def candidates(rows, p, s):
    """2D-admissible dilations of (p, s) (Lambda <= LAMBDA_MAX, coercive Nitsche form), best 2D error first."""
    ok = [r for r in rows if r["p"] == p and r["s"] == s and r["lam"] <= LAMBDA_MAX and r["lminK"] > 0]
    return sorted(ok, key=lambda r: r["err16"])


def choose(rows):
    return {(p, s): candidates(rows, p, s)[0]["a"] for p, s in PS if candidates(rows, p, s)}


def choose_3d(rows, log):
    """3D: the first 2D candidate whose 3D Lebesgue constant (4^3 mesh, 5^3 samples per element) is also
    <= LAMBDA_MAX; measured for s <= 2 only (the s = 3 patches, 343 nodes, make the 3D sweep minutes
    long), s = 3 keeps the 2D choice."""
    out, lam3 = {}, []
    m = StructuredMesh.box([0, 0, 0], [1, 1, 1], 4)
    for p, s in PS:
        cand = candidates(rows, p, s)
        if s == 3:
            out[(p, s)] = cand[0]["a"]
            continue
        for r in cand:
            lam = lebesgue_constant(CHiDeNNSpace(m, s=s, p=p, dilation=r["a"]), samples=5)
            lam3.append((p, s, r["a"], lam))
            log(f"3D p={p} s={s} a={r['a']:g}  Lambda={lam:.2f}")
            if lam <= LAMBDA_MAX:
                out[(p, s)] = r["a"]
                break
    return out, lam3


def table(rows, chosen):
    lines = [
        "| p | s | dilation | Lambda | cond(M) | cond(K_N) | lmin(K_N) | L2 err (16x16, 289 dofs) | err / best p=2 "
        "| rate 8->16 | default |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    ref = min(r["err16"] for r in rows if r["p"] == 2)
    for r in rows:
        mark = "**yes**" if chosen.get((r["p"], r["s"])) == r["a"] else ""
        lines.append(f"| {r['p']} | {r['s']} | {r['a']:g} | {r['lam']:.2f} | {r['condM']:.3g} | {r['condK']:.3g} | {r['lminK']:.3g} | "
                     f"{r['err16']:.3e} | {r['err16'] / ref:.3g} | {r['rate']:.2f} | {mark} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "chidenn_guide.md"))
    ap.add_argument("--check", action="store_true", help="exit 1 if the chosen defaults differ from DEFAULT_DILATION")
    args = ap.parse_args(argv)
    t0 = time.time()
    rows = []
    for p, s in PS:
        for a in DILATIONS:
            r = measure(p, s, a)
            rows.append(r)
            print(f"p={p} s={s} a={a:g}  Lambda={r['lam']:.2f}  cond(M)={r['condM']:.3g}  cond(K_N)={r['condK']:.3g}"
                  f"  err16={r['err16']:.3e}  rate={r['rate']:.2f}", flush=True)
    chosen = choose(rows)
    chosen3, lam3 = choose_3d(rows, lambda msg: print(msg, flush=True))
    body = table(rows, chosen)
    body += ("\n\n3D Lebesgue constants (4 x 4 x 4 mesh, 5^3 points per element) of the 2D candidates, "
             "best 2D error first, until one is <= 10:\n\n| p | s | dilation | Lambda 3D |\n|---|---|---|---|\n")
    body += "\n".join(f"| {p} | {s} | {a:g} | {lam:.2f} |" for p, s, a, lam in lam3)
    defaults = ", ".join(f"(p={p}, s={s}): {a:g}" for (p, s), a in chosen.items())
    defaults3 = ", ".join(f"(p={p}, s={s}): {a:g}" for (p, s), a in chosen3.items())
    print("chosen defaults (1D/2D):", defaults)
    print("chosen defaults (3D):", defaults3)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = out.read_text().split("<!-- table -->")[0] if out.exists() else "# C-HiDeNN hyperparameter guide\n\n"
    tmp = out.with_suffix(".tmp")
    tmp.write_text(header + "<!-- table -->\n" + body + f"\n\nDefaults chosen by the rule above, 1D/2D: {defaults}.\n"
                   f"3D (s = 3 not measured in 3D, 2D value kept): {defaults3}.\n"
                   f"Generated by `python benchmarks/pde_chidenn_guide.py` in {time.time() - t0:.0f} s.\n")
    os.replace(tmp, out)
    print(f"wrote {out}")
    if args.check:
        for name, shipped, measured in (("DEFAULT_DILATION", DEFAULT_DILATION, chosen),
                                         ("DEFAULT_DILATION_3D", DEFAULT_DILATION_3D, chosen3)):
            sub = {k: v for k, v in shipped.items() if k in measured}
            if sub != measured:
                print(f"error: shipped {name} {sub} differs from the measured choice {measured}")
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
