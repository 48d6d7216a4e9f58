"""Flush of the buffered in-range pairs of one chunk into its accumulators: counts, weighted
counts, velocity power sums and histograms per separation bin.

The scan (:mod:`.pair_scan`) appends the pairs with ``r_min <= r < r_max`` to a per-chunk buffer of
:data:`CAP` pairs; a full buffer is flushed by :func:`flush` in steps, each a contiguous loop that
LLVM can vectorise:

1. the r bin of every pair from r^2 (table lookup plus exact comparisons, :mod:`.pair_binning`),
   counted in four interleaved sub-counters per bin (:func:`_bin_pairs`);
2. the velocity quantities in buffer order (:func:`_project`): ``u_L = (v1 . r)/|r|``,
   ``u_L' = (v2 . r)/|r|`` and the transverse speeds by Pythagoras, ``u_T = sqrt(|v1|^2 - u_L^2)``,
   ``u_T' = sqrt(|v2|^2 - u_L'^2)``, ``Delta u_T = sqrt(|v2 - v1|^2 - Delta u_L^2)`` (clipped at 0
   against round-off), in place of the fields they come from;
3. a counting sort of those quantities by r bin (:func:`_sort_by_bin`: five values per pair with
   transverse speeds instead of the six fields, two instead of three without), then
   ``Delta u_L = u_L' - u_L`` and ``Sigma u_L = u_L' + u_L`` in bin order (:func:`_quantities`);
4. per r bin the power sums (:func:`_psum`, register accumulations vectorised across pairs with
   ``fastmath={'reassoc', 'nsz'}`` on those sums only) and the histograms (:func:`_hist_mirrored`,
   :func:`_hist_direct`).

The steps are separate functions called once per flush (or per r bin); Numba-inlining them into
:func:`flush` measured no difference.

The conventions of the quantities (orientation, the two orientations of an auto pair) are those
of :mod:`cosmo.pairwise`.
"""
from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

from gpu.jit import refresh_stale_cache

from .pair_binning import _as, _hbin, _hist, _r2_bin

#: pairs buffered per thread chunk before a flush (sorted by r bin, then accumulated)
CAP = 2048
#: per-pair fields kept in the buffers (rows of ``fb``/``sb``): r^2, pair weight, then
#: ``a = v1 . r`` (mode 1: ``d = (v2 - v1) . r``), ``c = v2 . r``, ``|v1|^2``, ``|v2|^2``, ``|v2 - v1|^2``
NF = 7
_FR, _FW, _FA, _FC, _F1, _F2, _FD = 0, 1, 2, 3, 4, 5, 6
#: rows of the quantity buffer ``qq``: u_L, u_L' (auto: -u_L'), Delta u_L, Sigma u_L, u_T, u_T', Delta u_T
_QA, _QB, _QD, _QS, _QT, _QU, _QV = 0, 1, 2, 3, 4, 5, 6
#: how much the scan stores per candidate: r^2 only; Delta u_L only; u_L and u_L'; also transverse
MODE_COUNT, MODE_DU, MODE_L, MODE_T = 0, 1, 2, 3


# ----------------------------------------------------------------------------------------
# the precision of the per-pair velocity quantities: the dtype of the quantity buffers (float64,
# the default, or float32 for ``precision="mixed"``) selects the arithmetic at compile time
# ----------------------------------------------------------------------------------------
def _quot(a, r):
    """``a / r``: the correctly rounded quotient in float64; in float32 ``a (1/r)``, one reciprocal per
    pair for both projections of :func:`_project` (LLVM merges the two ``1/r``), within 1 ulp."""


@overload(_quot)
def _quot_impl(a, r):
    if r == types.float32:
        return lambda a, r: a * (np.float32(1.0) / r)
    return lambda a, r: a / r


def _proj_rows(fb, pjbuf):
    """The five projection rows of :func:`_project` (u_L or Delta u_L, u_L', u_T, u_T', Delta u_T): in
    float64 the field rows ``_FA, _FC, _F1, _F2, _FD`` of ``fb`` themselves (projected in place, as the
    fields are not needed after; the very expressions of the field rows, so that LLVM sees the same
    arrays and vectorises without overlap checks), in float32 the rows of the separate buffer
    ``pjbuf``. Called inside :func:`_project` and :func:`_sort_by_bin`, not passed on as arrays
    aliasing ``fb`` (the walk is compiled with ``noalias``, see :func:`.pair_scan._walk_cells`)."""


