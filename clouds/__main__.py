"""Command line: ``python -m clouds <command> ...``.

Each command lives in its own module ``clouds.cli_<name>`` exposing ``add_arguments(parser)`` and
``run(args) -> int``; this file only dispatches (same pattern as ``python -m nbody``).
"""
from __future__ import annotations

import importlib
import sys

from gpu import cli

# importing gpu sets OMP_WAIT_POLICY=PASSIVE (unless the user set it) before any parallel kernel runs

#: command name -> (module, one-line help)
COMMANDS = {
    "parcel": ("clouds.cli_parcel", "adiabatic parcel with superdroplets (TOML config, JSON summary)"),
    "dns": ("clouds.cli_dns", "Eulerian-Lagrangian DNS with cloud droplets (TOML config, HDF5 output; MPI)"),
}


#: the package's one-line summary, shown by ``python -m clouds`` and ``--help``
_DESCRIPTION = " ".join(importlib.import_module("clouds").__doc__.strip().split("\n\n")[0].split())


def build_parser():
    return cli.build_parser("python -m clouds", _DESCRIPTION, COMMANDS)


def main(argv=None) -> int:
    return cli.dispatch("python -m clouds", _DESCRIPTION, COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
