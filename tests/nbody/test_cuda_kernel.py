"""The numba.cuda twin of the N^2 force kernel, run in the CUDA simulator (separate process)."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from nbody.regularized import accelerations

REPO = Path(__file__).resolve().parents[2]


def test_cpu_kernel_matches_direct_sum():
    rng = np.random.default_rng(5)
    pos, mass = rng.normal(size=(30, 3)), rng.uniform(0.1, 1, 30)
    acc, pot = accelerations(pos, mass)
    d = pos[None, :, :] - pos[:, None, :]
    r = np.linalg.norm(d, axis=-1)
    np.fill_diagonal(r, np.inf)
    assert np.allclose(acc, np.sum(mass[None, :, None] * d / r[..., None] ** 3, axis=1), rtol=1e-12)
    assert np.allclose(pot, -np.sum(mass[None, :] / r, axis=1), rtol=1e-12)
    assert np.allclose(np.sum(mass[:, None] * acc, axis=0), 0, atol=1e-12)  # Newton's third law


def test_cuda_twin_in_simulator():
    code = """
        import numpy as np
        from nbody.regularized import accelerations
        from nbody._kernels import direct as cpu
        rng = np.random.default_rng(1)
        pos, mass = rng.normal(size=(40, 3)), rng.uniform(0.1, 1.0, 40)
        a_gpu, p_gpu = accelerations(pos, mass, backend="cuda")
        a_cpu, p_cpu = cpu.newton_accelerations(pos, mass)
        print(float(np.max(np.abs(a_gpu - a_cpu) / np.abs(a_cpu).max())), float(np.max(np.abs(p_gpu - p_cpu) / np.abs(p_cpu).max())))
    """
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    ea, ep = map(float, proc.stdout.split())
    assert ea < 1e-14 and ep < 1e-14  # identical arithmetic per body
