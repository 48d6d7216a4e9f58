"""One Python body, two compiled kernels: the serial and the parallel variant of a Numba kernel.

A kernel written with ``numba.prange`` compiles to a multi-threaded loop with ``parallel=True`` and to
a plain ``range`` loop without it. Small inputs want the serial variant (starting the thread pool costs
more than it saves), large ones the parallel variant. Writing the serial variant by hand doubles the
code; here both are compiled from the same function:

>>> import numpy as np
>>> from numba import prange
>>> from gpu.jit import njit_variants
>>> def _square(x):
...     out = np.empty_like(x)
...     for i in prange(x.shape[0]):
...         out[i] = x[i] * x[i]
...     return out
>>> square_serial, square = njit_variants(_square)
>>> bool((square_serial(np.arange(3.0)) == square(np.arange(3.0))).all())
True

:func:`njit_dual` additionally returns a Python dispatcher that picks the variant from the size of one
argument. Each variant gets its own name (``<name>`` and ``<name>_serial``) so that Numba's on-disk cache
(``cache=True``) keeps the two apart.

Same per-item arithmetic: with the same options apart from ``parallel``, both variants run the same
loop body; without ``fastmath``, the two variants of a kernel whose iterations are independent (each
writes only its own outputs) agreed bitwise where measured (``tests/gpu/test_jit.py``). With
``fastmath`` LLVM may vectorise or reassociate the two loops differently (measured: last-bit
differences on a test body and in nbody's per-target tree walk, whose fastmath body is inlined into
each variant), so a kernel that relies on bitwise equality tests it (nbody's grouped tree walk, whose
fastmath part is one compiled function called by both variants: ``tests/nbody/test_tree.py``).
Reductions across ``prange`` iterations are summed in a different order by the threads.
"""
from __future__ import annotations

import types

import numba
from numba import njit

__all__ = ["njit_dual", "njit_variants", "with_globals"]


def _renamed(py_func, suffix):
    """A copy of ``py_func`` (same code, globals, defaults and closure) whose name ends in ``suffix``."""
    g = types.FunctionType(py_func.__code__, py_func.__globals__, py_func.__name__ + suffix, py_func.__defaults__,
                           py_func.__closure__)
    g.__qualname__ = py_func.__qualname__ + suffix
    g.__doc__ = py_func.__doc__
    g.__module__ = py_func.__module__
    g.__kwdefaults__ = py_func.__kwdefaults__
    return g


def njit_variants(py_func, **opts):
    """``(serial, parallel)`` Numba dispatchers compiled from the one body ``py_func``.

    ``opts`` are passed to :func:`numba.njit` for both (``parallel`` is set to False / True); the
    serial variant is named ``<name>_serial``. A dispatcher passed in is unwrapped to its Python body.
    """
    if "parallel" in opts:
        raise TypeError("njit_variants sets 'parallel' itself")
    py_func = getattr(py_func, "py_func", py_func)
    parallel = njit(parallel=True, **opts)(py_func)
    serial = njit(parallel=False, **opts)(_renamed(py_func, "_serial"))
    return serial, parallel


def njit_dual(size_arg=0, *, min_size, chunksize=None, **opts):
    """Decorator: compile the body both ways (:func:`njit_variants`) and dispatch on a size.

    The returned Python function calls the parallel variant when ``args[size_arg].shape[0] >= min_size``
    (inside ``numba.parallel_chunksize(chunksize)`` when a chunk size is given: dynamic scheduling for
    loops whose iterations differ in cost) and the serial one otherwise. ``.serial`` and ``.parallel``
    are the two dispatchers.
    """
    def deco(py_func):
        serial, parallel = njit_variants(py_func, **opts)

        def dispatch(*args):
            if args[size_arg].shape[0] >= min_size:
                if chunksize is None:
                    return parallel(*args)
                with numba.parallel_chunksize(chunksize):
                    return parallel(*args)
            return serial(*args)

        dispatch.__doc__, dispatch.__name__, dispatch.__qualname__ = py_func.__doc__, py_func.__name__, \
            py_func.__qualname__
        dispatch.__module__ = py_func.__module__
        dispatch.parallel, dispatch.serial = parallel, serial
        return dispatch
    return deco


def with_globals(func, **replace):
    """The Python body of ``func`` (a Numba dispatcher or a function) with some global names rebound.

    Runs a kernel's own loop in the interpreter with one callee replaced -- e.g. the GBS integration
    loop with its step function swapped for an MPI-distributed one -- so that a driver does not keep a
    second copy of the loop. The other callees stay the compiled kernels. Every replaced name must be a
    global the body uses.
    """
    py_func = getattr(func, "py_func", func)
    missing = sorted(set(replace) - set(py_func.__code__.co_names))
    if missing:
        raise NameError(f"{py_func.__qualname__} uses no global(s) {missing}")
    glob = dict(py_func.__globals__)
    glob.update(replace)
    g = types.FunctionType(py_func.__code__, glob, py_func.__name__, py_func.__defaults__, py_func.__closure__)
    g.__qualname__ = py_func.__qualname__
    g.__doc__ = py_func.__doc__
    return g
