"""numba.cuda twin of the N^2 Newtonian force kernel (G = 1): one thread per body.

Same signature and arithmetic as :func:`nbody._kernels.direct.newton_accelerations`
(per-body sums over all other bodies, unsoftened point masses). Runs on a CUDA
device or, with ``NUMBA_ENABLE_CUDASIM=1``, in numba's CUDA simulator; launch
configuration and the device check come from :mod:`gpu.cuda`.
"""
from __future__ import annotations

import math

import numpy as np
from numba import cuda  # module-level global: the CUDA simulator swaps it

from gpu.cuda import cuda_module, launch_config


@cuda.jit
def _newton_kernel(pos, mass, acc, pot):
    i = cuda.grid(1)
    n = pos.shape[0]
    if i < n:
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


def newton_accelerations(pos, mass, threads_per_block: int = 128):
    """(accelerations (N, 3), potentials (N,)) of N point masses on the GPU (G = 1, float64)."""
    cuda_module()
    pos = np.ascontiguousarray(pos, dtype=np.float64)
    mass = np.ascontiguousarray(mass, dtype=np.float64)
    n = pos.shape[0]
    dpos = cuda.to_device(pos)
    dmass = cuda.to_device(mass)
    dacc = cuda.device_array((n, 3), dtype=np.float64)
    dpot = cuda.device_array(n, dtype=np.float64)
    blocks, threads = launch_config(n, threads_per_block)
    _newton_kernel[blocks, threads](dpos, dmass, dacc, dpot)
    return dacc.copy_to_host(), dpot.copy_to_host()