@overload(_proj_rows)
def _proj_rows_impl(fb, pjbuf):
    if pjbuf.dtype == types.float32:
        return lambda fb, pjbuf: (pjbuf[0], pjbuf[1], pjbuf[2], pjbuf[3], pjbuf[4])
    return lambda fb, pjbuf: (fb[_FA], fb[_FC], fb[_F1], fb[_F2], fb[_FD])


@njit(cache=True, inline="always")
def _wx(w, q, x):
    """The first term of a power sum, ``w[q] x``; ``x`` itself when ``w`` is None (unit weights:
    ``1.0 * x == x`` exactly, so the multiplication is left out at no change of any result)."""
    if w is None:
        return x
    return w[q] * x


@njit(cache=True, fastmath={"reassoc", "nsz"}, error_model="numpy")
def _psum(x, w, s0, s1, nmax, mom, b, k):
    """``mom[b, k, n] += sum_{s0 <= q < s1} w[q] x[q]^n`` for n = 1..nmax (``w`` None: unit weights,
    compiled without the multiplication by 1, :func:`_wx`). ``x`` float64, or float32 (mixed
    precision): each value is converted to float64 first, so the products and sums are in float64.

    Each pair's term ``w x^n`` is the same chain of products as a direct loop; only the order of
    the additions is left free (``fastmath={'reassoc', 'nsz'}`` on this function alone), which
    lets LLVM vectorise the sums across pairs. Results differ from sequential summation by
    round-off only (relative ~1e-16 per addition). The accumulator is indexed directly (no view
    ``mom[b, k]`` per call: a view of an accumulator shared by all threads would be reference
    counted atomically on one shared counter), and nothing is allocated.

    One function over ~100 lines: the variants unrolled for 1, 2, 4 and 8 orders share the call and
    the accumulator indexing; splitting them would only move the dispatch on ``nmax`` to the callers.
    """
    if s1 <= s0:
        return
    # unsigned offsets from s0 (provably non-negative indices: no wrap-around selects)
    u0 = np.uint64(s0)
    nq = np.uint64(s1 - s0)
    if nmax == 1:
        a1 = 0.0
        for qi in range(nq):
            q = u0 + qi
            a1 += _wx(w, q, np.float64(x[q]))
        mom[b, k, 1] += a1
    elif nmax == 2:
        a1 = 0.0
        a2 = 0.0
        for qi in range(nq):
            q = u0 + qi
            xx = np.float64(x[q])
            p1 = _wx(w, q, xx)
            a1 += p1
            a2 += p1 * xx
        mom[b, k, 1] += a1
        mom[b, k, 2] += a2
    elif nmax <= 4:
        a1 = 0.0
        a2 = 0.0
        a3 = 0.0
        a4 = 0.0
        for qi in range(nq):
            q = u0 + qi
            xx = np.float64(x[q])
            p1 = _wx(w, q, xx)
            p2 = p1 * xx
            p3 = p2 * xx
            a1 += p1
            a2 += p2
            a3 += p3
            a4 += p3 * xx
        mom[b, k, 1] += a1
        mom[b, k, 2] += a2
        mom[b, k, 3] += a3
        if nmax == 4:
            mom[b, k, 4] += a4
    elif nmax <= 8:
        a1 = 0.0
        a2 = 0.0
        a3 = 0.0
        a4 = 0.0
        a5 = 0.0
        a6 = 0.0
        a7 = 0.0
        a8 = 0.0
        for qi in range(nq):
            q = u0 + qi
            xx = np.float64(x[q])
            p1 = _wx(w, q, xx)
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
        mom[b, k, 1] += a1
        mom[b, k, 2] += a2
        mom[b, k, 3] += a3
        mom[b, k, 4] += a4
        if nmax >= 5:
            mom[b, k, 5] += a5
        if nmax >= 6:
            mom[b, k, 6] += a6
        if nmax >= 7:
            mom[b, k, 7] += a7
        if nmax == 8:
            mom[b, k, 8] += a8
    else:
        # above 8 orders (rare): the same product chain per pair, summed pair by pair
        for qi in range(nq):
            q = u0 + qi
            xx = np.float64(x[q])
            p = _wx(w, q, xx)
            mom[b, k, 1] += p
            for n in range(2, nmax + 1):
                p *= xx
                mom[b, k, n] += p


