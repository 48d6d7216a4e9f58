"""``[mpirun -n N] python -m clouds dns config.toml --out run.h5 [--restart old.h5]``: run the DNS.

The config is :class:`clouds.dns.DNSConfig` in TOML (sections [grid], [fluid], [forcing], [thermo],
[droplets], [run]); see the class docstrings for keys, units and ranges. ``--out`` receives the final
fields, droplets and diagnostics history (restartable); with ``run.checkpoint_every > 0`` the same
file is rewritten during the run. ``--json`` writes the last diagnostics and the timing breakdown.
"""
from __future__ import annotations

import json

from gpu.config import load_toml
from gpu.io import write_json


def add_arguments(p):
    p.add_argument("config", help="TOML config (clouds.dns.DNSConfig)")
    p.add_argument("--out", default="run.h5", help="HDF5 output / restart file (default run.h5)")
    p.add_argument("--restart", default=None, help="continue from this file (config's t_end applies)")
    p.add_argument("--json", default=None, help="write the final diagnostics as JSON")
    p.add_argument("--quiet", action="store_true")


def run(args) -> int:
    from .dns import DNS, DNSConfig
    from gpu.config import from_dict

    data, text = load_toml(args.config)
    cfg = from_dict(data, DNSConfig)
    if args.restart:
        sim = DNS.restart(args.restart, run=data.get("run", {}))
    else:
        sim = DNS(cfg, config_text=text)
    h = sim.run(cfg.run.t_end, progress=not args.quiet, checkpoint=args.out)
    sim.save(args.out)
    last = {k: float(v[-1]) for k, v in h.items()}
    out = {"final": last, "timing_s": sim.timing, "steps": sim.nstep, "ranks": sim.size}
    if sim.rank == 0:
        if args.json:
            write_json(args.json, out)
        if not args.quiet:
            print(json.dumps(out, indent=2))
    return 0
