#!/usr/bin/env python3
"""cosmo vs pyccl: C_l^{kappa g} (DESI LRG x CMB lensing), E_G(z) = Omega_m / f(z) and P(k).

Same cosmology (astropy Planck18: h, Omega_c, Omega_b, n_s, sigma_8, one 0.06 eV neutrino) and the
same transfer function (Eisenstein-Hu, or CAMB through CCL's ``boltzmann_camb``), linear power.

Timing through ``benchmarks/harness.py``: ours and CCL alternate over ``--rounds`` interleaved rounds,
CPU and wall time, speedup = CCL's time / ours as median and range of the per-round ratios; calls
shorter than the clocks resolve are repeated within one timing (the same count on both sides).
CCL's cosmology object (and its linear power) is built once and not timed. Accuracy: both compute
the same quantity, so they are at matched accuracy when they agree within ``--tol`` (max relative
difference); a case that does not is "no match". Writes ``benchmarks/results/cosmo_vs_ccl.json``;
without pyccl every row says "anchor not installed".

    python benchmarks/cosmo_vs_ccl.py [--rounds 3] [--tol 1e-2] [--quick]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# (sigma_8 is not a case: both codes normalise P(k) to the input sigma_8, so they agree by construction)
CASES = ("P_lin(k, z=0.5)", "E_G^GR(z)", "C_l^kappa-g DESI LRG")


def main(argv=None) -> int:
    import numba

    from benchmarks.harness import Row, Run, interleave, repeated, version

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tol", type=float, default=1e-2, help="max relative difference for matched accuracy")
    ap.add_argument("--quick", action="store_true", help="Eisenstein-Hu only (no CAMB runs)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    methods = (("eh", "eisenstein_hu"),) if args.quick else (("eh", "eisenstein_hu"), ("camb", "boltzmann_camb"))
    nt = numba.get_num_threads()
    omp = int(os.environ.get("OMP_NUM_THREADS", os.cpu_count()))
    run = Run(__file__, argv, quick=args.quick,
              notes=f"matched accuracy = both agree within {args.tol:g} (max relative difference)")
    try:
        import pyccl as ccl
    except ImportError:
        for method, _ in methods:
            for c in CASES:
                run.add(Row(f"{c} [{method}]", ours="cosmo", anchor="pyccl", threads={"ours": nt, "anchor": None},
                            accuracy="", target="none stated", status="anchor not installed"))
        if not args.no_write:
            print(f"# wrote {run.write()}")
        return 0
    from astropy.cosmology import Planck18

    from cosmo import growth_rate, linear_power, load_surveys
    from cosmo.background import background
    from cosmo.spectra import ModelSpectra

    h = Planck18.h
    bg = background()
    anchor = version("pyccl")
    for method, tf in methods:
        cc = ccl.Cosmology(Omega_c=Planck18.Odm0, Omega_b=Planck18.Ob0, h=h, n_s=0.9665, sigma8=0.8102,
                           m_nu=0.06, mass_split="single", Neff=3.046, T_CMB=2.7255, transfer_function=tf,
                           matter_power_spectrum="linear")
        cc.compute_linear_power()
        k = np.logspace(-3, 0, 200)
        z = np.linspace(0.1, 2.5, 50)
        a = 1 / (1 + z)
        g = load_surveys().sample("DESI_LRG")
        zz = np.linspace(g.z_min, g.z_max, 400)
        nz = g.window(zz) / (bg.E(zz) * 100 / 299792.458)  # dN/dz = dN/dchi dchi/dz
        bz = g.bias(zz)
        ell = np.geomspace(20, 1000, 40)
        ModelSpectra(method=method).c_kappa_g(ell, g)  # warm the Numba kernel

        def anchor_ckg():
            tg = ccl.NumberCountsTracer(cc, has_rsd=False, dndz=(zz, nz), bias=(zz, bz))
            tk = ccl.CMBLensingTracer(cc, z_source=1089.9)
            return ccl.angular_cl(cc, tk, tg, ell)

        pairs = {
            "P_lin(k, z=0.5)": (lambda: linear_power(k, 0.5, method=method),
                                lambda: ccl.linear_matter_power(cc, k * h, 1 / 1.5) * h**3),
            "E_G^GR(z)": (lambda: bg.Om0_tot / growth_rate(a=a),
                          lambda: (cc["Omega_c"] + cc["Omega_b"] + cc["Omega_nu_mass"]) / ccl.growth_rate(cc, a)),
            "C_l^kappa-g DESI LRG": (lambda: ModelSpectra(method=method).c_kappa_g(ell, g), anchor_ckg),
        }
        for name, (fo, fa) in pairs.items():
            fo_k, reps = repeated(fo)
            fa_k = (lambda fa=fa: [fa() for _ in range(reps)][-1])
            samples, out = interleave({"ours": fo_k, "anchor": fa_k}, args.rounds)
            diff = float(np.max(np.abs(np.asarray(out["ours"]) / np.asarray(out["anchor"]) - 1)))
            common = dict(ours="cosmo", anchor=anchor, threads={"ours": nt, "anchor": omp}, target="none stated",
                          note=f"{reps} calls per timing")
            case = f"{name} [{method}]"
            if diff <= args.tol:
                run.add(Row.compare(case, samples["ours"], samples["anchor"],
                                    accuracy=f"agree to {diff:.1e}", **common))
            else:
                run.add(Row(case, accuracy=f"no match: differ by {diff:.1e} > {args.tol:g}", status="no match",
                            **common))
    if not args.no_write:
        print(f"# wrote {run.write()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
