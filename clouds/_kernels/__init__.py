"""Hot loops of the clouds package (Numba, float64, SI units), named for what they compute.

* :mod:`clouds._kernels.droplets`: implicit droplet growth, trilinear interpolation and deposition,
  droplet motion, the fused DNS droplet step (CPU, Numba);
* :mod:`clouds._kernels.parcel`: growth at a common supersaturation with its derivative (the parcel
  model's Newton coupling) and the eddy-hopping update;
* :mod:`clouds._kernels.cuda_droplets`: the droplet kernels of the DNS as ``numba.cuda`` kernels;
* :mod:`clouds._kernels.lawson`: the stage updates of the DNS's integrating-factor RK3 (one pass each);
* :mod:`clouds._kernels.fourier_terms`: curl, u x omega, buoyancy, dealiasing with the Leray projection,
  and the flux divergence of the DNS right-hand side (one pass each).

Formulas are not typed in the kernels: they call the Numba functions of the physics modules
(:mod:`clouds.thermo`, :mod:`clouds.koehler`). Numba's on-disk cache (``cache=True``) keys a compiled
kernel to the source file of the kernel alone, while the compiled code contains the njit functions
and the float constants it imports, so an edited formula in a physics module would otherwise be
served stale from the cache; every kernel module ends with :func:`gpu.jit.refresh_stale_cache`,
which prevents that.
"""
from __future__ import annotations
