#!/usr/bin/env python3
"""KETJU-style SMBH binary inspiral: an e0 = 0.9 binary driven to merger by PN terms.

Reproduces the kind of test shown for KETJU / MSTAR (Mannerkoski et al. 2023;
Rantala et al. 2017, 2020): a 6e8 + 4e8 Msun black-hole binary with initial
eccentricity 0.9 integrated with the regularized integrator and all validated
PN terms (1PN EIH, 2PN, 2.5PN and 3.5PN radiation reaction, 3PN, spin-orbit, spin-spin and
quadrupole-monopole)
until the holes merge at 12 Schwarzschild radii. Figures:

* a(t) and e(t) of the osculating orbit against the orbit-averaged Peters (1964)
  evolution from the same (a0, e0);
* the periapsis argument against the 1PN prediction 6 pi G M / (c^2 a (1 - e^2)) per orbit.

A 2.5PN-only run of the same binary shows the pure Peters evolution; with all
terms the higher-order dynamics at a periapsis of ~25 r_s shorten the inspiral by ~5%.

``numbers.json`` summary: merger time / Peters time (2.5PN only, all terms), measured / predicted periapsis
advance over the first orbits, remnant mass, spin and recoil.

    python examples/ketju_pn_inspiral.py --quick --outdir results/ketju_pn_inspiral
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from examples._figures import save_figure  # noqa: E402


def build(a0_rs: float, e0: float, chi=(0.0, 0.0)):
    import astropy.units as u

    from nbody import Particles, UnitSystem

    m1, m2 = 6e8, 4e8
    units = UnitSystem(mass=1e9 * u.Msun, length=1e-3 * u.pc)  # G = 1 with M ~ 1
    M = (m1 + m2) / 1e9
    rs = 2 * M / units.c**2
    a0 = a0_rs * rs
    # start at apoapsis, where the PN corrections to the Newtonian elements are smallest
    # (at a periapsis of 25 r_s the 1PN energy of Newtonian initial data can exceed the binding energy)
    ra = a0 * (1 + e0)
    va = math.sqrt(M * (1 - e0) / ra)
    q1, q2 = m2 / (m1 + m2), m1 / (m1 + m2)
    pos = np.array([[q1 * ra, 0, 0], [-q2 * ra, 0, 0]])
    vel = np.array([[0, q1 * va, 0], [0, -q2 * va, 0]])
    spin = np.array([[0, 0, chi[0]], [0, 0, chi[1]]])
    return Particles(np.array([m1, m2]) / 1e9, pos, vel, spin=spin, units=units), units, a0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a0 = 250 r_s (about a minute); default a0 = 400 r_s")
    ap.add_argument("--outdir", default="results/ketju_pn_inspiral")
    args = ap.parse_args(argv)
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gpu.io import write_json
    from nbody import RegularizedIntegrator, orbits

    e0 = 0.9
    a0_rs = 250.0 if args.quick else 400.0
    p, units, a0 = build(a0_rs, e0, chi=(0.5, 0.3))
    m1, m2 = p.mass
    M, c = m1 + m2, units.c
    T_peters = orbits.coalescence_time(a0, e0, m1, m2, c)
    P0 = 2 * math.pi * math.sqrt(a0**3 / M)
    n_out = 4000 if args.quick else 12000
    times = np.linspace(0, 1.5 * T_peters, n_out)[1:]
    runs = {}
    for label, pn in (("2.5PN only", ["2.5PN"]), ("all PN terms", "all")):
        integ = RegularizedIntegrator(tolerance=1e-10, pn=pn, units=units)
        t0 = time.perf_counter()
        out, rec = integ.integrate(p, 1.5 * T_peters, outputs=times)
        wall = time.perf_counter() - t0
        if not rec.mergers:
            print(f"{label}: no merger within 1.5 Peters times", file=sys.stderr)
            return 1
        snaps = [p] + [s for _, s in rec.snapshots if s.n == 2]
        t = np.array([0.0] + [ti for ti, s in rec.snapshots if s.n == 2])
        els = [orbits.elements(s.mass[0], s.mass[1], s.pos[0], s.pos[1], s.vel[0], s.vel[1]) for s in snaps]
        r = np.array([np.linalg.norm(s.pos[0] - s.pos[1]) for s in snaps])
        runs[label] = dict(rec=rec, ev=rec.mergers[0], t=t, r=r, wall=wall,
                           a=np.array([x["a"] for x in els]), e=np.array([x["e"] for x in els]),
                           w=np.unwrap(np.array([x["periapsis_argument"] for x in els])))
    full = runs["all PN terms"]
    ev, t, w, rec = full["ev"], full["t"], full["w"], full["rec"]
    tp = np.linspace(0, runs["2.5PN only"]["ev"].time, 400)
    ap_, ep_ = orbits.peters_evolve(a0, e0, m1, m2, c, tp)
    # periapsis advance over the first few orbits (osculating elements sampled away from periapsis)
    k = t <= 5 * P0
    far = k & (full["r"] > a0)
    slope = np.polyfit(t[far], w[far], 1)[0]
    dw_meas = slope * P0
    dw_pred = orbits.periastron_advance_1pn(a0, e0, M, c)

    rs = 2 * M / c**2
    fig, axs = plt.subplots(1, 3, figsize=(15, 4.2))
    for label, run in runs.items():
        sel = run["r"] > run["a"]  # osculating elements away from periapsis (PN terms smallest there)
        axs[0].plot(run["t"][sel] / T_peters, run["a"][sel] / rs, lw=0.8, label=f"regularized integrator, {label}")
        axs[1].plot(run["t"][sel] / T_peters, run["e"][sel], lw=0.8)
    axs[0].plot(tp / T_peters, ap_ / rs, "k--", label="Peters (1964)")
    axs[0].set(xlabel="t / T_Peters", ylabel="a / r_s", yscale="log", title=f"a(t), e0 = {e0}")
    axs[0].legend(fontsize=8)
    axs[1].plot(tp / T_peters, ep_, "k--")
    axs[1].set(xlabel="t / T_Peters", ylabel="e", title="e(t)")
    axs[2].plot(t[k] / P0, np.degrees(w[k] - w[0]), ".", ms=2, label="osculating periapsis argument")
    axs[2].plot(t[k] / P0, np.degrees(dw_pred * t[k] / P0), "k--", label="6 pi GM / (c^2 a (1-e^2)) per orbit")
    axs[2].set(xlabel="t / P0", ylabel="omega - omega0 [deg]", title="periastron precession")
    axs[2].legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, outdir / "ketju_pn_inspiral.png")
    plt.close(fig)

    summary = {
        "a0_over_rs": a0_rs, "e0": e0,
        "merger_time_over_peters_25pn": runs["2.5PN only"]["ev"].time / T_peters,
        "merger_time_over_peters": ev.time / T_peters,
        "precession_measured_over_1pn": dw_meas / dw_pred,
        "remnant_mass_over_M": ev.remnant_mass / M,
        "remnant_spin": float(np.linalg.norm(ev.remnant_spin)),
        "recoil_kms": float(np.linalg.norm(ev.recoil) * units.velocity.value),
        "orbits_to_merger": ev.time / P0,
        "wall_s": sum(r["wall"] for r in runs.values()),
    }
    write_json(outdir / "numbers.json", {"summary": summary, "n_steps": rec.n_steps,
                                         "peters_time_yr": T_peters * units.time.value,
                                         "merger_time_yr": ev.time * units.time.value})
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
