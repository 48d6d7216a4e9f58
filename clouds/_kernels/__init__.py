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
served stale from the cache (likewise the parcel kernels, which compile in the droplet kernels);
:func:`refresh_stale_cache` prevents that.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

#: source files (relative to the ``clouds`` package) whose Numba functions and constants the kernels
#: of another file compile in: the physics modules, and the droplet kernels that the parcel kernels call
DEPENDENCIES = ("thermo.py", "koehler.py", "_kernels/droplets.py")


def dependency_fingerprint() -> str:
    """SHA-256 of the source of :data:`DEPENDENCIES`."""
    h = hashlib.sha256()
    root = Path(__file__).resolve().parent.parent
    for name in DEPENDENCIES:
        h.update((root / name).read_bytes())
    return h.hexdigest()


def _caches(namespace):
    """Numba caches of the dispatchers defined in the module ``namespace`` (also the .parallel /
    .serial variants of a dual kernel)."""
    out = {}
    modname = namespace["__name__"]
    for obj in list(namespace.values()):
        for d in (obj, getattr(obj, "parallel", None), getattr(obj, "serial", None)):
            cache = getattr(d, "_cache", None)
            py = getattr(d, "py_func", None)
            if cache is None or py is None or py.__module__ != modname:
                continue
            if getattr(cache, "cache_path", None):
                out[id(cache)] = cache
    return list(out.values())


def refresh_stale_cache(namespace) -> bool:
    """Flush Numba's on-disk cache of the kernels of one module when a file of :data:`DEPENDENCIES` changed.

    Called at the end of each CPU kernel module with its ``globals()``. A stamp file
    ``<module>.physics-stamp`` beside Numba's cache index records :func:`dependency_fingerprint` at the
    time the cache was written; when it differs, every cached kernel of the module is flushed (Numba
    then recompiles on first call) and the stamp is rewritten. Returns True when it flushed.
    (Tested in tests/clouds/test_kernels_cache.py by editing a copy of the package.)
    """
    caches = _caches(namespace)
    if not caches:
        return False
    stamp = os.path.join(caches[0].cache_path, namespace["__name__"].rsplit(".", 1)[-1] + ".physics-stamp")
    fp = dependency_fingerprint()
    try:
        with open(stamp) as f:
            if f.read().strip() == fp:
                return False
    except OSError:
        pass
    for cache in caches:
        cache.flush()
    try:
        os.makedirs(os.path.dirname(stamp), exist_ok=True)
        tmp = f"{stamp}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(fp)
        os.replace(tmp, stamp)
    except OSError:  # read-only install: Numba cannot cache there either
        pass
    return True
