"""Complete polynomial spaces used by the bases: the monomial exponents of total degree <= p and the
monomials y^alpha with their derivatives.

The C-HiDeNN radial point interpolation reproduces these monomials (arXiv:2505.18141 App. A.1) and the
variationally consistent test-gradient correction of :func:`pde.fem.vci_test_gradients` (Chen, Hillman &
Rueter 2013) is a polynomial in them; both import them from here.
"""
from __future__ import annotations

import numpy as np


def monomial_exponents(dim: int, p: int) -> np.ndarray:
    """Exponents of the complete polynomial basis of total degree <= p in ``dim`` variables."""
    out = []
    for tot in range(p + 1):
        if dim == 1:
            out.append((tot,))
        elif dim == 2:
            for i in range(tot, -1, -1):
                out.append((i, tot - i))
        else:
            for i in range(tot, -1, -1):
                for j in range(tot - i, -1, -1):
                    out.append((i, j, tot - i - j))
    return np.array(out, dtype=np.int64)


def monomials(y, expo):
    """y^alpha for every exponent row of ``expo`` and the derivatives d/dy_i: shapes (..., nm), (..., nm, d)."""
    d = y.shape[-1]
    val = np.ones(y.shape[:-1] + (expo.shape[0],))
    der = np.ones(y.shape[:-1] + (expo.shape[0], d))
    for t, ex in enumerate(expo):
        for k in range(d):
            yk = y[..., k] ** ex[k]
            val[..., t] *= yk
            for i in range(d):
                der[..., t, i] *= (ex[k] * y[..., k] ** max(ex[k] - 1, 0)) if i == k else yk
    return val, der
