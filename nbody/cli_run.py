"""``python -m nbody run CONFIG.toml``: run a KETJU-style galaxy simulation (``mpirun -n N`` for MPI).

Command-line overrides (``--t-end``, ``--outdir``, ``--overwrite``, ``--quiet``) are put into the
config before it is validated, so they are checked exactly like the file's keys. The output folder
is claimed (writable, not another run's) before any work; errors propagate to the dispatcher
(:func:`gpu.cli.dispatch`: one line, exit 2, the whole MPI job ends).
"""
from __future__ import annotations

import json
import logging


def add_arguments(p):
    p.add_argument("config", help="TOML config (see nbody.simulation for the keys)")
    p.add_argument("--restart", nargs="?", const="checkpoint", default=None,
                   help="continue from output.dir/checkpoint.hdf5, or from the given snapshot file")
    p.add_argument("--t-end", default=None, help="override time.t_end (> 0, a multiple of time.dt_max)")
    p.add_argument("--outdir", default=None, help="override output.dir")
    p.add_argument("--overwrite", action="store_true",
                   help="remove an earlier run's files from the output folder (sets output.overwrite)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _override(data: dict, section: str, key: str, value) -> None:
    table = data.setdefault(section, {})
    if isinstance(table, dict):  # otherwise the config check reports the section
        table[key] = value


def load(args):
    """The validated :class:`SimulationConfig` of ``args`` (file + command-line overrides) and the file's text."""
    from gpu.config import check_arg, load_config, load_toml

    from .simulation import SimulationConfig

    data, text = load_toml(args.config)
    if args.t_end is not None:
        _override(data, "time", "t_end", check_arg("--t-end", args.t_end, gt=0))
    if args.outdir:
        _override(data, "output", "dir", args.outdir)
    if args.overwrite:
        _override(data, "output", "overwrite", True)
    if args.quiet:
        _override(data, "output", "quiet", True)
    return load_config(data, SimulationConfig), text


def run(args) -> int:
    from .simulation import Simulation

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    cfg, text = load(args)
    sim = Simulation(cfg)
    sim.config_text = text
    res = sim.run(restart=args.restart or False)
    if sim.rank == 0:
        out = {"time": res.time, "n": len(res.particles), "mergers": len(res.mergers),
               "files": res.files, "profile_s": {k: round(v, 3) for k, v in res.profile.items()
                                                 if isinstance(v, float)}}
        if len(res.bh_log["time"]) and res.bh_log["sep"].size:
            out["final_bh_separation"] = res.bh_log["sep"][-1].tolist()
        print(json.dumps(out, indent=2))
    return 0
