"""Numba cell-list pair kernel (the scan; binning in :mod:`.pair_binning`, the flush of buffered
pairs in :mod:`.pair_flush`): one pass over all pairs in separation bins, accumulating
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

How the work is organised (see :func:`pair_pass`, :func:`.pair_flush.flush`); the cost is per candidate
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
  only when the weights are not all 1. The four variants are compiled from one body
  (:func:`_make_scan`, the mode a compile-time constant of each);
* full buffers (:data:`.pair_flush.CAP` pairs) are binned in r from r^2 by a lookup table plus exact
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
  the weights of values exactly on edges (:func:`.pair_binning._mirror_hist`), a bookkeeping skipped in
  the flushes where no value lies exactly on an edge (the usual case);
* per-chunk private accumulators (chunks of similar estimated work), summed at the end;
  no atomics, no shared writes.

Precision: float64 throughout by default (no float32 distance test). Counts and histograms of
values not within round-off of an edge are exact and independent of the summation order; moments
differ from a sequential sum by round-off only (~1e-15 relative), and between numbers of
threads or MPI ranks likewise. With a float32 ``qproto`` (``precision="mixed"``) the flush computes
the per-pair quantities and their histogram bins in float32 (:func:`.pair_flush._project`,
:func:`.pair_binning._hbin`) and only the even power sums of Sigma u_L for auto pairs
(:func:`.pair_flush._psum_even`); the scan, r^2, the r bins, counts, weights and power sums stay
float64, so the counts are the same as in float64.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit, prange
from numba.core.compiler import Compiler

from gpu.jit import refresh_stale_cache

from .cells import wrap_cell
from .pair_binning import NH, NQ, NTAB, _mi, _mirror_hist, r2_table
from .pair_flush import _F1, _F2, _FA, _FC, _FD, _FR, _FW, CAP, MODE_COUNT, MODE_DU, MODE_L, MODE_T, NF, flush
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

#: one sample sorted by cell (the kernel's input): coordinates as separate arrays, velocities (N, 3),
#: weights, and ``start[c]:start[c+1]`` the particles of cell ``c = (ix*nc + iy)*nc + iz``
Cells = namedtuple("Cells", "x y z vel w start")
#: the cell grid: nc^3 cells of side ``cs`` from ``lo``, neighbours within ``ext`` cells, the box
Grid = namedtuple("Grid", "nc ext box periodic lo cs")
#: a sample as the scan reads it: velocity components as contiguous arrays, ``vsq = |v|^2``
_Particles = namedtuple("_Particles", "x y z vx vy vz w start vsq")
#: what the walk needs besides the particles: grid, pruning margins, r range, pass options
_Walk = namedtuple("_Walk", "nc ext box half periodic mi prune tol lo cs r2lo r2max auto unitw mode")


def _make_scan(mode):
    """The scan of one contiguous candidate range for one ``mode`` (``MODE_*`` of :mod:`.pair_flush`),
    compiled with the mode as a constant, so that the four variants share this one body.

    The returned function ``scan(ja, nj, m, ri, vi, p2, rows, wk)`` computes, for the candidates
    ``j = ja .. ja+nj-1`` of sample 2 and the particle ``i`` at ``ri = (x, y, z)`` (image-shifted)
    with ``vi = (vx, vy, vz, |v|^2, w)``, the fields the mode keeps (r^2; ``(v2 - v1) . r``;
    ``v1 . r`` and ``v2 . r``; ``|v1|^2``, ``|v2|^2``, ``|v2 - v1|^2``) in one vectorised loop into the
    scratch rows, then appends the candidates with ``r2lo <= r^2 < r2max`` to the buffer rows from
    position ``m`` (with AVX-512 eight per step by a compressing store, else branch-free scalar) and
    returns the new fill ``m``. ``rows = (fr, fw, fa, fc, f1, f2, fd, tr, ta, tc, td, tw)``: the
    buffer rows ``_F*`` of :mod:`.pair_flush`, then the scratch rows."""
    du_only = mode == MODE_DU
    proj = mode == MODE_L or mode == MODE_T
    store_a = mode != MODE_COUNT
    trans = mode == MODE_T

    @njit(cache=True, inline="always", error_model="numpy")
    def scan(ja, nj, m, ri, vi, p2, rows, wk):
        x2 = p2.x
        y2 = p2.y
        z2 = p2.z
        v2x = p2.vx
        v2y = p2.vy
        v2z = p2.vz
        v2sq = p2.vsq
        xi, yi, zi = ri
        vxi, vyi, vzi, vsi, wi = vi
        fr, fw, fa, fc, f1, f2, fd, tr, ta, tc, td, tw = rows
        r2lo = wk.r2lo
        r2max = wk.r2max
        unitw = wk.unitw
        # unsigned indices: provably non-negative, so no wrap-around selects in the loads
        uja = np.uint64(ja)
        unj = np.uint64(nj)
        um = np.uint64(m)
        if not unitw:
            # pair weights in a loop of their own, shared by the modes: inside a vectorised field loop
            # LLVM turns the test into masked AVX-512 loads/stores, whose masked-off lanes (w2 is a
            # dummy array with unit weights) cost microcode assists (measured 4x slower on 2 threads)
            w2 = p2.w
            for kq in range(unj):
                tw[kq] = wi * w2[uja + kq]
        # two loops: the fields of every candidate (contiguous, vectorised), then the compaction
        for kq in range(unj):
            ju = uja + kq
            rx = x2[ju] - xi
            ry = y2[ju] - yi
            rz = z2[ju] - zi
            tr[kq] = rx * rx + ry * ry + rz * rz
            if du_only:
                ta[kq] = (v2x[ju] - vxi) * rx + (v2y[ju] - vyi) * ry + (v2z[ju] - vzi) * rz
            if proj:
                ta[kq] = vxi * rx + vyi * ry + vzi * rz
                tc[kq] = v2x[ju] * rx + v2y[ju] * ry + v2z[ju] * rz
            if trans:
                dvx = v2x[ju] - vxi
                dvy = v2y[ju] - vyi
                dvz = v2z[ju] - vzi
                td[kq] = dvx * dvx + dvy * dvy + dvz * dvz
        kc = np.uint64(0)
        if HAVE_AVX512:
            # 8 candidates at a time: range mask, then one compressing store per field
            kc = unj & ~np.uint64(7)
            for k8 in range(np.uint64(0), kc, np.uint64(8)):
                msk = inrange8(tr, k8, r2lo, r2max)
                compress8(tr, k8, fr, um, msk)
                if not unitw:
                    compress8(tw, k8, fw, um, msk)
                if store_a:
                    compress8(ta, k8, fa, um, msk)
                if proj:
                    compress8(tc, k8, fc, um, msk)
                if trans:
                    # |v1|^2 is the same for every candidate: eight plain stores (one vector store)
                    # from the fill, of which the in-range ones are kept (room: um + 8 <= m + kc)
                    for l8 in range(np.uint64(8)):
                        f1[um + l8] = vsi
                    compress8(v2sq, uja + k8, f2, um, msk)
                    compress8(td, k8, fd, um, msk)
                um += popcount(msk)
        for kq in range(kc, unj):
            r2 = tr[kq]
            fr[um] = r2
            if not unitw:
                fw[um] = tw[kq]
            if store_a:
                fa[um] = ta[kq]
            if proj:
                fc[um] = tc[kq]
            if trans:
                f1[um] = vsi
                f2[um] = v2sq[uja + kq]
                fd[um] = td[kq]
            um += np.uint64((r2 < r2max) & (r2 >= r2lo))
        return np.int64(um)

    return scan


_scan_count = _make_scan(MODE_COUNT)
_scan_du = _make_scan(MODE_DU)
_scan_l = _make_scan(MODE_L)
_scan_t = _make_scan(MODE_T)


@njit(cache=True, inline="always", error_model="numpy")
def _scan_min_image(ja, jb, m, ri, vi, p2, rows, wk):
    """The scan of candidates ``ja .. jb-1`` with the explicit minimum image (periodic grids of
    fewer than 3 cells per side, where one neighbour cell can be reached through both faces): every
    field is written, the fill ``m`` advances for the in-range pairs. Arguments as the scans of
    :func:`_make_scan` (``jb`` the end instead of a count)."""
    x2 = p2.x
    y2 = p2.y
    z2 = p2.z
    v2x = p2.vx
    v2y = p2.vy
    v2z = p2.vz
    w2 = p2.w
    v2sq = p2.vsq
    xi, yi, zi = ri
    vxi, vyi, vzi, vsi, wi = vi
    fr, fw, fa, fc, f1, f2, fd, tr, ta, tc, td, tw = rows
    box = wk.box
    half = wk.half
    r2lo = wk.r2lo
    r2max = wk.r2max
    for j in range(ja, jb):
        rx = _mi(x2[j] - xi, box, half)
        ry = _mi(y2[j] - yi, box, half)
        rz = _mi(z2[j] - zi, box, half)
        r2 = rx * rx + ry * ry + rz * rz
        fr[m] = r2
        if not wk.unitw:
            fw[m] = wi * w2[j]
        if wk.mode == MODE_DU:
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
    return m


@njit(cache=True, inline="always", error_model="numpy")
def _scan_range(ja, jend, m, ri, vi, p2, wk, rows, fl):
    """Scan the candidates ``ja .. jend-1`` in pieces that fit the buffer (flushed by
    :func:`.pair_flush.flush` when nearly full, ``fl = (scr, acc, rbin, hbin, flags)`` its
    arguments), so the buffers stay small (cache-resident) however crowded a column is; each
    piece goes to the scan of the pass's mode. Returns the buffer fill."""
    cap = CAP
    while ja < jend:
        room = cap - m
        if room < jend - ja and room < CAP // 4:
            scr, acc, rbin, hbin, flags = fl
            flush(m, scr, acc, rbin, hbin, flags)
            m = 0
            room = cap
        jb = min(jend, ja + room)
        nj = jb - ja
        if wk.mi:
            m = _scan_min_image(ja, jb, m, ri, vi, p2, rows, wk)
        elif wk.mode == MODE_COUNT:
            m = _scan_count(ja, nj, m, ri, vi, p2, rows, wk)
        elif wk.mode == MODE_DU:
            m = _scan_du(ja, nj, m, ri, vi, p2, rows, wk)
        elif wk.mode == MODE_L:
            m = _scan_l(ja, nj, m, ri, vi, p2, rows, wk)
        else:
            m = _scan_t(ja, nj, m, ri, vi, p2, rows, wk)
        ja = jb
    return m


