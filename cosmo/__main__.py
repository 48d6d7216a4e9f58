"""Command line: ``python -m cosmo <command> ...``.

Each command lives in its own module ``cosmo.cli_<name>`` exposing
``add_arguments(parser)`` and ``run(args) -> int``; this file only dispatches.
"""
from __future__ import annotations

import importlib
import sys

from gpu import cli

#: command name -> (module, one-line help)
COMMANDS = {
    "forecast": ("cosmo.cli_forecast", "V_G / E_G forecast: kSZ velocities x CMB lensing x galaxies, GR and MG"),
    "pairwise": ("cosmo.cli_pairwise", "pairwise velocity moments/PDFs vs r of a GADGET snapshot (FoF halo split)"),
}


#: the package's one-line summary, shown by ``python -m cosmo`` and ``--help``
_DESCRIPTION = " ".join(importlib.import_module("cosmo").__doc__.strip().split("\n\n")[0].split())


def build_parser():
    return cli.build_parser("python -m cosmo", _DESCRIPTION, COMMANDS)


def main(argv=None) -> int:
    return cli.dispatch("python -m cosmo", _DESCRIPTION, COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
