"""The TD solver's backends: the xp_linalg adapter's device branches (run with NumPy) against SciPy, the whole
device code path (run with NumPy) against the CPU path, the CPU path calling exactly the SciPy/LAPACK routines,
backend = "cuda" without a GPU raising GPUUnavailableError with the reason, and (marked gpu) CUDA against CPU."""
import types

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import gpu
from gpu import GPUUnavailableError
from pde._kernels import xp_linalg as xpl
from pde.fem import LagrangeSpace
from pde.lpbf import LPBFProblem
from pde.mesh import StructuredMesh
from pde.td import SeparatedProblem, matrices_1d

RNG = np.random.default_rng(7)

#: a tiny LPBF run (shared level modes, fast solver, constant mode, two slabs: every path of the S = 64 case)
TINY = {"domain": {"t_end": 0.3e-3},
        "solver": {"coarse_elements": [12, 8, 4], "time_elements": 24, "max_iter": 8, "modes": 6,
                   "level_modes": "shared", "method": "fast", "time_slabs": 2}}


def pencil(n, symmetric=True):
    mesh = StructuredMesh([np.linspace(0, 1, n + 1)])
    M, K, C = matrices_1d(LagrangeSpace(mesh, 2), LagrangeSpace(mesh, 2))
    return M, (K if symmetric else K + 3.0 * C)


def band(A):
    A = A.tocoo()
    kl, ku = int(max(0, (A.row - A.col).max())), int(max(0, (A.col - A.row).max()))
    ab = np.zeros((kl + ku + 1, A.shape[0]))
    ab[ku + A.row - A.col, A.col] = A.data
    return (kl, ku), ab


# ----------------------------------------------------------------------------- the adapter's device branches
def test_banded_dense_branch_equals_scipy_solve_banded():
    """The device branch (band -> dense, one batched LU) equals LAPACK gbsv to round-off, complex shifts."""
    M, K = pencil(30, symmetric=False)
    lu, ab1 = band(M)
    lu2, ab2 = band(K)
    assert lu == lu2
    lam = RNG.uniform(0.1, 2, 4) + 1j * RNG.uniform(-1, 1, 4)
    ab = ab1[None] + lam[:, None, None] * ab2[None]
    b = RNG.standard_normal((4, ab.shape[-1])) + 1j * RNG.standard_normal((4, ab.shape[-1]))
    dense = xpl.banded_to_dense(np, lu, ab)
    for k in range(4):
        assert np.array_equal(dense[k], (M + lam[k] * K).toarray())
    ref = np.stack([sla.solve_banded(lu, ab[k], b[k]) for k in range(4)])
    got = xpl._solve_banded_dense(np, lu, ab, b)
    assert np.abs(got - ref).max() <= 1e-12 * np.abs(ref).max()
    assert np.array_equal(xpl.solve_banded(np, lu, ab, b), ref)  # the CPU branch is gbsv itself


def test_cholesky_eigh_branch_equals_scipy_generalized_eigh():
    """Cholesky reduction (device branch) vs LAPACK sygvd: same eigenvalues, B-orthonormal eigenvectors that
    diagonalise A, to round-off."""
    M, K = pencil(25)
    A, B = K.toarray(), M.toarray()
    mu_ref, V_ref = sla.eigh(A, B)
    mu, V = xpl._eigh_cholesky(np, A, B)
    assert np.abs(mu - mu_ref).max() <= 1e-10 * np.abs(mu_ref).max()
    assert np.abs(V.T @ B @ V - np.eye(len(mu))).max() < 1e-10
    assert np.abs(A @ V - B @ V * mu).max() <= 1e-9 * np.abs(mu).max() * np.abs(B @ V).max()
    mu2, V2 = xpl.eigh_generalized(np, A, B)
    assert np.array_equal(mu2, mu_ref) and np.array_equal(V2, V_ref)


