#!/usr/bin/env python3
"""Adiabatic parcel with condensation: scaleforge ``clouds.ParcelModel`` against PySDM (Numba backend).

Same problem in both: p0 = 900 hPa, T0 = 288 K, initial vapour mixing ratio of RH = 99 % (from
clouds.thermo, passed to PySDM so both start from the same q_v), updraft 1 m/s, lognormal aerosol
N = 300 cm^-3, median dry radius 40 nm, sigma_g = 1.6, kappa = 0.6, superdroplets on the same
log-uniform radii with the same multiplicities, dt = 0.5 s. Both equilibrate wet radii themselves.

Agreement: peak supersaturation, its time, the final mean radius and relative dispersion of
activated droplets (r > 1 um), printed for the smallest dt scanned.

Speed at matched accuracy (``benchmarks/harness.py``): both codes run the parcel at each time step
of ``--dt``, interleaved over ``--rounds`` rounds, after a warm-up run so that neither side pays
Numba compilation; each run's error is the larger relative error of S_max and of the mean
activated radius against the same code's ``--dt-ref`` run. For each ``--targets`` error the
cheapest run of each code reaching it is compared (CPU and wall time of stepping; building the
model is not timed), or the row says "no match". Results go to ``benchmarks/results/clouds_vs_pysdm.json``.

PySDM is configured as close to our physics as its options allow (no kinetic corrections, Bolton
e_s; two-term kappa-Köhler); it keeps constant D, K and surface tension and substeps adaptively, so
agreement is to several per cent, not round-off.

Liquid water: both are also compared with the reversible adiabat (:func:`clouds.thermo.reversible_adiabat`,
integrated independently) at the same height. At 300 s (n_sd 256 or 1024, dt 0.5 s) ours has
q_l = 0.5858 g/kg, on the first-law line through the reference (0.0000 K off) and 0.1 Pa from
hypsometric pressure; PySDM (3.0.1) has 0.5607 g/kg (4.3 % lower), with its pressure 84 Pa below
hypsometric and its temperature 0.083 K warmer than the first law allows for its q_l - both raise
q_s and so lower q_l. Its offsets do not shrink with dt (0.5, 0.25, 0.1 s: 83.8, 84.3, 84.6 Pa), so
they come from its parcel formulation (dry-air density advanced with the total-density derivative,
temperature from the dry potential temperature), not from time stepping; in a dry ascent its
pressure is 19 Pa low. The fuller moist heat capacity (c_pd + q_v c_pv + q_l c_l and loaded
gravity) moves the reference q_l by only 0.07 %, so our q_l is right to ~0.1 %.

    python benchmarks/clouds_vs_pysdm.py [--n-sd 1024 8192] [--t-end 300] [--dt 2 1 0.5 0.25] [--rounds 3]
    python benchmarks/clouds_vs_pysdm.py --quick      # n_sd 256, 100 s, dt 1, 0.5, 0.25 (a minute or two)
    python benchmarks/clouds_vs_pysdm.py --dns [--dns-n 64 --dns-droplets 1000000]

``--dns`` times the Eulerian-Lagrangian DNS instead (no anchor: PySDM has no DNS) and prints the
per-step breakdown (fluid RK3 + FFTs, interpolation, growth, droplet motion, deposition).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# OpenMP threads that spin while waiting make Numba's parallel loops slower than serial ones on a
# shared (oversubscribed) machine; passive waiting costs nothing on an idle one
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clouds import droplets  # noqa: E402
from clouds import thermo as th  # noqa: E402
from clouds.parcel import ParcelModel  # noqa: E402

P0, T0, RH0, W, N, RMED, SIG, KAPPA, DT = 9.0e4, 288.0, 0.99, 1.0, 300e6, 40e-9, 1.6, 0.6, 0.5


def setup(n_sd):
    qv = float(th.mixing_ratio_from_rh(P0, T0, RH0))
    rho = float(th.dry_air_density(P0, T0, qv))
    rd, n = droplets.lognormal(N, RMED, SIG, n_sd)
    return qv, rd, n / rho      # multiplicity per kg of dry air


def build_ours(n_sd, dt=DT, kinetic=False):
    """Our parcel model, ready to run (not timed: its construction is not the comparison)."""
    qv, rd, n = setup(n_sd)
    r0 = droplets.equilibrium_radii(RH0 - 1.0, rd, KAPPA, T0)
    return ParcelModel(P0, T0, W, droplets.Population(r0, rd, KAPPA, n), qv=qv, dt=dt, kinetic=kinetic)


def advance_ours(m, t_end):
    """Run ``m`` to ``t_end``: ``(t, S, r, n, final)``."""
    h = m.run(t_end)
    r, nn = m.spectrum()
    final = {"ql": m.qt - m.qv, "T": m.T, "p": m.p, "z": m.z, "qt": m.qt, "S": m.S}
    return h["t"], h["S"], r, nn, final


def run_ours(n_sd, t_end, kinetic=False, dt=DT):
    m = build_ours(n_sd, dt, kinetic)
    t0 = time.perf_counter()
    t, S, r, nn, run_ours.final = advance_ours(m, t_end)
    return time.perf_counter() - t0, t, S, r, nn


def build_pysdm(n_sd, dt=DT, default_physics=False):
    """PySDM's particulator for the same parcel (not timed), with the products we read."""
    from PySDM import Formulae, Particulator
    from PySDM import products as P
    from PySDM.backends import CPU
    from PySDM.dynamics import AmbientThermodynamics, Condensation
    from PySDM.environments import Parcel

    qv, rd, n = setup(n_sd)
    # closest PySDM physics to ours: no gas-kinetic corrections, Bolton (1980) e_s (its full
    # kappa-Köhler option made PySDM's condensation solver fail on this case; leading terms kept)
    # (PySDM keeps constant D = 2.26e-5 m^2/s, K = 0.024 W/m/K and sigma = 0.072 N/m, whereas
    # clouds.thermo uses D(T, p), K(T), sigma(T): growth ~10 % faster at 900 hPa, so a lower S_max)
    backend = CPU(Formulae() if default_physics else
                  Formulae(diffusion_kinetics="Neglect", saturation_vapour_pressure="Bolton1980"))
    mass = 1e6   # kg of dry air: PySDM needs integer multiplicities >= 1 in the lognormal tails
    env = Parcel(dt=dt, backend=backend, mass_of_dry_air=mass, p0=P0, T0=T0, w=W,
                 initial_water_vapour_mixing_ratio=qv)
    attrs = env.init_attributes(n_in_dv=n * mass, kappa=KAPPA, r_dry=rd)
    part = Particulator(n_sd, environment=env, attributes=attrs,
                        products=(P.AmbientRelativeHumidity(name="RH"), P.AmbientTemperature(name="T"),
                                  P.AmbientPressure(name="p"), P.ParcelDisplacement(name="z"),
                                  P.AmbientWaterVapourMixingRatio(name="qv", var="water_vapour_mixing_ratio")),
                        dynamics=(AmbientThermodynamics(), Condensation()))
    return part, mass, dt


