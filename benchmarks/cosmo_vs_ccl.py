#!/usr/bin/env python3
"""cosmo vs pyccl: C_l^{kappa g} (DESI LRG x CMB lensing), E_G(z) = Omega_m / f(z), sigma_8 and P(k).

Same cosmology (astropy Planck18: h, Omega_c, Omega_b, n_s, sigma_8, one 0.06 eV neutrino) and the
same transfer function (Eisenstein-Hu, or CAMB through CCL's ``boltzmann_camb``), linear power.
Prints one line per case: ``case  ours_s  anchor_s  ratio  agreement`` (agreement = max |rel. diff|).

    python benchmarks/cosmo_vs_ccl.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def timed(fn, repeat=3):
    best = np.inf
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def main() -> int:
    try:
        import pyccl as ccl
    except ImportError:
        print("pyccl is not installed (pip install '.[bench]'); skipping cosmo_vs_ccl")
        return 0
    from astropy.cosmology import Planck18

    from cosmo import growth_rate, linear_power, load_surveys
    from cosmo.background import background
    from cosmo.power import sigma8_of
    from cosmo.spectra import ModelSpectra

    h = Planck18.h
    bg = background()
    rows = []
    for method, tf in (("eh", "eisenstein_hu"), ("camb", "boltzmann_camb")):
        def make():
            c = ccl.Cosmology(Omega_c=Planck18.Odm0, Omega_b=Planck18.Ob0, h=h, n_s=0.9665, sigma8=0.8102,
                              m_nu=0.06, mass_split="single", Neff=3.046, T_CMB=2.7255, transfer_function=tf,
                              matter_power_spectrum="linear")
            c.compute_linear_power()
            return c

        cc, t_anchor_init = timed(make, 1)
        # --- P(k) at z = 0.5 ------------------------------------------------------------
        k = np.logspace(-3, 0, 200)
        ours, t_o = timed(lambda: linear_power(k, 0.5, method=method))
        anc, t_a = timed(lambda: ccl.linear_matter_power(cc, k * h, 1 / 1.5) * h**3)
        rows.append((f"P_lin(k, z=0.5) [{method}]", t_o, t_a, np.max(np.abs(ours / anc - 1))))
        s8o, t_o = timed(lambda: sigma8_of(method=method))
        s8a, t_a = timed(lambda: ccl.sigma8(cc))
        rows.append((f"sigma_8 [{method}]", t_o, t_a, abs(s8o / s8a - 1)))
        # --- E_G(z) = Omega_m / f ---------------------------------------------------------
        z = np.linspace(0.1, 2.5, 50)
        a = 1 / (1 + z)
        ego, t_o = timed(lambda: bg.Om0_tot / growth_rate(a=a))
        ega, t_a = timed(lambda: (cc["Omega_c"] + cc["Omega_b"] + cc["Omega_nu_mass"]) / ccl.growth_rate(cc, a))
        rows.append((f"E_G^GR(z) [{method}]", t_o, t_a, np.max(np.abs(ego / ega - 1))))
        # --- C_l^{kappa g} ------------------------------------------------------------------
        g = load_surveys().sample("DESI_LRG")
        zz = np.linspace(g.z_min, g.z_max, 400)
        nz = g.window(zz) / (bg.E(zz) * 100 / 299792.458)  # dN/dz = dN/dchi dchi/dz
        bz = g.bias(zz)
        ell = np.geomspace(20, 1000, 40)
        ms = ModelSpectra(method=method)
        ms.c_kappa_g(ell, g)  # warm the Numba kernel

        def ours_ckg():
            return ModelSpectra(method=method).c_kappa_g(ell, g)

        def anchor_ckg():
            tg = ccl.NumberCountsTracer(cc, has_rsd=False, dndz=(zz, nz), bias=(zz, bz))
            tk = ccl.CMBLensingTracer(cc, z_source=1089.9)
            return ccl.angular_cl(cc, tk, tg, ell)

        co, t_o = timed(ours_ckg)
        ca, t_a = timed(anchor_ckg)
        rows.append((f"C_l^kappa-g DESI LRG [{method}]", t_o, t_a, np.max(np.abs(co / ca - 1))))

    print(f"{'case':36s} {'ours_s':>9s} {'anchor_s':>9s} {'ratio':>7s} {'agreement':>10s}")
    for name, to, ta, agr in rows:
        print(f"{name:36s} {to:9.4f} {ta:9.4f} {to / ta:7.2f} {agr:10.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
