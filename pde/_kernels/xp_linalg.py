"""Linear algebra of the TD solver for an array module ``xp`` (NumPy on the CPU, CuPy on a CUDA device).

The TD mode solves and Gram products (:class:`pde.td.SeparatedProblem`) are written once against ``xp``
(:func:`gpu.xp`); where they need SciPy-only functions this adapter gives the NumPy/SciPy call on the CPU and
the CuPy / ``cupyx.scipy`` equivalent on the device:

* :func:`solve_banded` -- LU with partial pivoting of banded systems: LAPACK gbsv through
  :func:`scipy.linalg.solve_banded` on the CPU; on the device the band is expanded to dense and every system
  of the batch is solved in one batched LU (cuSOLVER getrf/getrs through :func:`cupy.linalg.solve`), the
  same factorisation without the band structure (the 1D systems are at most a few thousand rows);
* :func:`batched_solve` -- dense LU of a stack of systems (``xp.linalg.solve``, identical API);
* :func:`eigh_generalized` -- A v = mu B v with B SPD: :func:`scipy.linalg.eigh` (LAPACK sygvd) on the CPU;
  on the device the same reduction sygvd performs (Golub & Van Loan, *Matrix Computations*, 4th ed., Sec.
  8.7.2): B = L L^T (Cholesky), C = L^-1 A L^-T, C W = W diag(mu), V = L^-T W (so V^T B V = I);
* :func:`sparse_matrix`, :func:`spsolve` -- a CSC matrix from COO triplets and a sparse direct solve
  (SuperLU on the CPU, ``cupyx.scipy.sparse.linalg.spsolve`` on the device);
* :func:`to_device` -- a dense or ``scipy.sparse`` operand on ``xp``'s device (identity for NumPy).

The device branches are plain ``xp`` code: the tests run them with ``xp = numpy`` against SciPy.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def is_numpy(xp) -> bool:
    return xp is np


def _scipy(xp):
    """(scipy.linalg, scipy.sparse, scipy.sparse.linalg) for NumPy, the cupyx.scipy modules for CuPy."""
    if is_numpy(xp):
        import scipy.linalg as la
        import scipy.sparse.linalg as spla

        return la, sp, spla
    import cupyx.scipy.linalg as la  # pragma: no cover - needs CuPy
    import cupyx.scipy.sparse as csp  # pragma: no cover
    import cupyx.scipy.sparse.linalg as cspla  # pragma: no cover

    return la, csp, cspla  # pragma: no cover


def to_device(xp, a):
    """``a`` (NumPy array or scipy.sparse matrix) on xp's device; NumPy: ``a`` itself (no copy)."""
    if is_numpy(xp) or a is None:
        return a
    if sp.issparse(a):  # pragma: no cover - needs CuPy
        return _scipy(xp)[1].csr_matrix(sp.csr_matrix(a))
    return xp.asarray(a)  # pragma: no cover


def batched_solve(xp, A, B):
    """X[k] = A[k]^-1 B[k] for a stack A (m, n, n) and right-hand sides B (m, n): (m, n)."""
    return xp.linalg.solve(A, B[:, :, None])[:, :, 0]


def banded_to_dense(xp, l_and_u, ab):
    """Dense matrices (..., n, n) of LAPACK band storage ab (..., kl + ku + 1, n): A[i, j] = ab[ku + i - j, j]."""
    kl, ku = l_and_u
    n = ab.shape[-1]
    A = xp.zeros(ab.shape[:-2] + (n, n), dtype=ab.dtype)
    j = xp.arange(n)
    for k in range(kl + ku + 1):  # band row k holds the diagonal i - j = k - ku
        off = k - ku
        jj = j[max(0, -off):n - max(0, off)]
        A[..., jj + off, jj] = ab[..., k, jj]
    return A


def _solve_banded_dense(xp, l_and_u, ab, b):
    """The device branch of :func:`solve_banded`: band expanded to dense, one batched LU."""
    return batched_solve(xp, banded_to_dense(xp, l_and_u, ab), b)


def solve_banded(xp, l_and_u, ab, b):
    """Solve the banded systems ab[k] x[k] = b[k] (ab: (m, kl + ku + 1, n) LAPACK band storage, b: (m, n)).

    NumPy: one :func:`scipy.linalg.solve_banded` (gbsv) per system; CuPy: :func:`_solve_banded_dense`."""
    if is_numpy(xp):
        from scipy.linalg import solve_banded as sb

        return np.stack([sb(l_and_u, ab[k], b[k], check_finite=False) for k in range(b.shape[0])]) \
            if b.shape[0] else np.zeros(b.shape, dtype=np.result_type(ab, b))
    return _solve_banded_dense(xp, l_and_u, ab, b)


def _eigh_cholesky(xp, A, B):
    """The device branch of :func:`eigh_generalized`: Cholesky reduction to a standard symmetric problem."""
    la = _scipy(xp)[0]
    L = xp.linalg.cholesky(B)
    Y = la.solve_triangular(L, A, lower=True)          # L^-1 A
    C = la.solve_triangular(L, Y.T, lower=True).T      # L^-1 A L^-T (A symmetric)
    C = 0.5 * (C + C.T)
    mu, W = xp.linalg.eigh(C)
    V = la.solve_triangular(L.T, W, lower=False)       # L^-T W
    return mu, V


def eigh_generalized(xp, A, B):
    """Eigenpairs of the symmetric-definite pencil A v = mu B v (B SPD), V^T B V = I: (mu ascending, V).

    NumPy: :func:`scipy.linalg.eigh` (raises ``scipy.linalg.LinAlgError`` when B is not SPD); CuPy:
    :func:`_eigh_cholesky` (a non-SPD B gives NaN there: callers check ``isfinite``)."""
    if is_numpy(xp):
        from scipy.linalg import eigh

        return eigh(A, B)
    return _eigh_cholesky(xp, A, B)


def sparse_matrix(xp, data, rows, cols, shape):
    """CSC matrix from COO triplets (duplicates summed) on xp's device."""
    return _scipy(xp)[1].coo_matrix((data, (rows, cols)), shape=shape).tocsc()


def spsolve(xp, A, b):
    """Sparse direct solve A x = b (SuperLU on the CPU, cuSOLVER through cupyx on the device)."""
    return _scipy(xp)[2].spsolve(A, b)