def test_batched_and_sparse_solves_equal_scipy():
    M, K = pencil(20, symmetric=False)
    lam = RNG.uniform(0.1, 2, 3) + 1j * RNG.uniform(-1, 1, 3)
    A = M.toarray()[None] + lam[:, None, None] * K.toarray()[None]
    b = RNG.standard_normal((3, A.shape[-1])) + 0j
    X = xpl.batched_solve(np, A, b)
    for k in range(3):
        assert np.allclose(A[k] @ X[k], b[k], rtol=0, atol=1e-12 * np.abs(b).max())
    Ks = K.tocoo()
    S = xpl.sparse_matrix(np, Ks.data, Ks.row, Ks.col, K.shape)
    assert (S != K).nnz == 0
    rhs = RNG.standard_normal(K.shape[0])
    assert np.array_equal(xpl.spsolve(np, (M + K).tocsc(), rhs), spla.spsolve((M + K).tocsc(), rhs))


# ----------------------------------------------------------------------------- the solver on each path
def test_cpu_mode_solves_are_the_scipy_calls_bit_for_bit():
    """backend = "cpu" runs exactly the former SciPy/LAPACK calls (eigen products, batched LU, gbsv, SuperLU):
    bit-identical, so CPU results did not change with the backend switch."""
    lam = RNG.uniform(0.1, 2, 5) + 1j * RNG.uniform(-1, 1, 5)
    for n, sym, kind in [(30, True, "eig"), (30, False, "dense"), (300, True, "banded")]:
        A1, A2 = pencil(n, sym)
        N = A1.shape[0]
        P = SeparatedProblem.single_level([[A1], [A2]], [1.0, 1.0], [np.ones((N, 1))], backend="cpu")
        R = RNG.standard_normal((N, 5)) + 1j * RNG.standard_normal((N, 5))
        Y = np.zeros((N, 5), complex)
        P._mode_solves(0, 0, [A1, A2], lam, R, Y, 0, 5)
        assert P._solve_cache[0, 0][0] == kind
        if kind == "eig":
            mu, V = sla.eigh(A2.toarray(), A1.toarray())
            ref = V @ ((V.T @ R) / (1.0 + lam[None, :] * mu[:, None]))
        elif kind == "dense":
            A = A1.toarray()[None] + lam[:, None, None] * A2.toarray()[None]
            ref = np.linalg.solve(A, R.T.astype(complex)[:, :, None])[:, :, 0].T
        else:
            (lu, ab1), (_, ab2) = band(A1 + 0 * A2), band(A2 + 0 * A1)
            ref = np.stack([sla.solve_banded(lu, ab1 + lam[m] * ab2, R[:, m], check_finite=False)
                            for m in range(5)], axis=1)
        assert np.array_equal(Y, ref), kind


#: a stand-in for CuPy: NumPy's functions in a namespace that is not ``numpy`` itself, so the solver takes
#: every device branch (host/device copies, device index arrays, the adapter's CuPy branches) with NumPy arrays
NP_STANDIN = types.SimpleNamespace(**{k: getattr(np, k) for k in dir(np) if not k.startswith("__")})
PTS = np.array([[0.55e-3, 0, 0], [0.5e-3, 50e-6, -30e-6], [0.3e-3, 0, -100e-6]])


def _run(cfg):
    P = LPBFProblem(cfg)
    R = P.solve()
    return P, R.temperature(PTS, 0.3e-3)


@pytest.fixture(scope="module")
def cpu_runs():
    per_level = {s: dict(v) for s, v in TINY.items()}
    per_level["solver"].update(level_modes="per_level", method="subspace", modes=4, max_iter=4)
    return {"shared": (TINY, *_run(TINY)), "per_level": (per_level, *_run(per_level))}


