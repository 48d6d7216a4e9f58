"""numba.cuda kernels run in the CUDA simulator in a separate process (the env var must be set before numba loads)."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import gpu
from gpu.cuda import launch_config

REPO = Path(__file__).resolve().parents[2]


def run_with_cudasim(code: str) -> str:
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_axpy_kernel_runs_in_simulator():
    out = run_with_cudasim("""
        import numpy as np
        from numba import cuda
        import gpu.cuda as gc
        assert cuda.simulator_enabled if hasattr(cuda, 'simulator_enabled') else True
        x = np.linspace(0, 1, 300); y = np.cos(x)
        r = gc.axpy(2.5, x, y)
        print(float(np.max(np.abs(r - (2.5 * x + y)))))
        print(type(gc.cuda.to_device(x)).__module__)
    """)
    err, module = out.split()
    assert float(err) == 0.0
    assert "simulator" in module  # really the simulator's device array, not a NumPy shortcut


def test_kernel_without_device_or_simulator_raises():
    if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") != "0":
        pytest.skip("simulator enabled in this process")
    from numba import cuda

    if cuda.is_available():
        pytest.skip("a CUDA device is present")
    import gpu.cuda as gc

    with pytest.raises(gpu.GPUUnavailableError, match="NUMBA_ENABLE_CUDASIM"):
        gc.axpy(1.0, np.ones(3), np.ones(3))


def test_launch_config_covers_n():
    for n in (1, 127, 128, 129, 10_000):
        blocks, threads = launch_config(n, 128)
        assert blocks * threads >= n > (blocks - 1) * threads
    with pytest.raises(ValueError, match="threads_per_block"):
        launch_config(10, 2048)
    with pytest.raises(ValueError, match="n >= 1"):
        launch_config(0)
