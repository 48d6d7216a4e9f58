"""Modified-gravity models in the quasi-static (mu, Sigma) language, and E_G(k, z).

Conventions (Pogosian & Silvestri 2008, arXiv:0709.0296; MGCAMB, Zucca et al. 2019,
arXiv:1901.05956, eqs. 2-4), Newtonian-gauge potentials Psi (time-time) and Phi:

    k^2 Psi = -4 pi G a^2 mu(k, a) rho_m Delta              (matter responds to Psi)
    k^2 (Phi + Psi) = -8 pi G a^2 Sigma(k, a) rho_m Delta   (light responds to Phi + Psi)

GR: mu = Sigma = 1. Wavenumbers k in h/Mpc, a the scale factor.

E_G = Omega_m0 Sigma / f (Zhang et al. 2007, arXiv:0704.1932; Pullen et al. 2015,
arXiv:1412.4454 eq. 2 in the (mu, Sigma) form), with f = dlnD/dlna from the growth
ODE of :mod:`cosmo.growth`. In GR, E_G = Omega_m0 / f(z). Omega_m0 here is the total matter today
(CDM + baryons + massive neutrinos, ``Background.Om0_tot``), which sources the lensing potential.
"""
from __future__ import annotations

import abc
import dataclasses

import numpy as np

from gpu.config import ConfigError, from_dict, param

from .background import C_KMS, background

#: H0/c in h/Mpc
H0_OVER_C = 100.0 / C_KMS


class GravityModel(abc.ABC):
    """Abstract base: ``mu(k, a)``, ``sigma(k, a)`` (broadcasting arrays), ``name``, ``label``."""

    name = "model"

    @abc.abstractmethod
    def mu(self, k, a):
        """Poisson modification of the growth equation, mu(k, a)."""

    @abc.abstractmethod
    def sigma(self, k, a):
        """Lensing-potential modification, Sigma(k, a)."""

    @property
    def is_gr(self) -> bool:
        return False

    def describe(self) -> dict:
        d = dataclasses.asdict(self) if dataclasses.is_dataclass(self) else {}
        d["type"] = type(self).__name__
        d["name"] = self.name
        return d


@dataclasses.dataclass
class GR(GravityModel):
    """General relativity: mu = Sigma = 1."""

    name: str = "GR"

    def mu(self, k, a):
        return np.ones(np.broadcast(np.asarray(k), np.asarray(a)).shape)

    def sigma(self, k, a):
        return np.ones(np.broadcast(np.asarray(k), np.asarray(a)).shape)

    @property
    def is_gr(self) -> bool:
        return True


@dataclasses.dataclass
class HuSawicki(GravityModel):
    """Hu & Sawicki (2007, arXiv:0705.1158) f(R) in the quasi-static limit, as in MGCAMB.

    ::

        mu(k, a) = 1 + (1/3) k^2 / (k^2 + a^2 m(a)^2)  (the 1/(1 + f_R) prefactor, |f_R| << 1, dropped)
        m(a) = (H0/c) sqrt[(Omega_m0 + 4 Omega_L0) / ((n + 1) |f_R0|)]
               * [(Omega_m0 a^-3 + 4 Omega_L0) / (Omega_m0 + 4 Omega_L0)]^(n/2 + 1)

    (Hu & Sawicki 2007 eqs. 10-11 and 18 for the background curvature; MGCAMB, Zucca et al.
    2019 eq. 27), Sigma = 1. The background is LCDM (|f_R0| <= 1e-4 changes H(z) by < 1e-4).
    """

    fR0: float = 1e-5
    n: float = 1.0
    name: str = "HS"
    Om0: float | None = None
    Ode0: float | None = None

    def __post_init__(self):
        if not (self.fR0 > 0 and np.isfinite(self.fR0)):
            raise ValueError(f"HuSawicki |f_R0| (fR0) must be > 0, got {self.fR0}")
        if not (self.n > 0):
            raise ValueError(f"HuSawicki n must be > 0, got {self.n}")

    def _omegas(self):
        if self.Om0 is None or self.Ode0 is None:
            bg = background(None)
            return bg.Om0, float(bg.cosmo.Ode0)
        return self.Om0, self.Ode0

    def bind(self, cosmology):
        """Copy with Omega_m0, Omega_L0 of ``cosmology``."""
        bg = background(cosmology)
        return dataclasses.replace(self, Om0=bg.Om0, Ode0=float(bg.cosmo.Ode0))

    def mass(self, a):
        """Scalaron mass m(a) [h/Mpc]."""
        om, ol = self._omegas()
        a = np.asarray(a, dtype=float)
        m0 = H0_OVER_C * np.sqrt((om + 4 * ol) / ((self.n + 1) * self.fR0))
        return m0 * ((om * a**-3 + 4 * ol) / (om + 4 * ol)) ** (self.n / 2 + 1)

    def mu(self, k, a):
        k = np.asarray(k, dtype=float)
        am = np.asarray(a, dtype=float) * self.mass(a)
        return 1.0 + k * k / (3.0 * (k * k + am * am))

    def sigma(self, k, a):
        return np.ones(np.broadcast(np.asarray(k), np.asarray(a)).shape)


