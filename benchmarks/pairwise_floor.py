#!/usr/bin/env python3
"""Arithmetic floor of the full pair statistics, against Corrfunc's pair-count time.

The speed goal asks for the full statistics (moments 1..8 of the six pair quantities and four PDFs per
separation bin) within 2x of Corrfunc's ``DD`` time. This script measures how much of that budget
the per-pair arithmetic alone takes, with the pair search assumed free: the pairs are already
found, binned in r and sorted by bin, sitting in a cache-resident buffer of ``CAP`` pairs that is
processed again and again. Per pair that is the irreducible work of any exact float64 method:

* ``quantities``: ``|r|``, ``u_L = v1.r/|r|``, ``u_L'``, ``Delta u_L``, ``Sigma u_L`` and the three
  transverse speeds by Pythagoras (3 square roots and one square root + 2 divisions);
* ``power sums``: orders 1..8 of the seven value streams of an auto pass (u_L and -u_L', Delta u_L,
  Sigma u_L, u_T and u_T', Delta u_T), per r bin, with the kernel's own :func:`_psum`;
* ``hist bins``: the histogram bin of the four binned values (u_L, -u_L', Sigma u_L, Delta u_L),
  with the kernel's own :func:`_hbin`;
* ``hist scatter``: adding the pair weight to those four histogram cells.

The stages are run separately (each ``--reps`` times over the buffer, in parallel over chunks as in
``pair_scan.pair_pass``), timed in CPU seconds (all threads), scaled to the number of pairs of the
benchmark sample (the distinct pairs that ``pair_counts`` finds) and compared with the CPU time of
``Corrfunc.theory.DD`` on the same sample and threads, run interleaved with the stages in each of
``--rounds`` rounds (so load changes on a shared machine hit both sides of a ratio alike). Output:
one line per stage with its CPU time for the whole sample and its ratio to Corrfunc's DD (median and
range over the rounds), then the total ("floor") and what remains of the 2x budget for the pair
search itself. Without Corrfunc the stage times alone are printed. Two ``# alternative`` lines time
the quantities with arithmetic the kernel does not use (``1/|r|`` once instead of two divisions;
also the transverse square roots in single precision), to size those levers; they are not part of
the floor. Usage::

    python benchmarks/pairwise_floor.py [--n 1000000] [--box 250] [--rmax 20] [--threads 2] [--rounds 3]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit, prange

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.pairwise_vs_halotools import sample  # noqa: E402
from cosmo._kernels.pair_binning import _hbin  # noqa: E402
from cosmo._kernels.pair_flush import CAP, _psum  # noqa: E402


@njit(parallel=True, cache=True, error_model="numpy")
def stage_quantities(fb, qq, reps, nchunks):
    """The per-pair quantities of the flush (``pair_flush._project`` with transverse speeds, then
    ``pair_flush._quantities`` for auto pairs, here in one loop), ``reps`` times per chunk."""
    m = fb.shape[1]
    chk = 0.0
    for ch in prange(nchunks):
        q_ = qq[ch]
        for _ in range(reps):
            for q in range(m):
                r = np.sqrt(fb[0, q])
                ul = fb[2, q] / r
                ulp = fb[3, q] / r
                du = ulp - ul
                q_[0, q] = ul
                q_[1, q] = -ulp
                q_[2, q] = du
                q_[3, q] = ulp + ul
                q_[4, q] = np.sqrt(max(fb[4, q] - ul * ul, 0.0))
                q_[5, q] = np.sqrt(max(fb[5, q] - ulp * ulp, 0.0))
                q_[6, q] = np.sqrt(max(fb[6, q] - du * du, 0.0))
        chk += q_[0, 0]
    return chk


@njit(parallel=True, cache=True, error_model="numpy")
def alt_quantities_recip(fb, qq, reps, nchunks):
    """Not the kernel's arithmetic: :func:`stage_quantities` with ``1/|r|`` computed once and multiplied
    (one division instead of two; u_L, u_L' then differ from the correctly rounded quotients by up to
    about one unit in the last place). Timed to size that lever, not used by the kernel."""
    m = fb.shape[1]
    chk = 0.0
    for ch in prange(nchunks):
        q_ = qq[ch]
        for _ in range(reps):
            for q in range(m):
                ir = 1.0 / np.sqrt(fb[0, q])
                ul = fb[2, q] * ir
                ulp = fb[3, q] * ir
                du = ulp - ul
                q_[0, q] = ul
                q_[1, q] = -ulp
                q_[2, q] = du
                q_[3, q] = ulp + ul
                q_[4, q] = np.sqrt(max(fb[4, q] - ul * ul, 0.0))
                q_[5, q] = np.sqrt(max(fb[5, q] - ulp * ulp, 0.0))
                q_[6, q] = np.sqrt(max(fb[6, q] - du * du, 0.0))
        chk += q_[0, 0]
    return chk


@njit(parallel=True, cache=True, error_model="numpy")
def alt_quantities_f32sqrt(fb, qq, reps, nchunks):
    """Not the kernel's arithmetic: :func:`alt_quantities_recip` with the three transverse square roots
    taken in single precision (relative error up to ~6e-8 in u_T, u_T', Delta u_T). Timed to size that
    lever, not used by the kernel."""
    m = fb.shape[1]
    chk = 0.0
    for ch in prange(nchunks):
        q_ = qq[ch]
        for _ in range(reps):
            for q in range(m):
                ir = 1.0 / np.sqrt(fb[0, q])
                ul = fb[2, q] * ir
                ulp = fb[3, q] * ir
                du = ulp - ul
                q_[0, q] = ul
                q_[1, q] = -ulp
                q_[2, q] = du
                q_[3, q] = ulp + ul
                q_[4, q] = np.sqrt(np.float32(max(fb[4, q] - ul * ul, 0.0)))
                q_[5, q] = np.sqrt(np.float32(max(fb[5, q] - ulp * ulp, 0.0)))
                q_[6, q] = np.sqrt(np.float32(max(fb[6, q] - du * du, 0.0)))
        chk += q_[0, 0]
    return chk


@njit(parallel=True, cache=True, error_model="numpy")
def stage_powers(qq, off, reps, nchunks):
    """Power sums of orders 1..8 of the seven streams per r bin (``_psum`` with unit weights, as the
    kernel runs them for the unweighted sample), ``reps`` times per chunk."""
    nb = off.shape[0] - 1
    mom = np.zeros((nchunks, nb, 7, 9))
    for ch in prange(nchunks):
        for _ in range(reps):
            for b in range(nb):
                for k in range(7):
                    _psum(qq[ch, k], None, off[b], off[b + 1], 8, mom[ch], b, k)
    return mom.sum()


@njit(parallel=True, cache=True, error_model="numpy")
def stage_hist_bins(qq, hedges, hq, reps, nchunks):
    """Histogram bins of the four binned values (``_hbin``), ``reps`` times per chunk."""
    m = qq.shape[2]
    nh = hedges.shape[0] - 1
    hlo = hedges[0]
    hinv = nh / (hedges[nh] - hedges[0])
    n = 0
    for ch in prange(nchunks):
        for _ in range(reps):
            for k in range(4):
                n += _hbin(qq[ch, k], m, hedges, True, hlo, hinv, nh, hq[ch, k])
    return n


@njit(parallel=True, cache=True, error_model="numpy")
def stage_hist_scatter(hq, w, off, nh, reps, nchunks):
    """Add each pair's weight to its four histogram cells per r bin, ``reps`` times per chunk."""
    nb = off.shape[0] - 1
    hist = np.zeros((nchunks, nb, 4, nh + 1))
    for ch in prange(nchunks):
        h_ = hq[ch]
        for _ in range(reps):
            for b in range(nb):
                hb = hist[ch, b]
                for qi in range(np.uint64(off[b + 1] - off[b])):
                    q = np.uint64(off[b]) + qi
                    ww = w[q]
                    hb[0, np.uint64(h_[0, q])] += ww
                    hb[1, np.uint64(h_[1, q])] += ww
                    hb[3, np.uint64(h_[2, q])] += ww
                    hb[2, np.uint64(h_[3, q])] += 2.0 * ww
    return hist.sum()


def buffer_from_sample(pos, vel, box, rb, rng):
    """``CAP`` real pairs of the sample (random particles and their neighbours), sorted by r bin:
    the per-pair fields of the kernel's buffer (r^2, w, v1.r, v2.r, |v1|^2, |v2|^2, |v2-v1|^2)."""
    from scipy.spatial import cKDTree

    tree = cKDTree(pos, boxsize=box)
    i = rng.integers(0, len(pos), 4 * CAP)
    d, j = tree.query(pos[i], k=64, distance_upper_bound=rb[-1])
    ok = np.isfinite(d) & (d >= rb[0]) & (d > 0)
    ii = np.repeat(i, 64).reshape(-1, 64)[ok]
    jj = j[ok]
    sel = rng.choice(len(ii), CAP, replace=False)
    ii, jj = ii[sel], jj[sel]
    r = pos[jj] - pos[ii]
    r -= box * np.round(r / box)
    r2 = (r * r).sum(1)
    order = np.argsort(np.searchsorted(rb * rb, r2, side="right"), kind="stable")
    ii, jj, r, r2 = ii[order], jj[order], r[order], r2[order]
    v1, v2 = vel[ii], vel[jj]
    fb = np.stack([r2, np.ones(CAP), (v1 * r).sum(1), (v2 * r).sum(1), (v1 * v1).sum(1), (v2 * v2).sum(1),
                   ((v2 - v1) ** 2).sum(1)])
    off = np.searchsorted(np.searchsorted(rb * rb, r2, side="right") - 1, np.arange(len(rb)))
    return np.ascontiguousarray(fb), off.astype(np.int64)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--box", type=float, default=250.0)
    ap.add_argument("--rmax", type=float, default=20.0)
    ap.add_argument("--nbins", type=int, default=15)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--reps", type=int, default=2000, help="passes over the buffer per chunk")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median and range reported)")
    args = ap.parse_args(argv)
    import numba

    from cosmo.pairwise import pair_counts

    if args.threads:
        numba.set_num_threads(args.threads)
    nt = numba.get_num_threads()
    pos, vel = sample(args.n, args.box)
    rb = np.logspace(-1, np.log10(args.rmax), args.nbins + 1)
    hedges = np.linspace(-3000, 3000, 121)
    rng = np.random.default_rng(2)
    fb, off = buffer_from_sample(pos, vel, args.box, rb, rng)
    w = fb[1].copy()
    nchunks = nt
    qq = np.zeros((nchunks, 7, CAP))
    hq = np.zeros((nchunks, 4, CAP), dtype=np.int64)
    npairs = pair_counts(pos, args.box, rb).sum()
    try:
        from Corrfunc.theory.DD import DD
    except ImportError:
        DD = None
        print("# Corrfunc not available: stage times only")

    def corrfunc_cpu():
        """Corrfunc's DD on the sample: CPU seconds (all threads)."""
        t0 = time.process_time()
        DD(1, nt, rb, pos[:, 0], pos[:, 1], pos[:, 2], periodic=True, boxsize=args.box, verbose=False)
        return time.process_time() - t0
    stages = {
        "quantities": lambda r: stage_quantities(fb, qq, r, nchunks),
        "power sums": lambda r: stage_powers(qq, off, r, nchunks),
        "hist bins": lambda r: stage_hist_bins(qq, hedges, hq, r, nchunks),
        "hist scatter": lambda r: stage_hist_scatter(hq, w, off, len(hedges) - 1, r, nchunks),
    }
    # levers outside the kernel's exact float64 arithmetic, timed for comparison only (not in the floor)
    alternatives = {
        "quantities, 1/|r| once": lambda r: alt_quantities_recip(fb, qq, r, nchunks),
        "  and f32 sqrt for u_T": lambda r: alt_quantities_f32sqrt(fb, qq, r, nchunks),
    }
    for fn in list(stages.values()) + list(alternatives.values()):
        fn(1)  # compile
    # interleaved rounds: Corrfunc's DD, then each stage, so load changes hit both sides of a ratio alike
    cpu = {name: [] for name in stages}
    t_c = []
    for _ in range(max(args.rounds, 1)):
        if DD is not None:
            t_c.append(corrfunc_cpu())
        for name, fn in list(stages.items()) + list(alternatives.items()):
            t0 = time.process_time()
            fn(args.reps)
            # CPU seconds per pair: every chunk (thread) ran reps x CAP pairs
            cpu.setdefault(name, []).append((time.process_time() - t0) / (args.reps * CAP * nchunks))
    t_c = np.array(t_c) if t_c else None
    head = f"# N = {args.n}, box = {args.box}, {npairs:.3g} distinct pairs, {nt} threads, {args.rounds} rounds"
    if t_c is not None:
        head += f"; Corrfunc DD {np.median(t_c):.3f} CPU s ({np.median(t_c) / npairs * 1e9:.2f} ns CPU per pair)"
    print(head)
    print("stage          ns/pair(CPU)  CPU s(sample)  /Corrfunc_DD median [range]")
    total = np.zeros(len(cpu["quantities"]))
    for name in stages:
        per_pair = np.array(cpu[name])
        t_sample = per_pair * npairs
        total += t_sample
        rel = ""
        if t_c is not None:
            rr = t_sample / t_c
            rel = f"{np.median(rr):8.2f} [{rr.min():.2f}, {rr.max():.2f}]"
        print(f"{name:14s} {np.median(per_pair) * 1e9:10.2f} {np.median(t_sample):12.3f}   {rel}")
    for name in alternatives:
        per_pair = np.array(cpu[name])
        rel = ""
        if t_c is not None:
            rr = per_pair * npairs / t_c
            rel = f"{np.median(rr):8.2f} [{rr.min():.2f}, {rr.max():.2f}]"
        print(f"# alternative: {name:24s} {np.median(per_pair) * 1e9:6.2f} ns/pair  {rel}")
    if t_c is not None:
        rr = total / t_c
        print(f"{'floor':14s} {'':10s} {np.median(total):12.3f}   {np.median(rr):8.2f} [{rr.min():.2f}, {rr.max():.2f}]")
        left = np.median(2 * t_c - total)
        print(f"# 2x Corrfunc budget {2 * np.median(t_c):.3f} CPU s; left for the pair search after the floor: "
              f"{left:.3f} s ({left / np.median(t_c):.2f}x Corrfunc's whole DD)")
    else:
        print(f"{'floor':14s} {'':10s} {np.median(total):12.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
