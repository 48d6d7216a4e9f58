"""numba.cuda pair engine: the CUDA twin of :func:`cosmo._kernels.pair_scan.pair_pass`.

Same pairs, same per-pair arithmetic, same binning functions as the CPU engine; only the order of
the additions into the accumulators differs (see "Exactness" below). The conventions (orientation
``r = x_j - x_i``, the label swap of auto pairs, the quantity index 0 u_L, 1 u_L', 2 Delta u_L,
3 Sigma u_L, 4 u_T, 5 Delta u_T) are those of :mod:`cosmo._kernels.pair_scan` and :mod:`cosmo.pairwise`
(Xu 2022, arXiv:2202.06515, sec. 2).

Work decomposition (one thread per particle looping over neighbour cells)
------------------------------------------------------------------------
The host builds the cell list of the CPU engine (:func:`cosmo.pairwise._prepare`: particles sorted
by cell, each cell sorted by z, ``start[c]:start[c+1]`` the particles of cell c). One thread takes
one particle i of sample 1 (consecutive threads hold consecutive particles, i.e. the same or
adjacent cells, so a warp walks the same neighbour ranges and its partner loads are broadcasts
from L1). The thread visits the neighbour columns (dx, dy) of its cell within ``ext`` cells -- for
auto pairs the half shell of the CPU walk, so that every unordered pair is met once and in the same
orientation (i in the lower cell) -- skips columns out of reach of the particle, and scans the
contiguous range of partners within ``|z_j - z_i| <= sqrt(r_max^2 - d_xy^2)`` (z-cells, then a
binary search in the first and last cell, which are sorted by z) (split where it wraps through the
periodic boundary, each piece with its constant image shift of +-box, as on the CPU; a periodic
grid with ``nc < 3`` uses the explicit minimum image :func:`_mi`). Pairs with
``r_min^2 <= r^2 < r_max^2``, ``r^2 > 0`` are binned in r by :func:`_r2_bin` (lookup table on r^2
plus exact comparisons with the squared edges) and their quantities added with atomics to a
per-block copy of the accumulator in shared memory, which is added to the global accumulator with
atomics at the end of the block. When the whole accumulator does not fit in :data:`SHARED_BYTES`,
only the counts and moments are kept in shared memory and the histograms (many bins, each rarely
hit by two threads at once) are updated in global memory directly; when even those do not fit,
everything is.

Exactness
---------
* The per-pair numbers are bit-identical to the CPU engine's: the separation is formed with the
  same image shift (``r = x_j - (x_i - s)``), the projections, ``|r| = sqrt(r^2)``, the transverse
  speeds and the power chains ``w x^n = (((w x) x) ...)`` are the same IEEE operations in the same
  order (tested under the CUDA simulator, tests/cosmo/test_cuda_pairs.py). On a device, products go
  through :data:`_mul` = ``__dmul_rn``, a multiplication the PTX ISA never contracts into a fused
  multiply-add (numba's CPU code does not contract either), and numba.cuda's division and square root
  are IEEE-rounded by default; whether a device reproduces the CPU's bits is checked by the test
  marked ``gpu`` (skipped without a device).
* Counts, unit-weight histograms and unit-weight ``weighted_counts`` are sums of small integers
  held in float64: every partial sum is an integer below 2^53, so any order of the atomic
  additions gives the exact result -- equal to the CPU's.
* Moments (and weighted histograms) are float64 atomic sums: their order is not fixed, so they
  differ from the CPU sums by round-off only. For a bin of ``n`` pairs, any summation order of
  terms ``t_k`` has error ``<= (n - 1) u sum |t_k|`` (u = 2^-53; Higham 2002, *Accuracy and
  Stability of Numerical Algorithms*, eq. 4.4), so two orders differ by at most twice that.

Cost per pair (for roofline estimates, :func:`work_per_pair`): a candidate costs its 3 coordinate
loads (24 B; the threads of a warp walk the same cells, so these are mostly shared) and 8 flops
(3 sub, 3 mul, 2 add) plus the range test; an in-range pair with all quantities, orders 1..8 and
histograms costs 35 flops for the quantities (2 projections, |r|, 2 divisions, 3 transverse speeds),
one multiplication per power of each of the 7 power chains (56) and 4 per histogram entry (28), and
65 atomic additions (count, weighted count, 56 powers, 7 histogram entries).
"""
from __future__ import annotations

