"""Angular and 3D spectra of the V_G forecast for one gravity model.

Limber (1953; LoVerde & Afshordi 2008, arXiv:0809.5112, eq. 11) at k = (l + 1/2)/chi:

    C_l^{kappa g} = int dchi W_kappa(chi) W_g(chi) b(z) Sigma(k, z) P(k, z) / chi^2
    C_l^{gg}      = int dchi W_g^2 b^2 P / chi^2 (+ 1/n_sr shot noise, added by the caller)
    C_l^{kappa kappa} = int_0^{chi*} dchi W_kappa^2 Sigma^2 P / chi^2

with W_kappa of :func:`cosmo.lensing.lensing_kernel` and W_g the normalised galaxy window.

Velocity side. The radial-velocity x galaxy angular spectrum vanishes in Limber (the radial
velocity is odd in k_par), so the velocity cross-power is used in 3D: P_gv(k, mu) =
b_v (b + f mu^2) (aHf mu/k) P (cosmo.forecast). Its amplitude A(k) = b f P (the galaxy x
velocity-divergence power, theta = -div v / (aH)) is projected with the *lensing* radial
kernel, i.e. the galaxies are reweighted so that both spectra share the same effective
redshift (Pullen, Alam & Ho 2015, arXiv:1412.4454, Sec. 2, for the analogous E_G reweighting):

    Ctilde_l^{vg} = int dchi W_L(chi) W_g(chi) b f(k, z) P(k, z) / chi^2,
    W_L = (1 + z) chi (chi* - chi)/chi*,   W_kappa = (3/2) (H0/c)^2 Omega_m0 W_L,

so that V_G = (2c / 3H0^2) C^{kappa g} / C^{vg} = C^{kappa g} / [(3/2)(H0/c)^2 Ctilde^{vg}]
equals Omega_m0 Sigma / f exactly for a thin shell and a window-averaged Omega_m0 Sigma/f otherwise.
(The paper's C^{vg} carries 1/c from v/c, cancelled by the c of 2c/3H0^2.)
"""
from __future__ import annotations

import numpy as np

from ._kernels.forecast import limber_sum
from .background import background
from .growth import growth_factor, growth_rate, solve_growth
from .lensing import lensing_kernel
from .mg import H0_OVER_C, GR, HuSawicki
from .power import linear_power, nonlinear_power

LNK_GRID = np.linspace(np.log(1e-4), np.log(20.0), 256)


class ModelSpectra:
    """Tables of ln P_M, ln(Sigma P_M), ln(f P_M) and f_M on (z, ln k) for one gravity model.

    P_M(k, z) = P_GR(k, z) [D_M(k, z) / D_GR(z)]^2 (same primordial amplitude, cosmo.growth).
    """

    def __init__(self, model=None, cosmology=None, z_grid=None, method: str = "camb"):
        self.model = GR() if model is None else model
        if isinstance(self.model, HuSawicki):
            self.model = self.model.bind(cosmology)
        self.cosmology = cosmology
        self.bg = background(cosmology)
        self.z_grid = np.asarray(z_grid if z_grid is not None else np.linspace(0.0, 3.0, 61), dtype=float)
        self.lnk = LNK_GRID
        k = np.exp(self.lnk)
        a = 1.0 / (1.0 + self.z_grid)
        p_gr = np.asarray(linear_power(k, self.z_grid, cosmology, method))
        if self.model.is_gr:
            ratio = np.ones_like(p_gr)
            f = np.repeat(growth_rate(z=self.z_grid, cosmology=cosmology)[:, None], k.size, axis=1)
        else:
            D, f = solve_growth(k, z=self.z_grid, mu=self.model, cosmology=cosmology)  # (n_z, n_k)
            ratio = (D / growth_factor(z=self.z_grid, cosmology=cosmology)[:, None]) ** 2
        sig = self.model.sigma(k[None, :], a[:, None])
        self.lnp = np.log(p_gr * ratio)
        self.lnp_gr = np.log(p_gr)
        self.ln_sigp = np.log(sig * p_gr * ratio)
        self.ln_fp = np.log(f * p_gr * ratio)
        self.f = f
        self.sigma = sig
        self.method = method

    def f_of_k(self, z):
        """f(k, z) on the internal ln k grid (linear interpolation in z)."""
        return np.array([np.interp(z, self.z_grid, self.f[:, i]) for i in range(self.lnk.size)])

    def lnp_of_k(self, z):
        return np.array([np.interp(z, self.z_grid, self.lnp[:, i]) for i in range(self.lnk.size)])

    # --- Limber spectra ---------------------------------------------------------------------
    def c_kappa_g(self, ell, sample):
        z, chi, wg, b = shell(sample, self.cosmology, self.bg)
        wk = lensing_kernel(chi, self.bg.chi_star, self.bg.Om0_tot, z)
        return limber_sum(np.asarray(ell, float), chi, wk * wg * b, z, self.ln_sigp, self.z_grid, self.lnk)

    def c_v_g_tilde(self, ell, sample):
        """Ctilde^{vg} (module docstring) [same units as C^{kappa g} / (H0/c)^2]."""
        z, chi, wg, b = shell(sample, self.cosmology, self.bg)
        wl = (1 + z) * chi * (self.bg.chi_star - chi) / self.bg.chi_star
        return limber_sum(np.asarray(ell, float), chi, wl * wg * b, z, self.ln_fp, self.z_grid, self.lnk)

    def v_g(self, ell, sample):
        """V_G(l) = C^{kappa g} / [(3/2)(H0/c)^2 Ctilde^{vg}]."""
        return self.c_kappa_g(ell, sample) / (1.5 * H0_OVER_C**2 * self.c_v_g_tilde(ell, sample))

    def c_gg(self, ell, sample):
        z, chi, wg, b = shell(sample, self.cosmology, self.bg)
        return limber_sum(np.asarray(ell, float), chi, wg * wg * b * b, z, self.lnp_gr, self.z_grid, self.lnk)