def advance_pysdm(state, t_end):
    """Step PySDM's parcel to ``t_end`` (reading S every step, as ours records it): ``(t, S, r, n, final)``."""
    part, mass, dt = state
    steps = int(round(t_end / dt))
    S = [part.products["RH"].get()[0] - 1.0]
    for _ in range(steps):
        part.advance(1)
        S.append(part.products["RH"].get()[0] - 1.0)
    r = (3.0 * part.attributes["volume"].to_ndarray() / (4.0 * np.pi)) ** (1.0 / 3.0)
    nn = part.attributes["multiplicity"].to_ndarray().astype(float)
    vol = part.attributes["volume"].to_ndarray()
    g = {k: float(np.ravel(part.products[k].get())[0]) for k in ("T", "p", "z", "qv")}
    final = {"ql": float(np.sum(nn * vol) * 1000.0 / mass), "T": g["T"], "p": g["p"], "z": g["z"],
             "qt": float(np.sum(nn * vol) * 1000.0 / mass) + g["qv"], "S": S[-1]}
    return np.arange(steps + 1) * dt, np.array(S), r, nn, final


def run_pysdm(n_sd, t_end, default_physics=False, dt=DT):
    state = build_pysdm(n_sd, dt, default_physics)
    t0 = time.perf_counter()
    t, S, r, nn, run_pysdm.final = advance_pysdm(state, t_end)
    return time.perf_counter() - t0, t, S, r, nn