@njit(cache=True, inline="always")
def _z_window(z2, start2, colbase, a, bb, ja, jb, zlo, zhi):
    """The exact z-window ``zlo <= z_j <= zhi`` within the candidates ``ja .. jb-1`` of the z-cells
    ``a .. bb`` of one column: the column is sorted by z (cells in z order, each cell sorted by z,
    :func:`.cells.zsort_cells`), so the partners are one contiguous range, found by binary search in
    the first and the last cell only. Returns the narrowed ``(ja, jb)``.

    Nine arguments: the column's z and cell starts, its base index, the cell range, the candidate
    range and the window bounds are all needed by the two searches."""
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
    return p0, p1


@njit(cache=True, inline="always", error_model="numpy")
def _particle_column(i, m, col, p1, p2, wk, rows, fl):
    """All partners of particle ``i`` in one neighbour column ``col = (dx, dy, bxlo, bylo, sx, sy,
    colbase, own, kzmin, kzmax)`` (offsets, the column's lower cell bounds in x and y, its image
    shifts, first cell index, whether it is the own column of an auto pass, and the z-cell range).

    The z-cells that can hold a partner closer than ``r_max`` follow from i's distance to the column
    in x and y (conservative ``tol`` round-off margin); narrowed to the exact z-window
    ``|z_j - z_i| <= sqrt(r_max^2 - d_xy^2)`` (same margin) when the range is longer than
    :data:`ZWIN`. The contiguous j range is split at most in two where it wraps through the periodic
    boundary (segments: wrapped from below, unwrapped, wrapped from above), each with its constant
    image shift of +-box, valid as ``r_max <= box/2`` and ``nc >= 2 ext + 1``. Returns the fill."""
    dx, dy, bxlo, bylo, sx, sy, colbase, own, kzmin, kzmax = col
    nc = wk.nc
    cs = wk.cs
    lo = wk.lo
    tol = wk.tol
    box = wk.box
    start2 = p2.start
    xu = p1.x[i]
    yu = p1.y[i]
    zu = p1.z[i]
    vxi = p1.vx[i]
    vyi = p1.vy[i]
    vzi = p1.vz[i]
    vsi = vxi * vxi + vyi * vyi + vzi * vzi
    wi = p1.w[i]
    k0 = kzmin
    k1 = kzmax
    dzr = 0.0
    if wk.prune:
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
        rem = wk.r2max - ex_ * ex_ - ey_ * ey_
        if rem <= 0.0:
            return m
        dzr = np.sqrt(rem) * (1.0 + 1e-9) + tol
        kk0 = int(np.floor((zu - dzr - lo[2]) / cs))
        kk1 = int(np.floor((zu + dzr - lo[2]) / cs))
        k0 = max(k0, kk0)
        k1 = min(k1, kk1)
        if k0 > k1:
            return m
    xi = xu - sx
    yi = yu - sy
    vi = (vxi, vyi, vzi, vsi, wi)
    for seg in range(3):
        # seg 0: cells wrapped from below (shift -box), 1: unwrapped, 2: wrapped from above
        if seg == 0:
            if not wk.periodic or k0 >= 0:
                continue
            a = k0 + nc
            bb = min(k1, -1) + nc
            sz = -box
        elif seg == 1:
            a = max(k0, 0)
            bb = min(k1, nc - 1)
            sz = 0.0
        else:
            if not wk.periodic or k1 < nc:
                continue
            a = max(k0, nc) - nc
            bb = k1 - nc
            sz = box
        if a > bb:
            continue
        ja = start2[colbase + a]
        jb = start2[colbase + bb + 1]
        zi = zu - sz
        if wk.prune and jb - ja > ZWIN:
            ja, jb = _z_window(p2.z, start2, colbase, a, bb, ja, jb, zi - dzr, zi + dzr)
        if own and seg == 1:
            ja = max(ja, i + 1)
        if jb - ja <= 0:
            continue
        m = _scan_range(ja, jb, m, (xi, yi, zi), vi, p2, wk, rows, fl)
    return m


