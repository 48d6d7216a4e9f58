"""Command line: ``python -m clouds <command> ...``.

Each command lives in its own module ``clouds.cli_<name>`` exposing ``add_arguments(parser)`` and
``run(args) -> int``; this file only dispatches (same pattern as ``python -m nbody``).
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

# passive OpenMP waiting: spinning threads of Numba's parallel loops slow everything down when the
# cores are shared (mpirun ranks, other jobs); set before any parallel kernel starts the runtime
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

#: command name -> (module, one-line help)
COMMANDS = {
    "parcel": ("clouds.cli_parcel", "adiabatic parcel with superdroplets (TOML config, JSON summary)"),
    "dns": ("clouds.cli_dns", "Eulerian-Lagrangian DNS with cloud droplets (TOML config, HDF5 output; MPI)"),
}


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m clouds", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    for name, (module, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        importlib.import_module(module).add_arguments(p)
        p.set_defaults(_module=module)
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return int(importlib.import_module(args._module).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
