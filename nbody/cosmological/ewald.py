"""Ewald-summed direct gravitational accelerations in a periodic cube (reference for TreePM).

For a cube of side L with a uniform neutralising background (the cosmological Poisson equation
``lap phi = 4 pi G (rho - rho_mean)``), the acceleration of particle i is (Ewald 1921; Hernquist,
Bouchet & Suto 1991, ApJS 75, 231, eqs. 2.10-2.12; written here for the total force of N particles, the
"classical" Ewald sum)

    a_i = -G sum_j m_j [ sum_n  x_n (erfc(alpha r_n) + 2 alpha r_n / sqrt(pi) exp(-alpha^2 r_n^2)) / r_n^3
                         + (4 pi / L^3) sum_{k != 0} k / k^2 exp(-k^2 / (4 alpha^2)) sin(k . x) ]

with ``x = x_i - x_j``, ``x_n = x - n L``, ``k = 2 pi h / L`` (h integer vectors). The real-space sum is
taken over the minimum image only, with ``alpha = alpha_L / L``: its truncation error is of order
``exp(-(alpha L / 2)^2)`` (default ``alpha_L = 9``: e^-20); the k-space sum runs over ``|h| <= hmax``
with the default ``hmax`` chosen so that ``exp(-k_max^2 / 4 alpha^2) <= e^-20`` as well. The
k-space part uses the structure factors ``S_k = sum_j m_j exp(i k . x_j)``: O(N N_k) instead of
O(N^2 N_k). Pairs closer than the spline support ``h`` get the cubic-spline-softened force of the
tree code (Springel 2005, MNRAS 364, 1105, eq. 4) instead of the Newtonian minimum-image term (requires
h < L / 2); a TreePM code, which softens only its short-range part, differs from it there by
(spline - 1/r^3)(1 - f_short), small while h << r_s.

Cost: about N^2 / 2 erfc's plus N x 4 pi hmax^3 / 3 complex products; N = 4000 takes ~1 s on 2 cores.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from gpu.jit import refresh_stale_cache

from ..direct import _as_eps
from .._kernels.direct import spline_force_factor
from .split import min_image, shortrange_force_factor

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


@njit(cache=True, inline="always")
def ewald_real_factor(r, alpha):
    """Real-space Ewald factor: the pair force is ``-G m x / r^3`` times
    ``erfc(alpha r) + 2 alpha r / sqrt(pi) exp(-alpha^2 r^2)`` (Hernquist et al. 1991, eq. 2.11), which is
    the TreePM short-range factor (Springel 2005 eq. 24) with ``r_s = 1 / (2 alpha)``."""
    return shortrange_force_factor(r, 0.5 / alpha)


@njit(parallel=True, cache=True)
def _ewald_real(pos, mass, h, box, alpha):
    n = pos.shape[0]
    acc = np.zeros((n, 3))
    for i in prange(n):
        ax = 0.0
        ay = 0.0
        az = 0.0
        for j in range(n):
            if j == i:
                continue
            dx = min_image(pos[i, 0] - pos[j, 0], box)
            dy = min_image(pos[i, 1] - pos[j, 1], box)
            dz = min_image(pos[i, 2] - pos[j, 2], box)
            r2 = dx * dx + dy * dy + dz * dz
            if r2 == 0.0:
                continue
            r = math.sqrt(r2)
            f = mass[j] * ewald_real_factor(r, alpha) / (r2 * r)
            hij = h[i] if h[i] > h[j] else h[j]
            if r < hij:  # softened pair: replace the Newtonian part 1/r^3 by the spline kernel's
                f += mass[j] * (spline_force_factor(r2, hij) - 1.0 / (r2 * r))
            ax -= f * dx
            ay -= f * dy
            az -= f * dz
        acc[i, 0] = ax
        acc[i, 1] = ay
        acc[i, 2] = az
    return acc


@njit(parallel=True, cache=True)
def _ewald_kspace(pos, mass, box, alpha, hmax):
    """k-space sum: ``-(4 pi / L^3) sum_k k/k^2 exp(-k^2/4 alpha^2) Im(e^{i k.x_i} conj(S_k))`` (the
    half space of k with a factor 2: the terms of k and -k are equal)."""
    n = pos.shape[0]
    nh = 2 * hmax + 1
    kf = 2.0 * math.pi / box
    # per-axis phase tables e^{i kf h x} for h = -hmax..hmax
    ph = np.empty((n, 3, nh), dtype=np.complex128)
    for i in prange(n):
        for d in range(3):
            for q in range(nh):
                t = kf * (q - hmax) * pos[i, d]
                ph[i, d, q] = complex(math.cos(t), math.sin(t))
    # half space: hx > 0, or hx = 0 and hy > 0, or hx = hy = 0 and hz > 0
    hv = []
    for hx in range(0, hmax + 1):
        for hy in range(-hmax, hmax + 1):
            for hz in range(-hmax, hmax + 1):
                if hx * hx + hy * hy + hz * hz > hmax * hmax or hx * hx + hy * hy + hz * hz == 0:
                    continue
                if hx == 0 and (hy < 0 or (hy == 0 and hz < 0)):
                    continue
                hv.append((hx, hy, hz))
    nk = len(hv)
    hk = np.empty((nk, 3), dtype=np.int64)
    for q in range(nk):
        hk[q, 0] = hv[q][0]
        hk[q, 1] = hv[q][1]
        hk[q, 2] = hv[q][2]
    S = np.empty(nk, dtype=np.complex128)
    coef = np.empty(nk)
    for q in prange(nk):
        s = 0j
        a, b, c = hk[q, 0] + hmax, hk[q, 1] + hmax, hk[q, 2] + hmax
        for j in range(n):
            s += mass[j] * ph[j, 0, a] * ph[j, 1, b] * ph[j, 2, c]
        S[q] = s.conjugate()
        k2 = kf * kf * (hk[q, 0] ** 2 + hk[q, 1] ** 2 + hk[q, 2] ** 2)
        coef[q] = 2.0 * 4.0 * math.pi / box ** 3 * math.exp(-k2 / (4.0 * alpha * alpha)) / k2 * kf
    acc = np.zeros((n, 3))
    for i in prange(n):
        ax = 0.0
        ay = 0.0
        az = 0.0
        for q in range(nk):
            e = ph[i, 0, hk[q, 0] + hmax] * ph[i, 1, hk[q, 1] + hmax] * ph[i, 2, hk[q, 2] + hmax]
            w = coef[q] * (e * S[q]).imag
            ax -= w * hk[q, 0]
            ay -= w * hk[q, 1]
            az -= w * hk[q, 2]
        acc[i, 0] = ax
        acc[i, 1] = ay
        acc[i, 2] = az
    return acc


def default_hmax(alpha_L: float) -> int:
    """Smallest integer k-space radius with ``k_max / (2 alpha) >= alpha L / 2``, i.e. the k-space
    truncation ``exp(-k_max^2 / 4 alpha^2)`` no larger than the real-space one ``exp(-(alpha L / 2)^2)``."""
    return int(math.ceil(alpha_L * alpha_L / (2.0 * math.pi)))


def ewald_accelerations(pos, mass, box: float, G: float = 1.0, eps=0.0, alpha_L: float = 9.0,
                        hmax: int | None = None):
    """Ewald-summed accelerations (N, 3) of particles ``pos`` (N, 3) in a periodic cube of side ``box``
    with a neutralising background (see the module docstring for the formula and its accuracy).

    ``eps``: Plummer-equivalent softening (scalar or per particle; spline support h = 2.8 eps, pair
    support max(h_i, h_j), < box / 2). ``alpha_L``: Ewald splitting parameter alpha times the box side
    (> 0); ``hmax``: k-space radius in units of 2 pi / L (default :func:`default_hmax`).
    """
    from .pm import check_particles

    pos, mass = check_particles(None, pos, mass, "ewald_accelerations")
    if not (np.isfinite(box) and box > 0):
        raise ValueError(f"box must be finite and > 0, got {box}")
    if not (np.isfinite(alpha_L) and 6.0 <= alpha_L <= 30.0):
        # the real-space sum takes the minimum image only: its error ~ exp(-(alpha_L / 2)^2) is 1e-4 at 6
        raise ValueError(f"alpha_L must be in [6, 30] (minimum-image real-space sum), got {alpha_L}")
    hmax = default_hmax(alpha_L) if hmax is None else int(hmax)
    if not 1 <= hmax <= 64:  # the k table is N x 3 x (2 hmax + 1) complex numbers
        raise ValueError(f"hmax must be in [1, 64], got {hmax}")
    h = _as_eps(eps, len(mass))
    if np.any(h >= 0.5 * box):
        raise ValueError("the softening support 2.8 eps must be < box / 2")
    pos = np.ascontiguousarray(pos % box)
    alpha = alpha_L / box
    acc = _ewald_real(pos, mass, h, float(box), alpha) + _ewald_kspace(pos, mass, float(box), alpha, hmax)
    return G * acc


refresh_stale_cache(globals())   # callees in other files are compiled in: see gpu.jit
