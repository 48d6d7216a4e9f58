"""Gaussian initial conditions: a linear density field from P(k), Zel'dovich and 2LPT displacements.

Conventions: lengths in Mpc/h, wavenumbers in h/Mpc, P(k) in (Mpc/h)^3 at a = 1 (D1(1) = 1).
The DFT is ``delta_k = sum_x delta_x exp(-i k.x)`` on an n^3 lattice of spacing ``L/n``,
so ``<|delta_k|^2> = n^6 P(k) / L^3``. The field is white noise (seeded per x-plane,
so every rank count draws the same field) convolved with ``sqrt(P(k))`` in Fourier space;
modes on the Nyquist planes are zeroed.

Lagrangian perturbation theory (Bouchet et al. 1995; Scoccimarro 1998, MNRAS 299, 1097,
Appendix D; Crocce, Pueblas & Scoccimarro 2006, MNRAS 373, 369, eqs. 4-6):

    x = q - D1 grad phi1 + D2 grad phi2,
    lap phi1 = delta(q),   lap phi2 = sum_{i>j} [phi1_ii phi1_jj - (phi1_ij)^2],

so the Zel'dovich displacement is ``Psi1 = -grad phi1`` (``div Psi1 = -delta``), the
second-order one ``Psi2 = grad phi2`` with ``D2 ~ -(3/7) D1^2``. Momenta
``p = a^3 E dx/da = a^2 E (f1 D1 Psi1 + f2 D2 Psi2)`` (peculiar velocity ``100 p / a`` km/s).
"""
from __future__ import annotations

import numpy as np


def white_noise_slab(n: int, seed: int, x0: int, nxl: int) -> np.ndarray:
    """Unit-variance Gaussian noise on planes ``x0 .. x0 + nxl - 1`` of an n^3 grid (rank-independent)."""
    out = np.empty((nxl, n, n))
    for i in range(nxl):
        out[i] = np.random.default_rng([int(seed), int(x0 + i)]).standard_normal((n, n))
    return out


def gaussian_field_k(fft, box: float, pk, seed: int) -> np.ndarray:
    """Fourier modes (this rank's k-slab) of a Gaussian field with power spectrum ``pk(k)`` at a = 1."""
    n = fft.n
    wk = fft.forward(white_noise_slab(n, seed, fft.x0, fft.nxl))
    kx, ky, kz = fft.kvectors(box)
    k = np.sqrt(kx ** 2 + ky ** 2 + kz ** 2)
    amp = np.zeros_like(k)
    pos = k > 0
    amp[pos] = np.sqrt(np.asarray(pk(k[pos]), dtype=float) * n ** 3 / box ** 3)
    dk = wk * amp
    dk[fft.nyquist_mask()] = 0.0
    return dk


def lpt_displacements(delta_k, fft, box: float, order: int = 2):
    """Real-space displacement fields (nxl, n, n, 3) Psi1 and (order 2) Psi2 at D1 = 1, for unit D2 factor.

    Psi1 = -grad phi1 with phi1_k = -delta_k / k^2; Psi2 = grad phi2 with phi2_k = -S_k / k^2.
    """
    if order not in (1, 2):
        raise ValueError(f"order must be 1 (Zel'dovich) or 2 (2LPT), got {order}")
    kx, ky, kz = fft.kvectors(box)
    kv = (kx, ky, kz)
    k2 = kx ** 2 + ky ** 2 + kz ** 2
    inv = np.zeros_like(k2)
    inv[k2 > 0] = 1.0 / k2[k2 > 0]
    phi1 = -delta_k * inv
    psi1 = np.stack([fft.inverse(-1j * kv[c] * phi1) for c in range(3)], axis=-1)
    if order == 1:
        return psi1, None
    # second derivatives phi1_ij = IFFT(-k_i k_j phi1_k)
    d = {}
    for i in range(3):
        for j in range(i, 3):
            d[i, j] = fft.inverse(-kv[i] * kv[j] * phi1)
    src = (d[0, 0] * d[1, 1] + d[0, 0] * d[2, 2] + d[1, 1] * d[2, 2]
           - d[0, 1] ** 2 - d[0, 2] ** 2 - d[1, 2] ** 2)
    sk = fft.forward(src)
    sk[fft.nyquist_mask()] = 0.0
    phi2 = -sk * inv
    psi2 = np.stack([fft.inverse(1j * kv[c] * phi2) for c in range(3)], axis=-1)
    return psi1, psi2


def lpt_particles(fft, box: float, pk, seed: int, a: float, growth, order: int = 2, offset: float = 0.0):
    """Particles of this rank's lattice slab at scale factor ``a``: (pos, p, ids).

    ``growth`` is a :class:`nbody.cosmological.growth.GrowthTables`. Positions are wrapped
    into [0, box); ids are ``(ix n + iy) n + iz`` of the Lagrangian lattice point
    ``q = (ix, iy, iz) L / n + offset``. The PM driver sets ``offset`` to half a mesh cell:
    cloud-in-cell assignment is then linear in small displacements (a particle sitting exactly on
    a mesh node deposits ``1 - |d|``, which depends on the sign of d).
    """
    n = fft.n
    dk = gaussian_field_k(fft, box, pk, seed)
    psi1, psi2 = lpt_displacements(dk, fft, box, order)
    ix = np.arange(fft.x0, fft.x0 + fft.nxl)
    g = np.arange(n)
    q = np.stack(np.meshgrid(ix, g, g, indexing="ij"), axis=-1).reshape(-1, 3) * (box / n)
    ids = ((ix[:, None, None] * n + g[None, :, None]) * n + g[None, None, :]).reshape(-1).astype(np.int64)
    D1, f1 = growth.D1(a), growth.f1(a)
    E = growth.E(a)
    disp = D1 * psi1.reshape(-1, 3)
    mom = a * a * E * f1 * D1 * psi1.reshape(-1, 3)
    if psi2 is not None:
        D2, f2 = growth.D2(a), growth.f2(a)
        disp = disp + D2 * psi2.reshape(-1, 3)
        mom = mom + a * a * E * f2 * D2 * psi2.reshape(-1, 3)
    pos = np.mod(q + offset + disp, box)
    pos[pos >= box] -= box
    return pos, mom, ids