import math

import numpy as np
from numba import cuda, float64

from gpu.cuda import simulator_enabled

from .cells import wrap_cell
from .pair_binning import NH, NQ, NTAB, _bin_index, _mi, _r2_bin, r2_table
from .pair_flush import MODE_COUNT, MODE_DU, MODE_L, MODE_T
from .pair_scan import ZWIN, _options

# the binning formulas are written once (cosmo._kernels.pair_binning); compiled here as device functions
_r2_bin_d = cuda.jit(device=True)(_r2_bin.py_func)
_bin_index_d = cuda.jit(device=True)(_bin_index.py_func)
_mi_d = cuda.jit(device=True)(_mi.py_func)
_wrap_cell_d = cuda.jit(device=True)(wrap_cell.py_func)

if simulator_enabled():
    @cuda.jit(device=True)
    def _mul(a, b):
        """``a * b`` (the simulator runs Python floats: IEEE products, never fused)."""
        return a * b
else:  # pragma: no cover - needs a device
    from numba.cuda import libdevice

    #: ``a * b`` rounded on its own (``__dmul_rn``): never contracted into an FMA, as on the CPU
    _mul = libdevice.dmul_rn

#: threads per block (one particle each)
THREADS = 128
#: shared memory for the per-block accumulator (the default limit without opt-in)
SHARED_BYTES = 48 * 1024
#: layout of ``fpar`` / ``ipar`` (kernel parameters packed in two small arrays)
_FP_BOX, _FP_CS, _FP_LOX, _FP_LOY, _FP_LOZ, _FP_TINV, _FP_R2LO, _FP_HLO, _FP_HINV = range(9)
(_IP_NC, _IP_EXT, _IP_PER, _IP_AUTO, _IP_MODE, _IP_NMAX, _IP_WL, _IP_WD, _IP_WS, _IP_WT, _IP_WH, _IP_WHD,
 _IP_UNITW, _IP_ILO, _IP_IHI, _IP_NSH, _IP_HUNI, _IP_NB) = range(18)


def acc_layout(nb, nmax, nh):
    """Flat accumulator: per r bin ``[count, wcount, mom[NQ][nmax+1]]`` (stride ``sc``) for all bins,
    then the histograms ``hist[nb][NH][nh]`` from offset ``nb * sc``. Returns ``(sc, total)``."""
    sc = 2 + NQ * (max(nmax, 0) + 1)
    return sc, nb * sc + nb * NH * nh


@cuda.jit(device=True)
def _add(sacc, acc, nsh, k, v):
    """``acc[k] += v`` atomically: entries below ``nsh`` live in the block's shared copy ``sacc``."""
    if k < nsh:
        cuda.atomic.add(sacc, k, v)
    else:
        cuda.atomic.add(acc, k, v)


@cuda.jit(device=True)
def _chain(sacc, acc, nsh, base, x, w, nmax):
    """``acc[base + n] += w x^n`` for n = 1..nmax, the product chain of the CPU's ``_psum``."""
    p = w
    for n in range(1, nmax + 1):
        p = _mul(p, x)
        _add(sacc, acc, nsh, base + n, p)


@cuda.jit(device=True)
def _hist_add(sacc, acc, nsh, base, x, w, hedges, huni, hlo, hinv):
    h = _bin_index_d(x, hedges, huni, hlo, hinv)
    if h >= 0:
        _add(sacc, acc, nsh, base + h, w)


