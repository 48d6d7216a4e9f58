"""``python -m nbody run CONFIG.toml``: run a KETJU-style galaxy simulation (``mpirun -n N`` for MPI)."""
from __future__ import annotations

import json
import logging


def add_arguments(p):
    p.add_argument("config", help="TOML config (see nbody.simulation for the keys)")
    p.add_argument("--restart", nargs="?", const="checkpoint", default=None,
                   help="continue from output.dir/checkpoint.hdf5, or from the given snapshot file")
    p.add_argument("--t-end", type=float, default=None, help="override time.t_end")
    p.add_argument("--outdir", default=None, help="override output.dir")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    from gpu.config import ConfigError, load_config, load_toml

    from .simulation import Simulation, SimulationConfig

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        data, text = load_toml(args.config)
        if args.outdir:
            data.setdefault("output", {})["dir"] = args.outdir
        if args.quiet:
            data.setdefault("output", {})["quiet"] = True
        cfg = load_config(data, SimulationConfig)
        sim = Simulation(cfg)
        sim.config_text = text
    except ConfigError as exc:
        print(f"error: {exc}")
        return 2
    res = sim.run(t_end=args.t_end, restart=args.restart or False)
    if sim.rank == 0:
        out = {"time": res.time, "n": len(res.particles), "mergers": len(res.mergers),
               "files": res.files, "profile_s": {k: round(v, 3) for k, v in res.profile.items()
                                                 if isinstance(v, float)}}
        if len(res.bh_log["time"]) and res.bh_log["sep"].size:
            out["final_bh_separation"] = res.bh_log["sep"][-1].tolist()
        print(json.dumps(out, indent=2))
    return 0
