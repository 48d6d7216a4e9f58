"""V_G / E_G forecast driver: ``VGForecast(config).run()``.

Estimator (Patki, Battaglia & Bean 2025, arXiv:2510.27605): per k bin i (multipole
l_i = k_i chi_eff - 1/2 at the sample's effective redshift),

    V_G(i) = (2c / 3H0^2) C^{kappa g}(l_i) / C^{vg}(l_i)  ->  Omega_m0 Sigma / f  (linear theory)

with C^{vg} the lensing-kernel-reweighted galaxy x velocity-divergence spectrum of
:mod:`cosmo.spectra` (the velocity cross-power is measured in 3D, not in Limber).

Errors (Gaussian, fiducial GR), for overlap sky fraction f_sky and shell volume V:

* numerator: sigma^2(C^{kappa g}) = 1 / sum_l (2l+1) f_sky / [(C^{kg})^2 + (C^{kk} + N^{kk})(C^{gg} + 1/n_sr)]
  (Knox 1995 for cross spectra), N^{kk} from :func:`cosmo.lensing.quadratic_estimator_noise`.
* denominator: the amplitude A = b f P of P_gv(k, mu) = A b_v (aH/k) mu (1 + beta mu^2) from all
  (k, mu) modes of the bin, F_A = sum_{k,mu} V k^2 dk dmu / (2 pi^2) t^2 / (P_gg P_vv + P_gv^2),
  with P_vv including the kSZ reconstruction noise N_vv/mu^2 (:mod:`cosmo.ksz`) and the velocity
  bias b_v; sigma(C^{vg})/C^{vg} = sigma_A / A.
* cross-covariance through the shared galaxy field (and lensing x velocity): the correlation
  coefficient rho_i of the two estimators from the flat-sky mode sum of
  :func:`cosmo._kernels.forecast.cross_covariance_sum` (radial modes k_par = 2 pi n / L of the shell);
  it vanishes for a top-hat window and is O(1e-3) here.
* sigma^2(V_G)/V_G^2 = s_N^2 + s_D^2 - 2 rho s_N s_D (s = fractional errors); bins independent.

Cumulative S/N = sqrt(sum_i (V_G,i / sigma_i)^2). Model separation Delta chi^2 = sum_i
(V_G^MG - V_G^GR)^2 / sigma_i^2 (b_v fixed) and, with the overall amplitude (b_v, or a
mis-modelled optical depth) marginalised, min_alpha sum_i (alpha V_G^MG - V_G^GR)^2 / sigma_i^2.

MPI: the (experiment, sample, model) cells are distributed over ranks with
:func:`gpu.block_range`; each cell is computed identically on any rank, so results equal the
serial run bit for bit (tested: ``mpiexec -n 2`` vs one rank, same threads, ``np.array_equal``).

Every input is checked when the config is loaded (:class:`VGConfig`, the ``[[models]]`` tables,
the survey overrides, the bins' multipole range); a non-finite result raises
:class:`ForecastResultError` instead of being returned or written.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import time

import numpy as np

import gpu
import gpu.io
from gpu.config import ConfigError, from_dict, load_toml, param
from gpu.io import ResultError

from ._kernels.forecast import cross_covariance_sum, velocity_fisher
from .background import background, get_cosmology
from .ksz import nvv_white
from .lensing import quadratic_estimator_noise
from .mg import H0_OVER_C, make_model
from .spectra import ModelSpectra, c_kappa_kappa, effective_redshift
from .surveys import load_surveys

log = logging.getLogger(__name__)

DEFAULT_MODELS = [
    {"type": "hu_sawicki", "fR0": 1e-4, "n": 1.0, "name": "fR_1e-4"},
    {"type": "hu_sawicki", "fR0": 1e-5, "n": 1.0, "name": "fR_1e-5"},
    {"type": "hu_sawicki", "fR0": 1e-6, "n": 1.0, "name": "fR_1e-6"},
    {"type": "chameleon", "beta1": 1.2, "lambda1_sq": 2000.0, "s": 4.0, "name": "chameleon"},
]
COSMOLOGIES = ("Planck18", "Planck15", "WMAP9")
#: top of the lensing-noise multipole grid (the bins' multipoles k chi_eff must stay below)
LENSING_L_MAX = 3000.0


@dataclasses.dataclass
class VGConfig:
    """Forecast configuration (TOML table ``[forecast]`` plus ``[[models]]`` and optional ``[surveys]``)."""

    experiments: list[str] = param(default_factory=lambda: ["ACT_DR6", "SO_baseline"])
    samples: list[str] = param(default_factory=lambda: ["DESI_LRG", "DESI_ELG", "DESI_QSO"])
    cosmology: str = param("Planck18", choices=COSMOLOGIES)
    power_method: str = param("camb", choices=("camb", "eh"),
                              doc="camb: CAMB linear + halofit; eh: linear Eisenstein-Hu everywhere (no CAMB)")
    k_min: float = param(0.005, gt=0, lt=1.0, doc="lowest k bin edge [h/Mpc]")
    k_max: float = param(0.205, gt=0, le=1.0, doc="highest k bin edge [h/Mpc]")
    n_bins: int = param(20, ge=1, le=200)
    b_v: float = param(1.0, gt=0, doc="kSZ velocity bias (reconstructed = b_v v + noise); measured ~0.45")
    rsd: bool = param(True, doc="Kaiser redshift-space distortions in the galaxy field")
    n_k: int = param(24, ge=2, le=2000, doc="k sub-samples per bin for the velocity Fisher sum")
    n_mu: int = param(48, ge=4, le=2000)
    models: list[dict] = param(default_factory=lambda: [dict(m) for m in DEFAULT_MODELS])
    surveys: dict = param(default_factory=dict, doc="overrides of cosmo/data/surveys.toml")
    survey_file: str = param("", doc="alternative survey TOML (default: the shipped one)")

    def check_config(self, prefix=""):
        """Cross-key constraints, run by :func:`gpu.config.from_dict` once every key is valid."""
        if not self.k_max > self.k_min:
            raise ConfigError(f"config key '{prefix}k_max' ({self.k_max}) must exceed '{prefix}k_min' "
                              f"({self.k_min})")
        for key in ("experiments", "samples"):
            names = getattr(self, key)
            if not names:
                raise ConfigError(f"config key '{prefix}{key}' must be a non-empty list")
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ConfigError(f"config key '{prefix}{key}' lists {dup[0]!r} more than once")
        seen = {"GR"}
        for i, spec in enumerate(self.models):
            m = make_model(spec, prefix=f"models[{i}].")
            if m.name in seen:
                raise ConfigError(f"config key 'models[{i}].name' = {m.name!r} is used twice (GR is the "
                                  "fiducial); give every model its own name")
            seen.add(m.name)
        if not isinstance(self.surveys, dict):
            raise ConfigError(f"config key '{prefix}surveys' must be a table")


def load_vg_config(source=None) -> tuple[VGConfig, str]:
    """Config from a TOML path / dict / None (defaults). Returns (config, raw text)."""
    if source is None:
        return VGConfig(), ""
    if isinstance(source, VGConfig):  # validated like a file (a dataclass built in Python skips from_dict)
        return from_dict(dataclasses.asdict(source), VGConfig), ""
    if isinstance(source, dict):
        data, text = dict(source), json.dumps(source, default=str)
    else:
        data, text = load_toml(source)
        if not data:
            raise ConfigError(f"config file '{source}' is empty; give a [forecast] table (or no config file "
                              "for the default setup)")
    if not isinstance(data.get("forecast", {}), dict):
        raise ConfigError("config key 'forecast' must be a table ([forecast])")
    flat = dict(data.get("forecast", {}))
    extra = set(data) - {"forecast", "models", "surveys"}
    if extra:
        # allow a flat table too
        flat.update({k: data[k] for k in extra})
    if "models" in data:
        flat["models"] = data["models"]
    if "surveys" in data:
        flat["surveys"] = data["surveys"]
    return from_dict(flat, VGConfig), text


class ForecastResultError(ResultError):
    """A forecast result is not a finite number (NaN or infinite): nothing is returned or written."""


#: per-entry results that must be finite (scalars or per-bin lists), inputs of the derived numbers first
#: (so the error names the root cause); model dicts are checked per model
_FINITE_KEYS = ("z_eff", "k", "ell", "fsky_overlap", "N_vv_white", "V_G", "frac_err_num", "frac_err_den", "rho",
                "sigma_V_G", "E_G_GR", "snr")
_FINITE_MODEL_KEYS = ("V_G_models", "delta_chi2", "delta_chi2_amp_marg")


def check_finite_results(results: dict, snr_combined: dict) -> None:
    """Raise :class:`ForecastResultError` naming the first non-finite quantity (and its cell).

    A NaN or infinite S/N, E_G, V_G, error or Delta chi^2 is a failed forecast, never a result:
    the JSON summary would otherwise carry ``NaN`` (not even valid JSON) and exit 0.
    """
    def bad(v):
        a = np.asarray(v, dtype=float)
        return not np.all(np.isfinite(a))

    for cell, r in results.items():
        for name in _FINITE_KEYS:
            if bad(r[name]):
                raise ForecastResultError(f"forecast result '{name}' of '{cell}' is not finite "
                                          f"({np.asarray(r[name]).tolist()}); nothing written")
        for group in _FINITE_MODEL_KEYS:
            for m, v in r[group].items():
                if bad(v):
                    raise ForecastResultError(f"forecast result '{group}' of model '{m}' in '{cell}' is not "
                                              f"finite ({np.asarray(v).tolist()}); nothing written")
    for e, v in snr_combined.items():
        if bad(v):
            raise ForecastResultError(f"forecast result 'snr_combined' of '{e}' is not finite ({v}); nothing written")


@dataclasses.dataclass
class CellResult:
    experiment: str
    sample: str
    model: str
    data: dict


class VGForecast:
    """The V_G forecast for every (CMB experiment x galaxy sample), GR and modified gravity.

    ``VGForecast()`` is the paper's set-up (ACT DR6, SO baseline x DESI LRG/ELG/QSO; CAMB); a config
    (TOML path, dict or :class:`VGConfig`) selects others, e.g. a coarse single cell:

    >>> fc = VGForecast({"forecast": {"experiments": ["SO_baseline"], "samples": ["DESI_LRG"],
    ...                               "power_method": "eh", "n_bins": 5, "n_k": 4, "n_mu": 8}, "models": []})
    >>> res = fc.run()
    >>> sorted(res), round(res["SO_baseline x DESI_LRG"]["snr"])
    (['SO_baseline x DESI_LRG'], 10)
    """

    def __init__(self, config=None, comm=None, quiet: bool = True):
        self.config, self.config_text = load_vg_config(config)
        cfg = self.config
        self.comm = gpu.get_comm(comm)
        self.quiet = quiet
        import astropy.cosmology as ac

        self.cosmology = get_cosmology(getattr(ac, cfg.cosmology))
        self.surveys = load_surveys(cfg.survey_file or None, cfg.surveys)
        for e in cfg.experiments:
            self.surveys.experiment(e)
        for s in cfg.samples:
            self.surveys.sample(s)
        self.models = {"GR": make_model({"type": "gr"})}
        for i, spec in enumerate(cfg.models):  # validated by VGConfig.check_config
            m = make_model(spec, prefix=f"models[{i}].")
            self.models[m.name] = m
        self.k_edges = np.linspace(cfg.k_min, cfg.k_max, cfg.n_bins + 1)
        self._check_multipoles()
        self.results: dict | None = None
        self.timing: dict = {}

    def _check_multipoles(self):
        """The bins' highest multipole k_max chi(z_eff) must lie on the lensing-noise grid (L <= 3000):
        checked at load time for every sample, so a bad k_max never costs a run."""
        bg = background(self.cosmology)
        for s in self.config.samples:
            sample = self.surveys.sample(s)
            chi_eff = float(bg.chi(effective_redshift(sample, self.cosmology)))
            if self.config.k_max * chi_eff > LENSING_L_MAX:
                raise ConfigError(f"config key 'k_max' = {self.config.k_max} reaches multipole "
                                  f"{self.config.k_max * chi_eff:.0f} for sample {s!r} (chi_eff = {chi_eff:.0f} "
                                  f"Mpc/h); it must be <= {LENSING_L_MAX / chi_eff:.4g} h/Mpc "
                                  f"(L <= {LENSING_L_MAX:.0f})")

    # ------------------------------------------------------------------------------------
    def cells(self):
        return [(e, s, m) for e in self.config.experiments for s in self.config.samples for m in self.models]

    def _spectra(self, model_name):
        if model_name not in self._spec_cache:
            zmax = max(self.surveys.sample(s).z_max for s in self.config.samples)
            zg = np.linspace(0.0, zmax + 0.2, int(30 * (zmax + 0.2)) + 2)
            self._spec_cache[model_name] = ModelSpectra(self.models[model_name], self.cosmology, zg,
                                                        self.config.power_method)
        return self._spec_cache[model_name]

    def _cell(self, exp_name, sample_name, model_name):
        """Model V_G per bin; for GR also the errors (the fiducial covariance)."""
        exp = self.surveys.experiment(exp_name)
        sample = self.surveys.sample(sample_name)
        spec = self._spectra(model_name)
        gr = self._spectra("GR")
        bg = background(self.cosmology)
        z_eff = effective_redshift(sample, self.cosmology)
        chi_eff = float(bg.chi(z_eff))
        kc = 0.5 * (self.k_edges[1:] + self.k_edges[:-1])
        ell_c = kc * chi_eff - 0.5
        # bandpower: average of V_G's numerator and denominator over the bin's multipoles
        n_sub = 8
        ell_sub = np.array([np.linspace(lo * chi_eff, hi * chi_eff, n_sub) for lo, hi in
                            zip(self.k_edges[:-1], self.k_edges[1:])])
        ell_sub = np.maximum(ell_sub, 2.0)
        ckg = spec.c_kappa_g(ell_sub.ravel(), sample).reshape(ell_sub.shape)
        cvg = spec.c_v_g_tilde(ell_sub.ravel(), sample).reshape(ell_sub.shape)
        wl = 2 * ell_sub + 1
        num = np.sum(wl * ckg, axis=1) / np.sum(wl, axis=1)
        den = np.sum(wl * cvg, axis=1) / np.sum(wl, axis=1)
        vg = num / (1.5 * H0_OVER_C**2 * den)
        out = {"z_eff": z_eff, "chi_eff": chi_eff, "k": kc, "ell": ell_c, "V_G": vg,
               "E_G_theory": self._eg_theory(spec, kc, z_eff)}
        if model_name != "GR":
            return out
        out.update(self._errors(exp, sample, gr, z_eff, chi_eff, ell_sub, ckg, num, den))
        return out

    def _lensing_noise(self, exp):
        """N^{kappa kappa}_L of ``exp`` on a fixed log grid 2 <= L <= 3000 (cached per experiment)."""
        if exp.name not in self._nkk_cache:
            L = np.geomspace(2.0, LENSING_L_MAX, 40)
            self._nkk_cache[exp.name] = (L, quadratic_estimator_noise(exp, L, self.surveys.foregrounds,
                                                                      self.cosmology)[0])
        return self._nkk_cache[exp.name]

    def _eg_theory(self, spec, k, z):
        a = 1 / (1 + z)
        f = np.interp(np.log(k), spec.lnk, spec.f_of_k(z))
        return spec.bg.Om0_tot * spec.model.sigma(k, a) / f

    def _errors(self, exp, sample, gr, z_eff, chi_eff, ell_sub, ckg, num, den):
        cfg = self.config
        bg = background(self.cosmology)
        area = self.surveys.overlap(exp.name, sample.name)
        fsky = area / (4 * math.pi * (180 / math.pi) ** 2)
        # --- numerator: C^{kappa g} Gaussian variance -----------------------------------
        ell_flat = ell_sub.ravel()
        Lg, nkk = self._lensing_noise(exp)
        if ell_flat.max() > Lg[-1]:
            raise ValueError(f"multipole {ell_flat.max():.0f} beyond the lensing-noise grid (k_max too large)")
        nkk_sub = np.exp(np.interp(np.log(ell_sub), np.log(Lg), np.log(nkk)))
        ckk = c_kappa_kappa(ell_flat, self.cosmology, cfg.power_method).reshape(ell_sub.shape)
        cgg = gr.c_gg(ell_flat, sample).reshape(ell_sub.shape) + 1.0 / (sample.n_sr)
        var_l = (ckg**2 + (ckk + nkk_sub) * cgg)
        # each sub-multipole stands for (bin width / n_sub) integer multipoles
        dl = (self.k_edges[1:] - self.k_edges[:-1]) * chi_eff / ell_sub.shape[1]
        fisher_n = np.sum((2 * ell_sub + 1) * fsky * dl[:, None] / var_l, axis=1)
        ckg_bin = np.sum((2 * ell_sub + 1) * ckg, axis=1) / np.sum(2 * ell_sub + 1, axis=1)
        sN = 1.0 / np.sqrt(fisher_n) / ckg_bin
        # --- denominator: 3D velocity amplitude ------------------------------------------
        z1, z2 = sample.z_min, sample.z_max
        c1, c2 = float(bg.chi(z1)), float(bg.chi(z2))
        volume = fsky * 4 * math.pi / 3 * (c2**3 - c1**3)
        a = 1 / (1 + z_eff)
        aH = a * 100.0 * float(bg.E(z_eff))  # km/s per Mpc/h
        b = float(sample.bias(z_eff, self.cosmology))
        nbar = float(sample.nbar(None, self.cosmology))
        nvv = nvv_white(exp, z_eff, b, nbar, self.surveys.foregrounds, self.cosmology, cfg.power_method)
        f_k = gr.f_of_k(z_eff)
        lnp = gr.lnp_of_k(z_eff)
        kaiser = 1.0 if cfg.rsd else 0.0
        F_A, A = velocity_fisher(self.k_edges, cfg.n_k, cfg.n_mu, volume, aH, b, cfg.b_v, f_k, gr.lnk, lnp, nbar,
                                 nvv, kaiser)
        sD = 1.0 / np.sqrt(F_A) / A
        # --- cross-covariance -----------------------------------------------------------
        rho = self._cross_rho(exp, sample, gr, z_eff, chi_eff, area, c1, c2, aH, b, f_k, lnp, nbar, nvv,
                              ckg, ckk + nkk_sub, cgg, ell_sub)
        rel = np.sqrt(np.maximum(sN**2 + sD**2 - 2 * rho * sN * sD, 0.0))
        vg = num / (1.5 * H0_OVER_C**2 * den)
        return {"sigma_V_G": rel * vg, "frac_err_num": sN, "frac_err_den": sD, "rho": rho,
                "N_vv_white": nvv, "fsky_overlap": fsky, "volume": volume, "b_eff": b, "nbar": nbar,
                "N_kappa": nkk_sub.mean(axis=1)}

    def _cross_rho(self, exp, sample, gr, z_eff, chi_eff, area_deg2, c1, c2, aH, b, f_k, lnp, nbar, nvv,
                   ckg, ckk_tot, cgg_tot, ell_sub):
        bg = background(self.cosmology)
        L = c2 - c1
        area = area_deg2 * (math.pi / 180) ** 2 * chi_eff**2
        chi = np.linspace(c1, c2, 1025)
        z = bg.z_of_chi(chi)
        from .growth import growth_factor
        from .lensing import lensing_kernel

        d_ratio = growth_factor(z=z, cosmology=self.cosmology) / growth_factor(z=z_eff, cosmology=self.cosmology)
        wk = lensing_kernel(chi, bg.chi_star, bg.Om0_tot, z) * d_ratio
        wg = sample.window(np.clip(z, sample.z_min, sample.z_max), self.cosmology)
        n_max = int(np.ceil(self.k_edges[-1] * L / (2 * math.pi))) + 1
        nn = np.arange(n_max + 1)
        phase = np.exp(2j * math.pi * np.outer(nn, chi - c1) / L)
        wkt = np.trapezoid(wk[None, :] * phase, chi, axis=1)
        wgt = np.trapezoid(wg[None, :] * phase, chi, axis=1)
        n_sub = ell_sub.shape[1]
        return cross_covariance_sum(self.k_edges, n_sub, n_max, L, area, chi_eff, ckg, ckk_tot, cgg_tot,
                                    wkt.real.copy(), wkt.imag.copy(), wgt.real.copy(), wgt.imag.copy(), aH, b,
                                    self.config.b_v, f_k, gr.lnk, lnp, nbar, nvv,
                                    1.0 if self.config.rsd else 0.0)

    # ------------------------------------------------------------------------------------
    def run(self) -> dict:
        """Compute every cell (MPI-distributed) and assemble the summary; returns the results dict."""
        t0 = time.perf_counter()
        self._spec_cache = {}
        self._nkk_cache = {}
        cells = self.cells()
        comm = self.comm
        lo, hi = gpu.block_range(len(cells), comm.size, comm.rank)
        mine = []
        for cell in gpu.progress(cells[lo:hi], desc="V_G cells", comm=comm, quiet=self.quiet):
            mine.append((cell, self._cell(*cell)))
        gathered = comm.allgather(mine)
        table = {cell: data for part in gathered for cell, data in part}
        results = self._assemble(table)
        check_finite_results(results, self.snr_combined)
        self.results = results
        self.timing["run_s"] = time.perf_counter() - t0
        return self.results

    def _assemble(self, table) -> dict:
        out = {}
        for e in self.config.experiments:
            for s in self.config.samples:
                gr = table[(e, s, "GR")]
                sig = gr["sigma_V_G"]
                vg = gr["V_G"]
                snr = float(np.sqrt(np.sum((vg / sig) ** 2)))
                bg = background(self.cosmology)
                from .growth import growth_rate

                eg_gr = bg.Om0_tot / growth_rate(z=gr["z_eff"], cosmology=self.cosmology)
                entry = {
                    "experiment": e, "sample": s, "z_eff": gr["z_eff"], "snr": snr, "E_G_GR": float(eg_gr),
                    "k": gr["k"].tolist(), "ell": gr["ell"].tolist(), "V_G": vg.tolist(),
                    "sigma_V_G": sig.tolist(), "frac_err_num": gr["frac_err_num"].tolist(),
                    "frac_err_den": gr["frac_err_den"].tolist(), "rho": gr["rho"].tolist(),
                    "fsky_overlap": gr["fsky_overlap"], "N_vv_white": gr["N_vv_white"],
                    "V_G_models": {}, "delta_chi2": {}, "delta_chi2_amp_marg": {},
                }
                for m in self.models:
                    if m == "GR":
                        continue
                    vm = table[(e, s, m)]["V_G"]
                    entry["V_G_models"][m] = vm.tolist()
                    w = 1 / sig**2
                    entry["delta_chi2"][m] = float(np.sum(w * (vm - vg) ** 2))
                    alpha = np.sum(w * vm * vg) / np.sum(w * vm * vm)
                    entry["delta_chi2_amp_marg"][m] = float(np.sum(w * (alpha * vm - vg) ** 2))
                out[f"{e} x {s}"] = entry
        # samples treated as independent (disjoint redshift shells; the shared kappa map's
        # sample variance between shells is neglected)
        self.snr_combined = {e: float(np.sqrt(sum(out[f"{e} x {s}"]["snr"] ** 2 for s in self.config.samples)))
                             for e in self.config.experiments}
        return out

    # ------------------------------------------------------------------------------------
    def summary(self) -> dict:
        """JSON-ready summary (the results plus the configuration)."""
        if self.results is None:
            self.run()
        return {"config": dataclasses.asdict(self.config), "results": self.results,
                "snr_combined": self.snr_combined,
                "units": {"k": "h/Mpc", "N_vv_white": "km^2 s^-2 (Mpc/h)^3", "V_G": "dimensionless"},
                "timing_s": self.timing}

    def write_json(self, path):
        if getattr(self.comm, "rank", 0) == 0:
            gpu.io.write_json(path, self.summary(), config=self.config)

    def write_hdf5(self, path):
        """HDF5: one group per 'experiment x sample' with per-bin arrays; header with the config as given
        (``config``) and in full, defaults included (``config_full``)."""
        if self.results is None:
            self.run()
        if getattr(self.comm, "rank", 0) != 0:
            return None
        ds, units = {}, {}
        for key, r in self.results.items():
            g = key.replace(" x ", "__")
            for name in ("k", "ell", "V_G", "sigma_V_G", "frac_err_num", "frac_err_den", "rho"):
                ds[f"{g}/{name}"] = np.asarray(r[name])
            for m, v in r["V_G_models"].items():
                ds[f"{g}/V_G_models/{m}"] = np.asarray(v)
            ds[f"{g}/scalars"] = np.array([r["z_eff"], r["snr"], r["E_G_GR"]])
        # everything but k is dimensionless: ell, V_G and its models, errors, correlations, z_eff/snr/E_G
        units = {name: ("h/Mpc" if name.endswith("/k") else "1") for name in ds}
        params = {"experiments": self.config.experiments, "samples": self.config.samples,
                  "models": json.dumps(self.config.models), "b_v": self.config.b_v,
                  "scalars_columns": "z_eff, snr, E_G_GR"}
        return gpu.io.write_results(path, ds, params=params, units=units, config_text=self.config_text or None,
                                    config=self.config)
