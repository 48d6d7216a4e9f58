"""Numba's on-disk cache must not serve a kernel compiled with an older version of a physics formula.

Numba keys a cached kernel to the kernel's own source file; the clouds kernels compile in Numba
functions and constants of clouds/thermo.py and clouds/koehler.py. The test edits Bolton's e_s in a
copy of the package and checks that the cached kernel follows (gpu.jit.refresh_stale_cache).
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SNIPPET = """
import numpy as np
from clouds._kernels import droplets as K
vals = np.array([[1.0, 0.012, 0.0]])
out = np.empty(1)
K.droplet_supersaturation.serial(vals, 285.0, 9.0e4, 0, 1, -1, out)
print(repr(float(out[0])), K.droplet_supersaturation.serial.stats.cache_hits.__len__())
"""


def _run(tmp):
    env = dict(os.environ, PYTHONPATH=f"{tmp}{os.pathsep}{ROOT}")
    env.pop("NUMBA_CACHE_DIR", None)                  # the cache beside the copied sources
    res = subprocess.run([sys.executable, "-c", SNIPPET], env=env, cwd=tmp, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    S, hits = res.stdout.split()
    return float(S), int(hits)


def test_cached_kernel_follows_edited_formula(tmp_path):
    shutil.copytree(ROOT / "clouds", tmp_path / "clouds", ignore=shutil.ignore_patterns("__pycache__"))
    S1, hits1 = _run(tmp_path)
    S2, hits2 = _run(tmp_path)
    assert (S2, hits1, hits2) == (S1, 0, 1)          # second run loaded the kernel from the cache
    thermo = tmp_path / "clouds" / "thermo.py"
    src = thermo.read_text()
    assert src.count("611.2 * np.exp(") == 1
    thermo.write_text(src.replace("611.2 * np.exp(", "622.0 * np.exp("))
    S3, _ = _run(tmp_path)
    # S + 1 = e / e_s: scaling e_s by 611.2 / 622 scales S + 1 by the inverse
    assert S3 + 1.0 == pytest.approx((S1 + 1.0) * 611.2 / 622.0, rel=1e-14)
