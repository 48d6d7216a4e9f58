"""Sphinx configuration of the scaleforge documentation.

Build (from the repository root): ``sphinx-build -W -b html docs docs/_build/html``.
Before Sphinx reads the sources this file generates, from the code: the API pages (``api/``), the
command-line page (``cli.rst``, from the argparse parsers) and the gallery (``gallery/``, from
``examples/`` and the figures in ``results/``); see ``_ext/scaleforge_docs.py`` and ``gallery.py``.
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # the packages of this checkout, not an installed copy
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS))
os.environ.setdefault("SCALEFORGE_PROGRESS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")

import gallery  # noqa: E402
import scaleforge_docs  # noqa: E402

import gpu  # noqa: E402

scaleforge_docs.generate(DOCS)
gallery.write_gallery()

project = "scaleforge"
author = "the scaleforge developers"
copyright = "the scaleforge developers, BSD-3-Clause"
release = version = gpu.__version__

extensions = [
    "myst_nb",  # Markdown pages (MyST) and the tutorial notebooks
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",  # numpydoc-style sections in the docstrings
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints", "_ext"]

# notebooks are shown with the outputs stored in them; tests/test_docs.py executes them
nb_execution_mode = "off"
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autosummary_generate = False  # the pages are written by _ext/scaleforge_docs.py
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False

# literal blocks in docstrings hold formulas and --help text, not Python: highlight only what says
# its language (```python, ```bash; doctest blocks are Python consoles)
highlight_language = "text"

html_theme = "furo"
html_title = f"scaleforge {release}"


_CODE = re.compile(r"(``.+?``|:\w+:`[^`]+`)")


def _escape_bars(app, what, name, obj, options, lines):
    """The docstrings are written as plain text with ``|x|`` for absolute values and norms, never
    as reStructuredText substitutions: escape the bars so that docutils shows them as written
    (doctest lines and literal blocks are left alone)."""
    literal_indent = None
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if literal_indent is not None:
            if not stripped or indent > literal_indent:
                continue
            literal_indent = None
        if stripped.startswith((">>>", "...")):
            continue
        if "|" in line:  # outside inline literals and roles (``...``, :math:`...`)
            parts = _CODE.split(line)
            lines[i] = "".join(p if _CODE.fullmatch(p) else p.replace("|", r"\|") for p in parts)
        if stripped.endswith("::"):
            literal_indent = indent


def _add_measured_guides(app, docname, source):
    """docs/*_guide.md (measured guides such as chidenn_guide.md) join index.md's Reference toctree."""
    if docname != "index":
        return
    guides = sorted(p.stem for p in DOCS.glob("*_guide.md"))
    if guides:
        source[0] = source[0].replace("\narchitecture\n```", "\narchitecture\n" + "\n".join(guides) + "\n```", 1)


def setup(app):
    app.connect("autodoc-process-docstring", _escape_bars)
    app.connect("source-read", _add_measured_guides)
    # re-read index.md at every build, so that an added or removed guide shows up
    app.connect("env-get-outdated", lambda app, env, added, changed, removed: ["index"])
