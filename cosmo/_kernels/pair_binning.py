"""Separation and value binning for the pair kernels (plain njit functions, also
usable as device functions by a CUDA twin of the pair kernel).

* r bins from r^2 without sqrt or log: a lookup table over ``r^2 NTAB / r_max^2`` (:func:`r2_table`)
  whose entries give the bin of a table cell lying wholly inside one bin, plus exact comparisons
  with the squared edges for the few cells straddling an edge (:func:`_r2_bin`);
* value histograms: uniform-bin arithmetic with an exact fix-up near edges, or bisection
  (:func:`_bin_index`, vectorised over a buffer in :func:`_hbin`);
* for auto pairs with antisymmetric edges the mirrored histograms are completed from the binned
  ones and the weights of values exactly on an edge (:func:`_mirror_hist`);
* the minimum image of a coordinate difference (:func:`_mi`).

Counts and histograms are exact: every value is finally decided by comparisons against the
actual edges, so they do not depend on round-off in the table or the uniform-bin arithmetic.
"""
from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

from gpu.jit import refresh_stale_cache

#: number of pair quantities (u_L, u_L', Delta u_L, Sigma u_L, u_T, Delta u_T), see :mod:`.pair_flush`
NQ = 6
#: number of histogrammed quantities (the first four)
NH = 4


@njit(cache=True, inline="always")
def _bin_index(x, edges, uniform, lo, inv_dx):
    """Index of ``x`` in ``edges`` (len nb+1), or -1 outside [edges[0], edges[-1])."""
    nb = edges.shape[0] - 1
    if x < edges[0] or x >= edges[nb]:
        return -1
    if uniform:
        k = int((x - lo) * inv_dx)
        if k >= nb:
            k = nb - 1
        # guard round-off at the edges
        if x < edges[k]:
            k -= 1
        elif x >= edges[k + 1]:
            k += 1
        return k
    a = 0
    b = nb
    while b - a > 1:
        m = (a + b) >> 1
        if x >= edges[m]:
            a = m
        else:
            b = m
    return a


NTAB = 8192


# the arithmetic of float32 values (mixed precision of the pair kernel): helpers resolved at compile
# time from the dtype of an array, so that one body serves float64 and float32
def _as(x, like):
    """``x`` converted to the dtype of the array ``like`` (float32 or float64)."""


@overload(_as)
def _as_impl(x, like):
    if like.dtype == types.float32:
        return lambda x, like: np.float32(x)
    return lambda x, like: np.float64(x)


def _ceil_as(e, like):
    """The smallest value of ``like``'s dtype that is >= the float64 ``e``: for every value ``x`` of that
    dtype, ``x >= e`` exactly when ``x >= _ceil_as(e)`` and ``x < e`` exactly when ``x < _ceil_as(e)``
    (so edge tests can run in that dtype and stay exact). ``e`` itself for float64."""


@overload(_ceil_as)
def _ceil_as_impl(e, like):
    if like.dtype == types.float32:
        def impl(e, like):
            g = np.float32(e)
            if np.float64(g) < e:
                g = np.nextafter(g, np.float32(np.inf))
            return g
        return impl
    return lambda e, like: np.float64(e)


def _edge_eps(like, nh, mhinv):
    """Margin (in bins) of the near-edge test of :func:`_hbin`: ``1e-6 + 1e-11 nh`` in float64 (the
    edges are uniform to 1e-12 relative per step); in float32 plus twice the rounding bound of
    ``t = (x - e_0) nh / (e_nh - e_0)`` computed in float32, ``u (3 M nh / (e_nh - e_0) + 2 nh)`` with
    ``u = 2^-24`` and ``M`` the largest |edge| (``mhinv = M nh / (e_nh - e_0)``; the operands rounded to
    float32, the subtraction and the product each add a relative error up to u)."""


@overload(_edge_eps)
def _edge_eps_impl(like, nh, mhinv):
    if like.dtype == types.float32:
        return lambda like, nh, mhinv: np.float32(1e-6 + 1e-11 * nh + 2.0 * 2.0 ** -24 * (3.0 * mhinv + 2.0 * nh))
    return lambda like, nh, mhinv: 1e-6 + 1e-11 * nh


@njit(cache=True)
def r2_table(r2edges):
    """Lookup table over table cells t = floor(r^2 NTAB / r2max): ``tab[t] = b`` when the whole cell
    (with a 1e-9 relative round-off margin) lies inside r bin b, so no comparison is needed;
    otherwise ``tab[t] = -1 - b`` with b the lowest bin the cell can touch (then walk up)."""
    nb = r2edges.shape[0] - 1
    r2max = r2edges[nb]
    tab = np.empty(NTAB + 1, dtype=np.int64)
    b = 0
    for t in range(NTAB + 1):
        lo = t * r2max / NTAB
        while b < nb - 1 and lo >= r2edges[b + 1]:
            b += 1
        a = b
        # margin: a table cell may be entered by r^2 slightly outside [lo, hi) through rounding
        margin = 1e-9 * r2max
        while a > 0 and lo - margin < r2edges[a]:
            a -= 1
        hi = (t + 1) * r2max / NTAB
        if a == b and lo - margin >= r2edges[b] and hi + margin < r2edges[b + 1]:
            tab[t] = b
        else:
            tab[t] = -1 - a
    return tab


