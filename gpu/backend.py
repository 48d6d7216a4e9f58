"""Backend selection: NumPy/Numba on the CPU, or CUDA through CuPy / numba.cuda.

Rules (docs/architecture.md, "GPU"):

* ``get_backend("cuda")`` without a usable device raises
  :class:`GPUUnavailableError` naming the reason -- never a silent fallback;
* ``get_backend("auto")`` falls back to ``"cpu"`` and logs the reason once;
* ``SCALEFORGE_DISABLE_GPU=1`` makes :func:`available` report ``False``.
"""
from __future__ import annotations

import functools
import logging
import os

import numpy as np

log = logging.getLogger(__name__)

BACKENDS = ("auto", "cpu", "cuda")


class GPUUnavailableError(RuntimeError):
    """A CUDA backend was requested but no usable GPU is present (the message says why)."""


@functools.lru_cache(maxsize=1)
def _probe() -> tuple[bool, str]:
    """Return (usable, reason). Cached: the probe imports CuPy and touches the device once."""
    if os.environ.get("SCALEFORGE_DISABLE_GPU", "").strip() not in ("", "0"):
        return False, "disabled by SCALEFORGE_DISABLE_GPU"
    try:
        import cupy  # noqa: F401
    except Exception as exc:  # ImportError, or a CUDA library failing to load
        return False, f"CuPy is not importable ({type(exc).__name__}: {exc}); install scaleforge[gpu]"
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return False, f"CuPy found no usable CUDA driver/device ({type(exc).__name__}: {exc})"
    if n < 1:
        return False, "CuPy is installed but reports 0 CUDA devices"
    try:
        cupy.zeros(1).sum().item()
    except Exception as exc:
        return False, f"a CUDA device is present but a test allocation failed ({exc})"
    return True, f"{n} CUDA device(s)"


def available() -> bool:
    """True when CuPy imports and a CUDA device runs a trivial kernel (cached)."""
    return _probe()[0]


def unavailable_reason() -> str:
    """Human-readable reason the GPU is (un)usable."""
    return _probe()[1]


_fallback_logged = False


def get_backend(name: str = "auto") -> str:
    """Resolve a backend request to ``"cpu"`` or ``"cuda"``.

    Parameters
    ----------
    name : {"auto", "cpu", "cuda"}
        ``"auto"`` picks CUDA when :func:`available`, else CPU (logged once).

    Raises
    ------
    ValueError
        ``name`` is not one of the valid choices.
    GPUUnavailableError
        ``name == "cuda"`` and no usable GPU is present.
    """
    global _fallback_logged
    if not isinstance(name, str) or name.lower() not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    name = name.lower()
    if name == "cpu":
        return "cpu"
    ok, reason = _probe()
    if name == "cuda":
        if not ok:
            raise GPUUnavailableError(f"backend 'cuda' requested but no usable GPU: {reason}")
        return "cuda"
    if ok:
        return "cuda"
    if not _fallback_logged:
        log.info("gpu: backend 'auto' falls back to CPU (%s)", reason)
        _fallback_logged = True
    return "cpu"


def xp(backend: str = "cpu"):
    """The array module for a backend: ``numpy`` for CPU, ``cupy`` for CUDA."""
    if get_backend(backend) == "cuda":
        import cupy

        return cupy
    return np


def to_host(a):
    """Return ``a`` as a NumPy array (copies from the device for CuPy arrays)."""
    get = getattr(a, "get", None)
    if get is not None and type(a).__module__.startswith("cupy"):
        return get()
    return np.asarray(a)
