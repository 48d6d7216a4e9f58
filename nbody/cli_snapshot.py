"""``python -m nbody snapshot FILE``: print a snapshot's header, particle counts and units (optionally as JSON)."""
from __future__ import annotations

import json

import numpy as np

from .snapshot import PTYPE_NAMES, read_snapshot


def add_arguments(p):
    p.add_argument("path", help="snapshot file, snapdir_XXX directory or base name")
    p.add_argument("--json", action="store_true", help="print a JSON summary instead of text")


def summary(path) -> dict:
    snap = read_snapshot(path)
    out = {"header": {k: float(v) for k, v in snap.header.items()}, "units": snap.describe_units(),
           "types": {}}
    for t, p in snap.particles.items():
        out["types"][int(t)] = {"name": PTYPE_NAMES[int(t)], "count": len(p), "total_mass": float(np.sum(p.mass)),
                                "pos_dtype": str(p.pos.dtype), "id_dtype": str(p.ids.dtype)}
    return out


def run(args) -> int:
    s = summary(args.path)
    if args.json:
        print(json.dumps(s, indent=2))
        return 0
    print(f"{args.path}: {s['units']}")
    print("  " + ", ".join(f"{k} = {v:g}" for k, v in s["header"].items()))
    for t, d in s["types"].items():
        print(f"  PartType{t} ({d['name']}): N = {d['count']}, total mass = {d['total_mass']:.6g}, "
              f"{d['pos_dtype']} positions, {d['id_dtype']} IDs")
    return 0