@pytest.mark.parametrize("case", ["shared", "per_level"])
def test_device_code_path_run_with_numpy_equals_cpu_path(cpu_runs, case, monkeypatch):
    """The LPBF TD solve through every device branch (array module not numpy: host/device copies; Cholesky
    eigenvectors, dense-batched banded solves of the adapter) with NumPy standing in for CuPy equals the CPU
    path to round-off (measured 3e-14 of the peak rise after 8 ALS sweeps per slab; the limit 1e-11 leaves
    room for BLAS differences while catching any wrong branch, which would be O(1)).  ``shared``: fast
    diagonalisation (eigen and dense mode solves); ``per_level``: dense level-block direction solves
    (:class:`pde.multilevel_td.LevelBlockProblem`, fast diagonalisation in time)."""
    import scipy.linalg as la

    monkeypatch.setattr(xpl, "is_numpy", lambda xp: False)
    monkeypatch.setattr(xpl, "_scipy", lambda xp: (la, sp, spla))
    monkeypatch.setattr(gpu, "xp", lambda backend="cpu": NP_STANDIN)
    cfg, Pc, Tc = cpu_runs[case]
    Pd, Td = _run(cfg)
    assert Pd.problem.xp is NP_STANDIN
    rise = Tc.max() - 300.0
    assert np.abs(Td - Tc).max() <= 1e-11 * rise
    assert Pd.residuals == pytest.approx(Pc.residuals, rel=1e-9)
    if case == "shared":
        assert Pd.problem._solve_cache[0, 0][0] == "eig" and Pd.problem._solve_cache[3, 0][0] == "dense"


# ----------------------------------------------------------------------------- backend selection
@pytest.mark.skipif(gpu.available(), reason="a usable GPU is present")
def test_cuda_backend_without_gpu_raises_with_the_reason():
    reason = gpu.unavailable_reason()
    with pytest.raises(GPUUnavailableError, match="no usable GPU") as e:
        SeparatedProblem.single_level([[sp.eye(3)]], [1.0], [np.ones((3, 1))], backend="cuda")
    assert reason in str(e.value)
    with pytest.raises(GPUUnavailableError, match="no usable GPU"):
        LPBFProblem(TINY, backend="cuda")
    cfg = {s: dict(v) for s, v in TINY.items()}
    cfg["solver"]["backend"] = "cuda"
    with pytest.raises(GPUUnavailableError, match="no usable GPU"):
        LPBFProblem(cfg)
    from pde.lpbf_cases import run_track_case

    with pytest.raises(GPUUnavailableError):
        run_track_case(1, backend="cuda")
    assert LPBFProblem(TINY, backend="auto").backend == "cpu"


def test_bad_backend_name_is_a_config_error():
    from gpu.config import ConfigError

    with pytest.raises(ConfigError, match="backend"):
        LPBFProblem(TINY, backend="gpu")
    cfg = {s: dict(v) for s, v in TINY.items()}
    cfg["solver"]["backend"] = "opencl"
    with pytest.raises(ConfigError, match="backend"):
        LPBFProblem(cfg)


@pytest.mark.skipif(gpu.available(), reason="a usable GPU is present")
def test_cli_backend_cuda_without_gpu_one_error_line(tmp_path, capsys):
    from pde.__main__ import main

    out = tmp_path / "r.h5"
    rc = main(["lpbf", "--backend", "cuda", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and "GPU" in err[0] and not out.exists()


@pytest.mark.gpu
@pytest.mark.skipif(not gpu.available(), reason="needs a CUDA device")
def test_cuda_backend_equals_cpu_to_round_off():  # pragma: no cover - needs a device
    Rc = LPBFProblem(TINY, backend="cpu").solve()
    Rg = LPBFProblem(TINY, backend="cuda").solve()
    pts = np.array([[0.55e-3, 0, 0], [0.5e-3, 50e-6, -30e-6], [0.3e-3, 0, -100e-6]])
    Tc, Tg = Rc.temperature(pts, 0.3e-3), Rg.temperature(pts, 0.3e-3)
    # cuBLAS / cuSOLVER round differently from LAPACK; ALS sweeps amplify it (NumPy device branches: 3e-14)
    assert np.abs(Tg - Tc).max() <= 1e-9 * (Tc.max() - 300.0)