@njit(cache=True, fastmath={"reassoc", "nsz"}, error_model="numpy")
def _psum_even(x, w, s0, s1, nmax, mom, b, k):
    """The even orders of :func:`_psum` only, ``mom[b, k, n] += sum_q w[q] x[q]^n`` for even
    n <= nmax <= 8, by the recurrence ``w x^(n+2) = (w x^n) x^2`` (one square per pair, then one
    product per order: half the work of :func:`_psum`). For Sigma u_L of auto pairs, whose odd moments
    vanish over the two orientations (the driver keeps the even ones), in mixed precision only: the
    powers are rounded differently from :func:`_psum`'s chain (round-off), which the float64 path
    keeps bit for bit. ``x`` float32 or float64, converted to float64 first."""
    if s1 <= s0:
        return
    u0 = np.uint64(s0)
    nq = np.uint64(s1 - s0)
    a2 = 0.0
    a4 = 0.0
    a6 = 0.0
    a8 = 0.0
    for qi in range(nq):
        q = u0 + qi
        xx = np.float64(x[q])
        x2 = xx * xx
        p2 = _wx(w, q, x2)
        p4 = p2 * x2
        p6 = p4 * x2
        a2 += p2
        a4 += p4
        a6 += p6
        a8 += p6 * x2
    if nmax >= 2:
        mom[b, k, 2] += a2
    if nmax >= 4:
        mom[b, k, 4] += a4
    if nmax >= 6:
        mom[b, k, 6] += a6
    if nmax >= 8:
        mom[b, k, 8] += a8


@njit(cache=True, fastmath={"reassoc", "nsz"}, error_model="numpy")
def _wsum(w, s0, s1):
    """Sum of ``w[s0:s1]`` (vectorised, reassociated)."""
    ws = w[s0:s1]
    a = 0.0
    for q in range(s1 - s0):
        a += ws[q]
    return a



@njit(cache=True, error_model="numpy")
def _bin_pairs(m, br, pb, cnt, rbin):
    """r bin ``pb[p]`` of the ``m`` buffered pairs from their r^2 ``br``; ``cnt[p & 3, b]`` counts them in
    four interleaved sub-counters per bin, so that runs of pairs in the same bin do not form one serial
    chain of read-modify-writes on a single counter. ``rbin = (r2edges, tab, tinv)``."""
    r2edges, tab, tinv = rbin
    nb = cnt.shape[1]
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


@njit(cache=True, error_model="numpy")
def _count_only(m, bw, pb, cnt, counts, wcounts, unitw):
    """Counts and weighted counts per r bin (the pass without velocities)."""
    nb = cnt.shape[1]
    for b in range(nb):
        nbin = cnt[0, b] + cnt[1, b] + cnt[2, b] + cnt[3, b]
        counts[b] += nbin
        if unitw:
            wcounts[b] += nbin
    if not unitw:
        for p in range(m):
            wcounts[pb[p]] += bw[p]


