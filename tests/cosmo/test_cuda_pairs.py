"""The numba.cuda pair engine (cosmo._kernels.cuda_pairs) against the CPU engine, under the CUDA simulator.

Counts and unit-weight histograms must be equal exactly: both engines compute bit-identical per-pair
numbers, and sums of integers below 2^53 do not depend on the order of the additions. Moments
(and weighted histograms) are float sums in another order: for a bin of n terms t_k any order has
error <= (n - 1) u sum|t_k| (u = 2^-53; Higham 2002, eq. 4.4), two orders differ by at most twice
that, and the normalisation by the weighted count (another such sum) at most doubles it again.
"""
import os

import numpy as np
import pytest

import gpu
from cosmo.pairwise import pair_moments, resolve_backend
from gpu.config import ConfigError
from tests.cudasim import REPO, run_cudasim

U = 2.0 ** -53
ORD = tuple(range(1, 9))


@pytest.fixture(scope="module")
def res(tmp_path_factory):
    path = tmp_path_factory.mktemp("cudapairs") / "res.npz"
    run_cudasim(path=REPO / "tests" / "cosmo" / "cuda_pairs_cases.py", args=(path,))
    with np.load(path) as f:
        return dict(f)


def _abs_sum_bound(mom, n):
    """Bound of sum w|q|^n / W from the even raw moments: |q|^n <= (q^(n-1) + q^(n+1)) / 2 for odd n."""
    if n % 2 == 0:
        return np.abs(mom[:, n - 1])
    lo = np.ones(mom.shape[0]) if n == 1 else mom[:, n - 2]
    return 0.5 * (lo + mom[:, n])


def _moments_close(cpu, gpu_, counts, nterms_per_pair=2):
    nterm = nterms_per_pair * counts + 16
    for n in ORD[:-1]:  # order 8 is covered by the even bound itself, odd 7 needs order 8
        tol = 4 * nterm * U * _abs_sum_bound(cpu, n)
        ok = counts > 0
        assert np.all(np.abs(gpu_[ok, n - 1] - cpu[ok, n - 1]) <= tol[ok]), (n, gpu_[:, n - 1], cpu[:, n - 1])
    tol8 = 4 * nterm * U * np.abs(cpu[:, 7])
    assert np.all(np.abs(gpu_[:, 7] - cpu[:, 7])[counts > 0] <= tol8[counts > 0])


def test_cuda_path_was_taken(res):
    assert int(res["cuda_calls"]) == 8  # seven pair_moments runs and one pair_counts


@pytest.mark.parametrize("case", ["auto", "du", "long", "cross", "mi"])
def test_counts_exact_and_moments_to_roundoff(res, case):
    c, g = f"{case}/cpu", f"{case}/cuda"
    assert res[f"{c}/counts"].sum() > 50  # pairs exist in every case
    np.testing.assert_array_equal(res[f"{g}/counts"], res[f"{c}/counts"])
    counts = res[f"{c}/counts"]
    weighted = case in ("cross", "mi")
    if weighted:
        np.testing.assert_allclose(res[f"{g}/wcounts"], res[f"{c}/wcounts"], rtol=4 * (counts.max() + 16) * U)
    else:
        np.testing.assert_array_equal(res[f"{g}/wcounts"], res[f"{c}/wcounts"])
    moms = sorted(k.split("/")[-1] for k in res if k.startswith(f"{c}/mom/"))
    assert moms == sorted(k.split("/")[-1] for k in res if k.startswith(f"{g}/mom/"))
    assert moms, "no moments compared"
    for q in moms:
        _moments_close(res[f"{c}/mom/{q}"], res[f"{g}/mom/{q}"], counts)


@pytest.mark.parametrize("case", ["auto", "du", "cross", "mi"])
def test_histograms(res, case):
    c, g = f"{case}/cpu", f"{case}/cuda"
    pdfs = sorted(k.split("/")[-1] for k in res if k.startswith(f"{c}/pdf/"))
    assert pdfs and pdfs == sorted(k.split("/")[-1] for k in res if k.startswith(f"{g}/pdf/"))
    counts = res[f"{c}/counts"]
    for q in pdfs:
        a, b = res[f"{g}/pdf/{q}"], res[f"{c}/pdf/{q}"]
        assert np.nansum(b) > 0
        if case in ("cross", "mi"):  # weighted: float sums (two orders, and the normalisation)
            tol = 4 * (2 * counts[:, None] + 16) * U * np.abs(b)
            assert np.all(np.abs(a - b)[counts > 0] <= tol[counts > 0]), q
        else:  # unit weights: integer counts, then the same normalisation
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("where", ["split", "global"])
def test_shared_memory_fallbacks_give_the_same_numbers(res, where):
    """Histograms (then everything) accumulated in global memory: still exact / to round-off."""
    c, g = "small/cpu", f"small_{where}/cuda"
    counts = res[f"{c}/counts"]
    np.testing.assert_array_equal(res[f"{g}/counts"], counts)
    for q in ("u_L", "du_L", "su_L", "u_T", "du_T"):
        _moments_close(res[f"{c}/mom/{q}"], res[f"{g}/mom/{q}"], counts)
    for q in ("u_L", "u_L'", "du_L", "su_L"):
        np.testing.assert_array_equal(res[f"{g}/pdf/{q}"], res[f"{c}/pdf/{q}"])


