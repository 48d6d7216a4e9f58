#!/usr/bin/env python3
"""Error budget of ``cosmo.pairwise.pair_moments(precision="mixed")`` against the float64 path.

The mixed mode computes the per-pair velocity quantities (``u_L``, ``u_L'``, transverse speeds,
``Delta u_L``, ``Sigma u_L`` and the values binned into the PDFs) in float32 from the float64 dot
products; separations, r bins, counts, weights and power sums stay float64. This script measures,
on clustered samples, what that costs in accuracy:

* pair counts and weighted counts: must be identical (checked, the script fails otherwise);
* moments ``<q^n>``, n = 1..8, of the six quantities: per quantity and order the largest relative
  difference over the r bins, ``|<q^n>_mixed - <q^n>_double| / m_n`` with the scale ``m_n = <q^n>``
  for even n and ``sqrt(<q^(n-1)> <q^(n+1)>)`` (>= ``<|q|^n>``, Cauchy-Schwarz) for odd n, so that
  odd moments near zero do not divide by zero (:func:`cosmo.pairwise.mixed_precision_errors`);
* PDFs: per r bin the fraction of values that moved to another velocity bin,
  ``sum_k |h_mixed - h_double| / (2 sum_k h_double)`` (largest over r bins), and the largest relative
  change of a velocity bin holding at least 1000 values.

Samples: (a) a PM snapshot at z = 0 from ``nbody.cosmological`` (``--nside``^3 particles in a
``--box`` Mpc/h box, realistic clustering and velocities, 15 log bins from 0.1 to 20 Mpc/h), and
(b) the clustered mock of ``benchmarks/pairwise_vs_halotools.py`` (``--n`` points). Usage::

    python benchmarks/pairwise_precision.py [--nside 32] [--box 100] [--n 100000] [--no-pm]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.pairwise_vs_halotools import sample  # noqa: E402


def report(name, st_d, st_m):
    """Print the error budget (:func:`cosmo.pairwise.mixed_precision_errors`) of one sample."""
    from cosmo.pairwise import mixed_precision_errors

    e = mixed_precision_errors(st_d, st_m)
    print(f"## {name}: {st_d.counts.sum():.3g} distinct pairs, counts and weighted counts identical")
    print("quantity  max_b |d<q^n>| / m_n for n = " + ", ".join(str(n) for n in st_d.orders))
    for q, row in e["moments"].items():
        print(f"{q:8s}  " + " ".join(f"{x:8.1e}" for x in row))
    if e["pdf_moved"] is not None:
        print(f"PDFs: largest fraction of values moved to another velocity bin {e['pdf_moved']:.1e}; largest relative "
              f"change of a velocity bin holding >= 1000 values {e['pdf_bin_rel']:.1e}")
    print(f"worst moment error: {e['worst_moment']:.1e}")
    return e


def main(argv=None) -> int:
    from cosmo.pairwise import pair_moments

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nside", type=int, default=32)
    ap.add_argument("--box", type=float, default=100.0)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--no-pm", action="store_true")
    args = ap.parse_args(argv)
    hb = np.linspace(-3000, 3000, 121)
    samples = []
    if not args.no_pm:
        from nbody.cosmological import PMConfig, PMSimulation

        sim = PMSimulation(PMConfig(box=args.box, nside=args.nside, a_start=0.02, nsteps=20,
                                    output_redshifts=[0.0], backend="cpu"))
        sim.run(write=False)
        pos, vel, _ = sim.gather()
        samples.append((f"PM snapshot z=0, {args.nside}^3 in {args.box:g} Mpc/h", pos, vel, args.box))
    pos, vel = sample(args.n, 250.0)
    samples.append((f"clustered mock, N={args.n} in 250 Mpc/h", pos, vel, 250.0))
    for name, pos, vel, box in samples:
        rb = np.logspace(-1, np.log10(min(20.0, 0.4 * box)), 16)
        st_d = pair_moments(pos, vel, box, rb, pdf_bins=hb, backend="cpu")
        st_m = pair_moments(pos, vel, box, rb, pdf_bins=hb, backend="cpu", precision="mixed")
        report(name, st_d, st_m)
        st_d = pair_moments(pos, vel, box, rb, pdf_bins=hb, quantities=("du_L",), backend="cpu")
        st_m = pair_moments(pos, vel, box, rb, pdf_bins=hb, quantities=("du_L",), backend="cpu", precision="mixed")
        report(name + ", Delta u_L-only pass", st_d, st_m)
    return 0


if __name__ == "__main__":
    sys.exit(main())