@dataclasses.dataclass
class BertschingerZukin(GravityModel):
    """Bertschinger & Zukin (2008, arXiv:0801.2431) parametrisation, as in MGCAMB (Zucca+ 2019 eqs. 21-22):

    mu = (1 + beta1 lambda1^2 k^2 a^s) / (1 + lambda1^2 k^2 a^s)
    gamma = Phi/Psi = (1 + beta2 lambda2^2 k^2 a^s) / (1 + lambda2^2 k^2 a^s)
    Sigma = mu (1 + gamma) / 2

    lambda1, lambda2 in Mpc/h (lambda1_sq, lambda2_sq in (Mpc/h)^2). f(R) maps to beta1 = 4/3,
    beta2 = 1/2, lambda2^2 = beta1 lambda1^2, s = 4. See :meth:`chameleon` for the Sigma = 1
    chameleon family.
    """

    beta1: float = 4.0 / 3.0
    lambda1_sq: float = 1.0e3
    s: float = 4.0
    beta2: float = 0.5
    lambda2_sq: float = 4.0e3 / 3.0
    name: str = "BZ"

    def __post_init__(self):
        for key in ("lambda1_sq", "lambda2_sq"):
            v = getattr(self, key)
            if not (v >= 0 and np.isfinite(v)):
                raise ValueError(f"BertschingerZukin {key} must be >= 0 (Mpc/h)^2, got {v}")
        if not (self.beta1 > 0 and self.beta2 > -1):
            raise ValueError(f"BertschingerZukin needs beta1 > 0 and beta2 > -1 (1 + gamma > 0), got "
                             f"{self.beta1}, {self.beta2}")

    @classmethod
    def chameleon(cls, beta1=1.2, lambda1_sq=2.0e3, s=4.0, name="chameleon"):
        """Chameleon family with conformal coupling (Zhao et al. 2010, arXiv:1003.0001):
        beta1 = 1 + 2 beta^2, lambda2^2 = beta1 lambda1^2, beta2 = 2/beta1 - 1 (so that Sigma = 1)."""
        return cls(beta1=beta1, lambda1_sq=lambda1_sq, s=s, beta2=2.0 / beta1 - 1.0, lambda2_sq=beta1 * lambda1_sq,
                   name=name)

    def _x(self, k, a, lam_sq):
        return lam_sq * np.asarray(k, dtype=float) ** 2 * np.asarray(a, dtype=float) ** self.s

    def mu(self, k, a):
        x = self._x(k, a, self.lambda1_sq)
        return (1 + self.beta1 * x) / (1 + x)

    def gamma(self, k, a):
        x = self._x(k, a, self.lambda2_sq)
        return (1 + self.beta2 * x) / (1 + x)

    def sigma(self, k, a):
        return self.mu(k, a) * (1 + self.gamma(k, a)) / 2.0


@dataclasses.dataclass
class MuSigma(GravityModel):
    """Generic hook: mu(k, a), Sigma(k, a) from callables or constants.

    With ``scale_with_de=True`` constants follow the DES Y1 form (Abbott et al. 2019,
    arXiv:1810.02499, eq. 2.6): mu = 1 + mu0 Omega_L(a)/Omega_L0, Sigma = 1 + sigma0 Omega_L(a)/Omega_L0.
    """

    mu0: object = 0.0
    sigma0: object = 0.0
    scale_with_de: bool = True
    name: str = "mu_sigma"

    def _de(self, a):
        bg = background(None)
        a = np.asarray(a, dtype=float)
        return np.asarray(bg.cosmo.Ode(1 / a - 1)) / float(bg.cosmo.Ode0)

    def _eval(self, v, k, a, offset):
        if callable(v):
            return np.asarray(v(k, a), dtype=float)
        shape = np.broadcast(np.asarray(k), np.asarray(a)).shape
        if self.scale_with_de:
            return np.broadcast_to(offset + float(v) * self._de(a), shape)
        return np.full(shape, float(v) + offset)

    def mu(self, k, a):
        return self._eval(self.mu0, k, a, 1.0 if not callable(self.mu0) else 0.0)

    def sigma(self, k, a):
        return self._eval(self.sigma0, k, a, 1.0 if not callable(self.sigma0) else 0.0)


