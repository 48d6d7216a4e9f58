"""Direct-summation gravity with GADGET's cubic-spline softening (Numba).

Plain float64 arrays in G=1 internal units; ``h`` is the spline support radius
(h = 2.8 eps, Plummer-equivalent softening eps). Pair softening uses
max(h_i, h_j) as GADGET does. See :mod:`nbody.softening` for the formulas.
"""
from __future__ import annotations

import math
import os

# Numba's OpenMP threading layer lets idle workers spin after every parallel region; on a shared,
# oversubscribed machine (2 cores, many processes) that spinning steals the main thread's CPU and made
# the many small serial steps of a hierarchical-timestep run 10-20x slower. Passive waiting costs a few
# microseconds per parallel launch. Only a default: a user's setting wins; it takes effect if no
# parallel kernel has started the OpenMP runtime yet.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba  # noqa: E402
import numpy as np  # noqa: E402
from llvmlite import ir  # noqa: E402
from numba import njit, prange  # noqa: E402
from numba.core import types  # noqa: E402
from numba.extending import intrinsic  # noqa: E402

from gpu.jit import refresh_stale_cache  # noqa: E402


@intrinsic
def _f64_bits(typingctx, x):
    """The bits of a float64 as an int64 (an LLVM bitcast, vectorisable)."""
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def _bits_f64(typingctx, x):
    """The float64 whose bits are the int64 ``x`` (an LLVM bitcast, vectorisable)."""
    if x != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


#: first guess of 1/sqrt(x) from the bits of x (Lomont 2003, "Fast inverse square root", the float64
#: constant of his sec. 5; relative error < 3.5 %)
_RSQRT_MAGIC = 0x5FE6EB50C7B537A9


@njit(cache=True, inline="always")
def rsqrt(x):
    """1/sqrt(x) for a normal float64 x > 0 (x >= 2.2250738585072014e-308) without a square root or a
    division: Lomont's (2003) bit-shift first guess (error < 3.5e-2), then four Newton-Raphson steps
    y <- y (3/2 - x y^2 / 2), each squaring the relative error (3.5e-2 -> 1.8e-3 -> 5e-6 -> 4e-11 ->
    round-off). Measured over x = 1e-300 ... 1e300 and 0.5 ... 4 (2e6 values,
    ``tests/nbody/test_direct_kernel.py``): at most 4e-16 relative from 1/sqrt (about 2 ulp), mean 7e-17.

    Why: square root and division share one unpipelined divider unit on x86 cores; a loop of
    1/sqrt runs at ~8e8 per second per core there, this (multiplies and FMAs only) at ~2e9 vectorised.
    Zero, subnormal, negative, inf and nan inputs are not supported (the callers mask them).
    """
    y = _bits_f64(_RSQRT_MAGIC - (_f64_bits(x) >> 1))
    hx = 0.5 * x
    y = y * (1.5 - hx * y * y)
    y = y * (1.5 - hx * y * y)
    y = y * (1.5 - hx * y * y)
    return y * (1.5 - hx * y * y)


@njit(cache=True, inline="always")
def spline_force_factor(r2, h):
    """f(r) such that the acceleration is -G m f(r) r_vec (Springel 2005, eq. 4 kernel)."""
    r = math.sqrt(r2)  # math, not np: the CUDA target types math.sqrt only (same llvm.sqrt on the CPU)
    if r >= h:
        return 1.0 / (r2 * r)
    hinv = 1.0 / h
    u = r * hinv
    h3 = hinv * hinv * hinv
    if u < 0.5:
        return h3 * (10.666666666666666 + u * u * (32.0 * u - 38.4))
    return h3 * (21.333333333333333 - 48.0 * u + 38.4 * u * u - 10.666666666666666 * u * u * u
                 - 0.06666666666666667 / (u * u * u))


