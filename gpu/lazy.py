"""Lazy package exports (PEP 562): ``import nbody`` stays cheap until a name is used.

Each package's ``__init__`` lists its public names and the submodule that defines them; the
submodule (and with it Numba, SciPy, CAMB) is imported on first attribute access. This keeps
``python -m <package> --help`` and ``--version`` fast.
"""
from __future__ import annotations

import importlib


def lazy_exports(package: str, names: dict[str, str]):
    """``(__getattr__, __dir__)`` for ``package`` exporting ``names`` (name -> relative module).

    A value of ``".particles"`` exports ``package.particles.<name>``; a value of ``".orbits:"``
    (trailing colon) exports the submodule itself.
    """

    def __getattr__(name):
        target = names.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if target.endswith(":"):
            return importlib.import_module(target[:-1], package)
        return getattr(importlib.import_module(target, package), name)

    def __dir__():
        return sorted(set(names) | {"__all__"})

    return __getattr__, __dir__
