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
``--rounds`` rounds through ``benchmarks/harness.py`` (so load changes on a shared machine hit both
sides of a ratio alike). Output: the ns of CPU per pair of every stage, then rows (speedup =
Corrfunc's DD time / the stage's time for the whole sample, CPU and wall, median and range over the
rounds) for the floor (all four stages), the float64 quantities stage and its mixed-precision twin,
written to ``benchmarks/results/pairwise_floor.json`` for the README's speed table, and what
remains of the 2x budget for the pair search itself. Three alternatives are timed besides: the
quantities with arithmetic the float64 kernel does not use (``1/|r|`` once instead of two
divisions; also the transverse square roots in single precision), to size those levers, and the
quantities of ``precision="mixed"`` (the kernel's own ``_project`` in float32); they are not part
of the floor. Usage::

    python benchmarks/pairwise_floor.py [--n 1000000] [--box 250] [--rmax 20] [--threads 2] [--rounds 3]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from numba import njit, prange

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.pairwise_vs_halotools import sample  # noqa: E402
from cosmo._kernels.pair_binning import _hbin  # noqa: E402
from cosmo._kernels.pair_flush import CAP, MODE_T, _project, _psum  # noqa: E402


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
def alt_quantities_mixed(fb, pj, qq32, reps, nchunks):
    """Not the float64 floor: the quantities of ``precision="mixed"``, the kernel's own ``_project`` with
    a float32 projection buffer (float32 arithmetic, one ``1/|r|`` per pair), then Delta u_L, Sigma u_L
    and -u_L' in float32 as ``pair_flush._quantities`` computes them."""
    m = fb.shape[1]
    chk = 0.0
    for ch in prange(nchunks):
        p_ = pj[ch]
        q_ = qq32[ch]
        for _ in range(reps):
            _project(m, fb, p_, MODE_T)
            for q in range(m):
                ul = p_[0, q]
                ulp = p_[1, q]
                q_[0, q] = -ulp
                q_[1, q] = ulp - ul
                q_[2, q] = ulp + ul
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
    import numba

    from benchmarks.harness import Row, Run, Samples, interleave, version
    from cosmo.pairwise import pair_counts

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--box", type=float, default=250.0)
    ap.add_argument("--rmax", type=float, default=20.0)
    ap.add_argument("--nbins", type=int, default=15)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--reps", type=int, default=2000, help="passes over the buffer per chunk")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median and range reported)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
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
    pj = np.zeros((nchunks, 5, CAP), dtype=np.float32)
    qq32 = np.zeros((nchunks, 3, CAP), dtype=np.float32)
    hq = np.zeros((nchunks, 4, CAP), dtype=np.int64)
    npairs = pair_counts(pos, args.box, rb).sum()
    run = Run(__file__, argv, notes=f"N = {args.n} clustered points, box {args.box:g}, {args.nbins} bins to "
                                    f"r = {args.rmax:g}; per-pair stages on a buffer of {CAP} real pairs, "
                                    f"{args.reps} passes, scaled to the sample's {npairs:.3g} pairs")
    stages = {
        "quantities": lambda: stage_quantities(fb, qq, args.reps, nchunks),
        "power sums": lambda: stage_powers(qq, off, args.reps, nchunks),
        "hist bins": lambda: stage_hist_bins(qq, hedges, hq, args.reps, nchunks),
        "hist scatter": lambda: stage_hist_scatter(hq, w, off, len(hedges) - 1, args.reps, nchunks),
    }
    # levers outside the kernel's exact float64 arithmetic, timed for comparison only (not in the floor)
    alternatives = {
        "quantities, 1/|r| once": lambda: alt_quantities_recip(fb, qq, args.reps, nchunks),
        "  and f32 sqrt for u_T": lambda: alt_quantities_f32sqrt(fb, qq, args.reps, nchunks),
        "quantities, mixed precision": lambda: alt_quantities_mixed(fb, pj, qq32, args.reps, nchunks),
    }
    for fn in (stage_quantities, alt_quantities_recip, alt_quantities_f32sqrt):
        fn(fb, qq, 1, nchunks)  # compile
    alt_quantities_mixed(fb, pj, qq32, 1, nchunks)
    stage_powers(qq, off, 1, nchunks)
    stage_hist_bins(qq, hedges, hq, 1, nchunks)
    stage_hist_scatter(hq, w, off, len(hedges) - 1, 1, nchunks)
    cases = dict(stages, **alternatives)
    try:
        from Corrfunc.theory.DD import DD

        cases["Corrfunc DD"] = lambda: DD(1, nt, rb, pos[:, 0], pos[:, 1], pos[:, 2], periodic=True,
                                          boxsize=args.box, verbose=False)
        corrfunc = version("Corrfunc")
    except ImportError:
        corrfunc = None
        print("# Corrfunc not available: stage times only")
    # interleaved rounds (harness): Corrfunc's DD and the stages alternate, so load changes hit both sides
    t, _ = interleave(cases, args.rounds)
    scale = npairs / (args.reps * CAP * nchunks)   # every chunk (thread) ran reps x CAP pairs

    def scaled(*names):
        """CPU and wall seconds of the named stages together, scaled to the sample's pairs, per round."""
        return Samples(cpu=[scale * sum(t[k].cpu[i] for k in names) for i in range(args.rounds)],
                       wall=[scale * sum(t[k].wall[i] for k in names) for i in range(args.rounds)])

    print(f"# {npairs:.3g} distinct pairs, {nt} threads; ns of CPU per pair: " + ", ".join(
        f"{k.strip()} {np.median(t[k].cpu) * scale / npairs * 1e9:.2f}" for k in cases if k != "Corrfunc DD"))
    th = {"ours": nt, "anchor": nt}
    exact = "per-pair arithmetic only, float64 (the default kernel's)"
    rows = (("float64 pair arithmetic (floor) vs Corrfunc DD", tuple(stages),
             "quantities, power sums 1-8, 4 hist bins + scatter per pair, search taken as free", exact),
            ("float64 quantities stage vs Corrfunc DD", ("quantities",), "u_L, u_L', Delta, Sigma, 3 transverse "
             "speeds per pair", exact),
            ("mixed-precision quantities stage vs Corrfunc DD", ("quantities, mixed precision",),
             "the same in float32 (precision='mixed': the kernel's own _project)",
             "per-pair arithmetic only, float32 (error budget: benchmarks/pairwise_precision.py)"))
    for case, names, what, accuracy in rows:
        common = dict(ours=what, anchor=corrfunc or "Corrfunc", threads=th, target="none stated (a lower bound)")
        case = f"{case}, N={args.n}"
        if corrfunc is None:
            run.add(Row(case, accuracy="", status="anchor not installed", **common))
        else:
            run.add(Row.compare(case, scaled(*names), t["Corrfunc DD"], accuracy=accuracy, **common))
    if corrfunc is not None:
        tc = np.median(t["Corrfunc DD"].cpu)
        left = 2 * tc - np.median(scaled(*stages).cpu)
        print(f"# 2x Corrfunc budget {2 * tc:.3f} CPU s; left for the pair search after the float64 floor: "
              f"{left:.3f} s ({left / tc:.2f}x Corrfunc's whole DD)")
    if not args.no_write:
        print(f"# wrote {run.write()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