@njit(cache=True, inline="always")
def spline_potential_factor(r2, h):
    """g(r) such that the potential is -G m g(r) (g = 1/r for r >= h; g(0) = 2.8/h = 1/eps)."""
    r = math.sqrt(r2)  # math, not np: the CUDA target types math.sqrt only (same llvm.sqrt on the CPU)
    if r >= h:
        return 1.0 / r
    hinv = 1.0 / h
    u = r * hinv
    if u < 0.5:
        return hinv * (2.8 - u * u * (5.333333333333333 - u * u * (9.6 - 6.4 * u)))
    return hinv * (3.2 - 0.06666666666666667 / u
                   - u * u * (10.666666666666666 - u * (16.0 - u * (9.6 - 2.1333333333333333 * u))))


#: sources per chunk of :func:`direct_accel`: x, y, z, m of 256 sources (8 kB) stay in the L1 cache while a
#: block of targets sweeps them. N = 1e6, 400 targets, one thread, pairs per CPU-second: chunk 256 / 512 /
#: 2048 with 32 targets per block 7.2e8 / 7.0e8 / 6.9e8, with 8 targets 5.9e8 / 6.0e8 / 6.3e8.
DIRECT_CHUNK = 256
#: most targets per block of :func:`direct_accel` (one sweep over the source chunks per block, see above)
DIRECT_TBLOCK = 32
#: smallest normal double: the squared distance below which a pair of zero softening is not summed as
#: Newtonian (r = 0 is then skipped by the softened pass, as an unsoftened coincident pair has no force)
_DBL_MIN = 2.2250738585072014e-308


@njit(cache=True, inline="always", fastmath={"reassoc", "contract", "nsz", "arcp"}, error_model="numpy")
def newtonian_chunk(xs, ys, zs, ms, near, xi, yi, zi, H2):
    """Newtonian sum (ax, ay, az, pot, n_near) / G over one chunk of sources for the target (xi, yi, zi):
    a = sum m r_vec / r^3, pot = -sum m / r over the pairs with r^2 >= ``H2``; a pair closer than that sets
    ``near[j] = 1`` (else 0) and is left to :func:`softened_chunk`.

    ``H2`` = max(h_i, max_j h_j)^2 (and at least the smallest normal double): beyond the largest spline
    support of the chunk every pair is exactly Newtonian (Springel 2005, eq. 4), so the loop has no
    softening branch, reads no h, and LLVM vectorises it (FMAs on ymm; 1/r by :func:`rsqrt`, without
    the divider). Lanes of near pairs use r^2 = 1 and mass 0, so no inf/nan reaches the sums; fast-math
    here is reassociation (the vectorised sum: a different summation order, round-off only), contraction
    (FMA), signed zeros and reciprocals, never nnan/ninf. ``error_model="numpy"``: no zero-division
    check in the loop.
    """
    ax = 0.0
    ay = 0.0
    az = 0.0
    p = 0.0
    nnear = 0.0
    for j in range(xs.shape[0]):
        dx = xs[j] - xi
        dy = ys[j] - yi
        dz = zs[j] - zi
        r2 = dx * dx + dy * dy + dz * dz
        far = r2 >= H2
        rinv = rsqrt(r2 if far else 1.0)
        mr = ms[j] * rinv if far else 0.0
        f = mr * rinv * rinv
        ax += f * dx
        ay += f * dy
        az += f * dz
        p -= mr
        w = 0.0 if far else 1.0
        near[j] = w
        nnear += w
    return ax, ay, az, p, nnear


@njit(cache=True, inline="always")
def softened_chunk(j0, near, i, xi, yi, zi, hi, x, y, z, mass, h, want_pot):
    """(ax, ay, az, pot) / G of the pairs :func:`newtonian_chunk` flagged as near (``near[j - j0] = 1``):
    :func:`spline_force_factor` and :func:`spline_potential_factor` with the pair support max(h_i, h_j)
    (Newtonian where r >= h); the self pair (index ``i``) and unsoftened coincident pairs are skipped.

    Thirteen arguments: the chunk's offset and flags, the target's scalars, the source arrays; inlined.
    """
    ax = 0.0
    ay = 0.0
    az = 0.0
    p = 0.0
    for jj in range(near.shape[0]):
        j = j0 + jj
        if near[jj] == 0.0 or j == i:
            continue
        dx = x[j] - xi
        dy = y[j] - yi
        dz = z[j] - zi
        r2 = dx * dx + dy * dy + dz * dz
        hij = hi if hi > h[j] else h[j]
        if r2 == 0.0 and hij == 0.0:  # unsoftened coincident pair: no defined force
            continue
        f = mass[j] * spline_force_factor(r2, hij)
        ax += f * dx
        ay += f * dy
        az += f * dz
        if want_pot:
            p -= mass[j] * spline_potential_factor(r2, hij)
    return ax, ay, az, p


