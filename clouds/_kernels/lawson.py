"""Stage updates of the Lawson (integrating-factor) Runge-Kutta scheme of the DNS, one pass per stage.

Lawson (1967, SIAM J. Numer. Anal. 4:372) integrating-factor form of Kutta's third-order scheme, as used
in :meth:`clouds.dns.DNS._advance_fluid`: every stage value is the generic form

    out = E (y0 + a k1) [+ F k2 [+ c k3]]

with E, F real arrays over the Fourier modes (integrating factors exp(-D k^2 h), possibly times a
step length) broadcast over the components of y, and scalars a, c. Evaluated from left to right, so
the result equals the array expression ``E * (y0 + a * k1) + F * k2 + c * k3`` of NumPy bit for bit
(tests/clouds/test_dns_rhs.py); parallel over the modes. Arrays: y0, k's and out of shape (m, M)
(m components), E and F of shape (M,).
"""
from __future__ import annotations

from numba import njit, prange
from gpu.jit import refresh_stale_cache


@njit(cache=True, parallel=True)
def stage1(y0, E, a, k1, out):
    """out = E (y0 + a k1)."""
    m, n = y0.shape
    for i in prange(n):
        e = E[i]
        for j in range(m):
            out[j, i] = e * (y0[j, i] + a * k1[j, i])


@njit(cache=True, parallel=True)
def stage2(y0, E, a, k1, F, k2, out):
    """out = E (y0 + a k1) + F k2."""
    m, n = y0.shape
    for i in prange(n):
        e = E[i]
        f = F[i]
        for j in range(m):
            out[j, i] = e * (y0[j, i] + a * k1[j, i]) + f * k2[j, i]


@njit(cache=True, parallel=True)
def stage3(y0, E, a, k1, F, k2, c, k3, out):
    """out = E (y0 + a k1) + F k2 + c k3."""
    m, n = y0.shape
    for i in prange(n):
        e = E[i]
        f = F[i]
        for j in range(m):
            out[j, i] = e * (y0[j, i] + a * k1[j, i]) + f * k2[j, i] + c * k3[j, i]


refresh_stale_cache(globals())   # callees in other files are compiled in: see gpu.jit
