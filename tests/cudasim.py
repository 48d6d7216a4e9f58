"""Run Python code under numba's CUDA simulator in a fresh interpreter.

``NUMBA_ENABLE_CUDASIM=1`` must be set before ``numba.cuda`` is first imported, which has happened
long before a test runs, so CUDA kernels are tested in a subprocess with the variable set and this
repository first on ``PYTHONPATH``.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_cudasim(code: str, timeout=120) -> str:
    """Run ``code`` (dedented) with ``NUMBA_ENABLE_CUDASIM=1``; return its stdout.

    Raises ``RuntimeError`` with the exit status and stderr when the code exits non-zero, and
    ``subprocess.TimeoutExpired`` after ``timeout`` seconds.
    """
    path = os.environ.get("PYTHONPATH", "")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1",
               PYTHONPATH=str(REPO) + (os.pathsep + path if path else ""))
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=str(REPO))
    if proc.returncode != 0:
        raise RuntimeError(f"code under the CUDA simulator exited with {proc.returncode}:\n{proc.stderr}")
    return proc.stdout