def shell(sample, cosmology=None, bg=None, n: int = 200):
    """The Limber integration grid of a galaxy sample: ``n`` redshifts over its shell
    ``[z_min, z_max]``, their comoving distances, the normalised window W_g and the bias b."""
    bg = background(cosmology) if bg is None else bg
    z = np.linspace(sample.z_min, sample.z_max, n)
    chi = bg.chi(z)
    return z, chi, sample.window(z, cosmology), sample.bias(z, cosmology)


def effective_redshift(sample, cosmology=None, n=200) -> float:
    """Effective redshift of C^{kappa g}: mean z with weight W_kappa W_g b D^2 / chi^2 over the
    sample's shell (the GR weight W_kappa W_g b P(k_ref, z) / chi^2 with P(k_ref, z) ∝ D(z)^2).

    Needs no power spectrum, so the forecast can check its multipole range before any work.
    """
    bg = background(cosmology)
    z, chi, wg, b = shell(sample, cosmology, bg, n)
    wk = lensing_kernel(chi, bg.chi_star, bg.Om0_tot, z)
    d2 = growth_factor(z=z, cosmology=cosmology) ** 2
    w = wk * wg * b * d2 / chi**2
    return float(np.trapezoid(z * w, chi) / np.trapezoid(w, chi))


_CKK_CACHE: dict = {}


def c_kappa_kappa(ell, cosmology=None, method: str = "camb"):
    """GR C_l^{kappa kappa} (Limber, halofit non-linear power with CAMB, the linear Eisenstein-Hu power
    with ``method="eh"``) integrated over 0 < z < 1085.

    Sources beyond z = 10 contribute ~2% at L = 20 and ~10% at L = 400, so the full range is used
    (linear growth scaling of the CAMB table beyond its z = 10 node).
    """
    from .background import cosmology_key

    key = (cosmology_key(cosmology), method)
    tab = _CKK_CACHE.get(key)
    if tab is None:
        bg = background(cosmology)
        z = np.concatenate([np.linspace(1e-3, 10.0, 300), np.geomspace(10.1, 1085.0, 160)])
        chi = bg.chi(z)
        lnk = LNK_GRID
        k = np.exp(lnk)
        # method="eh": the linear EH spectrum by choice (no non-linear EH model; docstring above)
        power = linear_power if method == "eh" else nonlinear_power
        lnp = np.log(np.asarray(power(k, z, cosmology, method)))
        tab = (z, chi, lnp, lensing_kernel(chi, bg.chi_star, bg.Om0_tot, z))
        _CKK_CACHE[key] = tab
    z, chi, lnp, wk = tab
    return limber_sum(np.asarray(ell, float), chi, wk * wk, z, lnp, z, LNK_GRID)
