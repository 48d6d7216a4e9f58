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

import ast
import functools
import hashlib
import os
import types
from pathlib import Path

import numba
from numba import njit

__all__ = ["kernel_dependencies", "njit_dual", "njit_variants", "refresh_stale_cache", "with_globals"]


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


# ---------------------------------------------------------------------------------------------------------
# Numba's on-disk cache and the functions a kernel compiles in
#
# Numba (``cache=True``) keys a cached kernel to the stamp of the kernel's own source file, while the
# machine code contains every njit function and float constant it calls or reads from other files. After
# an edit of a callee in another file (a formula in a physics module, a leaf kernel), or a package upgrade
# that leaves the kernel's own file unchanged, the cache would serve the old code. Measured in this
# project: an edited Bolton e_s in clouds, and nbody's GBS loop running its old leapfrog after the leaf
# kernels changed. refresh_stale_cache closes that gap for one module at a time.


def kernel_dependencies(kernel_file) -> list[Path]:
    kdir = Path(kernel_file).resolve().parent
    return list(_kernel_dependencies(str(kdir) if kdir.name == "_kernels" else str(Path(kernel_file).resolve())))


@functools.lru_cache(maxsize=None)
def _kernel_dependencies(kernel_file) -> tuple[Path, ...]:
    """Source files whose Numba code the kernels of ``kernel_file`` may compile in: every ``.py`` file
    of its directory when that is a ``_kernels`` directory (else the file alone) and, transitively,
    the modules of the same top-level package they import (relative or absolute ``from`` imports, read
    from the source with :mod:`ast`)."""
    kdir = Path(kernel_file) if Path(kernel_file).is_dir() else Path(kernel_file).parent
    pkg_dir = kdir
    while (pkg_dir.parent / "__init__.py").is_file():      # the top-level package (nbody, not nbody._kernels)
        pkg_dir = pkg_dir.parent
    pkg = pkg_dir.name
    # a _kernels directory's files call each other: all of them; a kernel module elsewhere: itself
    todo = sorted(kdir.glob("*.py")) if Path(kernel_file).is_dir() else [Path(kernel_file)]
    deps = set(todo)
    while todo:
        f = todo.pop()
        for node in ast.walk(ast.parse(f.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            mod = node.module or ""
            if node.level == 0:
                if mod != pkg and not mod.startswith(pkg + "."):
                    continue
                base, parts = pkg_dir, mod.split(".")[1:]
            else:
                base = f.parent
                for _ in range(node.level - 1):
                    base = base.parent
                parts = mod.split(".") if mod else []
            target = base.joinpath(*parts)
            for c in [target.with_suffix(".py"), target / "__init__.py"] + [target / f"{a.name}.py" for a in node.names]:
                c = c.resolve()
                if c.is_file() and (c.parent == pkg_dir or pkg_dir in c.parents) and c not in deps:
                    deps.add(c)
                    todo.append(c)
    return tuple(sorted(deps))


kernel_dependencies.__doc__ = _kernel_dependencies.__doc__


def _fingerprint(files) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(str(Path(f).name).encode())
        h.update(Path(f).read_bytes())
    return h.hexdigest()


def _module_caches(namespace):
    """Numba caches of the dispatchers defined in the module ``namespace`` (with the ``.parallel`` /
    ``.serial`` variants of an :func:`njit_dual` kernel)."""
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


def refresh_stale_cache(namespace, dependencies=None) -> bool:
    """Flush Numba's on-disk cache of one module's kernels when a file they compile in has changed.

    Call at the end of a kernel module: ``refresh_stale_cache(globals())``. ``dependencies``: the source
    files whose code the kernels compile in (default :func:`kernel_dependencies` of the module's file).
    A stamp file ``<module>.deps-stamp`` beside Numba's cache index records their SHA-256 when the
    cache was written; when it differs every cached kernel of the module is flushed (Numba recompiles
    on first call) and the stamp rewritten. Returns True when it flushed. A read-only install, where
    Numba cannot cache either, is left alone.
    """
    caches = _module_caches(namespace)
    if not caches:
        return False
    if dependencies is None:
        dependencies = kernel_dependencies(namespace["__file__"])
    stamp = os.path.join(caches[0].cache_path, namespace["__name__"].rsplit(".", 1)[-1] + ".deps-stamp")
    fp = _fingerprint(dependencies)
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
    except OSError:
        pass
    return True