def test_pair_counts_exact(res):
    np.testing.assert_array_equal(res["dd/cuda/counts"], res["dd/cpu/counts"])
    assert res["dd/cpu/counts"].sum() > 100


def test_cuda_without_device_raises():
    if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0"):
        pytest.skip("simulator enabled in this process")
    from numba import cuda

    if cuda.is_available():
        pytest.skip("a CUDA device is present")
    pos = np.random.default_rng(0).uniform(0, 10, (20, 3))
    with pytest.raises(gpu.GPUUnavailableError, match="no usable CUDA device.*NUMBA_ENABLE_CUDASIM"):
        pair_moments(pos, pos, 10.0, [0.5, 1.0], backend="cuda")
    assert resolve_backend("auto") == "cpu"
    assert resolve_backend("CPU") == "cpu"


def test_bad_backend_is_config_error():
    with pytest.raises(ConfigError, match="backend must be one of"):
        resolve_backend("gpu")


def test_auto_never_picks_simulator_and_disable_env():
    out = run_cudasim("""
        import os
        from cosmo.pairwise import resolve_backend
        print(resolve_backend("auto"), resolve_backend("cuda"))
        os.environ["SCALEFORGE_DISABLE_GPU"] = "1"
        try:
            resolve_backend("cuda")
        except Exception as exc:
            print(type(exc).__name__, "SCALEFORGE_DISABLE_GPU" in str(exc))
    """)
    assert out.split() == ["cpu", "cuda", "GPUUnavailableError", "True"]


def test_cli_backend_option(tmp_path, capsys):
    from cosmo.__main__ import main

    rc = None
    with pytest.raises(SystemExit) as exc:
        rc = main(["pairwise", "snap", "--out", str(tmp_path / "o.h5"), "--backend", "gpu"])
    assert exc.value.code == 2 and rc is None
    assert "--backend" in capsys.readouterr().err


def test_time_pair_moments_and_work():
    """The benchmark entry point times the same engine call a user makes, and its work estimate
    follows what was accumulated."""
    from cosmo.pairwise import pair_work, time_pair_moments

    sec, st = time_pair_moments(3000, "cpu", rmax=10.0, warmup=False)
    assert sec > 0 and st.n1 == 3000 and st.counts.sum() > 1000
    assert st.box == pytest.approx(250.0 * 0.03 ** (1 / 3))
    full = pair_work(st)
    assert full["pairs"] == st.counts.sum()
    _, st2 = time_pair_moments(3000, "cpu", rmax=10.0, warmup=False, quantities=("du_L",), orders=(1, 2))
    np.testing.assert_array_equal(st2.counts, st.counts)
    du = pair_work(st2)
    _, st3 = time_pair_moments(3000, "cpu", rmax=10.0, warmup=False, orders=(), pdf_bins=False)
    cnt = pair_work(st3)
    assert cnt["atomics"] == 2 and cnt["flops"] == 0
    assert cnt["flops"] < du["flops"] < full["flops"] and du["atomics"] < full["atomics"]


def test_cli_backend_cuda_without_device_is_one_line_error(tmp_path, capsys):
    if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0"):
        pytest.skip("simulator enabled in this process")
    from numba import cuda

    if cuda.is_available():
        pytest.skip("a CUDA device is present")
    from cosmo.__main__ import main

    out = tmp_path / "o.h5"
    assert main(["pairwise", str(tmp_path / "missing"), "--out", str(out), "--backend", "cuda"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: option '--backend'") and "NUMBA_ENABLE_CUDASIM" in err[0]
    assert not out.exists()


@pytest.mark.gpu
def test_device_matches_cpu():
    """On a real device (FMA contraction prevented by __dmul_rn, IEEE division and sqrt): counts and
    unit-weight histograms exact, moments within the summation-order bound."""
    from numba import cuda

    if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0") or not cuda.is_available():
        pytest.skip("needs a CUDA device")
    from cosmo.pairwise import time_pair_moments

    _, cpu = time_pair_moments(20000, "cpu", rmax=10.0)
    _, dev = time_pair_moments(20000, "cuda", rmax=10.0)
    np.testing.assert_array_equal(dev.counts, cpu.counts)
    for q in cpu.pdf:
        np.testing.assert_array_equal(dev.pdf[q], cpu.pdf[q])
    for q in cpu.moments:
        _moments_close(cpu.moments[q], dev.moments[q], cpu.counts)
