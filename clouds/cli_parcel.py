"""``python -m clouds parcel config.toml [--json summary.json] [--out history.h5]``: run the parcel model.

The config is :class:`clouds.parcel.ParcelConfig` in TOML (every key optional); ``--help`` prints a
complete example (:data:`EXAMPLE_CONFIG`) with units and ranges.

Outputs are checked for writability before the run; an existing ``--out`` file (another run's
result) is refused unless ``--overwrite``. The JSON summary and the HDF5 Header carry ``status``
("complete" or "failed" with ``reason``) and the validity warnings of the run. A run whose own checks
fail (non-finite values, total water not conserved) writes its outputs marked failed and exits 1.
"""
from __future__ import annotations

import argparse
import json
import sys

from gpu.config import to_dict
from gpu.io import write_json, write_results

from gpu.io import check_outputs

from ._cliutil import one_line_warnings, read_config


#: the example config shown by ``--help`` (valid TOML for clouds.parcel.ParcelConfig; a test loads exactly
#: this text). Kept here, not in clouds.parcel, so that --help does not load the model's kernels.
EXAMPLE_CONFIG = """\
[parcel]
p_hPa = 900.0         # initial pressure
T_K = 285.0           # initial temperature
w = 1.0               # updraft [m/s], 0 <= w <= 50
rh = 1.0              # initial relative humidity (1 = saturated)
dt = 0.1              # time step [s]
t_end = 300.0         # end time [s], reached exactly
curvature = true      # Kelvin term in the growth law

[spectrum]            # what the superdroplets start from
kind = "lognormal"    # lognormal (dry aerosol) | gamma (droplets) | monodisperse | observed
N_cm3 = 100.0         # number concentration at the initial state [cm^-3]
r_um = 0.05           # lognormal median dry radius / gamma or monodisperse mean radius [um]
sigma_g = 1.5         # lognormal geometric standard deviation
shape = 50.0          # gamma shape (dispersion 1/sqrt(shape))
kappa = 0.6           # hygroscopicity
r_dry_um = 0.0        # dry radius of droplet spectra (gamma/monodisperse/observed) [um]
n_sd = 256            # number of superdroplets
file = ""             # observed: clouds.observations layout ("" = shipped synthetic spectrum)
time_index = 0        # observed: time row of the file

[eddy_hopping]        # Grabowski & Abade (2017) fluctuations
enabled = false
epsilon = 0.01        # TKE dissipation rate [m^2/s^3]
length = 50.0         # eddy scale [m]
seed = 0
"""


def add_arguments(p):
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = "example config (TOML; every key optional, defaults shown):\n\n" + EXAMPLE_CONFIG
    p.add_argument("config", help="TOML config (clouds.parcel.ParcelConfig; example below)")
    p.add_argument("--json", default=None, help="write the summary JSON here")
    p.add_argument("--out", default=None, help="write the history and final spectrum (HDF5) here")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument("--quiet", action="store_true")


def run(args) -> int:
    from .parcel import ParcelConfig, ParcelModel

    data, cfg, text = read_config(args.config, ParcelConfig)
    check_outputs([("--out", args.out), ("--json", args.json)], overwrite=args.overwrite, existing=("--out",))
    model = ParcelModel.from_config(cfg)
    with one_line_warnings():
        h = model.run(cfg.parcel.t_end, progress=not args.quiet)
    reason = model.check_result()
    status = "complete" if reason is None else "failed"
    s = model.summary()
    s = {"status": status, **({"reason": reason} if reason else {}), **s, "config": to_dict(cfg)}
    if getattr(model.comm, "rank", 0) == 0:
        if args.json:
            write_json(args.json, s, config=cfg)
        if args.out:
            r, n = model.spectrum()
            units = {"history/t": "s", "history/z": "m", "history/p": "Pa", "history/T": "K", "history/qv": "kg/kg",
                     "history/ql": "kg/kg", "history/S": "1", "history/r_mean": "m", "history/r_std": "m",
                     "history/epsilon": "1",
                     "history/N": "m^-3", "spectrum/radius": "m", "spectrum/multiplicity": "kg^-1"}
            ds = {f"history/{k}": v for k, v in h.items()}
            ds.update({"spectrum/radius": r, "spectrum/multiplicity": n})
            params = {"model": "clouds.ParcelModel", "status": status, "complete": reason is None,
                      "reason": reason or "", "warnings": json.dumps(s["warnings"])}
            write_results(args.out, ds, params=params, units=units, config_text=text, config=cfg)
        if not args.quiet or not args.json:
            print(json.dumps({k: v for k, v in s.items() if k != "config"}, indent=2))
        if reason:
            print(f"error: {reason}; outputs are marked status = 'failed'", file=sys.stderr, flush=True)
    return 0 if reason is None else 1
