"""Numba cell-list pair kernel: one pass over all pairs in separation bins, accumulating
counts, velocity moments and histograms without storing pairs.

Conventions (see :mod:`cosmo.pairwise` for the physics):

* the pair separation is ``r = x_j - x_i`` (minimum image in a periodic box), ``rhat = r/|r|``;
* ``u_L = v_i . rhat``, ``u_L' = v_j . rhat``, ``Delta u_L = u_L' - u_L`` (negative for
  approaching pairs, halotools' v12), ``Sigma u_L = u_L' + u_L``;
* ``u_T = |v_i - u_L rhat|`` (transverse speed of the first particle) and
  ``Delta u_T = |(v_j - v_i) - Delta u_L rhat|`` (transverse relative speed);
* auto pairs (one sample) stand for BOTH orientations, (i, j) and (j, i), each with the
  pair weight: under the swap ``u_L -> -u_L'``, ``u_L' -> -u_L``, ``Delta u_L`` is unchanged
  and ``Sigma u_L -> -Sigma u_L``, so odd moments of ``Sigma u_L`` vanish identically and
  nothing depends on the arbitrary particle labels. The kernel visits each unordered pair
  once and accumulates the symmetric combinations (see :func:`pair_pass`'s docstring);
  the driver turns them into per-orientation moments;
* cross pairs (sample 1 x sample 2) are oriented from sample 1 to sample 2.

Quantity index: 0 u_L, 1 u_L', 2 Delta u_L, 3 Sigma u_L, 4 u_T, 5 Delta u_T.
Histograms are kept for quantities 0-3.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

NQ = 6
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
def _powers(mom, ch, b, k, w, x, nmax):
    """mom[ch, b, k, n] += w x^n for n = 1..nmax (incremental powers, no array views)."""
    p = w
    for n in range(1, nmax + 1):
        p *= x
        mom[ch, b, k, n] += p


@njit(cache=True, inline="always")
def _powers2(mom, ch, b, k, w, x, y, nmax):
    """mom[ch, b, k, n] += w (x^n + y^n) for n = 1..nmax."""
    p = w
    q = w
    for n in range(1, nmax + 1):
        p *= x
        q *= y
        mom[ch, b, k, n] += p + q


@njit(cache=True, inline="always")
def _mirror_bin(h, x, edges, nh):
    """Bin of ``-x`` given the bin ``h`` of ``x`` (-1: outside), for exactly antisymmetric edges
    (``edges[k] == -edges[nh - k]``), honouring the half-open bins ``[e_k, e_k+1)``."""
    if h < 0:
        # only x == e_nh (outside) maps inside: -x == e_0
        return 0 if x == edges[nh] else -1
    if x == edges[h]:
        # -x == e_(nh-h) is the lower edge of bin nh - h (outside for h == 0)
        return nh - h if h > 0 else -1
    return nh - 1 - h


@njit(cache=True, inline="always")
def _hist(hist, ch, b, k, w, x, hedges, huni, hlo, hinv):
    h = _bin_index(x, hedges, huni, hlo, hinv)
    if h >= 0:
        hist[ch, b, k, h] += w


#: bits of the ``want`` mask of :func:`pair_pass`
WANT_L = 1   # u_L and u_L'
WANT_D = 2   # Delta u_L
WANT_S = 4   # Sigma u_L
WANT_T = 8   # u_T and Delta u_T
WANT_H = 16  # histograms


@njit(parallel=True, cache=True)
def pair_pass(x1, y1, z1, vel1, w1, start1, x2, y2, z2, vel2, w2, start2, nc, ext, box, periodic, auto,
              r2edges, nmax, hedges, huni, bounds, want, lo, cs):
    """Accumulate pair statistics for the i-cells ``bounds[0] <= c < bounds[-1]``.

    ``bounds`` (length nchunks + 1) splits those cells into chunks of similar work, one
    accumulator slot per chunk (chunks run in parallel threads). Positions are given as
    separate coordinate arrays sorted by cell; ``start[c]:start[c+1]`` are the particles of
    cell ``c = (ix*nc + iy)*nc + iz``. Neighbour cells are those within ``ext`` cells in each
    direction; in a periodic box a wrapped neighbour cell is visited with the constant image
    shift of +-box (valid because ``r_max <= box/2`` and ``nc >= 2 ext + 1``), so the inner
    loop has no minimum-image branches; ``nc < 3`` falls back to the explicit minimum image.
    Cell ``(ix, iy, iz)`` spans ``lo + [i, i+1) * cs`` per axis; a neighbour cell whose box lies
    farther than ``r_max`` from particle ``i`` is skipped for that particle (with a round-off
    margin), and the squared distances of the remaining candidates are computed in a
    branch-free vectorisable loop and compacted to the in-range pairs before any sqrt.
    For ``auto`` only half of the neighbour shell is visited (offsets lexicographically > 0,
    plus j > i within the cell), so every unordered pair is met exactly once.

    ``want`` (bit mask WANT_*) selects the quantities. Raw sums returned (q^n summed with the
    pair weight w for n = 1..nmax, mom[..., 0] unused):

    * cross pairs (one orientation): k = 0 u_L, 1 u_L', 2 Delta u_L, 3 Sigma u_L, 4 u_T, 5 Delta u_T;
    * auto pairs: k = 0 holds u_L^n + (-u_L')^n (both orientations), k = 1 is left empty (the
      driver sets it to (-1)^n k = 0), k = 2 Delta u_L^n, k = 3 Sigma u_L^n for even n only,
      k = 4 u_T^n + u_T'^n, k = 5 Delta u_T^n (the driver doubles k = 2, 3, 5 for the second orientation).

    Histograms (both orientations for auto pairs, each with weight w): k = 0..3 as above.
    Returns ``(counts[nchunks, nb], wcounts[nchunks, nb], mom[nchunks, nb, NQ, nmax+1], hist[nchunks, nb, NH, nh])``.
    """
    nb = r2edges.shape[0] - 1
    nchunks = bounds.shape[0] - 1
    nh = max(hedges.shape[0] - 1, 1)
    nm = max(nmax, 0)
    counts = np.zeros((nchunks, nb), dtype=np.float64)
    wcounts = np.zeros((nchunks, nb), dtype=np.float64)
    mom = np.zeros((nchunks, nb, NQ, nm + 1), dtype=np.float64)
    hist = np.zeros((nchunks, nb, NH, nh), dtype=np.float64)
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
    vel_needed = wl or wd or ws or wt or wh
    mi = periodic and nc < 3
    prune = not mi
    # round-off margin of the pruning test: particles sit inside their cell up to ~1e-12 cs
    tol = 1e-9 * cs
    rmax = np.sqrt(r2max)
    for ch in prange(nchunks):
        buf = np.empty(256)
        for c in range(bounds[ch], bounds[ch + 1]):
            i0 = start1[c]
            i1 = start1[c + 1]
            if i1 == i0:
                continue
            ix = c // (nc * nc)
            iy = (c // nc) % nc
            iz = c % nc
            for dx in range(-ext, ext + 1):
                for dy in range(-ext, ext + 1):
                    for dz in range(-ext, ext + 1):
                        if auto:
                            if dx < 0 or (dx == 0 and (dy < 0 or (dy == 0 and dz < 0))):
                                continue
                        # cell-to-cell gap: skip neighbour cells entirely out of reach
                        gx = (max(abs(dx) - 1, 0)) * cs
                        gy = (max(abs(dy) - 1, 0)) * cs
                        gz = (max(abs(dz) - 1, 0)) * cs
                        if prune and gx * gx + gy * gy + gz * gz > r2max * (1.0 + 1e-9) + tol:
                            continue
                        jx = ix + dx
                        jy = iy + dy
                        jz = iz + dz
                        sx = 0.0
                        sy = 0.0
                        sz = 0.0
                        if periodic:
                            if jx < 0:
                                jx += nc
                                sx = -box
                            elif jx >= nc:
                                jx -= nc
                                sx = box
                            if jy < 0:
                                jy += nc
                                sy = -box
                            elif jy >= nc:
                                jy -= nc
                                sy = box
                            if jz < 0:
                                jz += nc
                                sz = -box
                            elif jz >= nc:
                                jz -= nc
                                sz = box
                        elif jx < 0 or jx >= nc or jy < 0 or jy >= nc or jz < 0 or jz >= nc:
                            continue
                        c2 = (jx * nc + jy) * nc + jz
                        j1 = start2[c2 + 1]
                        if j1 == start2[c2]:
                            continue
                        same = auto and dx == 0 and dy == 0 and dz == 0
                        # neighbour cell bounds in the frame of cell c (image shift folded in)
                        bxlo = lo[0] + (ix + dx) * cs
                        bylo = lo[1] + (iy + dy) * cs
                        bzlo = lo[2] + (iz + dz) * cs
                        for i in range(i0, i1):
                            xi = x1[i] - sx
                            yi = y1[i] - sy
                            zi = z1[i] - sz
                            if prune:
                                # distance from particle i (unshifted, frame of cell c) to the neighbour box
                                ex_ = 0.0
                                if dx > 0:
                                    ex_ = bxlo - x1[i] - tol
                                elif dx < 0:
                                    ex_ = x1[i] - (bxlo + cs) - tol
                                ey_ = 0.0
                                if dy > 0:
                                    ey_ = bylo - y1[i] - tol
                                elif dy < 0:
                                    ey_ = y1[i] - (bylo + cs) - tol
                                ez_ = 0.0
                                if dz > 0:
                                    ez_ = bzlo - z1[i] - tol
                                elif dz < 0:
                                    ez_ = z1[i] - (bzlo + cs) - tol
                                ex_ = max(ex_, 0.0)
                                ey_ = max(ey_, 0.0)
                                ez_ = max(ez_, 0.0)
                                if ex_ * ex_ + ey_ * ey_ + ez_ * ez_ >= r2max:
                                    continue
                            j0 = i + 1 if same else start2[c2]
                            nj = j1 - j0
                            if nj <= 0:
                                continue
                            if nj > buf.shape[0]:
                                buf = np.empty(2 * nj)
                            # pass 1: all squared distances (branch-free, vectorisable)
                            if mi:
                                for jj in range(nj):
                                    j = j0 + jj
                                    rx = _mi(x2[j] - xi, box, half)
                                    ry = _mi(y2[j] - yi, box, half)
                                    rz = _mi(z2[j] - zi, box, half)
                                    buf[jj] = rx * rx + ry * ry + rz * rz
                            else:
                                for jj in range(nj):
                                    j = j0 + jj
                                    rx = x2[j] - xi
                                    ry = y2[j] - yi
                                    rz = z2[j] - zi
                                    buf[jj] = rx * rx + ry * ry + rz * rz
                            wi = w1[i]
                            # pass 2: the pairs inside [r_min, r_max), r > 0
                            for jj in range(nj):
                                r2 = buf[jj]
                                if r2 >= r2max:
                                    continue
                                if r2 < r2min or r2 == 0.0:
                                    continue
                                j = j0 + jj
                                b = _r2_bin(r2, r2edges, tab, tinv)
                                w = wi * w2[j]
                                counts[ch, b] += 1.0
                                wcounts[ch, b] += w
                                if not vel_needed:
                                    continue
                                rx = x2[j] - xi
                                ry = y2[j] - yi
                                rz = z2[j] - zi
                                if mi:
                                    rx = _mi(rx, box, half)
                                    ry = _mi(ry, box, half)
                                    rz = _mi(rz, box, half)
                                inv = 1.0 / np.sqrt(r2)
                                ex = rx * inv
                                ey = ry * inv
                                ez = rz * inv
                                ul = vel1[i, 0] * ex + vel1[i, 1] * ey + vel1[i, 2] * ez
                                ulp = vel2[j, 0] * ex + vel2[j, 1] * ey + vel2[j, 2] * ez
                                du = ulp - ul
                                su = ulp + ul
                                if auto:
                                    if wl:
                                        _powers2(mom, ch, b, 0, w, ul, -ulp, nmax)
                                    if wd:
                                        _powers(mom, ch, b, 2, w, du, nmax)
                                    if ws:
                                        s2 = su * su
                                        p = w
                                        for n in range(2, nmax + 1, 2):
                                            p *= s2
                                            mom[ch, b, 3, n] += p
                                else:
                                    if wl:
                                        _powers(mom, ch, b, 0, w, ul, nmax)
                                        _powers(mom, ch, b, 1, w, ulp, nmax)
                                    if wd:
                                        _powers(mom, ch, b, 2, w, du, nmax)
                                    if ws:
                                        _powers(mom, ch, b, 3, w, su, nmax)
                                if wt:
                                    t1x = vel1[i, 0] - ul * ex
                                    t1y = vel1[i, 1] - ul * ey
                                    t1z = vel1[i, 2] - ul * ez
                                    t2x = vel2[j, 0] - ulp * ex
                                    t2y = vel2[j, 1] - ulp * ey
                                    t2z = vel2[j, 2] - ulp * ez
                                    ut1 = np.sqrt(t1x * t1x + t1y * t1y + t1z * t1z)
                                    dtx = t2x - t1x
                                    dty = t2y - t1y
                                    dtz = t2z - t1z
                                    dut = np.sqrt(dtx * dtx + dty * dty + dtz * dtz)
                                    if auto:
                                        ut2 = np.sqrt(t2x * t2x + t2y * t2y + t2z * t2z)
                                        _powers2(mom, ch, b, 4, w, ut1, ut2, nmax)
                                    else:
                                        _powers(mom, ch, b, 4, w, ut1, nmax)
                                    _powers(mom, ch, b, 5, w, dut, nmax)
                                if wh and auto and hsym:
                                    # antisymmetric edges: the bin of -x follows from the bin of x
                                    ha = _bin_index(ul, hedges, huni, hlo, hinv)
                                    hc = _bin_index(ulp, hedges, huni, hlo, hinv)
                                    hs = _bin_index(su, hedges, huni, hlo, hinv)
                                    hd = _bin_index(du, hedges, huni, hlo, hinv)
                                    if ha >= 0:
                                        hist[ch, b, 0, ha] += w
                                    if hc >= 0:
                                        hist[ch, b, 1, hc] += w
                                    if hs >= 0:
                                        hist[ch, b, 3, hs] += w
                                    if hd >= 0:
                                        hist[ch, b, 2, hd] += 2.0 * w
                                    h = _mirror_bin(hc, ulp, hedges, nh)
                                    if h >= 0:
                                        hist[ch, b, 0, h] += w
                                    h = _mirror_bin(ha, ul, hedges, nh)
                                    if h >= 0:
                                        hist[ch, b, 1, h] += w
                                    h = _mirror_bin(hs, su, hedges, nh)
                                    if h >= 0:
                                        hist[ch, b, 3, h] += w
                                elif wh:
                                    _hist(hist, ch, b, 0, w, ul, hedges, huni, hlo, hinv)
                                    _hist(hist, ch, b, 1, w, ulp, hedges, huni, hlo, hinv)
                                    _hist(hist, ch, b, 3, w, su, hedges, huni, hlo, hinv)
                                    if auto:
                                        _hist(hist, ch, b, 2, 2.0 * w, du, hedges, huni, hlo, hinv)
                                        _hist(hist, ch, b, 0, w, -ulp, hedges, huni, hlo, hinv)
                                        _hist(hist, ch, b, 1, w, -ul, hedges, huni, hlo, hinv)
                                        _hist(hist, ch, b, 3, w, -su, hedges, huni, hlo, hinv)
                                    else:
                                        _hist(hist, ch, b, 2, w, du, hedges, huni, hlo, hinv)
    return counts, wcounts, mom, hist


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
                        if dx < 0 or (dx == 0 and (dy < 0 or (dy == 0 and dz < 0))):
                            continue
                        jx = ix + dx
                        jy = iy + dy
                        jz = iz + dz
                        if periodic:
                            jx %= nc
                            jy %= nc
                            jz %= nc
                        elif jx < 0 or jx >= nc or jy < 0 or jy >= nc or jz < 0 or jz >= nc:
                            continue
                        c2 = (jx * nc + jy) * nc + jz
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
