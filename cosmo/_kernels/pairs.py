"""Numba cell-list pair kernel: one pass over all pairs in separation bins, accumulating
counts, velocity moments and histograms without storing pairs.

Conventions (see :mod:`cosmo.pairwise` for the physics):

* the pair separation is ``r = x_j - x_i`` (minimum image in a periodic box), ``rhat = r/|r|``;
* ``u_L = v_i . rhat``, ``u_L' = v_j . rhat``, ``Delta u_L = u_L' - u_L`` (negative for
  approaching pairs, halotools' v12), ``Sigma u_L = u_L' + u_L``;
* ``u_T = |v_i - u_L rhat|`` (transverse speed of the first particle) and
  ``Delta u_T = |(v_j - v_i) - Delta u_L rhat|`` (transverse relative speed), computed as
  ``sqrt(|v_i|^2 - u_L^2)`` and ``sqrt(|v_j - v_i|^2 - Delta u_L^2)``;
* auto pairs (one sample) stand for BOTH orientations, (i, j) and (j, i), each with the
  pair weight: under the swap ``u_L -> -u_L'``, ``u_L' -> -u_L``, ``Delta u_L`` is unchanged
  and ``Sigma u_L -> -Sigma u_L``, so odd moments of ``Sigma u_L`` vanish identically and
  nothing depends on the arbitrary particle labels. The kernel visits each unordered pair
  once and accumulates the symmetric combinations (see :func:`pair_pass`'s docstring);
  the driver turns them into per-orientation moments;
* cross pairs (sample 1 x sample 2) are oriented from sample 1 to sample 2.

Quantity index: 0 u_L, 1 u_L', 2 Delta u_L, 3 Sigma u_L, 4 u_T, 5 Delta u_T.
Histograms are kept for quantities 0-3.

How the work is organised (see :func:`pair_pass`, :func:`_flush`); the cost is per candidate
and per in-range pair, so each step removes work or serial dependencies from that loop:

* cell list with cells of about r_max/2, particles sorted by cell as separate coordinate
  arrays, each cell sorted by z (so every (x, y) column is sorted by z); the z-cells of one
  column are one contiguous range, and for every particle only the partners within the exact
  z-window ``|z_j - z_i| <= sqrt(r_max^2 - d_xy^2)`` (d_xy: its x-y distance to the column,
  with a 1e-9 round-off margin) are scanned, found by binary search in the first and last
  z-cell of the window (as in Corrfunc); each unordered auto pair is met once;
* the scan of one contiguous candidate range is two loops: the per-candidate fields (r^2 and the
  projections below) in a contiguous, vectorised loop into a small scratch buffer, then the
  compaction of the pairs in ``[r_min, r_max)`` into a per-thread buffer: with AVX-512, 8
  candidates per step (a range mask and one compressing store per field, :mod:`.simd`), else
  (and for the last < 8 candidates) branch-free scalar: every candidate is copied and the fill
  pointer advances only for the in-range ones. One loop doing both ran scalar at about twice the
  cost per candidate; the compressing store halves the compaction again. What is written depends on what was
  asked (counts: r^2; Delta u_L only: r^2 and ``(v2 - v1) . r``; longitudinal: r^2,
  ``v1 . r``, ``v2 . r``; with transverse speeds also ``|v1|^2``, ``|v2|^2``,
  ``|v2 - v1|^2``), with unsigned indices (no wrap-around checks) and the pair weight
  only when the weights are not all 1;
* full buffers (:data:`CAP` pairs) are binned in r from r^2 by a lookup table plus exact
  comparisons with the squared edges (no sqrt, no log), counting-sorted by r bin (four
  interleaved counters per bin, so runs in one bin are not a serial chain), and the
  quantities are computed in contiguous vectorised loops (``u_L = (v1 . r)/|r|`` etc.;
  transverse speeds by Pythagoras, ``u_T^2 = |v1|^2 - u_L^2``, clipped at 0);
* per r bin the power sums are register accumulations unrolled for 1, 2, 4 or 8 orders
  (only up to the largest order asked; a generic loop above 8), vectorised across pairs
  with ``fastmath={'reassoc', 'nsz'}`` on those sums only: each term ``w x^n`` is the
  same product chain, only the order of the additions changes (round-off);
* histograms: vectorised uniform-bin arithmetic with an exact fix-up of values within
  round-off of an edge; for auto pairs and antisymmetric edges only u_L, -u_L',
  Sigma u_L and Delta u_L are binned, and the mirrored histograms come from these plus
  the weights of values exactly on edges (:func:`_mirror_hist`), a bookkeeping skipped in
  the flushes where no value lies exactly on an edge (the usual case);
* per-chunk private accumulators (chunks of similar estimated work), summed at the end;
  no atomics, no shared writes.

Precision: float64 throughout (no float32 distance test). Counts and histograms of values
not within round-off of an edge are exact and independent of the summation order; moments
differ from a sequential sum by round-off only (~1e-15 relative), and between numbers of
threads or MPI ranks likewise.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .cells import half_shell_neighbour
from .pair_binning import NH, NQ, NTAB, _bin_index, _hbin, _hist, _mi, _mirror_hist, _r2_bin, r2_table  # noqa: F401
from .simd import HAVE_AVX512, compress8, inrange8, popcount


#: bits of the ``want`` mask of :func:`pair_pass`
WANT_L = 1   # u_L and u_L'
WANT_D = 2   # Delta u_L
WANT_S = 4   # Sigma u_L
WANT_T = 8   # u_T and Delta u_T
WANT_H = 16  # histograms (all four)
WANT_HD = 32  # the Delta u_L histogram only (ignored with WANT_H)

#: the exact z-window (binary search, see :func:`pair_pass`) is looked up only for candidate
#: ranges longer than this (for short ranges the search costs more than the candidates it removes)
ZWIN = 16
#: pairs buffered per thread chunk before a flush (sorted by r bin, then accumulated)
CAP = 2048
#: per-pair fields kept in the buffers (rows of ``fb``/``sb``): r^2, pair weight, then
#: ``a = v1 . r`` (mode 1: ``d = (v2 - v1) . r``), ``c = v2 . r``, ``|v1|^2``, ``|v2|^2``, ``|v2 - v1|^2``
NF = 7
_FR, _FW, _FA, _FC, _F1, _F2, _FD = 0, 1, 2, 3, 4, 5, 6
#: rows of the quantity buffer ``qq``: u_L, u_L' (auto: -u_L'), Delta u_L, Sigma u_L, u_T, u_T', Delta u_T
_QA, _QB, _QD, _QS, _QT, _QU, _QV = 0, 1, 2, 3, 4, 5, 6
#: how much the walk stores per candidate (see :func:`pair_pass`)
MODE_COUNT, MODE_DU, MODE_L, MODE_T = 0, 1, 2, 3


@njit(cache=True, fastmath={"reassoc", "nsz"}, error_model="numpy")
def _psum(xx_, ww_, s0, s1, nmax, out):
    """``out[n] += sum_{s0 <= q < s1} w[q] x[q]^n`` for n = 1..nmax.

    Each pair's term ``w x^n`` is the same chain of products as a direct loop; only the order of
    the additions is left free (``fastmath={'reassoc', 'nsz'}`` on this function alone), which
    lets LLVM vectorise the sums across pairs. Results differ from sequential summation by
    round-off only (relative ~1e-16 per addition).
    """
    if s1 <= s0:
        return
    # slices, so the loops run from 0 (provably non-negative indices: no wrap-around selects)
    x = xx_[s0:s1]
    w = ww_[s0:s1]
    nq = s1 - s0
    if nmax == 1:
        a1 = 0.0
        for q in range(nq):
            a1 += w[q] * x[q]
        out[1] += a1
    elif nmax == 2:
        a1 = 0.0
        a2 = 0.0
        for q in range(nq):
            p1 = w[q] * x[q]
            a1 += p1
            a2 += p1 * x[q]
        out[1] += a1
        out[2] += a2
    elif nmax <= 4:
        a1 = 0.0
        a2 = 0.0
        a3 = 0.0
        a4 = 0.0
        for q in range(nq):
            xx = x[q]
            p1 = w[q] * xx
            p2 = p1 * xx
            p3 = p2 * xx
            a1 += p1
            a2 += p2
            a3 += p3
            a4 += p3 * xx
        out[1] += a1
        out[2] += a2
        out[3] += a3
        if nmax == 4:
            out[4] += a4
    elif nmax <= 8:
        a1 = 0.0
        a2 = 0.0
        a3 = 0.0
        a4 = 0.0
        a5 = 0.0
        a6 = 0.0
        a7 = 0.0
        a8 = 0.0
        for q in range(nq):
            xx = x[q]
            p1 = w[q] * xx
            p2 = p1 * xx
            p3 = p2 * xx
            p4 = p3 * xx
            p5 = p4 * xx
            p6 = p5 * xx
            p7 = p6 * xx
            a1 += p1
            a2 += p2
            a3 += p3
            a4 += p4
            a5 += p5
            a6 += p6
            a7 += p7
            a8 += p7 * xx
        out[1] += a1
        out[2] += a2
        out[3] += a3
        out[4] += a4
        if nmax >= 5:
            out[5] += a5
        if nmax >= 6:
            out[6] += a6
        if nmax >= 7:
            out[7] += a7
        if nmax == 8:
            out[8] += a8
    else:
        p = w.copy()
        for n in range(1, nmax + 1):
            a = 0.0
            for q in range(nq):
                p[q] *= x[q]
                a += p[q]
            out[n] += a


@njit(cache=True, fastmath={"reassoc", "nsz"}, error_model="numpy")
def _wsum(w, s0, s1):
    """Sum of ``w[s0:s1]`` (vectorised, reassociated)."""
    ws = w[s0:s1]
    a = 0.0
    for q in range(s1 - s0):
        a += ws[q]
    return a



@njit(cache=True, error_model="numpy")
def _flush(m, fb, sb, pb, qq, hq, cnt, off, r2edges, tab, tinv, counts, wcounts, mom, hist, hedge, auto, unitw,
           mode, nmax, wl, wd, ws, wt, wh, whd, hsym, hedges, huni, hlo, hinv):
    """Accumulate the ``m`` buffered in-range pairs of one chunk (columns of ``fb``, fields
    ``_F*``, see :func:`pair_pass`) into this chunk's accumulator slices ``counts``, ``wcounts``,
    ``mom`` and ``hist``.

    Steps: r bin of every pair from r^2 (:func:`_r2_bin`); a counting sort by bin into ``sb``;
    the velocity quantities of all pairs in one contiguous, branch-free (vectorisable) loop:
    ``u_L = (v1 . r)/|r|``, ``u_L' = (v2 . r)/|r|``, ``Delta u_L``, ``Sigma u_L`` and the
    transverse speeds ``u_T = sqrt(|v1|^2 - u_L^2)``, ``u_T' = sqrt(|v2|^2 - u_L'^2)``,
    ``Delta u_T = sqrt(|v2 - v1|^2 - Delta u_L^2)`` (Pythagoras; clipped at 0 against round-off);
    then per r bin the power sums (:func:`_psum`, accumulated in registers) and histograms.
    """
    if m == 0:
        return
    nb = cnt.shape[1]
    br = fb[_FR]
    bw = fb[_FW]
    # r bins; four interleaved sub-counters (cnt[p & 3, b]) so that runs of pairs in the same bin
    # do not form one serial chain of read-modify-writes on a single counter
    for k in range(4):
        for b in range(nb):
            cnt[k, b] = 0
    # table lookup in a vectorised loop (r^2 is in [r2lo, r2max): the index is in [0, NTAB]); the
    # few pairs in table cells that straddle an edge (negative entries) are binned exactly after
    nneg = 0
    for p in range(np.uint64(m)):
        b = tab[np.uint64(br[p] * tinv)]
        pb[p] = b
        nneg += b < 0
    if nneg > 0:
        for p in range(m):
            if pb[p] < 0:
                pb[p] = _r2_bin(br[p], r2edges, tab, tinv)
    for p in range(m):
        cnt[p & 3, pb[p]] += 1
    if mode == MODE_COUNT:
        for b in range(nb):
            nbin = cnt[0, b] + cnt[1, b] + cnt[2, b] + cnt[3, b]
            counts[b] += nbin
            if unitw:
                wcounts[b] += nbin
        if not unitw:
            for p in range(m):
                wcounts[pb[p]] += bw[p]
        return
    # counting sort by r bin: bin b occupies [off[b], off[b+1]), split in the four sub-streams
    off[0] = 0
    for b in range(nb):
        q = off[b]
        for k in range(4):
            c = cnt[k, b]
            cnt[k, b] = q
            q += c
        off[b + 1] = q
    ba = fb[_FA]
    bc = fb[_FC]
    b1 = fb[_F1]
    b2 = fb[_F2]
    bd = fb[_FD]
    sr = sb[_FR]
    sw = sb[_FW]
    sa = sb[_FA]
    sc = sb[_FC]
    s1 = sb[_F1]
    s2 = sb[_F2]
    sd = sb[_FD]
    if mode == MODE_DU:
        # Delta u_L = ((v2 - v1) . r)/|r| before the sort (same operations, contiguous loop), so that
        # only it and the weight are moved
        for p in range(m):
            ba[p] = ba[p] / np.sqrt(br[p])
        for p in range(m):
            b = pb[p]
            q = cnt[p & 3, b]
            cnt[p & 3, b] = q + 1
            if not unitw:
                sw[q] = bw[p]
            sa[q] = ba[p]
    elif mode == MODE_L:
        for p in range(m):
            b = pb[p]
            q = cnt[p & 3, b]
            cnt[p & 3, b] = q + 1
            sr[q] = br[p]
            if not unitw:
                sw[q] = bw[p]
            sa[q] = ba[p]
            sc[q] = bc[p]
    else:
        for p in range(m):
            b = pb[p]
            q = cnt[p & 3, b]
            cnt[p & 3, b] = q + 1
            sr[q] = br[p]
            if not unitw:
                sw[q] = bw[p]
            sa[q] = ba[p]
            sc[q] = bc[p]
            s1[q] = b1[p]
            s2[q] = b2[p]
            sd[q] = bd[p]
    # per-pair quantities, in bin order (contiguous, branch-free: vectorised)
    qa = qq[_QA]
    qb = qq[_QB]
    qd = qq[_QD]
    qs = qq[_QS]
    qt = qq[_QT]
    qu = qq[_QU]
    qv = qq[_QV]
    sgn = -1.0 if auto else 1.0
    if mode == MODE_DU:
        qd = sa  # computed before the sort
    elif mode == MODE_L:
        for q in range(m):
            r = np.sqrt(sr[q])
            ul = sa[q] / r
            ulp = sc[q] / r
            qa[q] = ul
            qb[q] = sgn * ulp
            qd[q] = ulp - ul
            qs[q] = ulp + ul
    else:
        for q in range(m):
            r = np.sqrt(sr[q])
            ul = sa[q] / r
            ulp = sc[q] / r
            du = ulp - ul
            qa[q] = ul
            qb[q] = sgn * ulp
            qd[q] = du
            qs[q] = ulp + ul
            qt[q] = np.sqrt(max(s1[q] - ul * ul, 0.0))
            qu[q] = np.sqrt(max(s2[q] - ulp * ulp, 0.0))
            qv[q] = np.sqrt(max(sd[q] - du * du, 0.0))
    nh = max(hedges.shape[0] - 1, 1)
    ha = hq[0]
    hbq = hq[1]
    hs = hq[2]
    hd = hq[3]
    nexact = 0
    if whd:
        # the Delta u_L histogram alone (label-swap invariant: no mirror bookkeeping)
        _hbin(qd, m, hedges, huni, hlo, hinv, nh, hd)
    if wh and auto and hsym:
        nexact += _hbin(qa, m, hedges, huni, hlo, hinv, nh, ha)
        nexact += _hbin(qb, m, hedges, huni, hlo, hinv, nh, hbq)
        nexact += _hbin(qs, m, hedges, huni, hlo, hinv, nh, hs)
        _hbin(qd, m, hedges, huni, hlo, hinv, nh, hd)
    for b in range(nb):
        s0 = off[b]
        s1_ = off[b + 1]
        if s1_ == s0:
            continue
        counts[b] += s1_ - s0
        if unitw:
            wcounts[b] += s1_ - s0
        else:
            wcounts[b] += _wsum(sw, s0, s1_)
        if nmax > 0:
            mb = mom[b]
            if wl:
                _psum(qa, sw, s0, s1_, nmax, mb[0])
                _psum(qb, sw, s0, s1_, nmax, mb[0] if auto else mb[1])
            if wd:
                _psum(qd, sw, s0, s1_, nmax, mb[2])
            if ws:
                _psum(qs, sw, s0, s1_, nmax, mb[3])
            if wt:
                _psum(qt, sw, s0, s1_, nmax, mb[4])
                if auto:
                    _psum(qu, sw, s0, s1_, nmax, mb[4])
                _psum(qv, sw, s0, s1_, nmax, mb[5])
        if whd:
            # both orientations of an auto pair have the same Delta u_L: weight 2w
            hb = hist[b]
            fw2 = 2.0 if auto else 1.0
            for qi in range(np.uint64(s1_ - s0)):
                q = np.uint64(s0) + qi
                hb[2, np.uint64(hd[q])] += fw2 * sw[q]
        if not wh:
            continue
        hb = hist[b]
        if auto and hsym:
            # antisymmetric edges: only u_L and -u_L' (quantity 0), Sigma u_L (3) and Delta u_L (2)
            # are binned here; the mirror images (u_L' = -(quantity 0), -Sigma u_L) are added at the
            # end from these histograms and the weights of values exactly on an edge (``hedge``),
            # see :func:`_mirror_hist`. Outside values go to the spare column nh.
            eb = hedge[b]
            # unsigned indices (all >= 0 here): no wrap-around selects. -u_L' goes to the scratch
            # row 1 (overwritten by the mirror step, after being added to row 0), so that u_L and
            # -u_L' of one pair, often in the same bin, do not update the same counter back to back
            if nexact == 0:
                # no value of this flush lies exactly on an edge (the usual case): no edge bookkeeping
                for qi in range(np.uint64(s1_ - s0)):
                    q = np.uint64(s0) + qi
                    w = sw[q]
                    hb[0, np.uint64(ha[q])] += w
                    hb[1, np.uint64(hbq[q])] += w
                    hb[3, np.uint64(hs[q])] += w
                    hb[2, np.uint64(hd[q])] += 2.0 * w
                continue
            for qi in range(np.uint64(s1_ - s0)):
                q = np.uint64(s0) + qi
                w = sw[q]
                h = np.uint64(ha[q])
                hb[0, h] += w
                if qa[q] == hedges[h]:
                    eb[0, h] += w
                h = np.uint64(hbq[q])
                hb[1, h] += w
                if qb[q] == hedges[h]:
                    eb[1, h] += w
                h = np.uint64(hs[q])
                hb[3, h] += w
                if qs[q] == hedges[h]:
                    eb[3, h] += w
                hb[2, np.uint64(hd[q])] += 2.0 * w
        elif auto:
            for q in range(s0, s1_):
                w = sw[q]
                ul = qa[q]
                ulp = -qb[q]
                su = qs[q]
                du = qd[q]
                _hist(hist, b, 0, w, ul, hedges, huni, hlo, hinv)
                _hist(hist, b, 1, w, ulp, hedges, huni, hlo, hinv)
                _hist(hist, b, 3, w, su, hedges, huni, hlo, hinv)
                _hist(hist, b, 2, 2.0 * w, du, hedges, huni, hlo, hinv)
                _hist(hist, b, 0, w, -ulp, hedges, huni, hlo, hinv)
                _hist(hist, b, 1, w, -ul, hedges, huni, hlo, hinv)
                _hist(hist, b, 3, w, -su, hedges, huni, hlo, hinv)
        else:
            for q in range(s0, s1_):
                w = sw[q]
                _hist(hist, b, 0, w, qa[q], hedges, huni, hlo, hinv)
                _hist(hist, b, 1, w, qb[q], hedges, huni, hlo, hinv)
                _hist(hist, b, 3, w, qs[q], hedges, huni, hlo, hinv)
                _hist(hist, b, 2, w, qd[q], hedges, huni, hlo, hinv)



@njit(parallel=True, cache=True, error_model="numpy")
def pair_pass(x1, y1, z1, vel1, w1, start1, x2, y2, z2, vel2, w2, start2, nc, ext, box, periodic, auto,
              r2edges, nmax, hedges, huni, bounds, want, lo, cs):
    """Accumulate pair statistics for the i-cells ``bounds[0] <= c < bounds[-1]``.

    ``bounds`` (length nchunks + 1) splits those cells into chunks of similar work, one
    accumulator slot per chunk (chunks run in parallel threads). Positions are given as
    separate coordinate arrays sorted by cell; ``start[c]:start[c+1]`` are the particles of
    cell ``c = (ix*nc + iy)*nc + iz``, so the cells ``iz-ext..iz+ext`` of one (x, y) column are
    one contiguous particle range.

    Walk: for every particle i of cell c and every neighbour column (dx, dy) within ``ext``
    cells, the column's z-cells that can hold a partner closer than ``r_max`` are found from
    i's distance to the column in x and y (cell bounds ``lo + [k, k+1) cs``, conservative
    1e-9 cs round-off margin) and, the cells being sorted by z (:func:`zsort_cells`), narrowed
    to the exact z-window ``|z_j - z_i| <= sqrt(r_max^2 - d_xy^2)`` (same margin) by binary
    search in its first and last cell; that contiguous j range (split at most in two where it wraps
    through the periodic boundary, each piece with its constant image shift of +-box, valid as
    ``r_max <= box/2`` and ``nc >= 2 ext + 1``) is scanned in one branch-free loop that computes
    ``r = x_j - x_i`` and ``r^2`` and appends the pairs with ``r_min^2 <= r^2 < r_max^2``,
    ``r^2 > 0`` to a per-chunk buffer (compaction: every candidate is written, the fill
    pointer advances only for the in-range ones). ``nc < 3`` (periodic) falls back to the
    explicit minimum image. For ``auto`` only half of the neighbour columns are visited
    ((dx, dy) lexicographically > 0 with all z, plus the own column from the own z-cell up with
    j > i), so every unordered pair is met exactly once.

    When the buffer is full (``CAP`` pairs) it is flushed (:func:`_flush`): r bins from r^2 (lookup
    table on r^2, exact comparisons against squared edges), a counting sort by bin, the
    per-pair quantities computed in a vectorisable loop, and per bin the power sums and
    histograms. The per-bin power sums stay in registers (no read-modify-write of the
    accumulators per pair) and are vectorised across pairs.

    ``want`` (bit mask WANT_*) selects the quantities. Raw sums returned (q^n summed with the
    pair weight w for n = 1..nmax, mom[..., 0] unused):

    * cross pairs (one orientation): k = 0 u_L, 1 u_L', 2 Delta u_L, 3 Sigma u_L, 4 u_T, 5 Delta u_T;
    * auto pairs: k = 0 holds u_L^n + (-u_L')^n (both orientations), k = 1 is left empty (the
      driver sets it to (-1)^n k = 0), k = 2 Delta u_L^n, k = 3 Sigma u_L^n (the driver keeps the
      even orders only: odd ones vanish over both orientations), k = 4 u_T^n + u_T'^n,
      k = 5 Delta u_T^n (the driver doubles k = 2, 3, 5 for the second orientation).

    Histograms (both orientations for auto pairs, each with weight w): k = 0..3 as above; with
    ``WANT_HD`` instead of ``WANT_H`` only k = 2 (Delta u_L) is filled, from the Delta u_L-only
    buffer (one projection per pair), the cheapest pass with a PDF.
    Returns ``(counts[nchunks, nb], wcounts[nchunks, nb], mom[nchunks, nb, NQ, nmax+1], hist[nchunks, nb, NH, nh])``.
    """
    nb = r2edges.shape[0] - 1
    nchunks = bounds.shape[0] - 1
    nh = max(hedges.shape[0] - 1, 1)
    nm = max(nmax, 0)
    counts = np.zeros((nchunks, nb), dtype=np.float64)
    wcounts = np.zeros((nchunks, nb), dtype=np.float64)
    mom = np.zeros((nchunks, nb, NQ, nm + 1), dtype=np.float64)
    # one spare column (index nh) collects the values outside the histogram range
    hist = np.zeros((nchunks, nb, NH, nh + 1), dtype=np.float64)
    hedge = np.zeros((nchunks, nb, NH, nh + 1), dtype=np.float64)
    half = 0.5 * box
    r2min = r2edges[0]
    r2max = r2edges[nb]
    hlo = hedges[0]
    hinv = 0.0
    if hedges.shape[0] > 1:
        hinv = (hedges.shape[0] - 1) / (hedges[hedges.shape[0] - 1] - hedges[0])
    tab = r2_table(r2edges)
    tinv = NTAB / r2max
    hsym = hedges.shape[0] > 1
    for k in range(hedges.shape[0]):
        if hedges[k] != -hedges[hedges.shape[0] - 1 - k]:
            hsym = False
    wl = (want & WANT_L) != 0 and nmax > 0
    wd = (want & WANT_D) != 0 and nmax > 0
    ws = (want & WANT_S) != 0 and nmax > 0
    wt = (want & WANT_T) != 0 and nmax > 0
    wh = (want & WANT_H) != 0 and hedges.shape[0] > 1
    whd = (want & WANT_HD) != 0 and hedges.shape[0] > 1 and not wh
    vel_needed = wl or wd or ws or wt or wh or whd
    unitw = True
    for i in range(w1.shape[0]):
        if w1[i] != 1.0:
            unitw = False
    for i in range(w2.shape[0]):
        if w2[i] != 1.0:
            unitw = False
    if not vel_needed:
        mode = MODE_COUNT
    elif (wd or whd) and not (wl or ws or wt or wh):
        mode = MODE_DU
    elif not wt:
        mode = MODE_L
    else:
        mode = MODE_T
    v1x = np.ascontiguousarray(vel1[:, 0])
    v1y = np.ascontiguousarray(vel1[:, 1])
    v1z = np.ascontiguousarray(vel1[:, 2])
    v2x = np.ascontiguousarray(vel2[:, 0])
    v2y = np.ascontiguousarray(vel2[:, 1])
    v2z = np.ascontiguousarray(vel2[:, 2])
    v2sq = v2x * v2x + v2y * v2y + v2z * v2z
    mi = periodic and nc < 3
    prune = not mi
    # in range: r2lo <= r^2 < r2max, with r2lo > 0 (pairs at zero separation have no direction)
    r2lo = r2min if r2min > 0.0 else 5e-324
    # round-off margin of the pruning tests: particles sit inside their cell up to ~1e-12 cs
    tol = 1e-9 * cs
    ncol = nc * nc
    # fixed buffer capacity (no reallocation inside the walk: array (re)assignment in the loop
    # costs reference counting)
    cap = CAP
    for ch in prange(nchunks):
        fb = np.empty((NF, cap))
        sb = np.empty((NF, cap))
        sb[_FW, :] = 1.0
        fb[_FW, :] = 1.0
        pb = np.empty(cap, dtype=np.int64)
        qq = np.empty((7, cap))
        hq = np.empty((4, cap), dtype=np.int64)
        # row views made once (each view creation costs reference counting)
        fr = fb[_FR]
        fw = fb[_FW]
        fa = fb[_FA]
        fc = fb[_FC]
        f1 = fb[_F1]
        f2 = fb[_F2]
        fd = fb[_FD]
        # per-candidate fields of one scan piece, computed in a vectorised loop before the compaction
        tb = np.empty((6, cap))
        tr = tb[0]
        ta = tb[1]
        tc = tb[2]
        td = tb[3]
        t1 = tb[4]
        tw = tb[5]
        cnt = np.empty((4, nb), dtype=np.int64)
        off = np.empty(nb + 1, dtype=np.int64)
        m = 0
        ccounts = counts[ch]
        cwcounts = wcounts[ch]
        cmom = mom[ch]
        chist = hist[ch]
        chedge = hedge[ch]
        for c in range(bounds[ch], bounds[ch + 1]):
            i0 = start1[c]
            i1 = start1[c + 1]
            if i1 == i0:
                continue
            ix = c // ncol
            iy = (c // nc) % nc
            iz = c % nc
            for dx in range(-ext, ext + 1):
                if auto and dx < 0:
                    continue
                gx = max(abs(dx) - 1, 0) * cs
                jx = ix + dx
                sx = 0.0
                if periodic:
                    if jx < 0:
                        jx += nc
                        sx = -box
                    elif jx >= nc:
                        jx -= nc
                        sx = box
                elif jx < 0 or jx >= nc:
                    continue
                bxlo = lo[0] + (ix + dx) * cs
                for dy in range(-ext, ext + 1):
                    if auto and dx == 0 and dy < 0:
                        continue
                    gy = max(abs(dy) - 1, 0) * cs
                    # whole column out of reach
                    if prune and gx * gx + gy * gy > r2max * (1.0 + 1e-9) + tol:
                        continue
                    jy = iy + dy
                    sy = 0.0
                    if periodic:
                        if jy < 0:
                            jy += nc
                            sy = -box
                        elif jy >= nc:
                            jy -= nc
                            sy = box
                    elif jy < 0 or jy >= nc:
                        continue
                    bylo = lo[1] + (iy + dy) * cs
                    colbase = (jx * nc + jy) * nc
                    own = auto and dx == 0 and dy == 0
                    kzmin = iz if own else iz - ext
                    kzmax = iz + ext
                    for i in range(i0, i1):
                        xu = x1[i]
                        yu = y1[i]
                        zu = z1[i]
                        vxi = v1x[i]
                        vyi = v1y[i]
                        vzi = v1z[i]
                        vsi = vxi * vxi + vyi * vyi + vzi * vzi
                        wi = w1[i]
                        k0 = kzmin
                        k1 = kzmax
                        dzr = 0.0
                        if prune:
                            # distance from particle i (frame of cell c) to the column in x and y
                            ex_ = 0.0
                            if dx > 0:
                                ex_ = bxlo - xu - tol
                            elif dx < 0:
                                ex_ = xu - (bxlo + cs) - tol
                            ey_ = 0.0
                            if dy > 0:
                                ey_ = bylo - yu - tol
                            elif dy < 0:
                                ey_ = yu - (bylo + cs) - tol
                            ex_ = max(ex_, 0.0)
                            ey_ = max(ey_, 0.0)
                            rem = r2max - ex_ * ex_ - ey_ * ey_
                            if rem <= 0.0:
                                continue
                            dzr = np.sqrt(rem) * (1.0 + 1e-9) + tol
                            kk0 = int(np.floor((zu - dzr - lo[2]) / cs))
                            kk1 = int(np.floor((zu + dzr - lo[2]) / cs))
                            k0 = max(k0, kk0)
                            k1 = min(k1, kk1)
                            if k0 > k1:
                                continue
                        xi = xu - sx
                        yi = yu - sy
                        for seg in range(3):
                            # seg 0: cells wrapped from below (shift -box), 1: unwrapped, 2: wrapped from above
                            if seg == 0:
                                if not periodic or k0 >= 0:
                                    continue
                                a = k0 + nc
                                bb = min(k1, -1) + nc
                                sz = -box
                            elif seg == 1:
                                a = max(k0, 0)
                                bb = min(k1, nc - 1)
                                sz = 0.0
                            else:
                                if not periodic or k1 < nc:
                                    continue
                                a = max(k0, nc) - nc
                                bb = k1 - nc
                                sz = box
                            if a > bb:
                                continue
                            ja = start2[colbase + a]
                            jb = start2[colbase + bb + 1]
                            zi = zu - sz
                            if prune and jb - ja > ZWIN:
                                # exact z-window: the column is sorted by z (cells in z order, each
                                # cell sorted by z), so the partners with |z_j - z_i| <= dzr are one
                                # contiguous range; binary search in the first and the last cell only
                                zlo = zi - dzr
                                zhi = zi + dzr
                                p0 = ja
                                n0 = start2[colbase + a + 1] - ja
                                while n0 > 0:
                                    h2 = n0 >> 1
                                    if z2[p0 + h2] < zlo:
                                        p0 += h2 + 1
                                        n0 -= h2 + 1
                                    else:
                                        n0 = h2
                                p1 = start2[colbase + bb]
                                n1 = jb - p1
                                while n1 > 0:
                                    h2 = n1 >> 1
                                    if z2[p1 + h2] <= zhi:
                                        p1 += h2 + 1
                                        n1 -= h2 + 1
                                    else:
                                        n1 = h2
                                ja = p0
                                jb = p1
                            if own and seg == 1:
                                ja = max(ja, i + 1)
                            nj = jb - ja
                            if nj <= 0:
                                continue
                            # the scan goes in pieces that fit the buffer (flushed when nearly full), so
                            # the buffers stay small (cache-resident) however crowded a column is
                            jend = jb
                            while ja < jend:
                                room = cap - m
                                if room < jend - ja and room < CAP // 4:
                                    _flush(m, fb, sb, pb, qq, hq, cnt, off, r2edges, tab, tinv, ccounts, cwcounts,
                                           cmom, chist, chedge, auto, unitw, mode, nmax, wl, wd, ws, wt, wh, whd, hsym,
                                           hedges, huni, hlo, hinv)
                                    m = 0
                                    room = cap
                                jb = min(jend, ja + room)
                                nj = jb - ja
                                # compaction: every candidate is written at m, m advances for in-range pairs
                                # unsigned indices: provably non-negative, so no wrap-around selects in the loads
                                uja = np.uint64(ja)
                                unj = np.uint64(nj)
                                um = np.uint64(m)
                                if not unitw and not mi:
                                    # pair weights in a loop of their own, shared by the modes below: inside
                                    # a vectorised field loop LLVM turns the test into masked AVX-512 loads/
                                    # stores, whose masked-off lanes (w2 is a dummy array with unit weights)
                                    # cost microcode assists (measured 4x slower on 2 threads)
                                    for kq in range(unj):
                                        tw[kq] = wi * w2[uja + kq]
                                if mi:
                                    for j in range(ja, jb):
                                        rx = _mi(x2[j] - xi, box, half)
                                        ry = _mi(y2[j] - yi, box, half)
                                        rz = _mi(z2[j] - zi, box, half)
                                        r2 = rx * rx + ry * ry + rz * rz
                                        fr[m] = r2
                                        if not unitw:
                                            fw[m] = wi * w2[j]
                                        if mode == MODE_DU:
                                            fa[m] = (v2x[j] - vxi) * rx + (v2y[j] - vyi) * ry + (v2z[j] - vzi) * rz
                                        else:
                                            fa[m] = vxi * rx + vyi * ry + vzi * rz
                                        fc[m] = v2x[j] * rx + v2y[j] * ry + v2z[j] * rz
                                        f1[m] = vsi
                                        f2[m] = v2sq[j]
                                        dvx = v2x[j] - vxi
                                        dvy = v2y[j] - vyi
                                        dvz = v2z[j] - vzi
                                        fd[m] = dvx * dvx + dvy * dvy + dvz * dvz
                                        m += (r2 < r2max) & (r2 >= r2lo)
                                # two loops: the fields of every candidate (contiguous, vectorised), then the
                                # compaction (with AVX-512: 8 candidates per step; else scalar, branch-free)
                                elif mode == MODE_COUNT:
                                    for kq in range(unj):
                                        ju = uja + kq
                                        rx = x2[ju] - xi
                                        ry = y2[ju] - yi
                                        rz = z2[ju] - zi
                                        tr[kq] = rx * rx + ry * ry + rz * rz
                                    kc = np.uint64(0)
                                    if HAVE_AVX512:
                                        # 8 candidates at a time: range mask, then one compressing store per field
                                        kc = unj & ~np.uint64(7)
                                        for k8 in range(np.uint64(0), kc, np.uint64(8)):
                                            msk = inrange8(tr, k8, r2lo, r2max)
                                            compress8(tr, k8, fr, um, msk)
                                            if not unitw:
                                                compress8(tw, k8, fw, um, msk)
                                            um += popcount(msk)
                                    for kq in range(kc, unj):
                                        r2 = tr[kq]
                                        fr[um] = r2
                                        if not unitw:
                                            fw[um] = tw[kq]
                                        um += np.uint64((r2 < r2max) & (r2 >= r2lo))
                                elif mode == MODE_DU:
                                    for kq in range(unj):
                                        ju = uja + kq
                                        rx = x2[ju] - xi
                                        ry = y2[ju] - yi
                                        rz = z2[ju] - zi
                                        tr[kq] = rx * rx + ry * ry + rz * rz
                                        ta[kq] = (v2x[ju] - vxi) * rx + (v2y[ju] - vyi) * ry + (v2z[ju] - vzi) * rz
                                    kc = np.uint64(0)
                                    if HAVE_AVX512:
                                        # 8 candidates at a time: range mask, then one compressing store per field
                                        kc = unj & ~np.uint64(7)
                                        for k8 in range(np.uint64(0), kc, np.uint64(8)):
                                            msk = inrange8(tr, k8, r2lo, r2max)
                                            compress8(tr, k8, fr, um, msk)
                                            if not unitw:
                                                compress8(tw, k8, fw, um, msk)
                                            compress8(ta, k8, fa, um, msk)
                                            um += popcount(msk)
                                    for kq in range(kc, unj):
                                        r2 = tr[kq]
                                        fr[um] = r2
                                        if not unitw:
                                            fw[um] = tw[kq]
                                        fa[um] = ta[kq]
                                        um += np.uint64((r2 < r2max) & (r2 >= r2lo))
                                elif mode == MODE_L:
                                    for kq in range(unj):
                                        ju = uja + kq
                                        rx = x2[ju] - xi
                                        ry = y2[ju] - yi
                                        rz = z2[ju] - zi
                                        tr[kq] = rx * rx + ry * ry + rz * rz
                                        ta[kq] = vxi * rx + vyi * ry + vzi * rz
                                        tc[kq] = v2x[ju] * rx + v2y[ju] * ry + v2z[ju] * rz
                                    kc = np.uint64(0)
                                    if HAVE_AVX512:
                                        # 8 candidates at a time: range mask, then one compressing store per field
                                        kc = unj & ~np.uint64(7)
                                        for k8 in range(np.uint64(0), kc, np.uint64(8)):
                                            msk = inrange8(tr, k8, r2lo, r2max)
                                            compress8(tr, k8, fr, um, msk)
                                            if not unitw:
                                                compress8(tw, k8, fw, um, msk)
                                            compress8(ta, k8, fa, um, msk)
                                            compress8(tc, k8, fc, um, msk)
                                            um += popcount(msk)
                                    for kq in range(kc, unj):
                                        r2 = tr[kq]
                                        fr[um] = r2
                                        if not unitw:
                                            fw[um] = tw[kq]
                                        fa[um] = ta[kq]
                                        fc[um] = tc[kq]
                                        um += np.uint64((r2 < r2max) & (r2 >= r2lo))
                                else:
                                    for kq in range(unj):
                                        ju = uja + kq
                                        rx = x2[ju] - xi
                                        ry = y2[ju] - yi
                                        rz = z2[ju] - zi
                                        tr[kq] = rx * rx + ry * ry + rz * rz
                                        ta[kq] = vxi * rx + vyi * ry + vzi * rz
                                        tc[kq] = v2x[ju] * rx + v2y[ju] * ry + v2z[ju] * rz
                                        dvx = v2x[ju] - vxi
                                        dvy = v2y[ju] - vyi
                                        dvz = v2z[ju] - vzi
                                        td[kq] = dvx * dvx + dvy * dvy + dvz * dvz
                                        t1[kq] = vsi
                                    kc = np.uint64(0)
                                    if HAVE_AVX512:
                                        # 8 candidates at a time: range mask, then one compressing store per field
                                        kc = unj & ~np.uint64(7)
                                        for k8 in range(np.uint64(0), kc, np.uint64(8)):
                                            msk = inrange8(tr, k8, r2lo, r2max)
                                            compress8(tr, k8, fr, um, msk)
                                            if not unitw:
                                                compress8(tw, k8, fw, um, msk)
                                            compress8(ta, k8, fa, um, msk)
                                            compress8(tc, k8, fc, um, msk)
                                            compress8(t1, k8, f1, um, msk)
                                            compress8(v2sq, uja + k8, f2, um, msk)
                                            compress8(td, k8, fd, um, msk)
                                            um += popcount(msk)
                                    for kq in range(kc, unj):
                                        r2 = tr[kq]
                                        fr[um] = r2
                                        if not unitw:
                                            fw[um] = tw[kq]
                                        fa[um] = ta[kq]
                                        fc[um] = tc[kq]
                                        f1[um] = vsi
                                        f2[um] = v2sq[uja + kq]
                                        fd[um] = td[kq]
                                        um += np.uint64((r2 < r2max) & (r2 >= r2lo))
                                if not mi:
                                    m = np.int64(um)
                                ja = jb
        _flush(m, fb, sb, pb, qq, hq, cnt, off, r2edges, tab, tinv, ccounts, cwcounts, cmom, chist, chedge, auto,
               unitw, mode,
               nmax, wl, wd, ws, wt, wh, whd, hsym, hedges, huni, hlo, hinv)
    if wh and auto and hsym:
        _mirror_hist(hist, hedge, nh)
    return counts, wcounts, mom, np.ascontiguousarray(hist[:, :, :, :nh])


@njit(parallel=True, cache=True)
def zsort_cells(order, z, start):
    """Sort the particle indices ``order[start[c]:start[c+1]]`` of every cell ``c`` by ``z[order]``
    in place (stable), so that each (x, y) column of a cell list (consecutive z-cells) is sorted
    by z: :func:`pair_pass` then finds the exact z-window of a particle by binary search."""
    nc3 = start.shape[0] - 1
    for c in prange(nc3):
        s0 = start[c]
        s1 = start[c + 1]
        if s1 - s0 < 2:
            continue
        if s1 - s0 <= 32:
            # small cell: stable insertion sort in place (no allocations)
            for q in range(s0 + 1, s1):
                oq = order[q]
                zq = z[oq]
                r = q
                while r > s0 and z[order[r - 1]] > zq:
                    order[r] = order[r - 1]
                    r -= 1
                order[r] = oq
            continue
        seg = order[s0:s1].copy()
        zz = z[seg]
        k = np.argsort(zz, kind="mergesort")
        for q in range(s1 - s0):
            order[s0 + q] = seg[k[q]]
    return order


@njit(parallel=True, cache=True)
def scalar_pair_pass(pos, s, start, nc, ext, box, periodic, r2edges, bounds):
    """Auto pairs of one sample carrying a scalar ``s`` (e.g. a DTFE density contrast).

    Returns ``acc[nchunks, nb, 5]``: pair count, sum s_i s_j, sum (s_i + s_j)/2,
    sum (s_i^2 + s_j^2)/2 and sum (s_j - s_i)^2 per separation bin, each unordered pair
    once (same cell walk as :func:`pair_pass`).
    """
    nb = r2edges.shape[0] - 1
    nchunks = bounds.shape[0] - 1
    acc = np.zeros((nchunks, nb, 5), dtype=np.float64)
    tab = r2_table(r2edges)
    half = 0.5 * box
    r2min = r2edges[0]
    r2max = r2edges[nb]
    tinv = NTAB / r2max
    for ch in prange(nchunks):
        for c in range(bounds[ch], bounds[ch + 1]):
            i0 = start[c]
            i1 = start[c + 1]
            if i1 == i0:
                continue
            ix = c // (nc * nc)
            iy = (c // nc) % nc
            iz = c % nc
            for dx in range(-ext, ext + 1):
                for dy in range(-ext, ext + 1):
                    for dz in range(-ext, ext + 1):
                        c2 = half_shell_neighbour(ix, iy, iz, dx, dy, dz, nc, periodic)
                        if c2 < 0:
                            continue
                        j1 = start[c2 + 1]
                        same = dx == 0 and dy == 0 and dz == 0
                        for i in range(i0, i1):
                            j0 = i + 1 if same else start[c2]
                            for j in range(j0, j1):
                                rx = pos[j, 0] - pos[i, 0]
                                ry = pos[j, 1] - pos[i, 1]
                                rz = pos[j, 2] - pos[i, 2]
                                if periodic:
                                    if rx > half:
                                        rx -= box
                                    elif rx < -half:
                                        rx += box
                                    if ry > half:
                                        ry -= box
                                    elif ry < -half:
                                        ry += box
                                    if rz > half:
                                        rz -= box
                                    elif rz < -half:
                                        rz += box
                                r2 = rx * rx + ry * ry + rz * rz
                                if r2 >= r2max:
                                    continue
                                if r2 < r2min or r2 == 0.0:
                                    continue
                                b = _r2_bin(r2, r2edges, tab, tinv)
                                a = s[i]
                                bb = s[j]
                                acc[ch, b, 0] += 1.0
                                acc[ch, b, 1] += a * bb
                                acc[ch, b, 2] += 0.5 * (a + bb)
                                acc[ch, b, 3] += 0.5 * (a * a + bb * bb)
                                acc[ch, b, 4] += (bb - a) * (bb - a)
    return acc
