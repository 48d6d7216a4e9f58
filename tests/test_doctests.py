"""Every ``>>>`` example in the packages' docstrings runs as a doctest (found automatically, so a new
example is tested the day it is written)."""
import doctest
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("nbody", "cosmo", "pde", "clouds", "gpu")


def _modules_with_examples():
    mods = []
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            if ">>>" in path.read_text():
                rel = path.relative_to(REPO).with_suffix("")
                parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
                mods.append(".".join(parts))
    return mods


MODULES = _modules_with_examples()


def test_examples_are_found():
    assert len(MODULES) >= 10


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS, verbose=False,
                          report=True)
    assert res.attempted > 0 and res.failed == 0, f"{res.failed} of {res.attempted} examples failed in {name}"
