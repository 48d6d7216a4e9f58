"""Numba kernels of the V_G forecast: table interpolation, Limber sums, the (k, mu) velocity Fisher
sum and the 2D-3D cross-covariance mode sum. Plain float64 arrays, internal units (h/Mpc, Mpc/h)."""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange
from gpu.jit import refresh_stale_cache


@njit(cache=True)
def interp_scalar(lnp, z_grid, lnk_grid, z, lnk):
    """Bilinear interpolation of a table lnp[z_j, lnk_i] (uniform ln k grid) at (z, lnk); clamped at the edges."""
    nz = z_grid.size
    nk = lnk_grid.size
    if z <= z_grid[0]:
        j, t = 0, 0.0
    elif z >= z_grid[nz - 1]:
        j, t = nz - 2, 1.0
    else:
        j = np.searchsorted(z_grid, z) - 1
        t = (z - z_grid[j]) / (z_grid[j + 1] - z_grid[j])
    x = (lnk - lnk_grid[0]) / (lnk_grid[1] - lnk_grid[0])
    if x <= 0.0:
        m, s = 0, 0.0
    elif x >= nk - 1:
        m, s = nk - 2, 1.0
    else:
        m = int(x)
        s = x - m
    a = (1 - s) * lnp[j, m] + s * lnp[j, m + 1]
    b = (1 - s) * lnp[j + 1, m] + s * lnp[j + 1, m + 1]
    return (1 - t) * a + t * b


@njit(cache=True)
def interp_lnk_z(lnp, z_grid, lnk_grid, z, lnk):
    """:func:`interp_scalar` at (z, lnk[:])."""
    out = np.empty(lnk.size)
    for i in range(lnk.size):
        out[i] = interp_scalar(lnp, z_grid, lnk_grid, z, lnk[i])
    return out


@njit(cache=True, parallel=True)
def limber_sum(ell, chi, weight, z, lnq, z_grid, lnk_grid):
    """C_l = int dchi weight(chi) Q(k = (l + 1/2)/chi, z(chi)) / chi^2 with Q = exp(lnq table); trapezoid in chi."""
    nl = ell.size
    nc = chi.size
    out = np.zeros(nl)
    for i in prange(nl):
        acc = 0.0
        prev = 0.0
        for c in range(nc):
            q = math.exp(interp_scalar(lnq, z_grid, lnk_grid, z[c], math.log((ell[i] + 0.5) / chi[c])))
            val = weight[c] * q / (chi[c] * chi[c])
            if c > 0:
                acc += 0.5 * (chi[c] - chi[c - 1]) * (val + prev)
            prev = val
        out[i] = acc
    return out


@njit(cache=True)
def velocity_fisher(k_edges, n_k, n_mu, volume, aH, b, b_v, f_k, lnk_tab, lnp_tab, nbar, nvv_white, kaiser):
    """Fisher information F = 1/sigma_A^2 on the amplitude A(k) = b f(k) P(k) in each k bin.

    Per (k, mu), mu in (0, 1], with N = V k^2 dk dmu / (2 pi^2) complex-mode pairs (module docstring of
    cosmo.forecast): template t = b_v (aH/k) mu (1 + beta mu^2), beta = f/b,
    P_gv = A t, P_gg = (b + f mu^2)^2 P + 1/n, P_vv = b_v^2 (aH f mu / k)^2 P + N_vv/mu^2,
    F = sum N t^2 / (P_gg P_vv + P_gv^2). Returns (F, A at the bin centre weighted by F).
    f_k, P from tables on lnk_tab (linear interpolation in ln k). kaiser = 1 (redshift space) or 0 (real space)
    multiplies the f mu^2 terms of the galaxy field.
    Many arguments: Numba kernels take plain arrays and scalars (no objects in nopython mode).
    """
    nb = k_edges.size - 1
    F = np.zeros(nb)
    Abar = np.zeros(nb)
    for ib in range(nb):
        k0, k1 = k_edges[ib], k_edges[ib + 1]
        dk = (k1 - k0) / n_k
        acc = 0.0
        accA = 0.0
        for ik in range(n_k):
            k = k0 + (ik + 0.5) * dk
            lk = math.log(k)
            P = math.exp(np.interp(lk, lnk_tab, lnp_tab))
            f = np.interp(lk, lnk_tab, f_k)
            A = b * f * P
            beta = kaiser * f / b
            for im in range(n_mu):
                mu = (im + 0.5) / n_mu
                t = b_v * (aH / k) * mu * (1.0 + beta * mu * mu)
                pgv = A * t
                pgg = (b + kaiser * f * mu * mu) ** 2 * P + 1.0 / nbar
                pvv = (b_v * aH * f * mu / k) ** 2 * P + nvv_white / (mu * mu)
                nmod = volume * k * k * dk / n_mu / (2.0 * math.pi**2)
                w = nmod * t * t / (pgg * pvv + pgv * pgv)
                acc += w
                accA += w * A
        F[ib] = acc
        Abar[ib] = accA / acc
    return F, Abar


