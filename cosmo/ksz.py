"""kSZ velocity reconstruction noise N_vv(k, mu) from the quadratic estimator.

kSZ temperature: Delta T(n) = int dchi K(z) q_r(chi n), q_r = (1 + delta_e) v_r / c, with the radial
weight (Smith et al. 2018, arXiv:1810.13423, eq. 4; Deutsch et al. 2018, arXiv:1707.08129)

    K(z) = -T_CMB sigma_T n_e0 x_e e^{-tau(z)} (1 + z)^2        [uK per Mpc/h]

n_e0 = (1 - Y_He/2) Omega_b0 rho_crit0 / m_p the comoving electron density (helium fully
ionised, x_e = 1), tau(z) = sigma_T n_e0 int_0^z (1+z')^2 c dz'/H(z').

Reconstruction noise of the radial velocity (Smith et al. 2018, arXiv:1810.13423, eq. 29; Deutsch
et al. 2018, arXiv:1707.08129), for a galaxy shell at comoving distance chi_*:

    N_vv(k, mu) = chi_*^2 / (K_*^2 mu^2) [ int k' dk' / (2 pi) P_ge(k')^2 / (P_gg^tot(k') C^TT,tot_{l = k' chi_*}) ]^-1

in units of (v/c)^2 (Mpc/h)^3 (multiplied by c^2 here, giving km^2 s^-2 (Mpc/h)^3). It is
white (k-independent) on the large scales where the velocity field is measured (k << k'
~ l/chi_* ~ 1 h/Mpc) and ∝ 1/mu^2 (only the radial velocity is reconstructed).

Electron-galaxy power (documented choice): P_ge = b_e b_g P_mm^NL(k') with b_e = 1 and the CAMB
halofit (Takahashi et al. 2012) non-linear matter power (linear P with ``method="eh"``);
P_gg^tot = b_g^2 P_mm^NL + 1/n_g. The mismatch between this fiducial P_ge and the true one is
the velocity bias b_v (reconstructed v = b_v v_true + noise; b_v ~ 0.45 measured with ACT x
DESI, Hadzhiyska et al. 2025, arXiv:2506.21657), applied in :mod:`cosmo.forecast`.
"""
from __future__ import annotations

import math

import numpy as np

from .background import C_KMS, background
from .lensing import total_temperature_power
from .surveys import T_CMB_K, CMBExperiment, Foregrounds

SIGMA_T = 6.6524587321e-29  # m^2
M_P = 1.67262192369e-27     # kg
G_SI = 6.67430e-11
MPC_M = 3.0856775814913673e22
Y_HE = 0.2454               # Planck 2018 BBN-consistent helium fraction


def electron_density0(cosmology=None, Y_He: float = Y_HE) -> float:
    """Comoving free-electron density today n_e0, per (Mpc/h)^3."""
    bg = background(cosmology)
    H0_si = bg.H0 * 1e3 / MPC_M
    rho_c = 3 * H0_si**2 / (8 * math.pi * G_SI)
    ne_m3 = (1 - Y_He / 2) * bg.Ob0 * rho_c / M_P
    mpch = MPC_M / bg.h
    return ne_m3 * mpch**3


def optical_depth(z, cosmology=None, Y_He: float = Y_HE):
    """tau(z) = sigma_T n_e0 int_0^z (1+z')^2 c dz' / H(z') (fully ionised since z)."""
    bg = background(cosmology)
    z = np.atleast_1d(np.asarray(z, dtype=float))
    mpch = MPC_M / bg.h
    sig_ne = SIGMA_T / mpch**2 * electron_density0(cosmology, Y_He)  # per Mpc/h
    zz = np.linspace(0, max(float(z.max()), 1e-6), 2001)
    integ = (1 + zz) ** 2 / bg.E(zz) * (C_KMS / 100.0)  # Mpc/h per unit z
    cum = np.concatenate([[0.0], np.cumsum(0.5 * np.diff(zz) * (integ[1:] + integ[:-1]))])
    out = sig_ne * np.interp(z, zz, cum)
    return out if out.size > 1 else float(out[0])


def ksz_weight(z, cosmology=None, Y_He: float = Y_HE, x_e: float = 1.0):
    """K(z) = -T_CMB sigma_T n_e0 x_e e^{-tau} (1+z)^2  [uK per Mpc/h] (module docstring)."""
    bg = background(cosmology)
    mpch = MPC_M / bg.h
    sig_ne = SIGMA_T / mpch**2 * electron_density0(cosmology, Y_He)
    z = np.asarray(z, dtype=float)
    return -T_CMB_K * 1e6 * sig_ne * x_e * np.exp(-optical_depth(z, cosmology, Y_He)) * (1 + z) ** 2


def nvv_integral(exp: CMBExperiment, z, bias, nbar, foregrounds: Foregrounds | None, cosmology=None,
                 method: str = "camb", n_k: int = 400):
    """I = int k' dk'/(2 pi) P_ge^2 / (P_gg^tot C^TT,tot) over l = k' chi in [ksz_ell_min, ksz_ell_max]."""
    from .power import linear_power, nonlinear_power

    if nbar <= 0:
        raise ValueError(f"galaxy number density nbar must be > 0, got {nbar}")
    bg = background(cosmology)
    chi = float(bg.chi(z))
    ell = np.geomspace(exp.ksz_ell_min, exp.ksz_ell_max, n_k)
    kp = (ell + 0.5) / chi
    # method="eh": linear EH P(k) by choice (module docstring), since there is no non-linear EH model
    pm = linear_power(kp, z, cosmology, "eh") if method == "eh" else nonlinear_power(kp, z, cosmology, method)
    pge = bias * pm
    pgg = bias * bias * pm + 1.0 / nbar
    ctt = total_temperature_power(exp, ell, foregrounds, cosmology)
    integ = kp * kp / (2 * np.pi) * pge**2 / (pgg * ctt)  # k' dk' = k'^2 dln k'
    return float(np.trapezoid(integ, np.log(kp)))


def nvv_white(exp: CMBExperiment, z, bias, nbar, foregrounds: Foregrounds | None, cosmology=None,
              method: str = "camb"):
    """mu^2 N_vv [km^2 s^-2 (Mpc/h)^3]: the white large-scale level of the radial-velocity noise."""
    bg = background(cosmology)
    chi = float(bg.chi(z))
    K = float(ksz_weight(z, cosmology))
    I = nvv_integral(exp, z, bias, nbar, foregrounds, cosmology, method)
    return chi**2 / (K * K * I) * C_KMS**2


def nvv(k, mu, exp: CMBExperiment, z, bias, nbar, foregrounds: Foregrounds | None, cosmology=None,
        method: str = "camb"):
    """N_vv(k, mu) [km^2 s^-2 (Mpc/h)^3] on the broadcast of ``k`` and ``mu`` (mu != 0)."""
    k = np.asarray(k, dtype=float)
    mu = np.asarray(mu, dtype=float)
    if np.any(np.abs(mu) <= 0) or np.any(np.abs(mu) > 1):
        raise ValueError("mu must satisfy 0 < |mu| <= 1 (N_vv diverges as 1/mu^2)")
    if np.any(k <= 0):
        raise ValueError("wavenumbers k must be > 0 (h/Mpc)")
    w = nvv_white(exp, z, bias, nbar, foregrounds, cosmology, method)
    return np.broadcast_to(w / mu**2, np.broadcast(k, mu).shape).copy()
