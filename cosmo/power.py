"""Linear matter power spectrum P(k, z): CAMB, or the Eisenstein & Hu (1998) fitting function.

Units: k in h/Mpc, P in (Mpc/h)^3 (the total matter, CDM + baryons (+ massive
neutrinos for CAMB's ``delta_tot``), linear theory).

* ``method="camb"`` runs CAMB once per cosmology (transfer functions only, no
  CMB; about 1 s) at a grid of redshifts and interpolates in (z, ln k); results
  are cached by the cosmology's parameters. k beyond CAMB's ``kmax`` is
  continued with the Eisenstein-Hu shape.
* ``method="eh"`` is the dependency-free Eisenstein & Hu (1998, ApJ 496, 605)
  transfer function with baryon acoustic oscillations (their eqs. 2-24),
  P(k, z) = A k^{n_s} T(k)^2 D(z)^2 with the GR growth factor of
  :func:`cosmo.growth.growth_factor`. It agrees with CAMB to a few per cent
  (EH98 quote ~5% residuals in T(k) for typical cosmologies; massive neutrinos
  are ignored).

Arrays: ``z`` of shape S and ``k`` of shape (n_k,) give P of shape S + (n_k,), i.e. (n_z, n_k).

Normalisation: ``sigma8`` if given; otherwise ``cosmology.meta["sigma8"]`` if
present (astropy's Planck18 has 0.8102); otherwise CAMB uses A_s (meta or the
Planck 2018 value 2.105e-9) and EH uses sigma8 = 0.8102.
"""
from __future__ import annotations

import numpy as np

from .background import PLANCK18_PRIMORDIAL, cosmology_key, get_cosmology, primordial

METHODS = ("camb", "eh")

#: redshift grid of the CAMB run (P at other z is interpolated in z, exact growth at z > zmax)
_CAMB_ZGRID = np.array([0.0, 0.3, 0.6, 0.9, 1.2, 1.6, 2.0, 2.5, 3.0, 4.0, 6.0, 10.0])
_CAMB_KMAX = 20.0  # h/Mpc
_CAMB_CACHE: dict = {}


