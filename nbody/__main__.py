"""Command line: ``python -m nbody <command> ...``.

Each command lives in its own module ``nbody.cli_<name>`` exposing
``add_arguments(parser)`` and ``run(args) -> int``; this file only dispatches.
"""
from __future__ import annotations

import importlib
import sys

from gpu import cli

#: command name -> (module, one-line help)
COMMANDS = {
    "snapshot": ("nbody.cli_snapshot", "summarise a GADGET snapshot (HDF5 or GADGET-2 binary)"),
    "run": ("nbody.cli_run", "run a KETJU-style galaxy simulation from a TOML config"),
    "integrate": ("nbody.cli_integrate", "regularized PN few-body integration of a snapshot (SMBH orbit log)"),
    "pm": ("nbody.cli_pm", "cosmological particle-mesh run (2LPT + FastPM) writing GADGET-4 snapshots"),
}


#: the package's one-line summary, shown by ``python -m nbody`` and ``--help``
_DESCRIPTION = " ".join(importlib.import_module("nbody").__doc__.strip().split("\n\n")[0].split())


def build_parser():
    return cli.build_parser("python -m nbody", _DESCRIPTION, COMMANDS)


def main(argv=None) -> int:
    return cli.dispatch("python -m nbody", _DESCRIPTION, COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