def liquid_water_check(ours, anchor):
    """Liquid water [g/kg] of both at the end against the reversible adiabat (clouds.thermo) at the same height.

    ``off_energy_K`` = (T - T_ref) - L (q_l - q_l,ref) / c_p: zero for a parcel that keeps the first
    law c_p dT = -g dz + L dq_l (supersaturation only trades liquid for vapour along this line);
    ``dp_Pa`` = p - p_ref, the departure from hypsometric pressure.
    """
    out = {}
    for name, f in (("ours", ours), ("pysdm", anchor)):
        T_ref, p_ref, ql_ref = (float(x[-1]) for x in th.reversible_adiabat(P0, T0, f["qt"], [0.0, f["z"]]))
        L = float(th.latent_heat_linear(f["T"]))
        out[name] = {"ql_g_kg": 1e3 * f["ql"], "ql_ref_g_kg": 1e3 * ql_ref, "dp_Pa": f["p"] - p_ref,
                     "off_energy_K": (f["T"] - T_ref) - L * (f["ql"] - ql_ref) / th.C_P, "S": f["S"]}
    return out


def act_stats(r, n):
    sel = r > 1e-6
    mu = np.sum(n[sel] * r[sel]) / np.sum(n[sel])
    sd = np.sqrt(np.sum(n[sel] * (r[sel] - mu) ** 2) / np.sum(n[sel]))
    return mu, sd / mu, np.sum(n[sel]) / np.sum(n)


def run_dns(n, m, steps):
    from clouds.dns import DNS, make_config

    cfg = make_config(grid=dict(n=n, box=0.1), fluid=dict(u_rms=0.05), forcing=dict(epsilon=1e-3),
                      thermo=dict(setup="slab", rh_clear=0.8),
                      droplets=dict(n_droplets=m, N_c=1e8), run=dict(dt=0.002, diag_every=10 ** 6))
    sim = DNS(cfg)
    sim.step()                                   # warm-up (Numba cache, FFT plans)
    sim.timing = {k: 0.0 for k in sim.timing}
    t0 = time.perf_counter()
    for _ in range(steps):
        sim.step()
    wall = time.perf_counter() - t0
    print(f"dns {n}^3 droplets={m} steps={steps}: {steps / wall:.2f} steps/s ({wall / steps:.3f} s/step)")
    for k, v in sim.timing.items():
        print(f"  {k:12s} {v / steps:.4f} s/step  ({100 * v / wall:.0f} %)")
    return 0


def agreement(o, p):
    """Agreement of our run ``o`` with PySDM's ``p`` (both ``(t, S, r, n, final)``): one line."""
    (to, So, ro, no, fo_), (tp, Sp, rp, npp, fp_) = o, p
    (mo, eo, fo), (mp, ep, fp) = act_stats(ro, no), act_stats(rp, npp)
    i, j = int(np.argmax(So)), int(np.argmax(Sp))
    lw = liquid_water_check(fo_, fp_)
    return (f"S_max {100 * So[i]:.4f}% vs {100 * Sp[j]:.4f}% (t {to[i]:.1f} vs {tp[j]:.1f} s); "
            f"r_act {mo * 1e6:.3f} vs {mp * 1e6:.3f} um; eps {eo:.4f} vs {ep:.4f}; activated {fo:.3f} vs {fp:.3f}; "
            f"q_l {lw['ours']['ql_g_kg']:.4f} vs {lw['pysdm']['ql_g_kg']:.4f} g/kg "
            f"(reversible adiabat {lw['ours']['ql_ref_g_kg']:.4f}); p - p_hydrostatic "
            f"{lw['ours']['dp_Pa']:.1f} vs {lw['pysdm']['dp_Pa']:.1f} Pa; off energy line "
            f"{lw['ours']['off_energy_K']:.4f} vs {lw['pysdm']['off_energy_K']:.4f} K")


def error(out, ref) -> float:
    """A run's error against the same code's finest-step run: max relative error of S_max and r_act."""
    s, s_ref = float(np.max(out[1])), float(np.max(ref[1]))
    r, r_ref = act_stats(out[2], out[3])[0], act_stats(ref[2], ref[3])[0]
    return max(abs(s / s_ref - 1.0), abs(r / r_ref - 1.0))