# ------------------------------------------------------------------------------------------
# Eisenstein & Hu 1998
# ------------------------------------------------------------------------------------------
def eh_transfer(k, cosmology=None):
    """Eisenstein & Hu (1998) transfer function T(k) with BAO, k in h/Mpc.

    Implements EH98 eqs. (2)-(24): z_eq, k_eq, z_d, R, sound horizon s, Silk
    scale, CDM part T_c (eqs. 17-20 with alpha_c, beta_c of eqs. 11-12) and
    baryon part T_b (eqs. 21-24); T = f_b T_b + f_c T_c (eq. 16).
    """
    cosmo = get_cosmology(cosmology)
    h = float(cosmo.H0.value) / 100.0
    om = float(cosmo.Om0)
    ob = float(cosmo.Ob0 or 0.0)
    if ob <= 0:
        raise ValueError("eh_transfer needs a cosmology with Ob0 > 0")
    theta = float(cosmo.Tcmb0.value) / 2.7 if cosmo.Tcmb0.value > 0 else 2.7255 / 2.7
    wm, wb = om * h * h, ob * h * h
    fb, fc = ob / om, (om - ob) / om
    kk = np.asarray(k, dtype=float) * h  # 1/Mpc
    zeq = 2.50e4 * wm * theta**-4                               # eq 2
    keq = 7.46e-2 * wm * theta**-2                              # eq 3, 1/Mpc
    b1 = 0.313 * wm**-0.419 * (1 + 0.607 * wm**0.674)           # eq 4
    b2 = 0.238 * wm**0.223
    zd = 1291 * wm**0.251 / (1 + 0.659 * wm**0.828) * (1 + b1 * wb**b2)
    R = lambda z: 31.5 * wb * theta**-4 * (z / 1e3) ** -1     # noqa: E731, eq 5
    Rd, Req = R(zd), R(zeq)
    s = 2.0 / (3 * keq) * np.sqrt(6 / Req) * np.log((np.sqrt(1 + Rd) + np.sqrt(Rd + Req)) / (1 + np.sqrt(Req)))  # eq 6
    ksilk = 1.6 * wb**0.52 * wm**0.73 * (1 + (10.4 * wm) ** -0.95)  # eq 7
    q = kk / (13.41 * keq)                                           # eq 10
    a1 = (46.9 * wm) ** 0.670 * (1 + (32.1 * wm) ** -0.532)          # eq 11
    a2 = (12.0 * wm) ** 0.424 * (1 + (45.0 * wm) ** -0.582)
    alpha_c = a1**-fb * a2 ** (-(fb**3))
    bb1 = 0.944 / (1 + (458 * wm) ** -0.708)                         # eq 12
    bb2 = (0.395 * wm) ** -0.0266
    beta_c = 1.0 / (1 + bb1 * (fc**bb2 - 1))

    def t0(alpha, beta):                                             # eqs 19-20
        C = 14.2 / alpha + 386.0 / (1 + 69.9 * q**1.08)
        L = np.log(np.e + 1.8 * beta * q)
        return L / (L + C * q * q)

    ks = kk * s
    f = 1.0 / (1 + (ks / 5.4) ** 4)                                  # eq 18
    Tc = f * t0(1.0, beta_c) + (1 - f) * t0(alpha_c, beta_c)         # eq 17
    y = (1 + zeq) / (1 + zd)                                         # eq 15
    sq = np.sqrt(1 + y)
    G = y * (-6 * sq + (2 + 3 * y) * np.log((sq + 1) / (sq - 1)))
    alpha_b = 2.07 * keq * s * (1 + Rd) ** -0.75 * G                 # eq 14
    beta_node = 8.41 * wm**0.435                                     # eq 23
    beta_b = 0.5 + fb + (3 - 2 * fb) * np.sqrt((17.2 * wm) ** 2 + 1)  # eq 24
    with np.errstate(divide="ignore", invalid="ignore"):
        stilde = s / (1 + (beta_node / ks) ** 3) ** (1.0 / 3.0)      # eq 22
        x = kk * stilde
        j0 = np.where(x > 1e-8, np.sin(x) / np.where(x > 1e-8, x, 1.0), 1.0)
        Tb = (t0(1.0, 1.0) / (1 + (ks / 5.2) ** 2)
              + alpha_b / (1 + (beta_b / ks) ** 3) * np.exp(-((kk / ksilk) ** 1.4))) * j0  # eq 21
    Tb = np.where(kk > 0, Tb, 1.0)
    return fb * Tb + fc * Tc                                          # eq 16


# ------------------------------------------------------------------------------------------
# sigma_R
# ------------------------------------------------------------------------------------------
def tophat_window(x):
    """Fourier transform of a spherical top hat, W(x) = 3 (sin x - x cos x) / x^3."""
    x = np.asarray(x, dtype=float)
    small = x < 1e-3
    xs = np.where(small, 1.0, x)
    return np.where(small, 1 - x * x / 10.0, 3 * (np.sin(xs) - xs * np.cos(xs)) / xs**3)


def sigma_R(R, k, pk):
    """rms linear overdensity in top-hat spheres of radius R [Mpc/h]:
    sigma^2(R) = int dlnk k^3 P(k) W(kR)^2 / (2 pi^2)  (Peebles 1980), trapezoid in ln k."""
    k = np.asarray(k, dtype=float)
    pk = np.asarray(pk, dtype=float)
    R = np.atleast_1d(np.asarray(R, dtype=float))
    lnk = np.log(k)
    integ = k[None, :] ** 3 * pk[None, :] * tophat_window(k[None, :] * R[:, None]) ** 2 / (2 * np.pi**2)
    out = np.sqrt(np.trapezoid(integ, lnk, axis=1))
    return out if out.size > 1 else float(out[0])


_KSIG = np.logspace(-5, 2.5, 3000)


def _target_sigma8(cosmology, sigma8):
    if sigma8 is not None:
        s8 = float(sigma8)
        if not (s8 > 0):
            raise ValueError(f"sigma8 must be > 0, got {sigma8}")
        return s8
    return primordial(cosmology)["sigma8"]