@cuda.jit(device=True)
def _add_pair(sacc, acc, nsh, b, r2, rx, ry, rz, w, vxi, vyi, vzi, vsi, P2, j, hedges, fpar, ipar):
    """Accumulate one in-range pair in r bin ``b``: the quantities of ``pair_flush._project`` and
    ``pair_flush._quantities`` (same operations).
    Sixteen arguments: the accumulators (shared, global, split), the pair and the packed parameters."""
    nb = ipar[_IP_NB]
    nh = hedges.shape[0] - 1
    if nh < 1:
        nh = 1
    nmax = ipar[_IP_NMAX]
    auto = ipar[_IP_AUTO] != 0
    mode = ipar[_IP_MODE]
    nm1 = nmax + 1
    base = b * (2 + NQ * nm1)
    _add(sacc, acc, nsh, base, 1.0)
    _add(sacc, acc, nsh, base + 1, w)
    if mode == MODE_COUNT:
        return
    mb = base + 2
    hb = nb * (2 + NQ * nm1) + b * NH * nh
    huni = ipar[_IP_HUNI] != 0
    hlo = fpar[_FP_HLO]
    hinv = fpar[_FP_HINV]
    w2h = 2.0 * w if auto else w
    if mode == MODE_DU:
        a = _mul(P2[3, j] - vxi, rx) + _mul(P2[4, j] - vyi, ry) + _mul(P2[5, j] - vzi, rz)
        du = a / math.sqrt(r2)
        if ipar[_IP_WD] != 0:
            _chain(sacc, acc, nsh, mb + 2 * nm1, du, w, nmax)
        if ipar[_IP_WHD] != 0:
            _hist_add(sacc, acc, nsh, hb + 2 * nh, du, w2h, hedges, huni, hlo, hinv)
        return
    v2x = P2[3, j]
    v2y = P2[4, j]
    v2z = P2[5, j]
    a = _mul(vxi, rx) + _mul(vyi, ry) + _mul(vzi, rz)
    c = _mul(v2x, rx) + _mul(v2y, ry) + _mul(v2z, rz)
    r = math.sqrt(r2)
    ul = a / r
    ulp = c / r
    du = ulp - ul
    su = ulp + ul
    sgn = -1.0 if auto else 1.0
    if ipar[_IP_WL] != 0:
        _chain(sacc, acc, nsh, mb, ul, w, nmax)
        _chain(sacc, acc, nsh, mb if auto else mb + nm1, sgn * ulp, w, nmax)
    if ipar[_IP_WD] != 0:
        _chain(sacc, acc, nsh, mb + 2 * nm1, du, w, nmax)
    if ipar[_IP_WS] != 0:
        _chain(sacc, acc, nsh, mb + 3 * nm1, su, w, nmax)
    if mode == MODE_T and ipar[_IP_WT] != 0:
        dvx = v2x - vxi
        dvy = v2y - vyi
        dvz = v2z - vzi
        fd = _mul(dvx, dvx) + _mul(dvy, dvy) + _mul(dvz, dvz)
        _chain(sacc, acc, nsh, mb + 4 * nm1, math.sqrt(max(vsi - _mul(ul, ul), 0.0)), w, nmax)
        if auto:
            _chain(sacc, acc, nsh, mb + 4 * nm1, math.sqrt(max(P2[7, j] - _mul(ulp, ulp), 0.0)), w, nmax)
        _chain(sacc, acc, nsh, mb + 5 * nm1, math.sqrt(max(fd - _mul(du, du), 0.0)), w, nmax)
    if ipar[_IP_WHD] != 0:
        _hist_add(sacc, acc, nsh, hb + 2 * nh, du, w2h, hedges, huni, hlo, hinv)
    if ipar[_IP_WH] != 0:
        # both orientations of an auto pair: (u_L, u_L', Sigma) and (-u_L', -u_L, -Sigma); Delta u_L twice
        _hist_add(sacc, acc, nsh, hb, ul, w, hedges, huni, hlo, hinv)
        _hist_add(sacc, acc, nsh, hb + nh, ulp, w, hedges, huni, hlo, hinv)
        _hist_add(sacc, acc, nsh, hb + 3 * nh, su, w, hedges, huni, hlo, hinv)
        _hist_add(sacc, acc, nsh, hb + 2 * nh, du, w2h, hedges, huni, hlo, hinv)
        if auto:
            _hist_add(sacc, acc, nsh, hb, -ulp, w, hedges, huni, hlo, hinv)
            _hist_add(sacc, acc, nsh, hb + nh, -ul, w, hedges, huni, hlo, hinv)
            _hist_add(sacc, acc, nsh, hb + 3 * nh, -su, w, hedges, huni, hlo, hinv)


@cuda.jit(device=True)
def _zwindow(P2, start2, cfirst, clast, ja, jb, zlo, zhi):
    """The partners ``ja <= j < jb`` (cells ``cfirst..clast`` of one column) with ``zlo <= z_j <= zhi``:
    binary search in the first and the last cell, each sorted by z (as ``pair_pass``)."""
    p0 = ja
    n0 = start2[cfirst + 1] - ja
    while n0 > 0:
        h2 = n0 >> 1
        if P2[2, p0 + h2] < zlo:
            p0 += h2 + 1
            n0 -= h2 + 1
        else:
            n0 = h2
    p1 = start2[clast]
    n1 = jb - p1
    while n1 > 0:
        h2 = n1 >> 1
        if P2[2, p1 + h2] <= zhi:
            p1 += h2 + 1
            n1 -= h2 + 1
        else:
            n1 = h2
    return p0, p1


