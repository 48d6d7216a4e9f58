"""Threads per MPI rank are capped; package imports and --help stay cheap."""
import os
import subprocess
import sys

import pytest

from gpu.threads import ranks_on_node, threads_per_rank
from tests.mpi_harness import REPO


@pytest.mark.parametrize("env, expect", [
    ({"MPI_LOCALNRANKS": "4"}, 4),
    ({"OMPI_COMM_WORLD_LOCAL_SIZE": "2"}, 2),
    ({"SLURM_NTASKS_PER_NODE": "8(x3)"}, 8),
    ({}, None),
])
def test_ranks_on_node_from_the_launcher(env, expect):
    assert ranks_on_node(env) == expect


def test_threads_per_rank_rules(monkeypatch):
    import gpu.threads as t

    monkeypatch.setattr(t, "usable_cores", lambda: (16, False))
    assert threads_per_rank({"MPI_LOCALNRANKS": "4"})[0] == 4
    assert threads_per_rank({"MPI_LOCALNRANKS": "32"})[0] == 1
    assert threads_per_rank({})[0] is None                               # not under MPI: Numba's default
    assert threads_per_rank({"MPI_LOCALNRANKS": "4", "NUMBA_NUM_THREADS": "3"})[0] is None  # user's choice
    assert threads_per_rank({"SCALEFORGE_THREADS_PER_RANK": "5"})[0] == 5
    monkeypatch.setattr(t, "usable_cores", lambda: (2, True))             # pinned by the launcher
    assert threads_per_rank({"MPI_LOCALNRANKS": "4"})[0] == 2
    with pytest.raises(ValueError, match="SCALEFORGE_THREADS_PER_RANK"):
        threads_per_rank({"SCALEFORGE_THREADS_PER_RANK": "zero"})


def _py(code, **env):
    full = {k: v for k, v in os.environ.items() if k not in ("NUMBA_NUM_THREADS", "SCALEFORGE_THREADS_PER_RANK")}
    full.update(PYTHONPATH=str(REPO), **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=120)


def test_numba_pool_is_capped_when_a_package_is_imported_under_mpi():
    proc = _py("import nbody, numba, os; print(numba.config.NUMBA_NUM_THREADS, os.cpu_count())",
               MPI_LOCALNRANKS="2")
    n, ncpu = map(int, proc.stdout.split())
    cores = len(os.sched_getaffinity(0))
    assert n == (max(1, cores // 2) if cores == ncpu else cores)


def test_importing_a_package_does_not_load_numba_or_scipy():
    code = ("import sys, nbody, cosmo, pde, clouds; "
            "print(' '.join(m for m in ('numba', 'scipy', 'camb', 'h5py') if m in sys.modules))")
    assert _py(code).stdout.strip() == ""


def test_lazy_exports_resolve():
    import clouds
    import nbody

    assert nbody.Simulation.__name__ == "Simulation" and clouds.ParcelModel.__name__ == "ParcelModel"
    assert hasattr(nbody.orbits, "elements")
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        nbody.nope


def test_version_comes_from_the_package_metadata():
    from importlib.metadata import version

    import clouds
    import cosmo
    import nbody
    import pde

    assert {nbody.__version__, cosmo.__version__, pde.__version__, clouds.__version__} == {version("scaleforge")}
