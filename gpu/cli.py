"""The ``python -m <package> <command>`` dispatcher shared by every package.

A package's ``__main__.py`` holds only a table ``COMMANDS = {name: (module, one-line help)}``; each
command lives in its own module exposing ``add_arguments(parser)`` and ``run(args) -> int``. Command
modules are imported only when the parser is built, so ``--help`` of one package stays cheap.
"""
from __future__ import annotations

import argparse
import importlib


def build_parser(prog: str, description: str, commands: dict) -> argparse.ArgumentParser:
    """An argparse parser with one subcommand per entry of ``commands``."""
    ap = argparse.ArgumentParser(prog=prog, description=description)
    sub = ap.add_subparsers(dest="command", required=True)
    for name, (module, help_) in commands.items():
        p = sub.add_parser(name, help=help_, description=help_)
        importlib.import_module(module).add_arguments(p)
        p.set_defaults(_module=module)
    return ap


def dispatch(prog: str, description: str, commands: dict, argv=None) -> int:
    """Parse ``argv`` and run the chosen command module's ``run(args)``; returns its exit status."""
    args = build_parser(prog, description, commands).parse_args(argv)
    return int(importlib.import_module(args._module).run(args) or 0)