class _NoAliasCompiler(Compiler):
    """Numba's compiler with the ``noalias`` flag set: the array arguments of the compiled function
    are declared not to overlap (LLVM ``noalias``), as Numba does for the body of a parallel loop.
    Valid only for a function whose array arguments share no memory that it writes."""

    def __init__(self, typingctx, targetctx, library, args, return_type, flags, locals):
        flags.noalias = True
        super().__init__(typingctx, targetctx, library, args, return_type, flags, locals)


@njit(cache=True, error_model="numpy", _nrt=False, pipeline_class=_NoAliasCompiler)
def _walk_cells(c0, c1, p1, p2, wk, tb, fl):
    """All pairs of the particles of the i-cells ``c0 <= c < c1`` (one chunk) with the neighbour
    columns (dx, dy) within ``ext`` cells (for auto passes only (dx, dy) lexicographically >= 0, the
    own column from the own z-cell up with j > i, so every unordered pair is met once; columns wholly
    out of reach skipped). Appends the in-range pairs to the chunk's buffer (flushed through ``fl``)
    and returns its fill.

    ``tb``: the scratch rows of the scan; ``fl = (scr, acc, rbin, hbin, flags)``: the arguments of
    :func:`.pair_flush.flush` (the buffer ``fb`` is ``scr[0]``).

    Compiled without reference counting (``_nrt=False``; it allocates nothing): the arrays taken
    from the tuples and passed to the inlined per-particle steps would otherwise be increfed and
    decrefed atomically per particle and column on arrays shared by all threads (measured 7x slower
    over all); for the same reason the call boundary is the chunk, not the cell. Compiled with
    ``noalias`` (:class:`_NoAliasCompiler`), as the loop was when it was the body of the parallel
    loop: without, the vectorised scan loops check at run time whether the rows overlap the particle
    arrays (measured 5-9% slower). Valid: the arrays written (the buffer and scratch rows, the
    accumulators) are distinct arrays, disjoint from each other and from every array read; the
    buffer rows are views made here of ``fb``, which is passed on to the flush only."""
    fb = fl[0][0]
    rows = (fb[_FR], fb[_FW], fb[_FA], fb[_FC], fb[_F1], fb[_F2], fb[_FD], tb[0], tb[1], tb[2], tb[3], tb[4])
    start1 = p1.start
    nc = wk.nc
    ext = wk.ext
    cs = wk.cs
    lo = wk.lo
    box = wk.box
    auto = wk.auto
    periodic = wk.periodic
    m = 0
    for c in range(c0, c1):
        i0 = start1[c]
        i1 = start1[c + 1]
        if i1 == i0:
            continue
        ix = c // (nc * nc)
        iy = (c // nc) % nc
        iz = c % nc
        for dx in range(-ext, ext + 1):
            if auto and dx < 0:
                continue
            gx = max(abs(dx) - 1, 0) * cs
            jx, sx, inside = wrap_cell(ix + dx, nc, box, periodic)
            if not inside:
                continue
            bxlo = lo[0] + (ix + dx) * cs
            for dy in range(-ext, ext + 1):
                if auto and dx == 0 and dy < 0:
                    continue
                gy = max(abs(dy) - 1, 0) * cs
                # whole column out of reach
                if wk.prune and gx * gx + gy * gy > wk.r2max * (1.0 + 1e-9) + wk.tol:
                    continue
                jy, sy, inside = wrap_cell(iy + dy, nc, box, periodic)
                if not inside:
                    continue
                bylo = lo[1] + (iy + dy) * cs
                own = auto and dx == 0 and dy == 0
                col = (dx, dy, bxlo, bylo, sx, sy, (jx * nc + jy) * nc, own, iz if own else iz - ext, iz + ext)
                for i in range(i0, i1):
                    m = _particle_column(i, m, col, p1, p2, wk, rows, fl)
    return m


@njit(cache=True)
def _options(r2edges, nmax, hedges, huni, want, auto, w1, w2):
    """The pass's options from the ``want`` mask: ``(rbin, hbin, flags)`` with ``rbin = (r2edges,
    tab, tinv)``, ``hbin = (hedges, huni, hlo, hinv, hsym)`` (``hsym``: antisymmetric edges) and
    ``flags = (auto, unitw, mode, nmax, wl, wd, ws, wt, wh, whd)`` (``unitw``: all weights 1;
    ``mode``: what the scan stores per pair)."""
    nb = r2edges.shape[0] - 1
    tab = r2_table(r2edges)
    tinv = NTAB / r2edges[nb]
    hlo = hedges[0]
    hinv = 0.0
    if hedges.shape[0] > 1:
        hinv = (hedges.shape[0] - 1) / (hedges[hedges.shape[0] - 1] - hedges[0])
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
    return ((r2edges, tab, tinv), (hedges, huni, hlo, hinv, hsym),
            (auto, unitw, mode, nmax, wl, wd, ws, wt, wh, whd))


@njit(cache=True)
def _components(vel):
    """Velocity components as contiguous arrays and ``|v|^2`` (the scan's view of a sample)."""
    vx = np.ascontiguousarray(vel[:, 0])
    vy = np.ascontiguousarray(vel[:, 1])
    vz = np.ascontiguousarray(vel[:, 2])
    return vx, vy, vz, vx * vx + vy * vy + vz * vz


@njit(cache=True)
def _chunk_buffers(nb, qproto):
    """One chunk's scratch: ``scr = (fb, sb, pb, qq, hq, cnt, off, pj)`` for :func:`.pair_flush.flush`
    and ``tb``, the per-candidate fields of one scan piece (computed in a vectorised loop before the
    compaction). The quantity rows ``qq`` and the projection buffer ``pj`` have the dtype of
    ``qproto`` (float64, or float32 for mixed precision; ``pj`` is used in float32 only, one element
    per row otherwise: in float64 the projections overwrite the fields in ``fb``, see
    :func:`.pair_flush._proj_rows`). Fixed capacity :data:`.pair_flush.CAP` (no reallocation
    inside the walk)."""
    cap = CAP
    fb = np.empty((NF, cap))
    sb = np.empty((NF, cap))
    sb[_FW, :] = 1.0
    fb[_FW, :] = 1.0
    pb = np.empty(cap, dtype=np.int64)
    qq = np.empty((7, cap), dtype=qproto.dtype)
    pj = np.empty((5, cap if qproto.itemsize == 4 else 1), dtype=qproto.dtype)
    hq = np.empty((4, cap), dtype=np.int64)
    tb = np.empty((5, cap))
    cnt = np.empty((4, nb), dtype=np.int64)
    off = np.empty(nb + 1, dtype=np.int64)
    return (fb, sb, pb, qq, hq, cnt, off, pj), tb


@njit(parallel=True, cache=True, error_model="numpy")
def pair_pass(cells1, cells2, grid, auto, r2edges, nmax, hedges, huni, bounds, want, qproto):
    """Accumulate pair statistics for the i-cells ``bounds[0] <= c < bounds[-1]``.

    ``cells1``, ``cells2``: the samples sorted by cell (:data:`Cells`; the same sample twice with
    ``auto``); ``grid``: :data:`Grid`. ``bounds`` (length nchunks + 1) splits the cells into chunks
    of similar work, one accumulator slot per chunk (chunks run in parallel threads). The cells
    ``iz-ext..iz+ext`` of one (x, y) column are one contiguous particle range.

    Walk (:func:`_walk_cells`, :func:`_particle_column`): for every particle i of cell c and every
    neighbour column within ``ext`` cells, the z-cells that can hold a partner closer than ``r_max``,
    narrowed to the exact z-window by binary search (the cells being sorted by z,
    :func:`.cells.zsort_cells`); that contiguous j range is scanned in one branch-free loop
    (:func:`_make_scan`) that appends the pairs with ``r_min^2 <= r^2 < r_max^2``, ``r^2 > 0`` to a
    per-chunk buffer. ``nc < 3`` (periodic) falls back to the explicit minimum image
    (:func:`_scan_min_image`). For ``auto`` every unordered pair is met exactly once.

    When the buffer is full (``CAP`` pairs) it is flushed (:func:`.pair_flush.flush`): r bins, a
    counting sort by bin, the per-pair quantities, and per bin the power sums and histograms.

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
    Precision: ``qproto`` (an array, only its dtype is used) is the dtype of the per-pair velocity
    quantities of the flush: float64 (the default: the arithmetic above, all in double) or float32
    (``precision="mixed"`` of :func:`cosmo.pairwise.pair_moments`: the projections, transverse
    speeds, Delta u_L, Sigma u_L and their histogram bins from float32 values, power sums still in
    float64). Separations, r bins and counts are float64 in both, so the counts are the same.

    Returns ``(counts[nchunks, nb], wcounts[nchunks, nb], mom[nchunks, nb, NQ, nmax+1], hist[nchunks, nb, NH, nh])``.

    Eleven arguments: the two samples and the grid are grouped; the separation bins, moment order,
    histogram edges, the chunking, the quantity mask and the precision are the call's independent
    choices.
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
    rbin, hbin, flags = _options(r2edges, nmax, hedges, huni, want, auto, cells1.w, cells2.w)
    unitw = flags[1]
    mode = flags[2]
    wh = flags[8]
    hsym = hbin[4]
    # (namedtuples used inside the prange loop are built here by their class: Numba's parfor lowering
    # looks the class up from the defining call)
    v1x, v1y, v1z, v1sq = _components(cells1.vel)
    v2x, v2y, v2z, v2sq = _components(cells2.vel)
    p1 = _Particles(cells1.x, cells1.y, cells1.z, v1x, v1y, v1z, cells1.w, cells1.start, v1sq)
    p2 = _Particles(cells2.x, cells2.y, cells2.z, v2x, v2y, v2z, cells2.w, cells2.start, v2sq)
    nc = grid.nc
    r2min = r2edges[0]
    mi = grid.periodic and nc < 3
    # in range: r2lo <= r^2 < r2max, with r2lo > 0 (pairs at zero separation have no direction);
    # round-off margin of the pruning tests: particles sit inside their cell up to ~1e-12 cs
    wk = _Walk(nc, grid.ext, grid.box, 0.5 * grid.box, grid.periodic, mi, not mi, 1e-9 * grid.cs, grid.lo,
               grid.cs, r2min if r2min > 0.0 else 5e-324, r2edges[nb], auto, unitw, mode)
    for ch in prange(nchunks):
        scr, tb = _chunk_buffers(nb, qproto)
        acc = (counts[ch], wcounts[ch], mom[ch], hist[ch], hedge[ch])
        m = _walk_cells(bounds[ch], bounds[ch + 1], p1, p2, wk, tb, (scr, acc, rbin, hbin, flags))
        flush(m, scr, acc, rbin, hbin, flags)
    if wh and auto and hsym:
        _mirror_hist(hist, hedge, nh)
    return counts, wcounts, mom, np.ascontiguousarray(hist[:, :, :, :nh])


refresh_stale_cache(globals())   # callees in other files are compiled in: see gpu.jit