# ------------------------------------------------------------------------------------------
# CAMB
# ------------------------------------------------------------------------------------------
def camb_params(cosmology=None, A_s=None, kmax=_CAMB_KMAX, redshifts=None):
    """CAMB ``CAMBparams`` for an astropy cosmology (transfer functions only)."""
    import camb

    cosmo = get_cosmology(cosmology)
    p = primordial(cosmo)
    h = float(cosmo.H0.value) / 100.0
    mnu = float(np.sum(cosmo.m_nu.value)) if cosmo.has_massive_nu else 0.0
    nmassive = int(np.count_nonzero(cosmo.m_nu.value)) if cosmo.has_massive_nu else 0
    ob = float(cosmo.Ob0 or 0.0)
    oc = float(cosmo.Om0) - ob
    pars = camb.CAMBparams()
    pars.set_cosmology(H0=100 * h, ombh2=ob * h * h, omch2=oc * h * h, mnu=mnu, num_massive_neutrinos=max(nmassive, 1),
                       nnu=float(cosmo.Neff), omk=float(cosmo.Ok0), TCMB=float(cosmo.Tcmb0.value) or 2.7255,
                       tau=p["tau"])
    w0 = float(getattr(cosmo, "w0", -1.0))
    wa = float(getattr(cosmo, "wa", 0.0))
    if w0 != -1.0 or wa != 0.0:
        pars.set_dark_energy(w=w0, wa=wa, dark_energy_model="ppf")
    pars.InitPower.set_params(As=float(A_s if A_s is not None else p["A_s"]), ns=p["n_s"])
    pars.WantCls = False
    pars.WantTransfer = True
    pars.NonLinear = 0
    zs = _CAMB_ZGRID if redshifts is None else np.asarray(redshifts, dtype=float)
    pars.set_matter_power(redshifts=sorted(zs.tolist(), reverse=True), kmax=kmax * h * 1.05, nonlinear=False)
    return pars


def camb_sigma8(cosmology=None, A_s=None) -> float:
    """sigma_8(z=0) CAMB computes for ``cosmology`` with scalar amplitude ``A_s`` (meta / Planck 2018 default)."""
    import camb

    res = camb.get_results(camb_params(cosmology, A_s=A_s, redshifts=[0.0]))
    return float(res.get_sigma8_0())


