"""CMB spectra (CAMB) and CMB-lensing reconstruction noise from the quadratic estimator.

Lensing kernel (e.g. Lewis & Challinor 2006, Phys. Rep. 429, 1, eq. 4.2 with the
Poisson equation):

    W_kappa(chi) = (3/2) (H0/c)^2 Omega_m0 (1 + z) chi (chi* - chi) / chi*     [h/Mpc]

In modified gravity the lensing potential is sourced by Sigma(k, a) (cosmo.mg).

Reconstruction noise: flat-sky Hu & Okamoto (2002, arXiv:astro-ph/0111606) quadratic
estimators, N^{phi phi}_L = [ int d^2l1/(2pi)^2 f_XY(l1, l2)^2 / (k_XY C^tot_X(l1) C^tot_Y(l2)) ]^-1,
l2 = L - l1, with (their Table 1)::

    f_TT = C^TT_l1 (L.l1) + C^TT_l2 (L.l2),                              k = 2
    f_EE = [C^EE_l1 (L.l1) + C^EE_l2 (L.l2)] cos 2(phi1 - phi2),          k = 2
    f_EB = [C^EE_l1 (L.l1) - C^BB_l2 (L.l2)] sin 2(phi1 - phi2),          k = 1

using lensed spectra in the response (a standard approximation to the gradient spectra,
Lewis, Challinor & Hanson 2011), and N^{kappa kappa} = L^4 N^{phi phi} / 4. Estimators are
combined by inverse variance (their mutual correlation neglected; TE and TB are omitted,
which is conservative by ~10-20% for SO-like noise).
"""
from __future__ import annotations

import numpy as np

from .background import cosmology_key
from .surveys import CMBExperiment, Foregrounds, ilc_noise

_CL_CACHE: dict = {}
CAMB_LMAX = 5000


def cmb_spectra(cosmology=None, lmax: int = 12000):
    """Lensed and unlensed CMB power spectra C_l [uK^2] (no l(l+1)/2pi), from CAMB; cached.

    Returns dict with ``ell`` and ``TT, EE, BB, TE`` (lensed), ``TT_unlensed, EE_unlensed`` and ``kk``
    (CMB lensing convergence power, L^2 (L+1)^2 C^{phi phi} / 4).
    CAMB runs to l = 5000; beyond, the damping tail is continued exponentially in l from a fit
    to 4000 < l < 5000 (there the lensed TT is 1e-3 of the kSZ/foreground power).
    """
    key = (cosmology_key(cosmology), lmax)
    out = _CL_CACHE.get(key)
    if out is not None:
        return out
    import camb

    from .power import camb_params

    p = camb_params(cosmology, redshifts=[0.0])
    p.WantCls = True
    p.WantTransfer = False
    p.set_for_lmax(CAMB_LMAX, lens_potential_accuracy=1)
    res = camb.get_results(p)
    lens = res.get_lensed_scalar_cls(CMB_unit="muK", raw_cl=True, lmax=CAMB_LMAX)
    unl = res.get_unlensed_scalar_cls(CMB_unit="muK", raw_cl=True, lmax=CAMB_LMAX)
    pp = res.get_lens_potential_cls(lmax=CAMB_LMAX, raw_cl=True)[:, 0]
    ell = np.arange(lmax + 1, dtype=float)
    out = {"ell": ell}
    kk = np.zeros(lmax + 1)
    l5 = ell[: CAMB_LMAX + 1]
    kk[: CAMB_LMAX + 1] = (l5 * (l5 + 1)) ** 2 / 4.0 * pp
    out["kk"] = kk  # CAMB's C_L^{kappa kappa} (non-linear lensing, beyond Limber), zero above l = 5000
    fit = slice(4000, CAMB_LMAX + 1)
    for name, arr in (("TT", lens[:, 0]), ("EE", lens[:, 1]), ("BB", lens[:, 2]), ("TE", lens[:, 3]),
                      ("TT_unlensed", unl[:, 0]), ("EE_unlensed", unl[:, 1])):
        full = np.zeros(lmax + 1)
        full[: CAMB_LMAX + 1] = arr
        if name != "TE":
            y = np.log(np.abs(arr[fit]) + 1e-300)
            slope, icpt = np.polyfit(ell[fit], y, 1)
            full[CAMB_LMAX + 1:] = np.exp(icpt + slope * ell[CAMB_LMAX + 1:])
        out[name] = full
    _CL_CACHE[key] = out
    return out