@cuda.jit(device=True)
def _scan(i, ja, jb, xi, yi, zi, vsi, P1, P2, r2edges, tab, hedges, fpar, ipar, sacc, acc, nsh):
    """Pairs (i, j) for the partners ``ja <= j < jb`` seen from the image ``(xi, yi, zi)`` of particle i:
    ``r = x_j - x_i`` (explicit minimum image on a periodic grid of fewer than 3 cells), in range ->
    :func:`_add_pair`. Seventeen arguments: the range, the image, and what :func:`_walk` received."""
    box = fpar[_FP_BOX]
    half = 0.5 * box
    tinv = fpar[_FP_TINV]
    r2lo = fpar[_FP_R2LO]
    r2max = r2edges[r2edges.shape[0] - 1]
    mi = ipar[_IP_PER] != 0 and ipar[_IP_NC] < 3
    unitw = ipar[_IP_UNITW] != 0
    wi = P1[6, i]
    vxi = P1[3, i]
    vyi = P1[4, i]
    vzi = P1[5, i]
    for j in range(ja, jb):
        if mi:
            rx = _mi_d(P2[0, j] - xi, box, half)
            ry = _mi_d(P2[1, j] - yi, box, half)
            rz = _mi_d(P2[2, j] - zi, box, half)
        else:
            rx = P2[0, j] - xi
            ry = P2[1, j] - yi
            rz = P2[2, j] - zi
        r2 = _mul(rx, rx) + _mul(ry, ry) + _mul(rz, rz)
        if r2 < r2max and r2 >= r2lo:
            b = _r2_bin_d(r2, r2edges, tab, tinv)
            w = 1.0 if unitw else _mul(wi, P2[6, j])
            _add_pair(sacc, acc, nsh, b, r2, rx, ry, rz, w, vxi, vyi, vzi, vsi, P2, j, hedges, fpar, ipar)


@cuda.jit(device=True)
def _zcells(xu, yu, zu, dx, dy, bxlo, bylo, k0, k1, r2max, fpar):
    """z-cells ``k0..k1`` of the column at offset (dx, dy) (lower corner ``bxlo, bylo``) that can hold a
    partner of the particle at ``(xu, yu, zu)``, and the half-width ``dzr`` of its z-window: from its
    distance to the column in x and y, with the CPU walk's conservative 1e-9 round-off margins.
    ``k0 > k1``: the column is out of reach.
    Many arguments: a CUDA kernel takes device arrays and scalars (no objects on the device).
    """
    cs = fpar[_FP_CS]
    tol = 1e-9 * cs
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
        return 1, 0, 0.0
    dzr = math.sqrt(rem) * (1.0 + 1e-9) + tol
    k0 = max(k0, int(math.floor((zu - dzr - fpar[_FP_LOZ]) / cs)))
    k1 = min(k1, int(math.floor((zu + dzr - fpar[_FP_LOZ]) / cs)))
    return k0, k1, dzr


