"""``python -m clouds parcel config.toml [--json summary.json] [--out history.h5]``: run the parcel model.

Config (TOML; every key optional, units in the key names)::

    [parcel]
    p_hPa = 900.0      T_K = 285.0     w = 1.0      rh = 1.0
    dt = 0.1           t_end = 300.0   curvature = true

    [spectrum]          # what the superdroplets start from
    kind = "lognormal"  # lognormal (dry aerosol) | gamma (droplets) | monodisperse | observed
    N_cm3 = 100.0       # number concentration at the initial state
    r_um = 0.05         # lognormal median dry radius / gamma or monodisperse mean radius
    sigma_g = 1.5       # lognormal geometric std
    shape = 50.0        # gamma shape (dispersion 1/sqrt(shape))
    kappa = 0.6         n_sd = 256
    file = ""           time_index = 0   # observed: clouds.observations layout (default: shipped synthetic)

    [eddy_hopping]
    enabled = false     epsilon = 0.01  length = 50.0   seed = 0
"""
from __future__ import annotations

import dataclasses
import json

import numpy as np

from gpu.config import load_toml, param, from_dict, to_dict
from gpu.io import write_json, write_results


@dataclasses.dataclass
class ParcelSection:
    p_hPa: float = param(900.0, gt=100, lt=1100)
    T_K: float = param(285.0, gt=200, lt=330)
    w: float = param(1.0, ge=0, le=50, doc="updraft [m/s]")
    rh: float = param(1.0, ge=0, le=1.2)
    dt: float = param(0.1, gt=0, le=10)
    t_end: float = param(300.0, gt=0)
    curvature: bool = param(True)


@dataclasses.dataclass
class SpectrumSection:
    kind: str = param("lognormal", choices=("lognormal", "gamma", "monodisperse", "observed"))
    N_cm3: float = param(100.0, gt=0)
    r_um: float = param(0.05, gt=0)
    sigma_g: float = param(1.5, gt=1)
    shape: float = param(50.0, gt=0)
    kappa: float = param(0.6, ge=0, le=1.5)
    r_dry_um: float = param(0.0, ge=0, doc="dry radius of droplet spectra (gamma/monodisperse/observed)")
    n_sd: int = param(256, ge=1)
    file: str = param("")
    time_index: int = param(0, ge=0)


@dataclasses.dataclass
class EddySection:
    enabled: bool = param(False)
    epsilon: float = param(0.01, gt=0)
    length: float = param(50.0, gt=0)
    seed: int = param(0, ge=0)


@dataclasses.dataclass
class ParcelConfig:
    parcel: ParcelSection = dataclasses.field(default_factory=ParcelSection)
    spectrum: SpectrumSection = dataclasses.field(default_factory=SpectrumSection)
    eddy_hopping: EddySection = dataclasses.field(default_factory=EddySection)


def build_model(cfg: ParcelConfig, comm=None):
    from . import droplets
    from . import thermo as th
    from .parcel import EddyHopping, ParcelModel

    P, S = cfg.parcel, cfg.spectrum
    p, T = P.p_hPa * 100.0, P.T_K
    qv = float(th.mixing_ratio_from_rh(p, T, P.rh))
    rho_d = float(th.dry_air_density(p, T, qv))
    N = S.N_cm3 * 1e6
    if S.kind == "lognormal":
        rd, n = droplets.lognormal(N, S.r_um * 1e-6, S.sigma_g, S.n_sd)
        r = droplets.equilibrium_radii(min(P.rh - 1.0, 0.0), rd, S.kappa, T) if S.kappa > 0 else rd
        pop = droplets.Population(r, rd, S.kappa, n / rho_d)
    else:
        if S.kind == "gamma":
            r, n = droplets.gamma(N, S.r_um * 1e-6, S.shape, S.n_sd)
        elif S.kind == "monodisperse":
            r, n = np.full(1, S.r_um * 1e-6), np.full(1, N)
        else:
            from .observations import SYNTHETIC, read_spectrum

            obs = read_spectrum(S.file or SYNTHETIC)
            r, n = droplets.from_histogram(obs.edges, obs.concentration[S.time_index], n_per_bin=max(1, S.n_sd // (obs.edges.size - 1)))
        pop = droplets.Population(r, S.r_dry_um * 1e-6, S.kappa if S.r_dry_um > 0 else 0.0, n / rho_d)
    eh = EddyHopping(cfg.eddy_hopping.epsilon, cfg.eddy_hopping.length, cfg.eddy_hopping.seed) \
        if cfg.eddy_hopping.enabled else None
    return ParcelModel(p, T, P.w, pop, rh=P.rh, dt=P.dt, curvature=P.curvature, eddy_hopping=eh, comm=comm)


def add_arguments(p):
    p.add_argument("config", help="TOML config (see python -m clouds parcel --help-config)")
    p.add_argument("--json", default=None, help="write the summary JSON here")
    p.add_argument("--out", default=None, help="write the history and final spectrum (HDF5) here")
    p.add_argument("--quiet", action="store_true")


def run(args) -> int:
    data, text = load_toml(args.config)
    cfg = from_dict(data, ParcelConfig)
    model = build_model(cfg)
    h = model.run(cfg.parcel.t_end, progress=not args.quiet)
    s = model.summary()
    s["config"] = to_dict(cfg)
    if getattr(model.comm, "rank", 0) == 0:
        if args.json:
            write_json(args.json, s)
        if args.out:
            r, n = model.spectrum()
            units = {"history/t": "s", "history/z": "m", "history/p": "Pa", "history/T": "K", "history/qv": "kg/kg",
                     "history/ql": "kg/kg", "history/S": "1", "history/r_mean": "m", "history/r_std": "m",
                     "history/N": "m^-3", "spectrum/radius": "m", "spectrum/multiplicity": "kg^-1"}
            ds = {f"history/{k}": v for k, v in h.items()}
            ds.update({"spectrum/radius": r, "spectrum/multiplicity": n})
            write_results(args.out, ds, params={"model": "clouds.ParcelModel"}, units=units, config_text=text)
        if not args.quiet or not args.json:
            print(json.dumps({k: v for k, v in s.items() if k != "config"}, indent=2))
    return 0