MODEL_TYPES = {"gr": GR, "hu_sawicki": HuSawicki, "bertschinger_zukin": BertschingerZukin, "chameleon": None,
               "mu_sigma": MuSigma}


# ---------------------------------------------------------------------------------------------
# config tables ([[models]] of the forecast): each type's keys with their valid ranges
# ---------------------------------------------------------------------------------------------
@dataclasses.dataclass
class _GRSpec:
    name: str = "GR"


@dataclasses.dataclass
class _HuSawickiSpec:
    fR0: float = param(1e-5, gt=0, lt=1, doc="|f_R0| (mu drops the 1/(1 + f_R) prefactor: |f_R0| << 1)")
    n: float = param(1.0, gt=0, le=10, doc="Hu-Sawicki index n")
    name: str = "HS"


@dataclasses.dataclass
class _BZSpec:
    beta1: float = param(4.0 / 3.0, gt=0)
    lambda1_sq: float = param(1.0e3, ge=0, doc="(Mpc/h)^2")
    s: float = param(4.0, ge=0, le=20, doc="power of a (a^s -> 0 at early times)")
    beta2: float = param(0.5, gt=-1, doc="1 + gamma > 0")
    lambda2_sq: float = param(4.0e3 / 3.0, ge=0, doc="(Mpc/h)^2")
    name: str = "BZ"


@dataclasses.dataclass
class _ChameleonSpec:
    beta1: float = param(1.2, ge=1, doc="1 + 2 beta^2 >= 1")
    lambda1_sq: float = param(2.0e3, ge=0, doc="(Mpc/h)^2")
    s: float = param(4.0, ge=0, le=20)
    name: str = "chameleon"


@dataclasses.dataclass
class _MuSigmaSpec:
    mu0: float = param(0.0, gt=-1, doc="mu - 1 today (mu > 0)")
    sigma0: float = param(0.0, gt=-1, doc="Sigma - 1 today (Sigma > 0)")
    scale_with_de: bool = True
    name: str = "mu_sigma"


_MODEL_SPECS = {"gr": _GRSpec, "hu_sawicki": _HuSawickiSpec, "bertschinger_zukin": _BZSpec,
                "chameleon": _ChameleonSpec, "mu_sigma": _MuSigmaSpec}


def make_model(spec: dict, prefix: str = "") -> GravityModel:
    """Build a model from a config table, e.g. ``{"type": "hu_sawicki", "fR0": 1e-5, "n": 1}``.

    Every key is checked (known for the type, right type, finite, in range) and errors are
    :class:`gpu.config.ConfigError` naming ``prefix + key`` (e.g. ``models[1].fR0``).
    """
    if not isinstance(spec, dict):
        raise ConfigError(f"config key '{prefix.rstrip('.') or 'model'}' must be a table "
                          f"(type = ..., name = ...), got {spec!r}")
    spec = dict(spec)
    t = spec.pop("type", None)
    if t not in MODEL_TYPES:
        raise ConfigError(f"config key '{prefix}type' = {t!r}: gravity model type unknown; choose from "
                          f"{sorted(MODEL_TYPES)}")
    try:
        kwargs = dataclasses.asdict(from_dict(spec, _MODEL_SPECS[t], prefix=prefix))
    except ConfigError as exc:
        raise ConfigError(f"bad parameters for gravity model {t!r}: {exc}") from None
    if not kwargs["name"].strip():
        raise ConfigError(f"config key '{prefix}name' must be a non-empty string")
    if t == "chameleon":
        return BertschingerZukin.chameleon(**kwargs)
    return MODEL_TYPES[t](**kwargs)


def e_g(model, k, *args, z=None, cosmology=None):
    """E_G(k, z) = Omega_m0 Sigma(k, z) / f(k, z) at redshifts ``z=`` (keyword only); shape (n_z, n_k).

    The model methods ``mu(k, a)`` and ``sigma(k, a)`` keep the scale factor of the MGCAMB
    convention (module docstring); this function converts a = 1/(1+z).
    """
    from .growth import solve_growth

    if args or z is None:
        raise TypeError("e_g() takes the redshifts by keyword, e_g(model, k, z=[...]) (the result has "
                        "shape (n_z, n_k))" + (f"; got the positional value {args[0]!r}" if args else ""))
    k = np.atleast_1d(np.asarray(k, dtype=float))
    z = np.atleast_1d(np.asarray(z, dtype=float))
    if np.any(z < 0):
        raise ValueError("redshift z must be >= 0")
    a = 1.0 / (1.0 + z)
    if isinstance(model, HuSawicki):
        model = model.bind(cosmology)
    _, f = solve_growth(k, z=z, mu=None if model.is_gr else model, cosmology=cosmology)
    bg = background(cosmology)
    return bg.Om0_tot * model.sigma(k[None, :], a[:, None]) / f
