"""Run a Python script under ``mpiexec -n N`` from the same environment (docs/architecture.md, "MPI").

The script runs as ``python -m mpi4py script.py`` so an uncaught exception on
any rank aborts all ranks instead of hanging; ``NUMBA_NUM_THREADS=1`` per rank
keeps 2-3 ranks from oversubscribing the 2 cores of CI.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def mpiexec_path() -> str | None:
    """The ``mpiexec`` next to this interpreter (the mpich wheel's), else one on PATH."""
    here = Path(sys.executable).parent / "mpiexec"
    if here.exists():
        return str(here)
    return shutil.which("mpiexec")


def require_mpi():
    """Skip the calling test when mpi4py or mpiexec is absent (they come with the [mpi-wheel] extra)."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        pytest.skip("mpi4py not installed (pip install .[mpi-wheel])")
    if mpiexec_path() is None:
        pytest.skip("no mpiexec found (pip install .[mpi-wheel])")


def run_mpi(script: str, n: int, tmp_path: Path, timeout: float = 300, args=(), env=None) -> subprocess.CompletedProcess:
    """Write ``script`` to ``tmp_path`` and run it on ``n`` ranks; raise with the output if it fails."""
    require_mpi()
    path = Path(tmp_path) / f"mpi_script_{n}.py"
    path.write_text(textwrap.dedent(script))
    full_env = dict(os.environ)
    full_env.update({"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO) + os.pathsep
                     + full_env.get("PYTHONPATH", ""), "SCALEFORGE_DISABLE_GPU": "1"})
    full_env.update(env or {})
    cmd = [mpiexec_path(), "-n", str(n)]
    version = subprocess.run([mpiexec_path(), "--version"], capture_output=True, text=True).stdout.lower()
    if "open mpi" in version or "open-rte" in version:  # Open MPI refuses to oversubscribe unless told
        cmd.append("--oversubscribe")
    cmd += [sys.executable, "-m", "mpi4py", str(path), *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env, cwd=tmp_path)
    if proc.returncode != 0:
        raise AssertionError(f"mpiexec -n {n} failed (rc={proc.returncode}):\nSTDOUT:\n{proc.stdout}\nSTDERR:\n{proc.stderr}")
    return proc
