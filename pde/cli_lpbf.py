"""``python -m pde lpbf config.toml --out run.h5 --json summary.json [--levels N --basis B --modes M --backend cpu]
[--material IN718 --temperature-dependent --latent-heat --nonlinear-solver td]``.

Runs :class:`pde.lpbf.LPBFProblem` on a TOML config (sections ``material``, ``laser``, ``domain``,
``solver``, ``output``; every key optional, defaults in :mod:`pde.lpbf`), writes the HDF5 result (factors,
temperature snapshots, melt-pool history; atomic, with header) and a JSON summary.

Exit status: 0 for an accepted solution; 2 for bad input (config, overrides, output paths: checked before
the solve); 1 when the solution fails the solver's own checks (energy balance, finite fields, TD residual):
the outputs are then written with ``status = "failed"``, ``converged = false`` and the reason.
"""
from __future__ import annotations

import json
import logging
import sys

from gpu.config import ConfigError, load_config, load_toml


def add_arguments(p):
    p.add_argument("config", nargs="?", default=None, help="TOML config (omit for the built-in defaults)")
    p.add_argument("--out", default="lpbf.h5", help="HDF5 output file (default lpbf.h5)")
    p.add_argument("--json", default=None, help="write the summary as JSON here")
    p.add_argument("--levels", type=int, default=None, help="override solver.levels")
    p.add_argument("--basis", choices=("chidenn", "fem"), default=None, help="override solver.basis")
    p.add_argument("--modes", type=int, default=None, help="override solver.modes")
    p.add_argument("--method", choices=("subspace", "fast", "greedy"), default=None, help="override solver.method")
    p.add_argument("--level-modes", dest="level_modes", choices=("per_level", "shared"), default=None,
                   help="override solver.level_modes (shared: modes shared by the levels, fast solves)")
    p.add_argument("--backend", choices=("auto", "cpu", "cuda"), default=None,
                   help="override solver.backend (cuda: TD mode solves and Gram products on the GPU through CuPy)")
    p.add_argument("--material", default=None, help="override material.name (Ti6Al4V, IN718)")
    p.add_argument("--temperature-dependent", dest="temperature_dependent", action="store_true", default=None,
                   help="set material.temperature_dependent = true (k(T), c_p(T): the nonlinear model)")
    p.add_argument("--latent-heat", dest="latent_heat", action="store_true", default=None,
                   help="set material.latent_heat = true (latent heat of fusion: the nonlinear model)")
    p.add_argument("--nonlinear-solver", dest="nonlinear_solver", choices=("full_order", "td"), default=None,
                   help="override nonlinear.solver (td: the nonlinear space-time TD with a fixed-point iteration)")
    p.add_argument("--quiet", action="store_true", help="no log output")


def run(args) -> int:
    """Validate the config (with the command-line overrides) and the output paths, solve, write.

    Bad input raises (``gpu.cli.dispatch`` prints one ``error:`` line, exit 2).  A solution that fails the
    solver's own checks (:meth:`pde.lpbf.LPBFResult.checks`) is still written, marked ``status = "failed"``,
    ``converged = false`` with the reason, and the command prints one ``error:`` line and exits 1.
    """
    from gpu.io import check_outputs

    from .lpbf import LPBFConfig, LPBFProblem, ValidityWarning

    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    data, _ = load_toml(args.config) if args.config else ({}, "")
    if args.config and not data:
        raise ConfigError(f"config file '{args.config}' holds no settings (empty); omit it to run the built-in "
                          "defaults")
    solver = data.setdefault("solver", {})
    if not isinstance(solver, dict):
        raise ConfigError("config section 'solver' must be a table")
    for key in ("levels", "basis", "modes", "method", "level_modes", "backend"):
        v = getattr(args, key)
        if v is not None:  # through the same validation as the file
            solver[key] = v
    for section, key, v in (("material", "name", args.material),
                            ("material", "temperature_dependent", args.temperature_dependent),
                            ("material", "latent_heat", args.latent_heat),
                            ("nonlinear", "solver", args.nonlinear_solver)):
        if v is not None:
            sec = data.setdefault(section, {})
            if not isinstance(sec, dict):
                raise ConfigError(f"config section '{section}' must be a table")
            sec[key] = v
    cfg = load_config(data, LPBFConfig)
    problem = LPBFProblem(cfg)
    check_outputs([("--out", args.out), ("--json", args.json)])  # distinct and writable, before the solve
    res = problem.solve()
    import warnings

    with warnings.catch_warnings():  # reported once below as "warning:" lines, not as Python warnings
        warnings.simplefilter("ignore", ValidityWarning)
        summ = res.write(args.out, args.json)
    for w in summ.get("warnings", []):
        print(f"warning: {w}", file=sys.stderr, flush=True)
    mp = summ["melt_pool"]
    if not args.quiet and "picard" in summ:
        pc = summ["picard"]
        print(f"nonlinear TD: {summ['nodes']} nodes, {pc['modes']} modes, {pc['iterations']} fixed-point iterations, "
              f"last change {pc['change'][-1]:.2e} (tol {pc['tol']:g}), residual {pc['residual'][-1]:.2e}, "
              f"solve={summ['timings']['solve_s']:.2f}s status={summ['status']}")
        print(f"melt pool at t={mp['time']:.3g}s: peak {mp['peak_T']:.0f} K (run {mp['peak_T_run']:.0f} K), length "
              f"{mp['length'] * 1e6:.0f} um, width {mp['width'] * 1e6:.0f} um, depth {mp['depth'] * 1e6:.0f} um")
        print(json.dumps(summ["energy"]))
        print(f"wrote {args.out}" + (f" and {args.json}" if args.json else ""))
    elif not args.quiet and "nonlinear" in summ:
        nl = summ["nonlinear"]
        print(f"full-order nonlinear model: {summ['nodes']} nodes, {nl['steps']} steps, Newton iterations max "
              f"{nl['newton_max']} mean {nl['newton_mean']:.1f}, residual <= {nl['residual_max']:.2e}, "
              f"solve={summ['timings']['solve_s']:.2f}s status={summ['status']}")
        print(f"melt pool at t={mp['time']:.3g}s: peak {mp['peak_T']:.0f} K (run {mp['peak_T_run']:.0f} K), length "
              f"{mp['length'] * 1e6:.0f} um, width {mp['width'] * 1e6:.0f} um, depth {mp['depth'] * 1e6:.0f} um")
        print(json.dumps(summ["energy"]))
        print(f"wrote {args.out}" + (f" and {args.json}" if args.json else ""))
    elif not args.quiet:
        print(f"levels={summ['levels']} basis={summ['basis']} modes={summ['modes']} residual={summ['residual']:.2e} "
              f"solve={summ['timings']['solve_s']:.2f}s status={summ['status']}")
        print(f"melt pool at t={mp['time']:.3g}s: peak {mp['peak_T']:.0f} K, length {mp['length'] * 1e6:.0f} um, "
              f"width {mp['width'] * 1e6:.0f} um, depth {mp['depth'] * 1e6:.0f} um")
        print(json.dumps(summ["energy"]))
        print(f"wrote {args.out}" + (f" and {args.json}" if args.json else ""))
    if summ["status"] != "ok":
        print(f"error: the solution failed the solver's own checks: {summ['reason']}; written to {args.out} "
              'with status = "failed"', file=sys.stderr, flush=True)
        return 1
    return 0