def main(argv=None) -> int:
    import numba

    from benchmarks.harness import Point, Row, Run, interleave, match, version

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-sd", type=int, nargs="+", default=[1024, 8192])
    ap.add_argument("--t-end", type=float, default=300.0)
    ap.add_argument("--dt", type=float, nargs="+", default=[2.0, 1.0, 0.5, 0.25], help="time steps scanned")
    ap.add_argument("--dt-ref", type=float, default=0.05, help="each code's reference run")
    ap.add_argument("--targets", type=float, nargs="+", default=[3e-2, 1e-2, 1e-3],
                    help="errors (S_max, r_act against the reference) at which the codes are compared")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="n_sd 256, t_end 100 s, dt 1, 0.5, 0.25, reference 0.05")
    ap.add_argument("--no-write", action="store_true", help="do not write benchmarks/results/clouds_vs_pysdm.json")
    ap.add_argument("--dns", action="store_true", help="time the DNS instead")
    ap.add_argument("--dns-n", type=int, default=64)
    ap.add_argument("--dns-droplets", type=int, default=1_000_000)
    ap.add_argument("--dns-steps", type=int, default=10)
    args = ap.parse_args(argv)
    if args.dns:
        return run_dns(args.dns_n, args.dns_droplets, args.dns_steps)
    if args.quick:
        args.n_sd, args.t_end, args.dt, args.dt_ref = [256], 100.0, [1.0, 0.5, 0.25], 0.05
    for dt in [*args.dt, args.dt_ref]:
        if not (dt > 0 and abs(args.t_end / dt - round(args.t_end / dt)) < 1e-9):
            print(f"error: --dt {dt}: must be > 0 and divide --t-end {args.t_end}", file=sys.stderr)
            return 2
    try:
        import PySDM  # noqa: F401
        have, anchor = True, version("PySDM")
    except Exception as exc:  # pragma: no cover
        print(f"# PySDM not importable ({exc}): anchor not installed")
        have, anchor = False, "PySDM"
    nt = numba.get_num_threads()
    run = Run(__file__, argv, quick=args.quick,
              notes=f"parcel to {args.t_end:g} s, dt scanned over {args.dt} s for both (PySDM substeps "
                    f"adaptively inside each step); error = max relative error of S_max and mean activated "
                    f"radius against the same code's dt = {args.dt_ref:g} s run; model construction not timed")
    for dt in args.dt:                                         # warm-up (Numba compilation) at every dt
        advance_ours(build_ours(64, dt), 5.0)
        if have:
            advance_pysdm(build_pysdm(64, dt), 5.0)
    for n_sd in args.n_sd:
        ref_o = advance_ours(build_ours(n_sd, args.dt_ref), args.t_end)
        cases = {}
        for dt in args.dt:
            cases[("ours", dt)] = (lambda dt=dt: build_ours(n_sd, dt), lambda m: advance_ours(m, args.t_end))
            if have:
                cases[("pysdm", dt)] = (lambda dt=dt: build_pysdm(n_sd, dt), lambda s: advance_pysdm(s, args.t_end))
        samples, out = interleave(cases, args.rounds)
        scan_o = [Point(dt, error(out[("ours", dt)], ref_o), samples[("ours", dt)]) for dt in args.dt]
        if have:
            ref_p = advance_pysdm(build_pysdm(n_sd, args.dt_ref), args.t_end)
            scan_p = [Point(dt, error(out[("pysdm", dt)], ref_p), samples[("pysdm", dt)]) for dt in args.dt]
            print(f"# n_sd={n_sd} errors by dt: ours {[f'{p.error:.1e}' for p in scan_o]}, "
                  f"PySDM {[f'{p.error:.1e}' for p in scan_p]}")
            print(f"# agreement at dt={args.dt[-1]}: {agreement(out[('ours', args.dt[-1])], out[('pysdm', args.dt[-1])])}")
        for target, o, p in match(scan_o, scan_p if have else [], args.targets):
            common = dict(ours="clouds.ParcelModel", anchor=anchor, threads={"ours": nt, "anchor": nt},
                          target="none stated")
            case = f"parcel n_sd={n_sd}, error <= {target:g}"
            if not have:
                run.add(Row(case, accuracy="", status="anchor not installed", **common))
            elif o is None or p is None:
                miss = " and ".join(n for n, x in (("ours", o), ("PySDM", p)) if x is None)
                run.add(Row(case, accuracy=f"no match: {miss} above {target:g} at every dt scanned",
                            status="no match", **common))
            else:
                run.add(Row.compare(case, o.samples, p.samples,
                                    accuracy=f"dt {o.param:g} s (error {o.error:.1e}) vs dt {p.param:g} s "
                                             f"(error {p.error:.1e})", **common))
    if have and not args.quick:
        # agreement only: our gas-kinetic corrections (P&K) against PySDM's default Fuchs-Sutugin
        n_sd = min(args.n_sd)
        o = advance_ours(build_ours(n_sd, DT, kinetic=True), args.t_end)
        p = advance_pysdm(build_pysdm(n_sd, DT, default_physics=True), args.t_end)
        print(f"# kinetic corrections, PySDM default physics, n_sd={n_sd} (agreement only): {agreement(o, p)}")
    if not args.no_write:
        print(f"# wrote {run.write()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
