"""numba.cuda softened direct sum: accelerations of an active set of targets from all sources.

The GPU twin of :func:`nbody._kernels.direct.direct_accel` (same signature and result): the pair
force and potential factors are the CPU kernels' own njit functions
:func:`~nbody._kernels.direct.spline_force_factor` and
:func:`~nbody._kernels.direct.spline_potential_factor` (GADGET's cubic-spline softening, Springel 2005,
MNRAS 364, 1105, eq. 4; pair softening max(h_i, h_j)), called from the kernel, so the formula is
written once. One thread per target; the sources are streamed through shared memory in tiles of
``TILE`` particles, each loaded once per block and then read by all its threads (Nyland, Harris &
Prins 2007, "Fast N-Body Simulation with CUDA", GPU Gems 3, ch. 31). Each thread sums the sources in
index order, as :func:`nbody._kernels.direct.direct_accel_sources` does, so on the CUDA simulator the
sums equal that kernel's; the CPU :func:`~nbody._kernels.direct.direct_accel` reassociates (fast-math)
and agrees to round-off.

Runs on a device or, with ``NUMBA_ENABLE_CUDASIM=1``, in numba's CUDA simulator; the device check
and transfers come from :mod:`gpu.cuda`.
"""
from __future__ import annotations

import numpy as np
from numba import cuda, float64  # ``cuda`` a module global: the CUDA simulator swaps it

from gpu.cuda import cuda_module, launch_config

from .direct import spline_force_factor, spline_potential_factor

#: sources per shared-memory tile = threads per block (5 float64 arrays: 5 kB of shared memory per block)
TILE = 128

#: floating-point operations counted per pair interaction (force only / force and potential), the
#: convention of the benchmark's FLOP rate: 3 sub + 5 for r^2 + max + sqrt + 1 div + 4 (r^-3, m f)
#: + 6 for the three multiply-adds; the potential adds a sqrt, a division and 2 operations. sqrt and
#: division count 1 each, as in Nyland et al. (2007), although in FP64 they take several instructions.
FLOPS_PER_PAIR = 20
FLOPS_PER_PAIR_POT = 24


@cuda.jit
def _gravity_kernel(targets, pos, mass, h, G, want_pot, acc, pot):
    sx = cuda.shared.array(TILE, float64)
    sy = cuda.shared.array(TILE, float64)
    sz = cuda.shared.array(TILE, float64)
    sm = cuda.shared.array(TILE, float64)
    sh = cuda.shared.array(TILE, float64)
    k = cuda.grid(1)
    tid = cuda.threadIdx.x
    nt = targets.shape[0]
    n = pos.shape[0]
    active = k < nt
    i = -1
    xi = 0.0
    yi = 0.0
    zi = 0.0
    hi = 0.0
    if active:
        i = targets[k]
        xi = pos[i, 0]
        yi = pos[i, 1]
        zi = pos[i, 2]
        hi = h[i]
    ax = 0.0
    ay = 0.0
    az = 0.0
    p = 0.0
    for start in range(0, n, TILE):
        j = start + tid
        if j < n:  # every thread of the block loads one source of the tile (coalesced)
            sx[tid] = pos[j, 0]
            sy[tid] = pos[j, 1]
            sz[tid] = pos[j, 2]
            sm[tid] = mass[j]
            sh[tid] = h[j]
        cuda.syncthreads()
        m = min(TILE, n - start)
        if active:
            for jj in range(m):
                if start + jj == i:
                    continue
                dx = sx[jj] - xi
                dy = sy[jj] - yi
                dz = sz[jj] - zi
                r2 = dx * dx + dy * dy + dz * dz
                hj = sh[jj]
                hij = hi if hi > hj else hj
                if r2 == 0.0 and hij == 0.0:
                    continue
                f = sm[jj] * spline_force_factor(r2, hij)
                ax += f * dx
                ay += f * dy
                az += f * dz
                if want_pot:
                    p -= sm[jj] * spline_potential_factor(r2, hij)
        cuda.syncthreads()  # the tile is overwritten only after every thread has used it
    if active:
        acc[k, 0] = G * ax
        acc[k, 1] = G * ay
        acc[k, 2] = G * az
        pot[k] = G * p


def gravity_accel_cuda(targets, pos, mass, h, G, want_pot):
    """Softened accelerations and potentials on particles ``targets`` from all particles, on the GPU.

    Same arguments and result as :func:`nbody._kernels.direct.direct_accel`: ``targets`` (int64
    indices), ``pos`` (N, 3), ``mass`` (N,), ``h`` (N,) spline radii (2.8 eps), ``G``, ``want_pot``;
    returns (acc (len(targets), 3), pot (len(targets),)) as host arrays; the potential excludes the self
    term and is zero when ``want_pot`` is false. Raises :class:`gpu.GPUUnavailableError` without a device
    or the simulator. Positions, masses and radii are copied to the device on every call (the drift runs
    on the host): 40 bytes per particle.
    """
    cuda_module()
    targets = np.ascontiguousarray(targets, dtype=np.int64)
    pos = np.ascontiguousarray(pos, dtype=np.float64)
    mass = np.ascontiguousarray(mass, dtype=np.float64)
    h = np.ascontiguousarray(h, dtype=np.float64)
    nt = len(targets)
    if nt == 0 or len(mass) == 0:
        return np.zeros((nt, 3)), np.zeros(nt)
    dt, dp, dm, dh = (cuda.to_device(a) for a in (targets, pos, mass, h))
    dacc = cuda.device_array((nt, 3), dtype=np.float64)
    dpot = cuda.device_array(nt, dtype=np.float64)
    blocks, threads = launch_config(nt, TILE)
    _gravity_kernel[blocks, threads](dt, dp, dm, dh, float(G), bool(want_pot), dacc, dpot)
    return dacc.copy_to_host(), dpot.copy_to_host()