@njit(cache=True, error_model="numpy")
def _project(m, fb, pjbuf, mode):
    """The per-pair quantities in buffer order (contiguous, branch-free: vectorised) into the five
    projection rows (:func:`_proj_rows`), so that the sort moves the quantities rather than the fields
    they come from: ``MODE_DU``: ``Delta u_L = ((v2 - v1) . r)/|r|`` in the first; ``MODE_L``:
    ``u_L = (v1 . r)/|r|`` and ``u_L' = (v2 . r)/|r|`` in the first two; ``MODE_T`` besides the
    transverse speeds by Pythagoras, ``u_T = sqrt(|v1|^2 - u_L^2)``, ``u_T' = sqrt(|v2|^2 - u_L'^2)``,
    ``Delta u_T = sqrt(|v2 - v1|^2 - Delta u_L^2)`` (clipped at 0 against round-off), in the others.

    The arithmetic is that of ``pjbuf``'s dtype (:func:`_as`): float64 (the rows are then the field
    rows themselves, projected in place): each value is the same chain of operations as one computed
    per pair; float32 (mixed precision): the fields (computed in float64 by the scan) are rounded to
    float32 and the quantities computed in float32, with one reciprocal of ``|r|`` per pair
    (:func:`_quot`). r^2 itself stays float64 in ``fb`` (the r bins are decided from it)."""
    br = fb[_FR]
    ba = fb[_FA]
    bc = fb[_FC]
    b1 = fb[_F1]
    b2 = fb[_F2]
    bd = fb[_FD]
    pa, pc, p1, p2, pd = _proj_rows(fb, pjbuf)
    zero = _as(0.0, pjbuf)
    if mode == MODE_DU:
        for p in range(m):
            pa[p] = _as(ba[p], pjbuf) / np.sqrt(_as(br[p], pjbuf))
    elif mode == MODE_L:
        for p in range(m):
            r = np.sqrt(_as(br[p], pjbuf))
            pa[p] = _quot(_as(ba[p], pjbuf), r)
            pc[p] = _quot(_as(bc[p], pjbuf), r)
    else:
        for p in range(m):
            r = np.sqrt(_as(br[p], pjbuf))
            ul = _quot(_as(ba[p], pjbuf), r)
            ulp = _quot(_as(bc[p], pjbuf), r)
            du = ulp - ul
            pa[p] = ul
            pc[p] = ulp
            p1[p] = np.sqrt(max(_as(b1[p], pjbuf) - ul * ul, zero))
            p2[p] = np.sqrt(max(_as(b2[p], pjbuf) - ulp * ulp, zero))
            pd[p] = np.sqrt(max(_as(bd[p], pjbuf) - du * du, zero))


@njit(cache=True, error_model="numpy")
def _sort_by_bin(m, fb, pjbuf, sb, qq, pb, cnt, off, mode, unitw):
    """Counting sort of the buffered quantities (:func:`_proj_rows`, :func:`_project`)
    and the pair weights (row ``_FW`` of ``fb``) by r bin: bin b
    occupies ``[off[b], off[b+1])``, split in the four sub-streams of :func:`_bin_pairs`. The pair
    weights go to row ``_FW`` of ``sb``; ``MODE_DU``: Delta u_L to row ``_QD`` of ``qq``;
    otherwise u_L and u_L' to rows ``_QA``, ``_QB`` and (``MODE_T``) u_T, u_T', Delta u_T to ``_QT``,
    ``_QU``, ``_QV``: only what the mode uses is moved."""
    nb = cnt.shape[1]
    off[0] = 0
    for b in range(nb):
        q = off[b]
        for k in range(4):
            c = cnt[k, b]
            cnt[k, b] = q
            q += c
        off[b + 1] = q
    bw = fb[_FW]
    ba, bc, b1, b2, bd = _proj_rows(fb, pjbuf)
    sw = sb[_FW]
    qa = qq[_QA]
    qb = qq[_QB]
    qdd = qq[_QD]
    qt = qq[_QT]
    qu = qq[_QU]
    qv = qq[_QV]
    if mode == MODE_DU:
        for p in range(m):
            b = pb[p]
            q = cnt[p & 3, b]
            cnt[p & 3, b] = q + 1
            if not unitw:
                sw[q] = bw[p]
            qdd[q] = ba[p]
    elif mode == MODE_L:
        for p in range(m):
            b = pb[p]
            q = cnt[p & 3, b]
            cnt[p & 3, b] = q + 1
            if not unitw:
                sw[q] = bw[p]
            qa[q] = ba[p]
            qb[q] = bc[p]
    else:
        for p in range(m):
            b = pb[p]
            q = cnt[p & 3, b]
            cnt[p & 3, b] = q + 1
            if not unitw:
                sw[q] = bw[p]
            qa[q] = ba[p]
            qb[q] = bc[p]
            qt[q] = b1[p]
            qu[q] = b2[p]
            qv[q] = bd[p]


@njit(cache=True, error_model="numpy")
def _quantities(m, qq, mode, auto):
    """The remaining per-pair quantities in bin order (contiguous, branch-free: vectorised), from the
    sorted u_L (row ``_QA``) and u_L' (row ``_QB``): ``Delta u_L = u_L' - u_L``,
    ``Sigma u_L = u_L' + u_L``, and row ``_QB`` becomes ``-u_L'`` for auto pairs (the second
    orientation's u_L). Nothing to do for ``MODE_DU`` (Delta u_L is already the sorted row ``_QD``).
    In the dtype of ``qq`` (float32 with mixed precision)."""
    if mode == MODE_DU:
        return
    qa = qq[_QA]
    qb = qq[_QB]
    qd = qq[_QD]
    qs = qq[_QS]
    sgn = _as(-1.0 if auto else 1.0, qq)
    for q in range(m):
        ul = qa[q]
        ulp = qb[q]
        qb[q] = sgn * ulp
        qd[q] = ulp - ul
        qs[q] = ulp + ul


