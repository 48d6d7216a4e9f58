"""Survey definitions: CMB experiments (beams, white + 1/f noise per channel, ILC) and galaxy samples.

The shipped numbers live in ``cosmo/data/surveys.toml`` with their sources; any
entry can be overridden from a user TOML (see :class:`cosmo.forecast.VGConfig`).

Temperature noise after an internal linear combination (ILC): with per-channel
beam-deconvolved noise N_i(l) = Delta_i^2 [1 + (l/l_knee)^alpha] exp(l(l+1) theta_i^2 / (8 ln 2))
(Knox 1995, arXiv:astro-ph/9504054, eq. 2; Ade et al. 2019 eq. 1 for the 1/f term) and a
foreground covariance F_ij(l) = sum_c g_c(nu_i) g_c(nu_j) C^c_l (components fully
correlated across frequencies), the minimum-variance blackbody-preserving combination
has weights w = C^-1 e / (e^T C^-1 e) and residual power N^ILC_l = 1 / (e^T C^-1 e)
with C = N + F (Tegmark et al. 2003, arXiv:astro-ph/0302496, eq. 6). Polarisation:
inverse-variance combination of sqrt(2) x temperature white noise (no foregrounds).
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

from gpu.config import ConfigError, check_value, from_dict, load_toml, param

DATA = Path(__file__).resolve().parent / "data"
DEFAULT_SURVEYS = DATA / "surveys.toml"
FULL_SKY_DEG2 = 4 * math.pi * (180 / math.pi) ** 2
ARCMIN = math.pi / (180 * 60)
T_CMB_K = 2.7255
_H_OVER_K = 6.62607015e-34 / 1.380649e-23  # s K


@dataclasses.dataclass
class CMBExperiment:
    description: str = ""
    reference: str = ""
    area_deg2: float = param(16500.0, gt=0, le=FULL_SKY_DEG2 + 1e-6, doc="survey area [deg^2]")
    freqs_ghz: list[float] = param(default_factory=lambda: [150.0], gt=0)
    beam_arcmin: list[float] = param(default_factory=lambda: [1.4], ge=0)
    noise_uK_arcmin: list[float] = param(default_factory=lambda: [10.0], ge=0)
    ell_knee_T: float = param(0.0, ge=0)
    alpha_knee_T: float = param(-3.5, lt=0)
    ell_knee_P: float = param(0.0, ge=0)
    alpha_knee_P: float = param(-1.4, lt=0)
    lensing_ell_min: int = param(30, ge=2)
    lensing_ell_max_T: int = param(3000, ge=10, le=20000)
    lensing_ell_max_P: int = param(5000, ge=10, le=20000)
    lensing_estimators: list[str] = param(default_factory=lambda: ["TT", "EE", "EB"], choices=("TT", "EE", "EB"))
    ksz_ell_min: int = param(100, ge=2)
    ksz_ell_max: int = param(8000, ge=100, le=30000)
    name: str = ""

    def __post_init__(self):
        n = len(self.freqs_ghz)
        if not (len(self.beam_arcmin) == n == len(self.noise_uK_arcmin)) or n == 0:
            raise ConfigError(f"CMB experiment '{self.name}': freqs_ghz, beam_arcmin and noise_uK_arcmin must be "
                              f"non-empty lists of equal length, got {n}, {len(self.beam_arcmin)}, "
                              f"{len(self.noise_uK_arcmin)}")
        for v in self.noise_uK_arcmin:
            if v < 0 or not np.isfinite(v):
                raise ConfigError(f"CMB experiment '{self.name}': noise_uK_arcmin must be >= 0, got {v}")

    def check_config(self, prefix=""):
        """Cross-key constraints (run at load time by :func:`gpu.config.from_dict`)."""
        if not any(v > 0 for v in self.noise_uK_arcmin):
            raise ConfigError(f"config key '{prefix}noise_uK_arcmin' = {self.noise_uK_arcmin}: at least one channel "
                              "needs noise > 0 (0 marks a channel as absent)")
        for hi in ("lensing_ell_max_T", "lensing_ell_max_P"):
            if not getattr(self, hi) > self.lensing_ell_min:
                raise ConfigError(f"config key '{prefix}{hi}' ({getattr(self, hi)}) must exceed "
                                  f"'{prefix}lensing_ell_min' ({self.lensing_ell_min})")
        if not self.ksz_ell_max > self.ksz_ell_min:
            raise ConfigError(f"config key '{prefix}ksz_ell_max' ({self.ksz_ell_max}) must exceed "
                              f"'{prefix}ksz_ell_min' ({self.ksz_ell_min})")

    @property
    def fsky(self) -> float:
        return self.area_deg2 / FULL_SKY_DEG2

    def channel_noise(self, ell, pol: bool = False):
        """Beam-deconvolved noise power per channel [uK^2 sr], shape (n_channel, n_ell)."""
        ell = np.asarray(ell, dtype=float)
        out = []
        for nu, fwhm, dT in zip(self.freqs_ghz, self.beam_arcmin, self.noise_uK_arcmin):
            w = (dT * ARCMIN * (math.sqrt(2) if pol else 1.0)) ** 2
            lk, al = (self.ell_knee_P, self.alpha_knee_P) if pol else (self.ell_knee_T, self.alpha_knee_T)
            red = 1.0 + (np.maximum(ell, 1.0) / lk) ** al if lk > 0 else 1.0
            th = fwhm * ARCMIN
            # cap the beam exponent: beyond ~e^200 the channel carries no information anyway
            beam = np.exp(np.minimum(ell * (ell + 1) * th * th / (8 * math.log(2)), 200.0))
            out.append(np.where(dT > 0, w * red * beam, np.inf))
        return np.array(out)

    def pol_noise(self, ell):
        """Inverse-variance combined polarisation noise (E or B) [uK^2 sr]."""
        n = self.channel_noise(ell, pol=True)
        return 1.0 / np.sum(1.0 / n, axis=0)


@dataclasses.dataclass
class GalaxySample:
    description: str = ""
    reference: str = ""
    z_min: float = param(0.4, ge=0)
    z_max: float = param(1.1, gt=0, le=10)
    n_deg2: float = param(500.0, gt=0, doc="surface density [deg^-2]")
    bD: float = param(1.0, gt=0, doc="b(z) D(z), held constant")
    area_deg2: float = param(14000.0, gt=0, le=FULL_SKY_DEG2 + 1e-6)
    dndz: list[list[float]] = param(default_factory=list)
    name: str = ""

    def __post_init__(self):
        if not self.z_max > self.z_min:
            raise ConfigError(f"config key 'galaxies.{self.name}.z_max' ({self.z_max}) must exceed "
                              f"'galaxies.{self.name}.z_min' ({self.z_min})")
        if self.dndz:
            arr = np.asarray(self.dndz, dtype=float)
            if arr.ndim != 2 or arr.shape[1] != 2 or np.any(arr[:, 1] < 0) or np.any(np.diff(arr[:, 0]) <= 0):
                raise ConfigError(f"galaxy sample '{self.name}': dndz must be [[z, dN/dz >= 0], ...] with increasing z")

    def check_config(self, prefix=""):
        """The dN/dz table must put galaxies inside [z_min, z_max] (else the window is 0/0)."""
        if self.dndz:
            tab = np.asarray(self.dndz, dtype=float)
            zz = np.linspace(self.z_min, self.z_max, 801)
            if tab[0, 0] < 0 or not np.trapezoid(np.interp(zz, tab[:, 0], tab[:, 1], left=0, right=0), zz) > 0:
                raise ConfigError(f"config key '{prefix}dndz' has no galaxies inside [z_min, z_max] = "
                                  f"[{self.z_min}, {self.z_max}] (or a z < 0); the window would be 0/0")

    def check_z(self, z):
        z = np.asarray(z, dtype=float)
        if np.any(z < self.z_min - 1e-12) or np.any(z > self.z_max + 1e-12):
            raise ValueError(f"redshift z = {z} outside the range [{self.z_min}, {self.z_max}] of galaxy sample "
                             f"'{self.name}'")
        return z

    def bias(self, z, cosmology=None):
        """Linear bias b(z) = bD / D(z) (DESI 2016 Sec. 2.4 convention)."""
        from .growth import growth_factor

        z = self.check_z(z)
        return self.bD / growth_factor(z=z, cosmology=cosmology)

    def window(self, z, cosmology=None):
        """Normalised radial window W_g(chi) = (1/N) dN/dchi [h/Mpc] on redshifts ``z`` (0 outside the range)."""
        from .background import background

        bg = background(cosmology)
        z = np.asarray(z, dtype=float)
        inside = (z >= self.z_min) & (z <= self.z_max)
        chi = bg.chi(np.clip(z, 0, None))
        if self.dndz:
            tab = np.asarray(self.dndz, dtype=float)
            dndz = np.interp(z, tab[:, 0], tab[:, 1], left=0.0, right=0.0)
            dzdchi = bg.E(z) * 100.0 / 299792.458
            raw = dndz * dzdchi
        else:
            raw = chi**2  # constant comoving density
        zz = np.linspace(self.z_min, self.z_max, 801)
        cc = bg.chi(zz)
        if self.dndz:
            tab = np.asarray(self.dndz, dtype=float)
            norm = np.trapezoid(np.interp(zz, tab[:, 0], tab[:, 1], left=0, right=0), zz)
            return np.where(inside, raw / norm, 0.0)
        norm = (cc[-1] ** 3 - cc[0] ** 3) / 3.0
        return np.where(inside, raw / norm, 0.0)

    def nbar(self, z=None, cosmology=None):
        """Comoving number density [(h/Mpc)^3] at z (mean over the shell when z is None)."""
        from .background import background

        bg = background(cosmology)
        sr = (math.pi / 180) ** 2
        if z is None:
            c1, c2 = bg.chi(self.z_min), bg.chi(self.z_max)
            return self.n_deg2 / (sr * (c2**3 - c1**3) / 3.0)
        z = self.check_z(z)
        chi = bg.chi(z)
        return self.n_deg2 / sr * self.window(z, cosmology) / chi**2

    @property
    def n_sr(self) -> float:
        """Surface density [sr^-1]."""
        return self.n_deg2 * (180 / math.pi) ** 2


@dataclasses.dataclass
class Foregrounds:
    ksz_D3000: float = param(3.0, ge=0)
    tsz_D3000: float = param(4.0, ge=0)
    cib_poisson_D3000: float = param(7.0, ge=0)
    cib_clustered_D3000: float = param(4.0, ge=0)
    radio_D3000: float = param(1.0, ge=0)

    def ksz_cl(self, ell):
        """kSZ power C_l [uK^2 sr] (blackbody; flat D_l)."""
        ell = np.asarray(ell, dtype=float)
        return self.ksz_D3000 * 2 * np.pi / (ell * (ell + 1))

    def components(self, ell, freqs_ghz):
        """List of (SED g(nu_i) normalised at 150 GHz in CMB temperature units, C_l at 150 GHz)."""
        ell = np.asarray(ell, dtype=float)
        d2c = 2 * np.pi / (ell * (ell + 1))
        nu = np.asarray(freqs_ghz, dtype=float)
        comps = [
            (_tsz_sed(nu) / _tsz_sed(150.0), self.tsz_D3000 * d2c),
            (_mbb_sed(nu, 1.5, 20.0), self.cib_poisson_D3000 * d2c * (ell / 3000.0) ** 2),
            (_mbb_sed(nu, 1.5, 20.0), self.cib_clustered_D3000 * d2c * (ell / 3000.0) ** 0.8),
            (_powerlaw_sed(nu, -0.7), self.radio_D3000 * d2c * (ell / 3000.0) ** 2),
        ]
        return comps


def _x(nu_ghz):
    return _H_OVER_K * np.asarray(nu_ghz, dtype=float) * 1e9 / T_CMB_K


def _dbdt(nu_ghz):
    """dB_nu/dT at T_CMB up to a constant: x^4 e^x / (e^x - 1)^2."""
    x = _x(nu_ghz)
    return x**4 * np.exp(x) / np.expm1(x) ** 2


def _tsz_sed(nu_ghz):
    """tSZ spectral function in temperature units, f(x) = x coth(x/2) - 4 (Sunyaev & Zel'dovich 1972)."""
    x = _x(nu_ghz)
    return x / np.tanh(x / 2) - 4.0


def _mbb_sed(nu_ghz, beta, T_d):
    """Modified blackbody nu^beta B_nu(T_d) in CMB temperature units, normalised to 1 at 150 GHz."""
    def inten(nu):
        nu = np.asarray(nu, dtype=float)
        xd = 6.62607015e-34 * nu * 1e9 / (1.380649e-23 * T_d)
        return nu ** (3 + beta) / np.expm1(xd)

    return (inten(nu_ghz) / _dbdt(nu_ghz)) / (inten(150.0) / _dbdt(150.0))


def _powerlaw_sed(nu_ghz, index):
    """Power-law intensity S ∝ nu^index in CMB temperature units, normalised at 150 GHz."""
    def inten(nu):
        return np.asarray(nu, dtype=float) ** index

    return (inten(nu_ghz) / _dbdt(nu_ghz)) / (inten(150.0) / _dbdt(150.0))


def ilc_noise(exp: CMBExperiment, ell, foregrounds: Foregrounds | None = None):
    """ILC residual (noise + non-blackbody foregrounds) temperature power [uK^2 sr]; see module docstring."""
    ell = np.asarray(ell, dtype=float)
    n = exp.channel_noise(ell)  # (nch, nl)
    nch = n.shape[0]
    C = np.zeros((ell.size, nch, nch))
    idx = np.arange(nch)
    C[:, idx, idx] = np.where(np.isfinite(n.T), n.T, 1e300)
    if foregrounds is not None:
        for g, cl in foregrounds.components(ell, exp.freqs_ghz):
            C += cl[:, None, None] * np.outer(g, g)[None]
    e = np.ones(nch)
    # small diagonal regulariser relative to the trace keeps fully-correlated foregrounds well conditioned
    Cinv_e = np.linalg.solve(C, np.broadcast_to(e, (ell.size, nch))[..., None])[..., 0]
    return 1.0 / np.einsum("i,li->l", e, Cinv_e)


@dataclasses.dataclass
class SurveySet:
    cmb: dict
    galaxies: dict
    overlap_deg2: dict
    foregrounds: Foregrounds

    def overlap(self, experiment: str, sample: str) -> float:
        """Overlapping area [deg^2] of a CMB experiment and a galaxy sample."""
        self.experiment(experiment)
        g = self.sample(sample)
        area = self.overlap_deg2.get(experiment, min(self.cmb[experiment].area_deg2, g.area_deg2))
        return float(min(area, g.area_deg2, self.cmb[experiment].area_deg2))

    def experiment(self, name) -> CMBExperiment:
        if name not in self.cmb:
            raise ConfigError(f"unknown CMB experiment {name!r}; known: {sorted(self.cmb)}")
        return self.cmb[name]

    def sample(self, name) -> GalaxySample:
        if name not in self.galaxies:
            raise ConfigError(f"unknown galaxy sample {name!r}; known: {sorted(self.galaxies)}")
        return self.galaxies[name]


def load_surveys(source=None, overrides: dict | None = None) -> SurveySet:
    """Load the survey TOML (default: the shipped ``cosmo/data/surveys.toml``), optionally updated by
    ``overrides`` (same structure: ``{"cmb": {"SO_goal": {...}}, "galaxies": {...}}``)."""
    if source is None:
        data, _ = load_toml(DEFAULT_SURVEYS)
    elif isinstance(source, dict):
        data = source
    else:
        data, _ = load_toml(source)
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    if not isinstance(overrides or {}, dict):
        raise ConfigError(f"config key 'surveys' must be a table, got {overrides!r}")
    for sect, val in (overrides or {}).items():
        if sect not in ("cmb", "galaxies", "overlap_deg2", "foregrounds"):
            raise ConfigError(f"unknown survey section '{sect}'; valid: cmb, galaxies, overlap_deg2, foregrounds")
        if not isinstance(val, dict):
            raise ConfigError(f"config key 'surveys.{sect}' must be a table, got {val!r}")
        base = dict(data.get(sect, {}))
        for key, v in val.items():
            if isinstance(v, dict) and isinstance(base.get(key), dict):
                merged = dict(base[key])
                merged.update(v)
                base[key] = merged
            else:
                base[key] = v
        data[sect] = base
    unknown = set(data) - {"cmb", "galaxies", "overlap_deg2", "foregrounds"}
    if unknown:
        raise ConfigError(f"unknown survey section '{sorted(unknown)[0]}'")
    for sect in ("cmb", "galaxies"):
        for name, tab in data.get(sect, {}).items():
            if not isinstance(tab, dict):
                raise ConfigError(f"config key '{sect}.{name}' must be a table, got {tab!r}")
    cmb = {name: from_dict({**tab, "name": name}, CMBExperiment, prefix=f"cmb.{name}.")
           for name, tab in data.get("cmb", {}).items()}
    gal = {name: from_dict({**tab, "name": name}, GalaxySample, prefix=f"galaxies.{name}.")
           for name, tab in data.get("galaxies", {}).items()}
    ov = {}
    for k, v in data.get("overlap_deg2", {}).items():
        if k not in cmb:
            raise ConfigError(f"config key 'overlap_deg2.{k}': unknown CMB experiment; known: {sorted(cmb)}")
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(f"config key 'overlap_deg2.{k}' must be a number, got {v!r}")
        check_value(f"overlap_deg2.{k}", float(v), {"gt": 0, "le": FULL_SKY_DEG2})
        ov[k] = float(v)
    fg = from_dict(data.get("foregrounds", {}), Foregrounds, prefix="foregrounds.")
    return SurveySet(cmb, gal, ov, fg)
