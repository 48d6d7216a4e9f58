"""Pages generated from the code at every docs build: the API reference and the command-line page.

* ``api/<package>.rst`` and ``api/<module>.rst``: one page per public module (``automodule`` with
  its documented members), found by walking the packages; private modules (``_kernels``,
  ``_cliutil``) and the command modules (``cli_*``, documented from their parsers instead) are left
  out.
* ``cli.rst``: every package's ``<package>.__main__.build_parser()``, the top-level help and each
  subcommand's ``--help`` exactly as argparse prints it, so the page cannot drift from the code.

The files are written into ``docs/api/`` and ``docs/cli.rst`` (both git-ignored), only when their
text changed.
"""
from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
from pathlib import Path

#: the import packages, in the order the site presents them
PACKAGES = ["nbody", "cosmo", "pde", "clouds", "gpu"]
#: packages with a ``python -m <package>`` command line
CLI_PACKAGES = ["nbody", "cosmo", "pde", "clouds"]
def _public(name: str) -> bool:
    """Left out of the API reference: private modules (the Numba kernels ``_kernels``, internal,
    plain arrays in internal units, documented through their drivers; ``_cliutil``) and the command
    modules (``cli_*``, ``__main__``), documented from their parsers on the CLI page."""
    last = name.rsplit(".", 1)[-1]
    if last == "__main__" or last.startswith("cli_") or last.startswith("_"):
        return False
    return True


def modules(package: str) -> list[str]:
    """Public submodules of ``package`` (recursively), sorted."""
    pkg = importlib.import_module(package)
    out = []
    for info in pkgutil.walk_packages(pkg.__path__, prefix=package + "."):
        if all(_public(part) for part in info.name.split(".")[1:]):
            out.append(info.name)
    return sorted(out)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _title(text: str, ch: str = "=") -> str:
    return f"{text}\n{ch * len(text)}\n"


def write_api(outdir: Path) -> list[str]:
    """Write the API pages; returns the list of documented modules."""
    documented = []
    index = [_title("API reference"), "",
             "Generated from the docstrings (``sphinx.ext.autodoc`` with ``numpydoc``-style sections "
             "read by ``sphinx.ext.napoleon``). Numba kernels (``<package>._kernels``) are internal and "
             "left out; the command modules are documented on the :doc:`/cli` page.", "",
             ".. toctree::", "   :maxdepth: 1", ""]
    for package in PACKAGES:
        index.append(f"   {package}")
        mods = modules(package)
        documented += [package] + mods
        page = [_title(f"``{package}``"), "", f".. automodule:: {package}", "   :no-members:", "",
                ".. rubric:: Modules", "", ".. autosummary::", ""]
        page += [f"   {m[len(package) + 1:]}" for m in mods]  # relative to the package (currentmodule)
        page += ["", ".. toctree::", "   :hidden:", ""] + [f"   {m}" for m in mods] + [""]
        _write(outdir / f"{package}.rst", "\n".join(page))
        for m in mods:
            text = "\n".join([_title(f"``{m}``"), "", f".. automodule:: {m}", "   :members:",
                              "   :show-inheritance:", ""])
            _write(outdir / f"{m}.rst", text)
    _write(outdir / "index.rst", "\n".join(index) + "\n")
    return documented


def _indent(text: str, n: int = 3) -> str:
    pad = " " * n
    return "\n".join(pad + line if line.strip() else "" for line in text.splitlines())


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def write_cli(path: Path) -> dict[str, list[str]]:
    """Write the command-line page from the parsers; returns {package: [commands]}."""
    os.environ["COLUMNS"] = "100"  # argparse wraps help text to the terminal width: fix it
    found = {}
    lines = [_title("Command line"), "",
             "Every package with a command line runs as ``python -m <package> <command>``. This page is "
             "generated at each build from the packages' argparse parsers "
             "(``<package>.__main__.build_parser()``): what is below is exactly what ``--help`` prints.",
             "", "Common to every command (``gpu.cli``): bad input stops the command before any work "
             "with one line ``error: <key or file>: <what is wrong, the valid range>`` on stderr and "
             "exit status 2; a run whose own checks fail, or any other failure, exits with status 1 "
             "(one line; ``--debug`` anywhere on the command line shows the traceback); "
             "``--version`` prints the version. Under MPI an error on any rank ends the whole job. "
             "See :doc:`/architecture` for outputs and run folders.", ""]
    for package in CLI_PACKAGES:
        main = importlib.import_module(f"{package}.__main__")
        parser = main.build_parser()
        subs = _subcommands(parser)
        found[package] = list(subs)
        lines += [_title(f"python -m {package}", "-"), "", "::", "", _indent(parser.format_help()), ""]
        for name, sub in subs.items():
            lines += [f".. _cli-{package}-{name}:", "", _title(f"python -m {package} {name}", "~"), "",
                      "::", "", _indent(sub.format_help()), ""]
    _write(path, "\n".join(lines) + "\n")
    return found


def generate(docs_dir: Path) -> None:
    write_api(docs_dir / "api")
    write_cli(docs_dir / "cli.rst")