@njit(cache=True, inline="always")
def _r2_bin(r2, r2edges, tab, tinv):
    """Bin of r^2 (already known to lie in [r2edges[0], r2edges[-1])): table hit, or walk up."""
    b = tab[int(r2 * tinv)]
    if b >= 0:
        return b
    b = -1 - b
    while r2 >= r2edges[b + 1]:
        b += 1
    while r2 < r2edges[b] and b > 0:  # round-off guard
        b -= 1
    return b


@njit(cache=True, inline="always")
def _mi(d, box, half):
    """Minimum image of a coordinate difference."""
    if d > half:
        return d - box
    if d < -half:
        return d + box
    return d


@njit(cache=True, inline="always")
def _hist(hist, b, k, w, x, hedges, huni, hlo, hinv):
    h = _bin_index(x, hedges, huni, hlo, hinv)
    if h >= 0:
        hist[b, k, h] += w


@njit(cache=True, error_model="numpy")
def _hbin(x, n, hedges, huni, hlo, hinv, nh, hout):
    """Histogram bin of ``x[q]`` for q < n into ``hout`` (``nh`` = outside ``[e_0, e_nh)``).

    Uniform edges: ``t = (x - e_0) nh / (e_nh - e_0)`` and ``k = floor(t)`` in a branch-free,
    vectorised loop, in the dtype of ``x`` (float32 values of mixed precision: float32 arithmetic);
    values with ``t`` within 1e-6 (+1e-11 nh; in float32 plus the float32 rounding bound,
    :func:`_edge_eps`) of an integer, i.e. within round-off reach of an edge (the edges are uniform
    to 1e-12 relative per step, see ``cosmo.pairwise._uniform``), are flagged and binned again exactly against the actual
    edges (:func:`_bin_index`), so the half-open bins ``[e_k, e_k+1)`` are exact. Values
    outside ``[e_0, e_nh)`` are decided by exact comparisons. Other edges: bisection.

    Returns the number of values exactly on an edge (``e_0..e_nh``), so that the caller can skip
    the per-value edge bookkeeping of :func:`_mirror_hist` when there are none."""
    nexact = 0
    if huni:
        e0 = hedges[0]
        en = hedges[nh]
        # in the dtype of x (float32 in mixed precision: twice the lanes), exact where it matters:
        # the range test against the edges rounded up (_ceil_as), the near-edge margin from the
        # float32 rounding bound (_edge_eps), flagged values re-binned in float64 below
        e0c = _ceil_as(e0, x)
        enc = _ceil_as(en, x)
        lo_ = _as(hlo, x)
        inv_ = _as(hinv, x)
        zero = _as(0.0, x)
        one = _as(1.0, x)
        tmax = _as(nh - 0.5, x)
        eps = _edge_eps(x, nh, max(abs(e0), abs(en)) * hinv)
        nflag = 0
        for q in range(n):
            xx = x[q]
            t = min(max((xx - lo_) * inv_, zero), tmax)
            k = min(int(t), nh - 1)
            f = t - _as(k, x)
            inside = (xx >= e0c) & (xx < enc)
            near = ((f < eps) | (f > one - eps)) & inside
            h = k if inside else nh
            hout[q] = -1 - h if near else h
            nflag += near
            nexact += xx == enc
        if nflag > 0:
            for q in range(n):
                if hout[q] < 0:
                    k = _bin_index(x[q], hedges, huni, hlo, hinv)
                    hout[q] = k if k >= 0 else nh
                    if k >= 0 and x[q] == hedges[k]:
                        nexact += 1
    else:
        for q in range(n):
            xx = x[q]
            k = _bin_index(xx, hedges, huni, hlo, hinv)
            hout[q] = k if k >= 0 else nh
            if (k >= 0 and xx == hedges[k]) or xx == hedges[nh]:
                nexact += 1
    return nexact


@njit(cache=True)
def _mirror_hist(hist, hedge, nh):
    """Complete the auto-pair histograms binned on the antisymmetric-edge path of :func:`.pair_flush.flush`.

    For a set X of values with weights, H[k] = weight in [e_k, e_k+1) and E[k] = weight exactly
    at e_k (k = 0..nh). With ``e_k = -e_(nh-k)`` the histogram of -X is
    ``H'[j] = H[nh-1-j] - E[nh-1-j] + E[nh-j]`` (the half-open bins move the edge values).
    Quantity 1 (u_L' and -u_L) is the mirror of quantity 0 (u_L and -u_L'); quantity 3 (Sigma u_L,
    both orientations) is Sigma u_L plus its mirror."""
    for ch in range(hist.shape[0]):
        for b in range(hist.shape[1]):
            h0 = hist[ch, b, 0]
            e0 = hedge[ch, b, 0]
            # row 1 held the -u_L' values: merge them into row 0 first
            for j in range(nh + 1):
                h0[j] += hist[ch, b, 1, j]
                e0[j] += hedge[ch, b, 1, j]
            h3 = hist[ch, b, 3]
            e3 = hedge[ch, b, 3]
            hs = h3[:nh].copy()
            for j in range(nh):
                k = nh - 1 - j
                hist[ch, b, 1, j] = h0[k] - e0[k] + e0[k + 1]
                h3[j] = hs[j] + (hs[k] - e3[k] + e3[k + 1])


refresh_stale_cache(globals())   # callees in other files are compiled in: see gpu.jit