def total_temperature_power(exp: CMBExperiment, ell, foregrounds: Foregrounds | None, cosmology=None,
                            include_ksz: bool = True):
    """C^TT,tot_l = lensed CMB + kSZ + ILC residual (foregrounds + noise/beam^2) [uK^2 sr]."""
    ell = np.asarray(ell, dtype=float)
    cls = cmb_spectra(cosmology)
    if np.any(ell > cls["ell"][-1]):
        raise ValueError(f"multipoles beyond {cls['ell'][-1]:.0f} are not supported")
    tt = np.interp(ell, cls["ell"], cls["TT"])
    out = tt + ilc_noise(exp, ell, foregrounds)
    if include_ksz and foregrounds is not None:
        out = out + foregrounds.ksz_cl(ell)
    return out


def _qe_grid(lmin, lmax, n_l=240, n_phi=128):
    l1 = np.linspace(lmin, lmax, n_l)
    phi = (np.arange(n_phi) + 0.5) * 2 * np.pi / n_phi
    return l1, phi


def quadratic_estimator_noise(exp: CMBExperiment, L, foregrounds: Foregrounds | None = None, cosmology=None,
                              estimators=None):
    """N^{kappa kappa}_L of the inverse-variance combination of ``estimators`` (default: the experiment's list).

    Returns (N_mv, {estimator: N}) on the multipoles ``L``. Polar integration over l1 in
    [lensing_ell_min, lmax] with both l1 and l2 = |L - l1| restricted to the experiment's range.
    """
    L = np.atleast_1d(np.asarray(L, dtype=float))
    estimators = list(estimators or exp.lensing_estimators)
    cls = cmb_spectra(cosmology)
    ell_all = cls["ell"]
    lmin = exp.lensing_ell_min
    lmaxT, lmaxP = exp.lensing_ell_max_T, exp.lensing_ell_max_P
    ltab = np.arange(2, max(lmaxT, lmaxP) + 2, dtype=float)
    tt_tot = np.interp(ltab, ell_all, cls["TT"]) + ilc_noise(exp, ltab, foregrounds)
    if foregrounds is not None:
        tt_tot = tt_tot + foregrounds.ksz_cl(ltab)
    pn = exp.pol_noise(ltab)
    ee_tot = np.interp(ltab, ell_all, cls["EE"]) + pn
    bb_tot = np.interp(ltab, ell_all, cls["BB"]) + pn

    def tab(arr, l):
        return np.interp(l, ltab, arr)

    res = {}
    for est in estimators:
        lmax = lmaxT if est == "TT" else lmaxP
        l1, phi = _qe_grid(lmin, lmax)
        dl = l1[1] - l1[0]
        dphi = phi[1] - phi[0]
        L1, PH = np.meshgrid(l1, phi, indexing="ij")
        inv = np.zeros(L.size)
        for i, Lv in enumerate(L):
            # l1 = (L1 cos PH, L1 sin PH), L along x
            l1x, l1y = L1 * np.cos(PH), L1 * np.sin(PH)
            l2x, l2y = Lv - l1x, -l1y
            l2 = np.hypot(l2x, l2y)
            ok = (l2 >= lmin) & (l2 <= lmax)
            Ldl1 = Lv * l1x
            Ldl2 = Lv * l2x
            if est == "TT":
                c1, c2 = np.interp(L1, ell_all, cls["TT"]), \
                    np.interp(l2, ell_all, cls["TT"])
                f = c1 * Ldl1 + c2 * Ldl2
                den = 2 * tab(tt_tot, L1) * tab(tt_tot, l2)
            else:
                ang2 = 2 * (PH - np.arctan2(l2y, l2x))
                e1 = np.interp(L1, ell_all, cls["EE"])
                if est == "EE":
                    f = (e1 * Ldl1 + np.interp(l2, ell_all, cls["EE"]) * Ldl2) * np.cos(ang2)
                    den = 2 * tab(ee_tot, L1) * tab(ee_tot, l2)
                else:  # EB
                    f = (e1 * Ldl1 - np.interp(l2, ell_all, cls["BB"]) * Ldl2) * np.sin(ang2)
                    den = tab(ee_tot, L1) * tab(bb_tot, l2)
            integ = np.where(ok, f * f / den, 0.0) * L1
            inv[i] = np.sum(integ) * dl * dphi / (2 * np.pi) ** 2
        with np.errstate(divide="ignore"):
            res[est] = L**4 / 4.0 / inv
    mv = 1.0 / np.sum([1.0 / res[e] for e in estimators], axis=0)
    return mv, res


def lensing_kernel(chi, chi_star, Om0, z):
    """W_kappa(chi) [h/Mpc], chi in Mpc/h (see module docstring)."""
    from .mg import H0_OVER_C

    chi = np.asarray(chi, dtype=float)
    return 1.5 * H0_OVER_C**2 * Om0 * (1 + np.asarray(z)) * chi * np.clip(chi_star - chi, 0, None) / chi_star