class _CambTable:
    """ln P(ln k, z) tables (linear and halofit non-linear) of one CAMB run, normalised to sigma8."""

    def __init__(self, cosmology, sigma8):
        import camb

        cosmo = get_cosmology(cosmology)
        s8 = _target_sigma8(cosmo, sigma8)
        A_s = primordial(cosmo)["A_s"]
        for _ in range(3):
            pars = camb_params(cosmo, A_s=A_s)
            pars.NonLinear = camb.model.NonLinear_pk
            pars.NonLinearModel.set_params(halofit_version="takahashi")
            res = camb.get_results(pars)
            kh, z, pk = res.get_linear_matter_power_spectrum(hubble_units=True, k_hunit=True,
                                                             have_power_spectra=True)
            i0 = int(np.argmin(np.abs(z)))
            own = sigma_R(8.0, kh, pk[i0])
            if s8 is None or abs(s8 / own - 1) < 2e-4:
                break
            A_s *= (s8 / own) ** 2  # rerun so that the non-linear spectrum is consistent too
        khn, zn, pkn = res.get_nonlinear_matter_power_spectrum(hubble_units=True, k_hunit=True,
                                                               have_power_spectra=True)
        order = np.argsort(z)
        self.z = np.asarray(z, dtype=float)[order]
        self.lnk = np.log(kh)
        self.lnp = np.log(np.asarray(pk, dtype=float)[order])
        self.lnp_nl = np.log(np.asarray(pkn, dtype=float)[np.argsort(zn)])
        self.A_s = A_s
        self.kmax = float(kh[-1])
        self.kmin = float(kh[0])
        self.ns = primordial(cosmo)["n_s"]
        self.cosmo = cosmo
        # interpolate in z the residual ln P - 2 ln D_GR(z), which is nearly z-independent
        from .growth import growth_factor

        self.lnD2 = 2 * np.log(growth_factor(z=self.z, cosmology=cosmo))
        self.lnp -= self.lnD2[:, None]
        self.lnp_nl -= self.lnD2[:, None]
        if s8 is not None:  # remove the residual (< 2e-4) normalisation offset exactly
            kk = _KSIG[_KSIG < 50]
            corr = 2 * np.log(s8 / sigma_R(8.0, kk, self(kk, 0.0)))
            self.lnp += corr
            self.lnp_nl += corr
        kk = _KSIG[_KSIG < 50]
        self.sigma8 = float(sigma_R(8.0, kk, self(kk, 0.0)))

    def __call__(self, k, z, nonlinear: bool = False):
        k = np.asarray(k, dtype=float)
        return self.grid(k.ravel(), np.array([float(z)]), nonlinear)[0].reshape(k.shape)

    def grid(self, k, zs, nonlinear: bool = False):
        """P(k, z) for all ``zs`` at once, shape (n_z, n_k): residual lnP - 2 lnD_GR interpolated linearly
        between the CAMB redshift nodes (constant beyond the last node = linear growth scaling)."""
        from .growth import growth_factor

        k = np.atleast_1d(np.asarray(k, dtype=float))
        zs = np.atleast_1d(np.asarray(zs, dtype=float))
        lnk = np.log(k)
        table = self.lnp_nl if nonlinear else self.lnp
        lk = np.clip(lnk, self.lnk[0], self.lnk[-1])
        res = np.array([np.interp(lk, self.lnk, row) for row in table])  # (n_node, n_k)
        zz = np.clip(zs, self.z[0], self.z[-1])
        j = np.clip(np.searchsorted(self.z, zz) - 1, 0, len(self.z) - 2)
        t = ((zz - self.z[j]) / (self.z[j + 1] - self.z[j]))[:, None]
        lnp = (1 - t) * res[j] + t * res[j + 1] + 2 * np.log(growth_factor(z=zs, cosmology=self.cosmo))[:, None]
        fac = np.ones_like(k)
        lo = lnk < self.lnk[0]
        if np.any(lo):  # primordial tilt on super-horizon scales (T -> 1)
            fac = np.where(lo, np.exp(self.ns * (lnk - self.lnk[0])), fac)
        hi = lnk > self.lnk[-1]
        if np.any(hi):  # continue with the EH shape beyond kmax
            ratio = eh_transfer(np.where(hi, k, self.kmax), self.cosmo) / eh_transfer(self.kmax, self.cosmo)
            fac = np.where(hi, ratio**2 * np.exp(self.ns * (lnk - self.lnk[-1])), fac)
        return np.exp(lnp) * fac[None, :]


def _camb_table(cosmology, sigma8):
    key = (cosmology_key(cosmology), None if sigma8 is None else float(sigma8))
    tab = _CAMB_CACHE.get(key)
    if tab is None:
        tab = _CambTable(cosmology, sigma8)
        if len(_CAMB_CACHE) > 8:
            _CAMB_CACHE.clear()
        _CAMB_CACHE[key] = tab
    return tab


_EH_NORM: dict = {}


def _eh_norm(cosmology, sigma8):
    s8 = _target_sigma8(cosmology, sigma8)
    if s8 is None:
        s8 = PLANCK18_PRIMORDIAL["sigma8"]
    key = (cosmology_key(cosmology), s8)
    amp = _EH_NORM.get(key)
    if amp is None:
        ns = primordial(cosmology)["n_s"]
        shape = _KSIG**ns * eh_transfer(_KSIG, cosmology) ** 2
        amp = (s8 / sigma_R(8.0, _KSIG, shape)) ** 2
        _EH_NORM[key] = amp
    return amp


