"""``python -m nbody pm config.toml``: a cosmological particle-mesh run writing GADGET-4 snapshots.

The TOML file holds the keys of :class:`nbody.cosmological.PMConfig` (``box``, ``nside``,
``nmesh``, ``a_start``, ``nsteps``, ``output_redshifts``, ``lpt_order``, ``seed``,
``power_method``, ``stepping``, ``output_dir``, ``overwrite``, ``snapshot_base``; ``gravity = "pm"`` or
``"treepm"`` with ``softening``, ``treepm_asmth``, ``treepm_rcut``, ``treepm_theta``) and an optional
``[cosmology]`` table (``h``, ``Omega_m``, ``Omega_b``, ``n_s``, ``sigma8``, ``T_cmb``). TreePM's time
integration keys: ``treepm_max_dlna``, ``treepm_eta``, ``treepm_max_bin``, ``softening_max_phys``;
``checkpoint_interval`` (global steps between checkpoints) and ``--restart`` (continue from the output folder's
``checkpoint.hdf5``).
Run under ``mpiexec -n N`` for the slab-decomposed mesh (nside and nmesh divisible by N).

Command-line overrides (``--output-dir``, ``--overwrite``) are put into the config before it is
validated; the output folder and the ``--json`` file are checked before any work; errors propagate
to the dispatcher (:func:`gpu.cli.dispatch`: one line, exit 2, the whole MPI job ends).
"""
from __future__ import annotations

import logging
import time


def add_arguments(p):
    p.add_argument("config", nargs="?", default=None, help="TOML config (default: PMConfig defaults)")
    p.add_argument("--output-dir", default=None, help="override output_dir")
    p.add_argument("--overwrite", action="store_true",
                   help="remove an earlier run's snapshots from the output folder (sets overwrite)")
    p.add_argument("--restart", action="store_true",
                   help="continue the run of the output folder from its checkpoint.hdf5 (bit for bit on the same "
                        "number of ranks)")
    p.add_argument("--json", default=None, help="JSON summary (snapshots, timing, final P(k))")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def load(args):
    """The validated :class:`PMConfig` of ``args`` (file + command-line overrides) and the file's text."""
    from gpu.config import load_config, load_toml

    from .cosmological import PMConfig

    data, text = load_toml(args.config) if args.config else ({}, None)
    if args.output_dir:
        data["output_dir"] = args.output_dir
    if args.overwrite:
        data["overwrite"] = True
    return load_config(data, PMConfig), text


def run(args) -> int:
    import gpu
    from gpu.io import check_writable

    from .cosmological import PMSimulation

    logging.basicConfig(level=logging.WARNING)
    comm = gpu.get_comm()
    cfg, text = load(args)
    if args.restart and args.overwrite:
        from gpu.config import ConfigError

        raise ConfigError("--restart continues the output folder's run; it cannot be combined with --overwrite")
    sim = PMSimulation(cfg, comm=comm, quiet=args.quiet)  # checks the keys' combinations; no work yet
    if args.json and getattr(comm, "rank", 0) == 0:
        check_writable(args.json)
    t0 = time.perf_counter()
    paths = sim.run(restart=args.restart)  # claims cfg.output_dir before any work
    dt = time.perf_counter() - t0
    k, pk, nm = sim.measure_power()
    if getattr(comm, "rank", 0) == 0:
        print(f"{cfg.gravity.upper()}: {cfg.nside}^3 particles, mesh {sim.pm.n}^3, {len(sim.a_steps) - 1} steps in {dt:.1f} s; "
              f"snapshots: {', '.join(str(p) for p in paths)}")
        if args.json:
            from gpu.io import write_json

            write_json(args.json, {"config_text": text, "seconds": dt, "snapshots": [str(p) for p in paths],
                                   "k": k, "pk": pk, "n_modes": nm,
                                   "units": {"k": "h/Mpc", "pk": "(Mpc/h)^3", "n_modes": "1"}}, config=cfg)
    return 0
