"""Run Python code under numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) in a subprocess.

The variable must be set before ``numba.cuda`` is first imported, so simulator tests cannot run in
the pytest process itself; they run a snippet or file here and parse what it prints.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_cudasim(code: str | None = None, *, path: str | os.PathLike | None = None, timeout: float = 600,
                args: tuple = ()) -> str:
    """Run ``code`` (a snippet, dedented) or the file ``path`` with the CUDA simulator on and the
    repository first on ``sys.path``; return its stdout. A non-zero exit fails with its stderr."""
    if (code is None) == (path is None):
        raise ValueError("give exactly one of code= or path=")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    cmd = [sys.executable, "-c", textwrap.dedent(code)] if code is not None else [sys.executable, str(path)]
    proc = subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True, env=env, timeout=timeout,
                          cwd=str(REPO))
    if proc.returncode != 0:
        raise AssertionError(f"simulator run failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc.stdout