# ------------------------------------------------------------------------------------------
# public API
# ------------------------------------------------------------------------------------------
def linear_power(k, z=0.0, cosmology=None, method: str = "camb", sigma8=None):
    """Linear matter power spectrum P(k, z) [(Mpc/h)^3] at wavenumbers ``k`` [h/Mpc].

    Parameters
    ----------
    k : array_like
        Wavenumbers in h/Mpc (> 0). May be an astropy Quantity with units of 1/length
        (then converted to h/Mpc with the cosmology's h).
    z : float or array_like
        Redshift(s) >= 0. For an array of n_z redshifts the result has shape (n_z, n_k).
    cosmology : astropy FLRW or None
        None means ``astropy.cosmology.Planck18``.
    method : "camb" or "eh"
        CAMB Boltzmann code, or the Eisenstein & Hu (1998) fitting function.
    sigma8 : float or None
        Normalise to this sigma_8(z=0) (see module docstring for the default).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    cosmo = get_cosmology(cosmology)
    k = _as_hmpc(k, cosmo)
    if np.any(~np.isfinite(k)) or np.any(k <= 0):
        raise ValueError("wavenumbers k must be finite and > 0 (h/Mpc)")
    zarr = np.asarray(z, dtype=float)
    if np.any(zarr < 0) or np.any(~np.isfinite(zarr)):
        raise ValueError(f"redshift z must be finite and >= 0, got {z}")
    if zarr.ndim == 0:
        return _power_one(k, float(zarr), cosmo, method, sigma8)
    if method == "camb" and k.ndim == 1:
        return _camb_table(cosmo, sigma8).grid(k, zarr.ravel()).reshape(zarr.shape + k.shape)
    return np.stack([_power_one(k, float(zi), cosmo, method, sigma8) for zi in zarr.ravel()]).reshape(
        zarr.shape + k.shape)


def _power_one(k, z, cosmo, method, sigma8):
    if method == "camb":
        return _camb_table(cosmo, sigma8)(k, z)
    from .growth import growth_factor

    ns = primordial(cosmo)["n_s"]
    d = growth_factor(z=z, cosmology=cosmo)
    return _eh_norm(cosmo, sigma8) * k**ns * eh_transfer(k, cosmo) ** 2 * d * d


def _as_hmpc(k, cosmo):
    try:
        import astropy.units as u

        if isinstance(k, u.Quantity):
            h = float(cosmo.H0.value) / 100.0
            return np.asarray(k.to_value(1 / u.Mpc), dtype=float) / h
    except ImportError:  # pragma: no cover
        pass
    return np.asarray(k, dtype=float)


def nonlinear_power(k, z=0.0, cosmology=None, method: str = "camb", sigma8=None):
    """Non-linear matter power [(Mpc/h)^3]: CAMB halofit (Takahashi et al. 2012, arXiv:1208.2701).

    Same arguments and shapes as :func:`linear_power`; only ``method="camb"`` exists (there is no
    non-linear Eisenstein-Hu model here, so ``method="eh"`` raises ValueError instead of returning
    the linear spectrum).
    """
    if method == "eh":
        raise ValueError('nonlinear_power has no method="eh" (halofit needs CAMB); use method="camb", or '
                         'linear_power(k, z, method="eh") for the linear Eisenstein-Hu spectrum')
    if method != "camb":
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    cosmo = get_cosmology(cosmology)
    k = _as_hmpc(k, cosmo)
    if np.any(k <= 0):
        raise ValueError("wavenumbers k must be finite and > 0 (h/Mpc)")
    zarr = np.asarray(z, dtype=float)
    if np.any(zarr < 0) or np.any(~np.isfinite(zarr)):
        raise ValueError(f"redshift z must be finite and >= 0, got {z}")
    tab = _camb_table(cosmo, sigma8)
    if zarr.ndim == 0:
        return tab(k, float(zarr), nonlinear=True)
    return tab.grid(k, zarr.ravel(), nonlinear=True).reshape(zarr.shape + np.shape(k))


def sigma8_of(cosmology=None, method: str = "camb", sigma8=None) -> float:
    """sigma_8 of :func:`linear_power` at z = 0 integrated with :func:`sigma_R` (a consistency check)."""
    k = _KSIG[_KSIG < 50]
    return float(sigma_R(8.0, k, linear_power(k, 0.0, cosmology, method, sigma8)))