@njit(cache=True, error_model="numpy")
def _bin_moments(mom, b, s0, s1_, qq, qd, sw, nmax, flags):
    """Power sums of the pairs ``[s0, s1_)`` of r bin ``b`` into ``mom[b]`` (see
    :func:`.pair_scan.pair_pass` for what each row holds); ``sw`` the pair weights, or None when all
    are 1."""
    auto, unitw, mode, nmax_, wl, wd, ws, wt, wh, whd = flags
    if wl:
        _psum(qq[_QA], sw, s0, s1_, nmax, mom, b, 0)
        _psum(qq[_QB], sw, s0, s1_, nmax, mom, b, 0 if auto else 1)
    if wd:
        _psum(qd, sw, s0, s1_, nmax, mom, b, 2)
    if ws:
        if auto and qq.itemsize == 4 and nmax <= 8:
            # mixed precision: odd orders of Sigma u_L vanish for auto pairs, only the even are summed
            _psum_even(qq[_QS], sw, s0, s1_, nmax, mom, b, 3)
        else:
            _psum(qq[_QS], sw, s0, s1_, nmax, mom, b, 3)
    if wt:
        _psum(qq[_QT], sw, s0, s1_, nmax, mom, b, 4)
        if auto:
            _psum(qq[_QU], sw, s0, s1_, nmax, mom, b, 4)
        _psum(qq[_QV], sw, s0, s1_, nmax, mom, b, 5)


@njit(cache=True, error_model="numpy")
def _hist_mirrored(hist, hedge, b, s0, s1_, sw, qq, hq, hedges, nexact):
    """Histograms of the pairs ``[s0, s1_)`` of one r bin, auto pairs with antisymmetric edges:
    only u_L and -u_L' (quantity 0), Sigma u_L (3) and Delta u_L (2) are binned here (bin indices
    ``hq`` from :func:`.pair_binning._hbin`); the mirror images (u_L' = -(quantity 0), -Sigma u_L)
    are added at the end from these histograms and the weights of values exactly on an edge
    (``eb``, kept only when ``nexact > 0``), see :func:`.pair_binning._mirror_hist`. Outside values
    go to the spare column nh. ``hist``, ``hedge``: the chunk's accumulators, indexed directly
    (no per-bin views, see :func:`_psum`).

    Ten arguments: the two accumulators and the bin, its pair range, the weights, the values and
    their bin indices, the edges and the edge-value count are all distinct arrays of the flush."""
    qa = qq[_QA]
    qb = qq[_QB]
    qs = qq[_QS]
    ha = hq[0]
    hbq = hq[1]
    hs = hq[2]
    hd = hq[3]
    # unsigned indices (all >= 0 here): no wrap-around selects. -u_L' goes to the scratch
    # row 1 (overwritten by the mirror step, after being added to row 0), so that u_L and
    # -u_L' of one pair, often in the same bin, do not update the same counter back to back
    if nexact == 0:
        # no value of this flush lies exactly on an edge (the usual case): no edge bookkeeping
        for qi in range(np.uint64(s1_ - s0)):
            q = np.uint64(s0) + qi
            w = sw[q]
            hist[b, 0, np.uint64(ha[q])] += w
            hist[b, 1, np.uint64(hbq[q])] += w
            hist[b, 3, np.uint64(hs[q])] += w
            hist[b, 2, np.uint64(hd[q])] += 2.0 * w
        return
    for qi in range(np.uint64(s1_ - s0)):
        q = np.uint64(s0) + qi
        w = sw[q]
        h = np.uint64(ha[q])
        hist[b, 0, h] += w
        if qa[q] == hedges[h]:
            hedge[b, 0, h] += w
        h = np.uint64(hbq[q])
        hist[b, 1, h] += w
        if qb[q] == hedges[h]:
            hedge[b, 1, h] += w
        h = np.uint64(hs[q])
        hist[b, 3, h] += w
        if qs[q] == hedges[h]:
            hedge[b, 3, h] += w
        hist[b, 2, np.uint64(hd[q])] += 2.0 * w


