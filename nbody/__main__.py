"""Command line: ``python -m nbody <command> ...``.

Each command lives in its own module ``nbody.cli_<name>`` exposing
``add_arguments(parser)`` and ``run(args) -> int``; this file only dispatches.
"""
from __future__ import annotations

import argparse
import importlib
import sys

#: command name -> (module, one-line help)
COMMANDS = {
    "snapshot": ("nbody.cli_snapshot", "summarise a GADGET snapshot (HDF5 or GADGET-2 binary)"),
    "run": ("nbody.cli_run", "run a KETJU-style galaxy simulation from a TOML config"),
    "integrate": ("nbody.cli_integrate", "regularized PN few-body integration of a snapshot (SMBH orbit log)"),
    "pm": ("nbody.cli_pm", "cosmological particle-mesh run (2LPT + FastPM) writing GADGET-4 snapshots"),
}


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m nbody", description=__doc__.splitlines()[0])
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
