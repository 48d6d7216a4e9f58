"""Helpers for custom ``numba.cuda`` kernels: launch configuration and host/device transfer.

Kernels written with ``numba.cuda`` run on a real device, or on the CPU under
``NUMBA_ENABLE_CUDASIM=1`` (the CUDA simulator), which is how CI exercises them
(docs/architecture.md). Import of this module never requires a GPU; launching a
kernel without a device and without the simulator raises
:class:`gpu.GPUUnavailableError`.
"""
from __future__ import annotations

import os

import numpy as np
from numba import cuda  # importing is safe without a GPU; launching is checked in cuda_module()

from .backend import GPUUnavailableError

DEFAULT_THREADS = 128


def simulator_enabled() -> bool:
    """True when numba's CUDA simulator is switched on for this process."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


def cuda_module():
    """Return ``numba.cuda`` if a device or the simulator can run kernels, else raise."""
    if simulator_enabled():
        return cuda
    try:
        ok = cuda.is_available()
    except Exception as exc:
        ok, why = False, str(exc)
    else:
        why = "numba.cuda.is_available() is False (no driver or device)"
    if not ok:
        raise GPUUnavailableError(
            f"a numba.cuda kernel was launched but no CUDA device is usable: {why}; "
            "set NUMBA_ENABLE_CUDASIM=1 to run kernels in the CUDA simulator"
        )
    return cuda


def launch_config(n: int, threads_per_block: int = DEFAULT_THREADS) -> tuple[int, int]:
    """1D grid covering ``n`` threads: ``(blocks, threads_per_block)``."""
    if n < 1:
        raise ValueError(f"launch_config needs n >= 1, got {n}")
    if not (1 <= threads_per_block <= 1024):
        raise ValueError(f"threads_per_block must be in [1, 1024], got {threads_per_block}")
    return (n + threads_per_block - 1) // threads_per_block, threads_per_block


def to_device(*arrays):
    """Copy host arrays (float64 kept) to the device; returns a tuple of device arrays."""
    cuda_module()
    return tuple(cuda.to_device(np.ascontiguousarray(a)) for a in arrays)


@cuda.jit
def _axpy_kernel(a, x, y, out):
    # ``cuda`` must be a module global here: the simulator swaps module globals named cuda.
    i = cuda.grid(1)
    if i < out.shape[0]:
        out[i] = a * x[i] + y[i]


def axpy(a: float, x, y):
    """``a*x + y`` on the device via a ``numba.cuda`` kernel (a self-test of the launch path)."""
    cuda_module()
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    dx, dy = to_device(x, y)
    dout = cuda.device_array_like(dx)
    blocks, threads = launch_config(x.size)
    _axpy_kernel[blocks, threads](float(a), dx, dy, dout)
    return dout.copy_to_host()


_auto_logged = False


def numba_backend(name: str = "auto") -> str:
    """Resolve ``backend`` for a ``numba.cuda`` kernel path to ``"cpu"`` or ``"cuda"``.

    Unlike :func:`gpu.backend.get_backend` (which probes CuPy), a numba.cuda kernel needs only a
    CUDA driver and device, or the CUDA simulator:

    * ``"cpu"``: always the CPU;
    * ``"cuda"``: a device (``numba.cuda.is_available()``) or, under ``NUMBA_ENABLE_CUDASIM=1``, the
      simulator (so that tests run the kernels); otherwise :class:`GPUUnavailableError` with the reason;
    * ``"auto"``: ``"cuda"`` only on a real device (never the simulator, which is orders of magnitude
      slower than the CPU path), else ``"cpu"``, logged once. ``SCALEFORGE_DISABLE_GPU=1`` makes it
      ``"cpu"`` and ``"cuda"`` an error.

    Raises ``ValueError`` for a name outside ``("auto", "cpu", "cuda")``.
    """
    global _auto_logged
    from .backend import BACKENDS

    if not isinstance(name, str) or name.lower() not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    name = name.lower()
    if name == "cpu":
        return "cpu"
    if os.environ.get("SCALEFORGE_DISABLE_GPU", "").strip() not in ("", "0"):
        ok, why = False, "disabled by SCALEFORGE_DISABLE_GPU"
    elif name == "cuda" and simulator_enabled():
        return "cuda"
    else:
        try:
            ok = not simulator_enabled() and bool(cuda.is_available())
            why = ("the CUDA simulator is enabled (backend 'auto' never picks it)" if simulator_enabled()
                   else "numba.cuda.is_available() is False (no driver or device)")
        except Exception as exc:  # a broken driver install
            ok, why = False, f"numba.cuda failed to initialise ({type(exc).__name__}: {exc})"
    if name == "cuda":
        if not ok:
            raise GPUUnavailableError(f"backend 'cuda' requested but no usable CUDA device: {why}; "
                                      "set NUMBA_ENABLE_CUDASIM=1 to run the kernels in the CUDA simulator")
        return "cuda"
    if not _auto_logged:
        import logging

        if ok:
            logging.getLogger(__name__).info("gpu: backend 'auto' runs the numba.cuda kernels on the CUDA device")
        else:
            logging.getLogger(__name__).info("gpu: backend 'auto' runs the kernels on the CPU (%s)", why)
        _auto_logged = True
    return "cuda" if ok else "cpu"