def direct_accel(targets, pos, mass, h, G, want_pot):
    """Accelerations (and potentials) on particles ``targets`` from all particles (softened).

    Self-interaction is skipped by index. Returns (acc[len(targets),3], pot[len(targets)]); ``pot`` is zero
    unless ``want_pot``. The potential excludes the self term (GADGET adds -G m_i g(0) separately, we do not).

    Same pair force as :func:`spline_force_factor` / :func:`spline_potential_factor` (Springel 2005 eq. 4),
    split by distance: the sources are cut into chunks of :data:`DIRECT_CHUNK`; for each target and chunk
    the pairs beyond the chunk's largest spline support are summed Newtonian in a vectorised loop
    (:func:`newtonian_chunk`) and the few within it by the spline (:func:`softened_chunk`, only for chunks
    that hold such a pair). Blocks of up to :data:`DIRECT_TBLOCK` targets sweep the chunks together
    (a chunk is read from memory once per block, then from L1). A target's sum runs over the chunks in
    index order, whatever the block, so its result does not depend on the other targets or the thread
    count; it agrees with the index-order sum of :func:`direct_accel_sources` to round-off (the
    vectorised reassociation).

    Compiled with the fast-math flags of :func:`newtonian_chunk` (Numba inlines the callee's IR, which
    then takes the caller's flags); the softened pass has no inf/nan either.
    """
    # blocks: at most DIRECT_TBLOCK targets, and at least ~4 blocks per thread for small target sets
    tb = max(1, min(DIRECT_TBLOCK, len(targets) // (4 * numba.get_num_threads())))
    return _direct_accel(targets, pos, mass, h, G, want_pot, tb)


@njit(parallel=True, cache=True, fastmath={"reassoc", "contract", "nsz", "arcp"}, error_model="numpy")
def _direct_accel(targets, pos, mass, h, G, want_pot, tb):
    """:func:`direct_accel` with ``tb`` targets per block."""
    nt = targets.shape[0]
    n = pos.shape[0]
    x = np.ascontiguousarray(pos[:, 0])
    y = np.ascontiguousarray(pos[:, 1])
    z = np.ascontiguousarray(pos[:, 2])
    nch = (n + DIRECT_CHUNK - 1) // DIRECT_CHUNK
    hc = np.zeros(nch)  # largest support per chunk
    for j in range(n):
        c = j // DIRECT_CHUNK
        if h[j] > hc[c]:
            hc[c] = h[j]
    # np.empty, zeroed per block below: np.zeros would be a parallel region of its own, and every extra
    # region costs a wake-up of the thread pool (measured: 2 threads, N = 1e4, 2000 targets, the CPU time
    # per call doubled on a loaded machine)
    acc = np.empty((nt, 3))
    pot = np.empty(nt)
    nb = (nt + tb - 1) // tb
    for b in prange(nb):
        near = np.empty(DIRECT_CHUNK)
        for k in range(b * tb, min(nt, (b + 1) * tb)):
            acc[k, 0] = 0.0
            acc[k, 1] = 0.0
            acc[k, 2] = 0.0
            pot[k] = 0.0
        for c in range(nch):
            j0 = c * DIRECT_CHUNK
            j1 = min(n, j0 + DIRECT_CHUNK)
            for k in range(b * tb, min(nt, (b + 1) * tb)):
                i = targets[k]
                xi = x[i]
                yi = y[i]
                zi = z[i]
                hi = h[i]
                H = hi if hi > hc[c] else hc[c]
                H2 = max(H * H, _DBL_MIN)
                nb_ = near[:j1 - j0]
                ax, ay, az, p, nnear = newtonian_chunk(x[j0:j1], y[j0:j1], z[j0:j1], mass[j0:j1], nb_, xi, yi, zi,
                                                       H2)
                if nnear > 0.0:
                    sx, sy, sz, sp = softened_chunk(j0, nb_, i, xi, yi, zi, hi, x, y, z, mass, h, want_pot)
                    ax += sx
                    ay += sy
                    az += sz
                    p += sp
                acc[k, 0] += ax
                acc[k, 1] += ay
                acc[k, 2] += az
                if want_pot:
                    pot[k] += p
        for k in range(b * tb, min(nt, (b + 1) * tb)):
            acc[k, 0] *= G
            acc[k, 1] *= G
            acc[k, 2] *= G
            pot[k] *= G
    return acc, pot


@njit(parallel=True, cache=True)
def direct_accel_sources(tpos, th, spos, smass, sh, G, want_pot, skip_self):
    """Softened accelerations at positions ``tpos`` from the source set ``spos``.

    ``skip_self``: index array of length len(tpos) giving the source index to skip (-1: none).
    Used for the internal softened forces of a KETJU region (subset-on-subset sums).
    """
    nt = tpos.shape[0]
    ns = spos.shape[0]
    acc = np.zeros((nt, 3))
    pot = np.zeros(nt)
    for k in prange(nt):
        ax = 0.0
        ay = 0.0
        az = 0.0
        p = 0.0
        for j in range(ns):
            if j == skip_self[k]:
                continue
            dx = spos[j, 0] - tpos[k, 0]
            dy = spos[j, 1] - tpos[k, 1]
            dz = spos[j, 2] - tpos[k, 2]
            r2 = dx * dx + dy * dy + dz * dz
            hij = th[k] if th[k] > sh[j] else sh[j]
            if r2 == 0.0 and hij == 0.0:
                continue
            f = smass[j] * spline_force_factor(r2, hij)
            ax += f * dx
            ay += f * dy
            az += f * dz
            if want_pot:
                p -= smass[j] * spline_potential_factor(r2, hij)
        acc[k, 0] = G * ax
        acc[k, 1] = G * ay
        acc[k, 2] = G * az
        pot[k] = G * p
    return acc, pot


# ----------------------------------------------------------------------------------------------
# plain N^2 force kernel (absolute coordinates, unsoftened), CPU twin of nbody._kernels.cuda_newton
# ----------------------------------------------------------------------------------------------
@njit(cache=True, parallel=True)
def newton_accelerations(pos, mass):
    """(accelerations (N, 3), potentials (N,)) of N point masses, G = 1; one parallel loop over bodies."""
    return newton_accelerations_rows(pos, mass, 0, pos.shape[0])


@njit(cache=True, parallel=True)
def newton_accelerations_rows(pos, mass, lo, hi):
    """Rows lo..hi-1 of the N^2 accelerations/potentials (zeros elsewhere): the block of one MPI rank.

    Each row is summed over all j in index order, so the rows do not depend on the
    decomposition and an Allreduce of the blocks equals the serial result bitwise.
    """
    n = pos.shape[0]
    acc = np.zeros((n, 3))
    pot = np.zeros(n)
    for i in prange(lo, hi):
        ax = 0.0
        ay = 0.0
        az = 0.0
        p = 0.0
        for j in range(n):
            if j != i:
                dx = pos[j, 0] - pos[i, 0]
                dy = pos[j, 1] - pos[i, 1]
                dz = pos[j, 2] - pos[i, 2]
                r2 = dx * dx + dy * dy + dz * dz
                inv = 1.0 / math.sqrt(r2)
                inv3 = inv * inv * inv
                ax += mass[j] * dx * inv3
                ay += mass[j] * dy * inv3
                az += mass[j] * dz * inv3
                p -= mass[j] * inv
        acc[i, 0] = ax
        acc[i, 1] = ay
        acc[i, 2] = az
        pot[i] = p
    return acc, pot


refresh_stale_cache(globals())   # callees in other files are compiled in: see gpu.jit
