"""Command line: ``python -m pde <command> ...``.

Each command lives in its own module ``pde.cli_<name>`` exposing ``add_arguments(parser)`` and
``run(args) -> int``; this file only dispatches (the pattern of ``nbody/__main__.py``).
"""
from __future__ import annotations

import importlib
import sys

from gpu import cli

#: command name -> (module, one-line help)
COMMANDS = {
    "lpbf": ("pde.cli_lpbf", "single-track LPBF heat transfer with the multilevel C-HiDeNN-TD solver"),
}


#: the package's one-line summary, shown by ``python -m pde`` and ``--help``
_DESCRIPTION = " ".join(importlib.import_module("pde").__doc__.strip().split("\n\n")[0].split())


def build_parser():
    return cli.build_parser("python -m pde", _DESCRIPTION, COMMANDS)


def main(argv=None) -> int:
    return cli.dispatch("python -m pde", _DESCRIPTION, COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
