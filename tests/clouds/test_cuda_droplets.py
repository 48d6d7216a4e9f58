"""CUDA droplet kernels (clouds._kernels.cuda_droplets) against their CPU twins, and the DNS with
run.backend = "cuda", in numba's CUDA simulator.

The simulator must be switched on before numba.cuda is imported, so the comparisons run in
subprocesses (tests/clouds/cudasim_droplets.py: 48 droplets on a 6^3 grid with haze, near-dry, large
and edge-of-box droplets; tests/clouds/cudasim_dns.py: 3 DNS steps, 8^3 grid, 40 droplets).

Bounds: the kernels run the same Python functions (device twins) in the same order, so the results
are equal up to the math library: the simulator evaluates exp and x**3 with NumPy/CPython, the CPU
kernels with LLVM's libm and multiplications (measured: 1 ulp in S and in the liquid mass; 0 in the
other outputs). A device adds FMA contraction. Bounds: 8 ulp relative to each quantity's largest
value; the radius is the root of the implicit growth equation, found by Newton to a relative step of
1e-14 (clouds._kernels.droplets.implicit_radius), so an ulp in S may move it by up to ~1e-14 relative:
bound 1e-13. Deposition adds at most n = 48 terms of one sign per cell in a different order
(atomics): relative bound n eps of the largest cell.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
EPS = np.finfo(float).eps

BOUNDS = {  # errors relative to the largest value of each quantity (positions: to the box side)
    "interpolate": 8 * EPS,
    "condense_r": 1e-13,
    "condense_S": 8 * EPS,
    "condense_dm": 3e-13,                  # dm = c (r1^3 - r0^3): 3 x the radius bound, relative to c r^3
    "liquid_mass": 8 * EPS,
    "deposit": 48 * EPS,
    "move_inertial_pos": 8 * EPS,
    "move_inertial_vel": 8 * EPS,
    "tracer_heun_pos": 8 * EPS,
    "tracer_heun_vel": 8 * EPS,
}


def _run_cudasim(script, sim=True):
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1" if sim else "0", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, str(HERE / script)], capture_output=True, text=True,
                          env=env, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def errors():
    return _run_cudasim("cudasim_droplets.py")


@pytest.fixture(scope="module")
def dns_sim():
    return _run_cudasim("cudasim_dns.py")


@pytest.mark.parametrize("check", sorted(BOUNDS))
def test_cuda_kernel_matches_cpu_twin(errors, check):
    assert errors[check] <= BOUNDS[check], f"{check}: error {errors[check]:.3g} > bound {BOUNDS[check]:.3g}"


def test_bytes_moved_counts_each_array_once():
    from clouds._kernels import cuda_droplets as C

    n, grid = 1000, (8, 8, 8)
    ng = 512
    # interpolate 5 fields: positions (3 n) + values out (5 n) + grid read once (5 ng), 8 bytes each
    assert C.bytes_moved(n, grid, "interpolate") == 8 * (3 * n + 5 * n + 5 * ng)
    assert C.bytes_moved(n, grid, "deposit") == 8 * (4 * n + 2 * ng)
    step = C.bytes_moved(n, grid)
    parts = ["interpolate", "condense", "deposit", "deposit", "move_inertial", "liquid_mass"]
    assert step == sum(C.bytes_moved(n, grid, k) for k in parts)
    with pytest.raises(ValueError, match="kernel must be one of"):
        C.bytes_moved(n, grid, "fft")


#: DNS "cuda" vs "cpu" after 3 steps: the only differences are the deposition's summation order and
#: the simulator's exp (ulps, above), carried through 3 steps of the coupled fields; measured <= 2e-16
#: relative (7e-15 in S, which is stored as S = e / e_s - 1 ~ 1e-2 and compared absolutely)
DNS_BOUND = 1e-13


@pytest.mark.parametrize("case", ["inertial", "tracer_lapse", "open_box"])
def test_dns_cuda_backend_matches_cpu(dns_sim, case):
    # open_box: relaxation and droplet renewal (five droplets renewed at the first step on both backends)
    diffs = {k: v for k, v in dns_sim.items() if k.startswith(case + "_") and isinstance(v, float)}
    assert len(diffs) == 9
    assert max(diffs.values()) <= DNS_BOUND, diffs
    # the droplets stay on the device between steps; host reads are read-only snapshots
    assert dns_sim[case + "_on_device"] is True
    assert dns_sim[case + "_snapshot_readonly"] is True
    if case == "open_box":
        assert dns_sim["open_box_renewed"] == 5


def test_dns_cuda_backend_one_rank(dns_sim):
    assert "run.backend" in dns_sim["mpi_error"] and "one MPI rank" in dns_sim["mpi_error"]


def test_dns_cuda_backend_without_device():
    import gpu
    from clouds.dns import DNS, make_config

    if gpu.available() or os.environ.get("NUMBA_ENABLE_CUDASIM", "0") != "0":
        pytest.skip("a GPU (or the simulator) is usable here")
    with pytest.raises(gpu.GPUUnavailableError, match="backend 'cuda'"):
        DNS(make_config(grid=dict(n=8, box=0.05), droplets=dict(n_droplets=4), run=dict(backend="cuda")))
    d = DNS(make_config(grid=dict(n=8, box=0.05), droplets=dict(n_droplets=4), run=dict(backend="auto")))
    assert d.backend == "cpu" and d.xp is np


@pytest.mark.gpu
def test_kernels_and_dns_on_a_device():
    """The same comparisons on a real GPU (numba.cuda kernels, CuPy FFTs in the DNS)."""
    import gpu

    if not gpu.available():
        pytest.skip(f"no usable GPU: {gpu.unavailable_reason()}")
    errs = _run_cudasim("cudasim_droplets.py", sim=False)
    assert all(errs[k] <= BOUNDS[k] for k in BOUNDS), errs
    dns = _run_cudasim("cudasim_dns.py", sim=False)
    for case in ("inertial", "tracer_lapse", "open_box"):
        diffs = {k: v for k, v in dns.items() if k.startswith(case + "_") and isinstance(v, float)}
        assert max(diffs.values()) <= DNS_BOUND, diffs
        assert dns[case + "_on_device"] is True
