"""``python -m cosmo forecast [config.toml] --out forecast.h5 --json summary.json``: the V_G forecast.

Everything is checked before the forecast starts: the outputs can be written (rank 0 writes them),
every config key is finite and in range (:class:`cosmo.forecast.VGConfig`). A non-finite result
fails the command (:class:`cosmo.forecast.ForecastResultError`, exit 1) and writes nothing.
Errors are reported by :func:`gpu.cli.dispatch` (one line, exit 2 for bad input; under
``mpiexec`` an error on any rank ends the job).
"""
from __future__ import annotations

import logging


def add_arguments(p):
    p.add_argument("config", nargs="?", default=None,
                   help="TOML config ([forecast] table, [[models]], optional [surveys] overrides); "
                        "default: the paper's setup")
    p.add_argument("--out", default=None, help="HDF5 output file")
    p.add_argument("--json", default=None, help="JSON summary file")
    p.add_argument("--quiet", action="store_true", help="no progress bar / table")


def run(args) -> int:
    import gpu
    from gpu.io import check_outputs

    from .forecast import VGForecast

    logging.basicConfig(level=logging.WARNING)
    comm = gpu.get_comm()
    check_outputs([("--out", args.out), ("--json", args.json)], comm=comm)
    fc = VGForecast(args.config, comm=comm, quiet=args.quiet)
    res = fc.run()
    if args.out:
        fc.write_hdf5(args.out)
    if args.json:
        fc.write_json(args.json)
    if getattr(fc.comm, "rank", 0) == 0 and not args.quiet:
        print(f"{'experiment x sample':34s} {'z_eff':>6s} {'S/N':>6s} {'E_G^GR':>7s}  delta chi^2 per model")
        for key, r in res.items():
            dchi = ", ".join(f"{m} {v:.1f}" for m, v in r["delta_chi2"].items())
            print(f"{key:34s} {r['z_eff']:6.3f} {r['snr']:6.1f} {r['E_G_GR']:7.4f}  {dchi}")
        for e, v in fc.snr_combined.items():
            print(f"combined S/N {e}: {v:.1f}")
        print(f"run time {fc.timing['run_s']:.1f} s")
    return 0
