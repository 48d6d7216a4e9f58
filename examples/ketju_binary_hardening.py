#!/usr/bin/env python3
"""SMBH binary: dynamical friction, binary formation, stellar hardening and GW coalescence (KETJU, Rantala+2017 Fig. style).

Two equal-mass SMBHs in a Dehnen gamma = 1 (Hernquist) stellar bulge: the first
at the centre, the second on a circular orbit at r0 = 0.3 a. Dynamical
friction brings them together, they form a bound binary that becomes hard
(a < a_h = r_m/16 for equal masses, Merritt 2013), hardens by three-body
scatterings of stars at a rate H = sigma/(G rho) d(1/a)/dt (Quinlan 1996;
Sesana et al. 2006) and, with the 2.5PN radiation reaction on
(``--pn``), decays by gravitational waves and merges. The speed of light is
lowered (``--c``, internal units) so the GW phase falls inside a short run,
as in test problems of the KETJU papers.

H is measured from the SMBH orbit log over the whole hard phase (a < a_h,
up to the end of the run or, with PN, until the GW decay reaches 10 % of the
stellar one), with rho(t) and sigma(t) the stellar density and 1D dispersion
within the binary's influence radius r_infl (M_*(<r_infl) = 2 M_bin) about
the binary's centre of mass, sampled every ``--sample-every`` time units
*during* the hardening: the binary scours the nucleus, so rho(<r_infl) falls
by ~50 % between binary formation and the end of the run (values taken once,
at binary formation, gave H = 6-9 instead of 12.4 for the slow test's run).
1/a is fitted against int G rho/sigma dt (nbody.galaxy_physics.hardening_rate).
Also reported: H with rho and sigma in a shell at r_infl (Sesana & Khan 2015)
and the scattering-experiment prediction of Sesana, Haardt & Madau (2006)
averaged over the same range of a/a_h (it rises from 11.5 at a_h to the
asymptotic 14.6 for a << a_h: the "15-20" of the literature is the latter).

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

from examples._figures import save_figure  # noqa: E402

from gpu.io import write_json  # noqa: E402
from nbody.galaxy_physics import (hard_binary_separation, hardening_rate, influence_quantities,  # noqa: E402
                                  quinlan_hard_separation, sesana_hardening_H)
from nbody.orbits import peters_dadt  # noqa: E402
from nbody.ics import DehnenModel, spherical_galaxy  # noqa: E402
from nbody.ketju import RegularizedRegionIntegrator  # noqa: E402
from nbody.orbits import elements  # noqa: E402
from nbody.particles import PTYPE_BH, Particles  # noqa: E402
from nbody.timestepping import (ForceConfig, HierarchicalKDK, RegionConfig, ReplicatedForces,  # noqa: E402
                                StepConfig)


def setup(n, m_bh, r0=0.3, gamma=1.0, seed=2):
    """Galaxy with SMBH 1 at the centre (the Eddington DF includes it) and SMBH 2 on a circular orbit at r0."""
    gal = spherical_galaxy(n, "dehnen", gamma=gamma, m_bh=m_bh, seed=seed, r_max=50)
    model = DehnenModel(gamma)
    vc = np.sqrt((model.enclosed_mass(r0) + m_bh) / r0)
    p = Particles.from_arrays(np.append(gal.mass, m_bh), np.vstack([gal.pos, [[r0, 0, 0]]]),
                              np.vstack([gal.vel, [[0, vc, 0]]]), np.append(gal.ptype, PTYPE_BH))
    p.vel -= (p.mass @ p.vel) / p.mass.sum()  # zero total momentum
    return p, model


def run(n, m_bh, t_end, pn, c, r0=0.3, dt_max=1 / 32, eps=0.005, seed=2, tol=1e-9, sample_every=0.25):
    """Evolve the two-SMBH galaxy; log (t, separation, a, e) every dt_max and the influence-sphere
    quantities about the SMBHs' centre of mass every ``sample_every``.

    Returns (orbit log, engine, influence samples, {energy_drift, energy_error}: E_end - E_0 and
    its ratio to |E_0|, without the 2.5PN losses)."""
    p, model = setup(n, m_bh, r0=r0, seed=seed)
    integ = RegularizedRegionIntegrator(tolerance=tol, pn=pn, c=c, merger_radius_rs=12)
    eng = HierarchicalKDK(p, eps, StepConfig(dt_max=dt_max, eta=0.02, max_bin=20),
                          ReplicatedForces(ForceConfig("tree")), RegionConfig(3 * eps, integ))
    eng.initialize()
    e0 = sum(eng.energy())
    log = {"t": [], "sep": [], "a": [], "e": []}
    infl = {"t": [], "r_infl": [], "rho_within": [], "sigma_within": [], "rho_at": [], "sigma_at": []}
    every = max(1, int(round(sample_every / dt_max)))
    for step in range(int(round(t_end / dt_max))):
        eng.advance_block()
        bh = np.flatnonzero(eng.ptype == PTYPE_BH)
        if len(bh) < 2:
            break
        el = elements(eng.mass[bh[0]], eng.mass[bh[1]], eng.pos[bh[0]], eng.pos[bh[1]], eng.vel[bh[0]], eng.vel[bh[1]])
        r, a, e = el["separation"], el["a"], el["e"]
        log["t"].append(eng.t)
        log["sep"].append(r)
        log["a"].append(a)
        log["e"].append(e)
        if (step + 1) % every == 0:
            star = eng.ptype != PTYPE_BH
            m = eng.mass[bh]
            q = influence_quantities(eng.pos[star], eng.vel[star], eng.mass[star], m @ eng.pos[bh] / m.sum(),
                                     m @ eng.vel[bh] / m.sum(), m.sum())
            infl["t"].append(eng.t)
            for k in infl:
                if k != "t":
                    infl[k].append(q[k])
    # relative energy error of the whole run (without PN; the 2.5PN losses are not logged)
    drift = sum(eng.energy()) - e0
    return ({k: np.array(v) for k, v in log.items()}, eng, {k: np.array(v) for k, v in infl.items()},
            {"energy_drift": float(drift), "energy_error": float(drift / abs(e0))})


def measure_hardening(log, infl, m1, m2, c=None, pn=False, gw_fraction=0.1, min_samples=20):
    """H over the hard phase from the orbit log and the influence-sphere samples (see module doc).

    Hard phase: from the first time a < a_h = q/(1+q)^2 r_infl(t)/4 (Merritt 2013) to the end of the
    log, cut (with PN) where Peters' d(1/a)/dt exceeds ``gw_fraction`` of the fitted stellar rate.
    Returns a dict (empty if the binary did not spend ``min_samples`` log entries in the hard phase).
    """
    t, a, e = log["t"], log["a"], log["e"]
    if len(infl["t"]) < 2 or len(t) < min_samples:
        return {}
    ti = infl["t"]
    at = {k: np.interp(t, ti, infl[k]) for k in ("r_infl", "rho_within", "sigma_within", "rho_at", "sigma_at")}
    a_h = hard_binary_separation(m1, m2, at["r_infl"])
    hard = (a > 0) & (a < a_h) & (t >= ti[0])
    if not np.any(hard):
        return {}
    k0 = int(np.argmax(hard))
    sel = np.arange(k0, len(t))
    sel = sel[a[sel] > 0]
    if len(sel) < min_samples:
        return {}
    if pn and c:
        for _ in range(3):  # the GW cut depends on the stellar rate and vice versa: iterate
            s_star = hardening_rate(t[sel], a[sel], 1.0, 1.0)
            gw = -peters_dadt(a[sel], np.clip(e[sel], 0, 0.999), m1, m2, c) / a[sel] ** 2
            bad = np.flatnonzero(gw > gw_fraction * s_star)
            if len(bad) == 0:
                break
            sel = sel[: bad[0]]
            if len(sel) < min_samples:
                return {}
    tw, aw = t[sel], a[sel]
    out = {"t_hard": float(tw[0]), "t_window_end": float(tw[-1]), "a_h": float(a_h[k0]),
           "inv_a_window": [float(1 / aw[0]), float(1 / aw[-1])], "e_at_hard": float(e[k0]),
           "e_window_end": float(e[sel[-1]])}
    for where in ("within", "at"):
        rho, sig = at[f"rho_{where}"][sel], at[f"sigma_{where}"][sel]
        out[f"H_{where}"] = hardening_rate(tw, aw, sig, rho)
        # SHM06 prediction weighted as the fit weights it: int H(a/a_h^Q) G rho/sigma dt / int G rho/sigma dt
        x = aw / quinlan_hard_separation(min(m1, m2), sig)
        w = rho / sig
        out[f"H_SHM06_{where}"] = float(np.trapezoid(sesana_hardening_H(x, min(m1, m2) / max(m1, m2)) * w, tw)
                                        / np.trapezoid(w, tw))
        out[f"a_over_ahQ_{where}"] = [float(x[0]), float(x[-1])]
        out[f"rho_{where}"] = [float(rho[0]), float(rho[-1])]
        out[f"sigma_{where}"] = [float(sig[0]), float(sig[-1])]
    out["r_infl"] = [float(at["r_infl"][sel[0]]), float(at["r_infl"][sel[-1]])]
    out["hardening_rate_H"] = out["H_within"]
    return out


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
    ap.add_argument("--sample-every", type=float, default=0.25,
                    help="interval of the influence-sphere samples (rho, sigma) [time units]")
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
    log, eng, infl, energy = run(n, m_bh, t_end, pn, c, r0=r0, sample_every=args.sample_every)
    wall = time.perf_counter() - t0
    t, a, e, sep = log["t"], log["a"], log["e"], log["sep"]
    summary = {"n": n, "m_bh": m_bh, "c": c, "r0": r0, "min_separation": float(sep.min()) if len(sep) else None,
               "pn": list(pn) if pn != "none" else [], "wall_s": wall, "mergers": len(eng.merger_events),
               "final_time": float(eng.t), **energy}
    summary.update(measure_hardening(log, infl, m_bh, m_bh, c=c, pn=pn != "none"))
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
        axs[1].axvspan(summary["t_hard"], summary["t_window_end"], color="C1", alpha=0.12)
        axs[1].text(0.02, 0.9, f"H = {summary['H_within']:.1f} (rho, sigma within r_infl), "
                    f"{summary['H_at']:.1f} (at r_infl)\nSHM06: {summary['H_SHM06_within']:.1f}",
                    transform=axs[1].transAxes, va="top", fontsize=8)
    if eng.merger_events:
        for ax in axs:
            ax.axvline(summary["t_merger"], color="r", lw=0.8)
    axs[0].set_title(f"SMBH binary, N = {n}, PN = {summary['pn']}")
    fig.tight_layout()
    save_figure(fig, out / "ketju_binary_hardening.png")
    write_json(out / "numbers.json", {"summary": summary, "t": t, "a": a, "e": e, "sep": sep, "influence": infl,
                                      "profile": eng.timers, "counters": eng.counters})
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
