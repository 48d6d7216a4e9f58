"""The ``python -m <package> <command>`` dispatcher shared by every package.

A package's ``__main__.py`` holds only a table ``COMMANDS = {name: (module, one-line help)}``; each
command lives in its own module exposing ``add_arguments(parser)`` and ``run(args) -> int``. Command
modules are imported only when the parser is built, so ``--help`` of one package stays cheap.

Errors are handled here, once, for every command:

* the project's input errors (:class:`gpu.config.ConfigError` and its subclasses, e.g.
  :class:`gpu.io.OutputError`) and missing or unreadable files print one line
  ``error: <message>`` on stderr and exit with status 2;
* any other exception prints one line naming it and exits with status 1;
* ``--debug`` (anywhere on the command line) shows the full traceback instead;
* under MPI with more than one rank the error ends the whole job (``MPI_Abort``) with the same
  status, so no rank is left waiting in a collective.

Negative numbers in scientific notation (``--k-min -1e-3``) and comma-separated number lists that
start with one (``--pdf-bins -500,500,100``) are taken as values, as users write them.
"""
from __future__ import annotations

import argparse
import importlib
import re
import sys
import traceback

#: argparse's own pattern misses "-1e-3" and "-.5e2", and comma-separated lists that start with a
#: negative number ("-500,500,100"): those would be read as unknown options
_NUMBER = r"(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?"
_NEGATIVE_NUMBER = re.compile(rf"^-{_NUMBER}(\s*,\s*[-+]?{_NUMBER})*$")


def _version() -> str:
    from .io import code_version

    return f"scaleforge {code_version()}"


def _fix_negative_numbers(parser: argparse.ArgumentParser) -> None:
    parser._negative_number_matcher = _NEGATIVE_NUMBER


class _Parser(argparse.ArgumentParser):
    """argparse with the project's error format: one line ``error: ...`` and exit status 2."""

    def error(self, message):
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def build_parser(prog: str, description: str, commands: dict) -> argparse.ArgumentParser:
    """An argparse parser with one subcommand per entry of ``commands``."""
    ap = _Parser(prog=prog, description=description)
    ap.add_argument("--version", action="version", version=_version())
    ap.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    _fix_negative_numbers(ap)
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, (module, help_) in commands.items():
        p = sub.add_parser(name, help=help_, description=help_)
        importlib.import_module(module).add_arguments(p)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show full tracebacks on errors")
        _fix_negative_numbers(p)
        p.set_defaults(_module=module)
    return ap


def _is_input_error(exc: BaseException) -> bool:
    """Errors caused by what the user gave: reported in one line with exit status 2."""
    from .config import ConfigError

    if isinstance(exc, ConfigError):
        return True
    # a missing, unreadable or wrong-kind file named on the command line
    return isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError))


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or exc.__class__.__name__


def report_error(exc: BaseException, debug: bool = False) -> int:
    """Print ``exc`` the way every command does and return the exit status (2 input, 1 other)."""
    from .mpi import world_rank, world_size

    where = f"[rank {world_rank()}] " if world_size() > 1 else ""
    if debug:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    if _is_input_error(exc):
        print(f"{where}error: {_one_line(exc)}", file=sys.stderr, flush=True)
        return 2
    from .io import ResultError

    if isinstance(exc, ResultError):  # the run finished but its own checks failed: not a bug, not input
        print(f"{where}error: {_one_line(exc)}", file=sys.stderr, flush=True)
        return 1
    print(f"{where}error: {exc.__class__.__name__}: {_one_line(exc)} (internal error; rerun with --debug "
          "for the traceback)", file=sys.stderr, flush=True)
    return 1


def dispatch(prog: str, description: str, commands: dict, argv=None) -> int:
    """Parse ``argv`` and run the chosen command module's ``run(args)``; returns its exit status.

    Errors are reported as described in the module docstring; under MPI (more than one rank) any
    error aborts every rank.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:  # `python -m <pkg>` alone: what it can do, one line per command
        print(f"usage: {prog} <command> [options]   ({prog} <command> --help for its options)\n\n"
              f"{description}\n\ncommands:")
        for name, (_, help_) in commands.items():
            print(f"  {name:12s} {help_}")
        return 0
    args = build_parser(prog, description, commands).parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    from .mpi import _launched_under_mpi, get_comm

    if _launched_under_mpi():
        # every rank joins MPI before the command starts: a rank that fails (or finishes) early can then
        # always reach the others with MPI_Abort, and none waits in MPI_Init for a rank that never comes
        get_comm()
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr, flush=True)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place where every command's errors are reported
        from .mpi import _launched_under_mpi, abort_job, world_size

        if _launched_under_mpi():  # make sure MPI is up, so that the abort reaches every rank
            try:
                from mpi4py import MPI  # noqa: F401
            except Exception:
                pass
        code = report_error(exc, debug)
        if world_size() > 1:
            abort_job(code)
        return code