@cuda.jit(device=True)
def _walk(i, P1, cell1, P2, start2, r2edges, tab, hedges, fpar, ipar, sacc, acc, nsh):
    """All partners j of particle i: the neighbour walk of ``pair_pass`` (columns in reach, their
    z-cells split where they wrap, the exact z-window) with one thread per particle and no buffers.
    Thirteen arguments: the kernel's ten plus the particle index and the shared accumulator with
    its length."""
    box = fpar[_FP_BOX]
    cs = fpar[_FP_CS]
    nc = ipar[_IP_NC]
    ext = ipar[_IP_EXT]
    periodic = ipar[_IP_PER] != 0
    auto = ipar[_IP_AUTO] != 0
    r2max = r2edges[r2edges.shape[0] - 1]
    mi = periodic and nc < 3
    prune = not mi
    tol = 1e-9 * cs
    dzr = 0.0
    c = cell1[i]
    ix = c // (nc * nc)
    iy = (c // nc) % nc
    iz = c % nc
    xu = P1[0, i]
    yu = P1[1, i]
    zu = P1[2, i]
    vsi = _mul(P1[3, i], P1[3, i]) + _mul(P1[4, i], P1[4, i]) + _mul(P1[5, i], P1[5, i])
    for dx in range(-ext, ext + 1):
        if auto and dx < 0:
            continue
        gx = max(abs(dx) - 1, 0) * cs
        jx, sx, inside = _wrap_cell_d(ix + dx, nc, box, periodic)
        if not inside:
            continue
        bxlo = fpar[_FP_LOX] + (ix + dx) * cs
        for dy in range(-ext, ext + 1):
            if auto and dx == 0 and dy < 0:
                continue
            gy = max(abs(dy) - 1, 0) * cs
            if prune and gx * gx + gy * gy > r2max * (1.0 + 1e-9) + tol:
                continue
            jy, sy, inside = _wrap_cell_d(iy + dy, nc, box, periodic)
            if not inside:
                continue
            bylo = fpar[_FP_LOY] + (iy + dy) * cs
            colbase = (jx * nc + jy) * nc
            own = auto and dx == 0 and dy == 0
            k0 = iz if own else iz - ext
            k1 = iz + ext
            if prune:
                k0, k1, dzr = _zcells(xu, yu, zu, dx, dy, bxlo, bylo, k0, k1, r2max, fpar)
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
                    ja, jb = _zwindow(P2, start2, colbase + a, colbase + bb, ja, jb, zi - dzr, zi + dzr)
                if own and seg == 1:
                    ja = max(ja, i + 1)
                _scan(i, ja, jb, xi, yi, zi, vsi, P1, P2, r2edges, tab, hedges, fpar, ipar, sacc, acc, nsh)


@cuda.jit
def _pair_kernel(P1, cell1, P2, start2, r2edges, tab, hedges, fpar, ipar, acc):
    """One thread per particle ``ipar[_IP_ILO] + grid index`` of sample 1. The first
    ``ipar[_IP_NSH]`` accumulator entries (counts and moments, plus the histograms when they fit) are
    summed per block in dynamic shared memory and added to ``acc`` with atomics at the end; the rest
    go to ``acc`` with atomics directly. Ten arguments: the particle data of each sample is packed in
    one (rows, N) array and the scalars in ``fpar``/``ipar``."""
    sacc = cuda.shared.array(0, float64)
    nsh = ipar[_IP_NSH]
    tid = cuda.threadIdx.x
    nthr = cuda.blockDim.x
    for k in range(tid, nsh, nthr):
        sacc[k] = 0.0
    cuda.syncthreads()
    i = ipar[_IP_ILO] + cuda.grid(1)
    if i < ipar[_IP_IHI]:
        _walk(i, P1, cell1, P2, start2, r2edges, tab, hedges, fpar, ipar, sacc, acc, nsh)
    cuda.syncthreads()
    for k in range(tid, nsh, nthr):
        v = sacc[k]
        if v != 0.0:
            cuda.atomic.add(acc, k, v)


def pair_pass_cuda(cells1, cells2, grid, auto, r2edges, nmax, hedges, huni, bounds, want):
    """CUDA twin of :func:`cosmo._kernels.pair_scan.pair_pass` (same arguments, same returned raw sums,
    with a chunk axis of length 1): ``(counts[1, nb], wcounts[1, nb], mom[1, nb, NQ, nmax+1],
    hist[1, nb, NH, nh])`` for the i-cells ``bounds[0] <= c < bounds[-1]``. Needs a CUDA device or the
    simulator (:func:`gpu.cuda.cuda_module`). The ``want`` bits are read by the CPU pass's own
    :func:`cosmo._kernels.pair_scan._options`, so both engines choose the same mode."""
    from gpu.cuda import cuda_module

    cuda_module()
    x1, y1, z1, vel1, w1, start1 = cells1
    x2, y2, z2, vel2, w2, start2 = cells2
    nc, ext, box, periodic, lo, cs = grid
    nb = r2edges.shape[0] - 1
    nh = max(hedges.shape[0] - 1, 1)
    nm = max(int(nmax), 0)
    sc, nacc = acc_layout(nb, nm, nh)
    _, _, (_, _, mode, _, wl, wd, ws, wt, wh, whd) = _options(r2edges, nm, hedges, huni, int(want), auto, w1, w2)
    unitw = bool(np.all(w1 == 1.0) and np.all(w2 == 1.0))
    tab = r2_table(r2edges)
    r2max = float(r2edges[nb])
    r2min = float(r2edges[0])
    hinv = 0.0
    if hedges.shape[0] > 1:
        hinv = (hedges.shape[0] - 1) / (hedges[-1] - hedges[0])
    fpar = np.array([box, cs, lo[0], lo[1], lo[2], NTAB / r2max, r2min if r2min > 0.0 else 5e-324,
                     hedges[0], hinv], dtype=np.float64)
    ilo, ihi = int(start1[bounds[0]]), int(start1[bounds[-1]])
    # per-block shared copy: everything if it fits, else the counts and moments (histograms in global memory)
    nsh = nacc if nacc * 8 <= SHARED_BYTES else (nb * sc if nb * sc * 8 <= SHARED_BYTES else 0)
    ipar = np.array([nc, ext, periodic, auto, mode, nm, wl, wd, ws, wt, wh, whd, unitw, ilo, ihi, nsh, huni, nb],
                    dtype=np.int64)
    # SoA particle arrays (rows contiguous): x, y, z, vx, vy, vz, w (sample 2 also |v|^2, as the CPU's v2sq)
    P1 = np.ascontiguousarray(np.vstack([x1, y1, z1, vel1[:, 0], vel1[:, 1], vel1[:, 2], w1]))
    v2x, v2y, v2z = vel2[:, 0], vel2[:, 1], vel2[:, 2]
    P2 = np.ascontiguousarray(np.vstack([x2, y2, z2, v2x, v2y, v2z, w2, v2x * v2x + v2y * v2y + v2z * v2z]))
    cell1 = np.repeat(np.arange(len(start1) - 1, dtype=np.int64), np.diff(start1))
    acc = np.zeros(nacc)
    if ihi > ilo:
        d = [cuda.to_device(np.ascontiguousarray(a)) for a in
             (P1, cell1, P2, np.asarray(start2, np.int64), r2edges, tab, hedges, fpar, ipar, acc)]
        blocks = (ihi - ilo + THREADS - 1) // THREADS
        _pair_kernel[blocks, THREADS, 0, nsh * 8](*d)
        cuda.synchronize()
        acc = d[-1].copy_to_host()
    core = acc[:nb * sc].reshape(nb, sc)
    counts = core[None, :, 0].copy()
    wcounts = core[None, :, 1].copy()
    mom = core[None, :, 2:].reshape(1, nb, NQ, nm + 1).copy()
    hist = acc[nb * sc:].reshape(1, nb, NH, nh).copy()
    return counts, wcounts, mom, hist


def work_per_pair(quantities, nmax, pdf, auto=True):
    """Operation counts per in-range pair of this kernel, for roofline estimates:
    ``{"flops", "atomics", "bytes"}``. ``quantities``: the names of :data:`cosmo.pairwise.QUANTITIES`
    accumulated; ``pdf``: None, ``"du_L"`` (the Delta u_L histogram alone) or ``"all"``.

    Flops count every add, multiply, divide and square root as one: the quantities (Delta u_L only:
    one projection, |r| and a division, 10; longitudinal: two projections, |r|, two divisions and the
    sum and difference, 15; with transverse speeds 20 more) and one multiplication per power (the
    chain ``w x^n``) for each accumulated series. Atomics: count, weighted count, one per power and
    one per histogram entry (shared memory, histograms in global memory when they do not fit).
    Bytes: the partner's velocity, weight and ``|v|^2`` read for an in-range pair (32 B, from L1/L2:
    a warp's threads share their partners). Each *candidate* costs another 8 flops and 24 B (its
    position, the r^2 test) and is not included.
    """
    q = set(quantities) if nmax > 0 else set()  # no orders: no moments (the kernel's count mode)
    lon = bool(q & {"u_L", "u_L'"})
    tra = bool(q & {"u_T", "du_T"})
    nchain = 2 * lon + ("du_L" in q) + ("su_L" in q) + ((3 if auto else 2) if tra else 0)
    if not (lon or tra or "su_L" in q or pdf == "all"):
        qflops = 10 if ("du_L" in q or pdf == "du_L") else 0
    else:
        qflops = 15 + (20 if tra else 0)
    nhist = {None: 0, "du_L": 1, "all": 7 if auto else 4}[pdf]
    return {"flops": qflops + nchain * nmax + 4 * nhist, "atomics": 2 + nchain * nmax + nhist,
            "bytes": 32 if qflops else 8}