@njit(cache=True, error_model="numpy")
def _hist_direct(hist, b, s0, s1_, sw, qq, hbin, auto):
    """Histograms of the pairs ``[s0, s1_)`` of r bin ``b``, each value binned on its own
    (:func:`.pair_binning._hist`): cross pairs, and auto pairs with edges that are not antisymmetric
    (both orientations binned explicitly)."""
    hedges, huni, hlo, hinv, hsym = hbin
    qa = qq[_QA]
    qb = qq[_QB]
    qd = qq[_QD]
    qs = qq[_QS]
    if auto:
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


# ``_nrt=False``: the flush allocates nothing, and without reference counting the views it takes of
# the chunk's buffers (rows, per-bin ranges) cost nothing; with it, each view would be increfed and
# decrefed atomically, on counters shared by all threads where the view is of an accumulator slice
@njit(cache=True, error_model="numpy", _nrt=False)
def flush(m, scr, acc, rbin, hbin, flags):
    """Accumulate the ``m`` buffered in-range pairs of one chunk into its accumulators.

    ``scr = (fb, sb, pb, qq, hq, cnt, off, pj)``: the buffered fields (rows ``_F*``, float64), the
    sorted pair weights (row ``_FW`` of ``sb``), the r bins, the quantities (rows ``_Q*``), their
    histogram bins, the per-bin sub-counters and offsets, and the projection buffer of mixed
    precision (:func:`_proj_rows`). The dtype of ``qq`` and ``pj`` (float64 or float32) is the precision of
    the per-pair quantities; power sums, weights and counts are float64 in both; ``acc = (counts, wcounts, mom, hist, hedge)``: this chunk's accumulator slices;
    ``rbin = (r2edges, tab, tinv)``; ``hbin = (hedges, huni, hlo, hinv, hsym)``;
    ``flags = (auto, unitw, mode, nmax, wl, wd, ws, wt, wh, whd)`` (see :func:`.pair_scan.pair_pass`).
    Steps in the module docstring.
    """
    if m == 0:
        return
    fb, sb, pb, qq, hq, cnt, off, pj = scr
    counts, wcounts, mom, hist, hedge = acc
    hedges, huni, hlo, hinv, hsym = hbin
    auto, unitw, mode, nmax, wl, wd, ws, wt, wh, whd = flags
    nb = cnt.shape[1]
    _bin_pairs(m, fb[_FR], pb, cnt, rbin)
    if mode == MODE_COUNT:
        _count_only(m, fb[_FW], pb, cnt, counts, wcounts, unitw)
        return
    _project(m, fb, pj, mode)
    _sort_by_bin(m, fb, pj, sb, qq, pb, cnt, off, mode, unitw)
    _quantities(m, qq, mode, auto)
    qd = qq[_QD]
    sw = sb[_FW]
    nh = max(hedges.shape[0] - 1, 1)
    hd = hq[3]
    nexact = 0
    if whd:
        # the Delta u_L histogram alone (label-swap invariant: no mirror bookkeeping)
        _hbin(qd, m, hedges, huni, hlo, hinv, nh, hd)
    mirrored = wh and auto and hsym
    if mirrored:
        nexact += _hbin(qq[_QA], m, hedges, huni, hlo, hinv, nh, hq[0])
        nexact += _hbin(qq[_QB], m, hedges, huni, hlo, hinv, nh, hq[1])
        nexact += _hbin(qq[_QS], m, hedges, huni, hlo, hinv, nh, hq[2])
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
            if unitw:
                _bin_moments(mom, b, s0, s1_, qq, qd, None, nmax, flags)
            else:
                _bin_moments(mom, b, s0, s1_, qq, qd, sw, nmax, flags)
        if whd:
            # both orientations of an auto pair have the same Delta u_L: weight 2w
            fw2 = 2.0 if auto else 1.0
            for qi in range(np.uint64(s1_ - s0)):
                q = np.uint64(s0) + qi
                hist[b, 2, np.uint64(hd[q])] += fw2 * sw[q]
        if not wh:
            continue
        if mirrored:
            _hist_mirrored(hist, hedge, b, s0, s1_, sw, qq, hq, hedges, nexact)
        else:
            _hist_direct(hist, b, s0, s1_, sw, qq, hbin, auto)


refresh_stale_cache(globals())   # callees in other files are compiled in: see gpu.jit
