#!/usr/bin/env python3
"""SMBH binary: dynamical friction, binary formation, stellar hardening and GW coalescence (KETJU, Rantala+2017 Fig. style).

Two equal-mass SMBHs in a Dehnen gamma = 1 (Hernquist) stellar bulge: the first
at the centre, the second on a circular orbit at r0 = 0.3 a. Dynamical
friction brings them together, they form a bound binary that becomes hard
(a < a_h = r_m/16 for equal masses, Merritt 2013), hardens by three-body
scatterings of stars at a rate H = sigma/(G rho) d(1/a)/dt (Quinlan 1996:
H ~ 15-20; Sesana et al. 2006) and, with the 2.5PN radiation reaction on
(``--pn``), decays by gravitational waves and merges. The speed of light is
lowered (``--c``, internal units) so the GW phase falls inside a short run,
as in test problems of the KETJU papers.

H is measured from the SMBH orbit log over the hard phase, with sigma and
rho the stellar 1D dispersion and density inside the influence radius r_m.

    python examples/ketju_binary_hardening.py --quick --outdir results/hardening
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gpu.io import write_json  # noqa: E402
from nbody.galaxy_physics import hard_binary_separation, hardening_rate  # noqa: E402
from nbody.ics import PTYPE_BH, DehnenModel, ParticleData, spherical_galaxy  # noqa: E402
from nbody.ketju import RegularizedRegionIntegrator, binary_elements  # noqa: E402
from nbody.timestepping import HierarchicalKDK  # noqa: E402


def setup(n, m_bh, r0=0.3, gamma=1.0, seed=2):
    """Galaxy with SMBH 1 at the centre (the Eddington DF includes it) and SMBH 2 on a circular orbit at r0."""
    gal = spherical_galaxy(n, "dehnen", gamma=gamma, m_bh=m_bh, seed=seed, r_max=50)
    model = DehnenModel(gamma)
    vc = np.sqrt((model.enclosed_mass(r0) + m_bh) / r0)
    p = ParticleData(np.vstack([gal.pos, [[r0, 0, 0]]]), np.vstack([gal.vel, [[0, vc, 0]]]),
                     np.append(gal.mass, m_bh), np.append(gal.ptype, PTYPE_BH))
    p.vel -= p.com()[1]
    return p, model


def influence_quantities(pos, vel, mass, centre, vcentre, m_binary):
    """r_m with M_*(<r_m) = 2 M_bin, and the stellar density and 1D dispersion inside it."""
    d = np.linalg.norm(pos - centre, axis=1)
    o = np.argsort(d)
    cm = np.cumsum(mass[o])
    k = int(np.searchsorted(cm, 2 * m_binary))
    r_m = d[o][k]
    sel = o[: k + 1]
    rho = cm[k] / (4 / 3 * np.pi * r_m**3)
    sigma = np.sqrt(np.mean(np.sum((vel[sel] - vcentre) ** 2, axis=1)) / 3)
    return r_m, rho, sigma


def run(n, m_bh, t_end, pn, c, r0=0.3, dt_max=1 / 32, eps=0.005, seed=2, tol=1e-9):
    p, model = setup(n, m_bh, r0=r0, seed=seed)
    integ = RegularizedRegionIntegrator(tolerance=tol, pn=pn, c=c, merger_radius_rs=12)
    eng = HierarchicalKDK(p.pos, p.vel, p.mass, p.ptype, eps, dt_max=dt_max, eta=0.02, max_bin=20, gravity="tree",
                          r_ketju=3 * eps, region_integrator=integ)
    eng.initialize()
    log = {"t": [], "sep": [], "a": [], "e": []}
    infl = None
    for _ in range(int(round(t_end / dt_max))):
        eng.advance_block()
        bh = np.flatnonzero(eng.ptype == PTYPE_BH)
        if len(bh) < 2:
            break
        r, a, e = binary_elements(eng.mass[bh[0]], eng.mass[bh[1]], eng.pos[bh[0]], eng.pos[bh[1]],
                                  eng.vel[bh[0]], eng.vel[bh[1]])
        log["t"].append(eng.t)
        log["sep"].append(r)
        log["a"].append(a)
        log["e"].append(e)
        if infl is None and 0 < a < 0.05:
            star = eng.ptype != PTYPE_BH
            m = eng.mass[bh]
            cen = m @ eng.pos[bh] / m.sum()
            vcen = m @ eng.vel[bh] / m.sum()
            infl = influence_quantities(eng.pos[star], eng.vel[star], eng.mass[star], cen, vcen, m.sum())
    return {k: np.array(v) for k, v in log.items()}, eng, infl


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--outdir", default="results/ketju_binary_hardening")
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--t-end", type=float, default=None)
    ap.add_argument("--c", type=float, default=None, help="speed of light in internal units (PN)")
    ap.add_argument("--no-pn", action="store_true", help="switch the PN terms off")
    ap.add_argument("--r0", type=float, default=None, help="initial radius of the second SMBH [a]")
    ap.add_argument("--m-bh", type=float, default=None, help="mass of each SMBH [galaxy mass]")
    args = ap.parse_args(argv)
    out = Path(args.outdir)
    out.mkdir(parents=True, exist_ok=True)
    if args.quick:
        n, m_bh, t_end, c, r0 = args.n or 3000, 0.01, args.t_end or 5.0, args.c or 15.0, 0.15
    else:
        n, m_bh, t_end, c, r0 = args.n or 100000, 0.005, args.t_end or 40.0, args.c or 60.0, 0.3
    r0 = args.r0 or r0
    m_bh = args.m_bh or m_bh
    pn = "none" if args.no_pn else ("1PN", "2PN", "2.5PN")
    t0 = time.perf_counter()
    log, eng, infl = run(n, m_bh, t_end, pn, c, r0=r0)
    wall = time.perf_counter() - t0
    t, a, e, sep = log["t"], log["a"], log["e"], log["sep"]
    summary = {"n": n, "m_bh": m_bh, "c": c, "r0": r0, "min_separation": float(sep.min()) if len(sep) else None, "pn": list(pn) if pn != "none" else [], "wall_s": wall,
               "mergers": len(eng.merger_events), "final_time": float(eng.t)}
    if infl is not None:
        r_m, rho, sigma = infl
        a_h = hard_binary_separation(m_bh, m_bh, r_m)
        hard = (a > 0) & (a < a_h)
        summary.update({"r_m": r_m, "rho_m": rho, "sigma_m": sigma, "a_h": a_h})
        if hard.sum() >= 6:
            th, ah = t[hard], a[hard]
            # stellar-hardening phase only: stop where GW emission would dominate (first 40 % of the hard phase)
            k = max(6, int(0.4 * len(th)))
            H = hardening_rate(th[:k], ah[:k], sigma, rho)
            summary.update({"hardening_rate_H": float(H), "t_hard": float(th[0]), "e_at_hard": float(e[hard][0])})
    if eng.merger_events:
        summary["t_merger"] = float(eng.merger_events[0]["time"])
        summary["remnant_mass"] = float(eng.merger_events[0]["remnant_mass"])
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axs = plt.subplots(3, 1, figsize=(6, 8), sharex=True)
    axs[0].semilogy(t, sep)
    axs[0].set_ylabel("SMBH separation")
    bound = a > 0
    axs[1].plot(t[bound], 1 / a[bound])
    axs[1].set_ylabel("1 / a")
    axs[2].plot(t[bound], e[bound])
    axs[2].set_ylabel("e")
    axs[2].set_xlabel("t [N-body units]")
    if "a_h" in summary:
        axs[1].axhline(1 / summary["a_h"], color="0.6", lw=0.8, ls=":")
    if eng.merger_events:
        for ax in axs:
            ax.axvline(summary["t_merger"], color="r", lw=0.8)
    axs[0].set_title(f"SMBH binary, N = {n}, PN = {summary['pn']}")
    fig.tight_layout()
    fig.savefig(out / "ketju_binary_hardening.png", dpi=120)
    write_json(out / "numbers.json", {"summary": summary, "t": t, "a": a, "e": e, "sep": sep,
                                      "profile": eng.timers, "counters": eng.counters})
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
