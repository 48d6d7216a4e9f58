"""Every command under a plain ``mpiexec -n 2 python -m <package> <command>``: when one rank fails
(rank 1 raises as its command starts, while rank 0 runs the real job and enters its collectives),
the whole job ends promptly with a non-zero exit instead of hanging."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.mpi_harness import REPO, mpiexec_path, require_mpi

CONFIGS = REPO / "examples" / "configs"

#: injected through sitecustomize, so the command line itself is the user's
HOOK = '''
import os
if os.environ.get("PMI_RANK") == "1" and os.environ.get("SF_FAIL_MODULE"):
    import importlib
    mod = importlib.import_module(os.environ["SF_FAIL_MODULE"])
    def run(args):
        import gpu
        gpu.get_comm()          # MPI is up on this rank, as in every real command
        raise RuntimeError("injected failure on rank 1")
    mod.run = run
'''


def _inputs(tmp_path: Path) -> dict:
    from tests.cosmo.test_cli_faults import _snapshot
    from tests.nbody.test_cli_integrate import _ic

    ic = tmp_path / "ic.hdf5"
    _ic(ic)
    dm = tmp_path / "dm.hdf5"
    _snapshot(dm)
    return {"ic": ic, "dm": dm}


CASES = {
    "nbody run": ("nbody.cli_run", ["nbody", "run", CONFIGS / "nbody_merger_small.toml", "--outdir", "{tmp}/run",
                                     "--quiet"]),
    "nbody pm": ("nbody.cli_pm", ["nbody", "pm", CONFIGS / "nbody_pm_small.toml", "--output-dir", "{tmp}/pm",
                                   "--quiet"]),
    "nbody integrate": ("nbody.cli_integrate", ["nbody", "integrate", "{ic}", "--t-end", "0.02 Myr", "--out",
                                                 "{tmp}/int.hdf5", "--quiet"]),
    "nbody snapshot": ("nbody.cli_snapshot", ["nbody", "snapshot", "{ic}"]),
    "cosmo forecast": ("cosmo.cli_forecast", ["cosmo", "forecast", CONFIGS / "cosmo_forecast_small.toml",
                                              "--json", "{tmp}/vg.json", "--quiet"]),
    "cosmo pairwise": ("cosmo.cli_pairwise", ["cosmo", "pairwise", "{dm}", "--out", "{tmp}/pw.h5", "--quiet"]),
    "pde lpbf": ("pde.cli_lpbf", ["pde", "lpbf", CONFIGS / "pde_lpbf_small.toml", "--out", "{tmp}/l.h5", "--quiet"]),
    "clouds parcel": ("clouds.cli_parcel", ["clouds", "parcel", CONFIGS / "clouds_parcel_small.toml", "--json",
                                            "{tmp}/p.json", "--quiet"]),
    "clouds dns": ("clouds.cli_dns", ["clouds", "dns", CONFIGS / "clouds_dns_small.toml", "--out", "{tmp}/d.h5",
                                      "--quiet"]),
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    require_mpi()
    return _inputs(tmp_path_factory.mktemp("inputs"))


@pytest.mark.mpi
@pytest.mark.parametrize("case", list(CASES))
def test_one_failing_rank_ends_the_job(case, inputs, tmp_path):
    module, argv = CASES[case]
    hookdir = tmp_path / "hook"
    hookdir.mkdir()
    (hookdir / "sitecustomize.py").write_text(HOOK)
    subs = {"tmp": str(tmp_path), "ic": str(inputs["ic"]), "dm": str(inputs["dm"])}
    args = [str(a).format(**subs) for a in argv]
    env = dict(os.environ, PYTHONPATH=f"{hookdir}{os.pathsep}{REPO}", SF_FAIL_MODULE=module,
               NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", SCALEFORGE_DISABLE_GPU="1")
    t0 = time.monotonic()
    proc = subprocess.run([mpiexec_path(), "-n", "2", sys.executable, "-m", *args], capture_output=True,
                          text=True, env=env, timeout=240, cwd=tmp_path)
    wall = time.monotonic() - t0
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "[rank 1] error: RuntimeError: injected failure on rank 1" in proc.stderr, proc.stderr
    assert wall < 200
