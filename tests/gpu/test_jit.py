"""gpu.jit: one Python body compiled as a serial and a parallel Numba kernel."""
import doctest
import math

import numpy as np
import pytest
from numba import njit, prange

import gpu.jit
from gpu.jit import njit_dual, njit_variants, with_globals


def _rows(x, out):
    """Per-row work of uneven cost (independent iterations)."""
    for i in prange(x.shape[0]):
        s = 0.0
        for k in range(i % 17 + 1):
            s += math.sin(x[i] * (k + 1)) / (k + 1)
        out[i] = s
    return out


def test_variants_are_serial_and_parallel_and_agree_bitwise():
    serial, parallel = njit_variants(_rows, error_model="numpy")
    assert serial.targetoptions.get("parallel") is False
    assert parallel.targetoptions.get("parallel") is True
    assert serial.targetoptions["error_model"] == parallel.targetoptions["error_model"] == "numpy"
    # distinct names, so that Numba's on-disk cache keeps the two compilations apart
    assert serial.py_func.__qualname__ == "_rows_serial" and parallel.py_func.__qualname__ == "_rows"
    assert serial.py_func.__code__ is parallel.py_func.__code__
    x = np.random.default_rng(0).uniform(-3, 3, 20001)
    a = serial(x, np.empty_like(x))
    b = parallel(x, np.empty_like(x))
    assert np.array_equal(a, b)
    assert np.array_equal(a, _rows(x, np.empty_like(x)))  # and the interpreted body


def test_fastmath_variants_agree_to_rounding():
    """With fastmath LLVM may rewrite the two loops differently (measured: up to 4.4e-16 absolute on this
    body), so bitwise equality is a property of a kernel, tested where it is relied on (tree walks)."""
    serial, parallel = njit_variants(_rows, fastmath=True)
    x = np.random.default_rng(0).uniform(-3, 3, 20001)
    a = serial(x, np.empty_like(x))
    b = parallel(x, np.empty_like(x))
    assert np.allclose(a, b, rtol=0, atol=1e-14)


def test_variants_reject_parallel_option_and_unwrap_dispatchers():
    with pytest.raises(TypeError, match="parallel"):
        njit_variants(_rows, parallel=True)
    serial, parallel = njit_variants(njit(_rows))
    assert serial.py_func.__qualname__ == "_rows_serial"


def test_dual_dispatches_on_the_size_of_the_named_argument():
    def body(out, x):
        for i in prange(x.shape[0]):
            out[i] = 2.0 * x[i]
        return out

    f = njit_dual(size_arg=1, min_size=100, chunksize=8)(body)
    assert f.__name__ == "body" and not f.serial.signatures and not f.parallel.signatures
    small = np.arange(10.0)
    assert np.array_equal(f(np.empty(10), small), 2 * small)
    assert f.serial.signatures and not f.parallel.signatures
    big = np.arange(1000.0)
    assert np.array_equal(f(np.empty(1000), big), 2 * big)
    assert f.parallel.signatures


@njit
def _twice(x):
    return 2.0 * x


def _caller(x):
    return _twice(x) + 1.0


def test_with_globals_rebinds_a_callee_of_the_body():
    compiled = njit(_caller)
    assert compiled(1.0) == 3.0
    swapped = with_globals(compiled, _twice=lambda x: 10.0 * x)
    assert swapped(1.0) == 11.0
    assert _caller(1.0) == 3.0  # the original globals are untouched
    with pytest.raises(NameError, match="_thrice"):
        with_globals(_caller, _thrice=abs)


def test_module_example():
    assert doctest.testmod(gpu.jit).failed == 0


# ---------------------------------------------------------------------------------------------------------
# gpu.jit.refresh_stale_cache: Numba's on-disk cache must follow an edit of a callee in another file

_PKG_INIT = ""
_PKG_FORMULA = '''
from numba import njit


@njit(cache=True)
def formula(x):
    return 2.0 * x
'''
_PKG_KERNEL = '''
from numba import njit

from gpu.jit import refresh_stale_cache

from ..formula import formula


@njit(cache=True)
def kernel(x):
    return formula(x) + 1.0


refresh_stale_cache(globals())
'''
_PKG_RUN = "from toypkg._kernels.loop import kernel; print(kernel(3.0), len(kernel.stats.cache_hits))"


def _toy_run(tmp):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=f"{tmp}{os.pathsep}{root}")
    env.pop("NUMBA_CACHE_DIR", None)
    res = subprocess.run([sys.executable, "-c", _PKG_RUN], env=env, cwd=tmp, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    val, hits = res.stdout.split()
    return float(val), int(hits)


def test_cached_kernel_follows_an_edited_callee_in_another_file(tmp_path):
    pkg = tmp_path / "toypkg"
    (pkg / "_kernels").mkdir(parents=True)
    (pkg / "__init__.py").write_text(_PKG_INIT)
    (pkg / "_kernels" / "__init__.py").write_text("")
    (pkg / "formula.py").write_text(_PKG_FORMULA)
    (pkg / "_kernels" / "loop.py").write_text(_PKG_KERNEL)
    assert _toy_run(tmp_path) == (7.0, 0)
    assert _toy_run(tmp_path) == (7.0, 1)            # served from the cache
    (pkg / "formula.py").write_text(_PKG_FORMULA.replace("2.0 * x", "3.0 * x"))
    assert _toy_run(tmp_path)[0] == 10.0             # the kernel file is unchanged; without the guard: 7.0


def test_kernel_dependencies_follow_imports():
    from pathlib import Path

    from gpu.jit import kernel_dependencies

    root = Path(__file__).resolve().parents[2]
    names = {p.relative_to(root).as_posix() for p in kernel_dependencies(root / "nbody" / "_kernels" / "gbs.py")}
    assert {"nbody/_kernels/gbs.py", "nbody/_kernels/forces.py", "nbody/_kernels/logh.py", "nbody/pn.py"} <= names
    assert not any(n.startswith("gpu/") for n in names)       # only the package's own modules
    tp = {p.relative_to(root).as_posix() for p in
          kernel_dependencies(root / "nbody" / "cosmological" / "_treepm_kernels.py")}
    assert "nbody/_kernels/tree_build.py" in tp and "nbody/cosmological/pm.py" not in tp