@njit(cache=True)
def cross_covariance_sum(k_edges, n_kperp, n_par_max, L, area, chi_eff, ckg, ckk_tot, cgg_tot,
                         wk_re, wk_im, wg_re, wg_im, aH, b, b_v, f_k, lnk_tab, lnp_tab, nbar, nvv_white, kaiser):
    """Correlation coefficient between the binned C^{kappa g} estimator and the velocity amplitude
    estimator through shared modes (flat sky, shell of depth L and transverse area ``area``).

    For each transverse mode k_perp in the bin and radial modes k_par = 2 pi n / L (|n| <= n_par_max),
    Cov(Re[K* G], Im[g_n* v_n]) = (area^2 / 2) Re(wk*(n) wg(n)) [d_n P_gg + c_n P_dg] with
    d_n = b_v (aH f mu/k) P, c_n = d_n (b + f mu^2), P_dg = (b + f mu^2) P, wk(n), wg(n) the Fourier
    transforms of the lensing and galaxy windows across the shell (cosmo.forecast docstring).
    Inputs ckg, ckk_tot, cgg_tot: per-bin arrays of the angular spectra at the bin's k_perp grid (sr).
    Returns rho per bin.
    Many arguments: Numba kernels take plain arrays and scalars (no objects in nopython mode).
    """
    nb = k_edges.size - 1
    rho = np.zeros(nb)
    for ib in range(nb):
        k0, k1 = k_edges[ib], k_edges[ib + 1]
        dkp = (k1 - k0) / n_kperp
        cov = 0.0
        FN = 0.0
        FA = 0.0
        for ip in range(n_kperp):
            kp = k0 + (ip + 0.5) * dkp
            nmodes2d = area * kp * dkp / (4.0 * math.pi)
            c2 = chi_eff * chi_eff
            EX = area * c2 * ckg[ib, ip]
            VX = 0.5 * area * area * c2 * c2 * (ckg[ib, ip] ** 2 + ckk_tot[ib, ip] * cgg_tot[ib, ip])
            alpha = EX / VX
            FN += nmodes2d * EX * EX / VX
            s = 0.0
            for n in range(-n_par_max, n_par_max + 1):
                if n == 0:
                    continue
                kpar = 2.0 * math.pi * n / L
                k = math.sqrt(kp * kp + kpar * kpar)
                if k > k1:
                    continue
                mu = kpar / k
                lk = math.log(k)
                P = math.exp(np.interp(lk, lnk_tab, lnp_tab))
                f = np.interp(lk, lnk_tab, f_k)
                d = b_v * aH * f * mu / k * P
                c = d * (b + kaiser * f * mu * mu)
                pgg = (b + kaiser * f * mu * mu) ** 2 * P + 1.0 / nbar
                pvv = (b_v * aH * f * mu / k) ** 2 * P + nvv_white / (mu * mu)
                V = area * L
                t = b_v * (aH / k) * mu * (1.0 + kaiser * f / b * mu * mu)
                varY = 0.5 * V * V * (pgg * pvv + c * c)
                omega = V * t / varY
                idx = abs(n)
                # Re(wk*(n) wg(n)) is even in n for real windows (w(-n) = w(n)*)
                re_q = wk_re[idx] * wg_re[idx] + wk_im[idx] * wg_im[idx]
                covn = 0.5 * area * area * re_q * (d * pgg + c * (b + kaiser * f * mu * mu) * P)
                s += omega * covn
            cov += nmodes2d * alpha * s
        # F_A over the same bin from the continuous (k, mu) sum
        FA = 0.0
        nk = n_kperp
        dk = (k1 - k0) / nk
        for ik in range(nk):
            k = k0 + (ik + 0.5) * dk
            lk = math.log(k)
            P = math.exp(np.interp(lk, lnk_tab, lnp_tab))
            f = np.interp(lk, lnk_tab, f_k)
            for im in range(32):
                mu = (im + 0.5) / 32
                t = b_v * (aH / k) * mu * (1.0 + kaiser * f / b * mu * mu)
                c = b * f * P * t
                pgg = (b + kaiser * f * mu * mu) ** 2 * P + 1.0 / nbar
                pvv = (b_v * aH * f * mu / k) ** 2 * P + nvv_white / (mu * mu)
                FA += area * L * k * k * dk / 32 / (2.0 * math.pi**2) * t * t / (pgg * pvv + c * c)
        rho[ib] = cov / math.sqrt(FN * FA)
    return rho


refresh_stale_cache(globals())   # callees in other files are compiled in: see gpu.jit
