"""Terms of the DNS right-hand side, one pass each (NumPy fields; CuPy fields use array expressions).

Used by :meth:`clouds.dns.DNS._rhs` (model: :mod:`clouds.dns`; 2/3 dealiasing, Orszag 1971; Leray projection
P(k) = I - k k^T / k^2). Each kernel performs the floating-point operations of the array expressions it
replaces, in the same order, with the complex products by real factors written out (k (a + i b) =
k a + i k b; i k (a + i b) = -k b + i k a), so the results equal those of the array expressions apart from
the sign of zeros (tests/clouds/test_dns_rhs.py). Wavenumbers come as 1-D arrays kx (nx,), ky (ny,), kz (nz,)
of the grid held (ky: this rank's slab); ``mask`` is the 2/3 dealiasing mask, ``inv_k2`` = 1 / k^2 (1 at k = 0).
"""
from __future__ import annotations

from numba import njit, prange
from gpu.jit import refresh_stale_cache


@njit(cache=True, parallel=True)
def add_buoyancy(N, th, q, gql, g, inv_T0, c_q):
    """N += g (th / T0 + c_q q) - gql, with th / T0 formed as th * (1 / T0) (the complex quotient by a real)."""
    nx, ny, nz = N.shape
    for i in prange(nx):
        for j in range(ny):
            for k in range(nz):
                a, b = th[i, j, k].real, th[i, j, k].imag
                c, d = q[i, j, k].real, q[i, j, k].imag
                re = g * (a * inv_T0 + c_q * c) - gql[i, j, k].real
                im = g * (b * inv_T0 + c_q * d) - gql[i, j, k].imag
                N[i, j, k] = N[i, j, k] + complex(re, im)


@njit(cache=True, parallel=True)
def dealias_project(N, kx, ky, kz, mask, inv_k2, zero_mean):
    """N = P(k) (mask N) in place for a vector field N (3, nx, ny, nz); N(k = 0) = 0 when ``zero_mean``.

    div = kx N_x + ky N_y + kz N_z, f = div / k^2, N_i -= k_i f (as :meth:`clouds.spectral.Spectral.project`).
    """
    _, nx, ny, nz = N.shape
    for i in prange(nx):
        for j in range(ny):
            for k in range(nz):
                if not mask[i, j, k]:
                    N[0, i, j, k] = 0.0
                    N[1, i, j, k] = 0.0
                    N[2, i, j, k] = 0.0
                    continue
                a, b, c = N[0, i, j, k], N[1, i, j, k], N[2, i, j, k]
                dr = kx[i] * a.real + ky[j] * b.real + kz[k] * c.real
                di = kx[i] * a.imag + ky[j] * b.imag + kz[k] * c.imag
                fr, fi = dr * inv_k2[i, j, k], di * inv_k2[i, j, k]
                N[0, i, j, k] = complex(a.real - kx[i] * fr, a.imag - kx[i] * fi)
                N[1, i, j, k] = complex(b.real - ky[j] * fr, b.imag - ky[j] * fi)
                N[2, i, j, k] = complex(c.real - kz[k] * fr, c.imag - kz[k] * fi)
    if zero_mean:
        N[0, 0, 0, 0] = 0.0
        N[1, 0, 0, 0] = 0.0
        N[2, 0, 0, 0] = 0.0


@njit(cache=True, parallel=True)
def flux_divergence(F0, F1, F2, kx, ky, kz, mask, out):
    """out = -(i kx F0 + i ky F1 + i kz F2) mask: the spectral -div F of the fluxes F = FFT(u s), dealiased."""
    nx, ny, nz = out.shape
    for i in prange(nx):
        for j in range(ny):
            for k in range(nz):
                if not mask[i, j, k]:
                    out[i, j, k] = 0.0
                    continue
                a, b, c = F0[i, j, k], F1[i, j, k], F2[i, j, k]
                re = -(kx[i] * a.imag) + -(ky[j] * b.imag) + -(kz[k] * c.imag)
                im = kx[i] * a.real + ky[j] * b.real + kz[k] * c.real
                out[i, j, k] = complex(-re, -im)


@njit(cache=True, parallel=True)
def curl(U, kx, ky, kz, out):
    """out = i k x U for a vector field U (3, nx, ny, nz): out_x = i ky U_z - i kz U_y, ... (cyclic)."""
    _, nx, ny, nz = U.shape
    for i in prange(nx):
        for j in range(ny):
            for k in range(nz):
                a, b, c = U[0, i, j, k], U[1, i, j, k], U[2, i, j, k]
                out[0, i, j, k] = complex(-(ky[j] * c.imag) - -(kz[k] * b.imag), ky[j] * c.real - kz[k] * b.real)
                out[1, i, j, k] = complex(-(kz[k] * a.imag) - -(kx[i] * c.imag), kz[k] * a.real - kx[i] * c.real)
                out[2, i, j, k] = complex(-(kx[i] * b.imag) - -(ky[j] * a.imag), kx[i] * b.real - ky[j] * a.real)


@njit(cache=True, parallel=True)
def cross(u, o0, o1, o2, out):
    """out = u x o in real space (u (3, nx, ny, nz); o given by its three components)."""
    _, nx, ny, nz = u.shape
    for i in prange(nx):
        for j in range(ny):
            for k in range(nz):
                u0, u1, u2 = u[0, i, j, k], u[1, i, j, k], u[2, i, j, k]
                w0, w1, w2 = o0[i, j, k], o1[i, j, k], o2[i, j, k]
                out[0, i, j, k] = u1 * w2 - u2 * w1
                out[1, i, j, k] = u2 * w0 - u0 * w2
                out[2, i, j, k] = u0 * w1 - u1 * w0


refresh_stale_cache(globals())   # callees in other files are compiled in: see gpu.jit
