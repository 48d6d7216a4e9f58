"""The documentation site: generated pages (fast) and the full Sphinx build and tutorials (slow).

The fast tests check the generators without Sphinx: the command-line page lists every command of
every package with every option its parser defines, the API walk finds every public module, and
the gallery shows figures when ``results/<example>/*.png`` exist and says how to make them when
not. The slow tests build the site with warnings as errors (``sphinx-build -W``) and execute the
tutorial notebooks; they skip when the ``docs`` extra (``pip install ".[docs]"``) is not installed.
"""
from __future__ import annotations

import argparse
import html
import importlib
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


gen = _load("scaleforge_docs", DOCS / "_ext" / "scaleforge_docs.py")
gallery = _load("scaleforge_gallery", DOCS / "gallery.py")


def _commands():
    """{package: {command: subparser}} straight from the packages' parsers."""
    out = {}
    for pkg in gen.CLI_PACKAGES:
        parser = importlib.import_module(f"{pkg}.__main__").build_parser()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        out[pkg] = dict(sub.choices)
    return out


def _options(parser):
    return {s for a in parser._actions for s in a.option_strings if s.startswith("--")}


def test_cli_page_lists_every_command_and_option(tmp_path):
    page = tmp_path / "cli.rst"
    found = gen.write_cli(page)
    text = page.read_text()
    commands = _commands()
    assert set(found) == set(commands) == {"nbody", "cosmo", "pde", "clouds"}
    for pkg, subs in commands.items():
        assert found[pkg] == list(subs)
        assert set(subs) == set(importlib.import_module(f"{pkg}.__main__").COMMANDS)
        for name, sub in subs.items():
            title = f"python -m {pkg} {name}"
            assert f"\n{title}\n" in text, title
            section = text.split(f"\n{title}\n", 1)[1].split("\n.. _cli-", 1)[0]
            for opt in _options(sub) - {"--help"}:
                assert opt in section, (title, opt)


def test_api_walk_finds_public_modules_only():
    mods = gen.modules("nbody")
    assert "nbody.regularized" in mods and "nbody.cosmological.pm" in mods
    assert not [m for m in mods if "._" in m or ".cli_" in m or m.endswith("__main__")]
    for pkg in gen.PACKAGES:
        files = {p.stem for p in (ROOT / pkg).glob("*.py")}
        public = {f for f in files if not f.startswith("_") and not f.startswith("cli_")}
        assert {f"{pkg}.{f}" for f in public} <= set(gen.modules(pkg)), pkg


def test_gallery_shows_figures_when_results_exist(tmp_path):
    results = tmp_path / "results"
    names = [n for n, _ in gallery.examples()]
    assert "ketju_pn_inspiral" in names and "run_all" not in names
    (results / names[0]).mkdir(parents=True)
    (results / names[0] / "fig.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (results / names[0] / "numbers.json").write_text('{"summary": {"snr": 38.123456, "status": "ok"}}')
    page = gallery.write_gallery(tmp_path / "gallery", results)
    text = page.read_text()
    assert f"Figures found for 1 of {len(names)} examples." in text
    assert f"figures/{names[0]}/fig.png" in text and (tmp_path / "gallery/figures" / names[0] / "fig.png").exists()
    assert "| `snr` | 38.12 |" in text and "| `status` | ok |" in text
    for name in names:
        assert f"## {name}" in text
    for name in names[1:]:
        assert f"run_all.py --quick --only {name}" in text


def _need_sphinx():
    for mod in ("sphinx", "myst_nb", "furo"):
        pytest.importorskip(mod, reason=f"docs build needs the docs extra (pip install '.[docs]'): no {mod}")


@pytest.mark.slow
def test_site_builds_with_warnings_as_errors(tmp_path):
    _need_sphinx()
    out = tmp_path / "html"
    # one example "has run": the gallery must include its figure (a real PNG) without a warning
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    example = gallery.examples()[0][0]
    (tmp_path / "results" / example).mkdir(parents=True)
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    fig.savefig(tmp_path / "results" / example / "panel.png")
    plt.close(fig)
    env = dict(os.environ, PYTHONPATH=str(ROOT), SCALEFORGE_PROGRESS="0",
               SCALEFORGE_RESULTS=str(tmp_path / "results"))
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q",
                           "-d", str(tmp_path / "doctrees"), str(DOCS), str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    cli = html.unescape(re.sub(r"<[^>]+>", "", (out / "cli.html").read_text()))  # the page's text
    for pkg, subs in _commands().items():
        for name, sub in subs.items():
            assert f"python -m {pkg} {name}" in cli
            for opt in _options(sub) - {"--help"}:
                assert opt in cli, (pkg, name, opt)
    for pkg in gen.PACKAGES:
        assert (out / "api" / f"{pkg}.html").exists()
        for mod in gen.modules(pkg):
            assert (out / "api" / f"{mod}.html").exists(), mod
    # autodoc really documented the members, not just the page titles
    api = (out / "api" / "nbody.regularized.html").read_text()
    assert 'id="nbody.regularized.RegularizedIntegrator.integrate"' in api
    for page in ("guide/nbody", "guide/cosmo", "guide/pde", "guide/clouds", "guide/gpu", "architecture",
                 "gallery/index", "tutorials/smbh_binary_pn", "tutorials/pm_pairwise"):
        assert (out / f"{page}.html").exists(), page
    assert 'src="../_images/panel.png"' in (out / "gallery" / "index.html").read_text()
    assert (out / "_images" / "panel.png").exists()
    # the tutorials are shown with their stored outputs (figures), not executed by the build
    assert re.search(r'<img [^>]*src="[^"]+\.png"', (out / "tutorials" / "pm_pairwise.html").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["smbh_binary_pn", "pm_pairwise"])
def test_tutorial_notebook_runs(name, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="tutorials need the docs extra (pip install '.[docs]')")
    nbclient = pytest.importorskip("nbclient", reason="tutorials need the docs extra (pip install '.[docs]')")
    pytest.importorskip("ipykernel", reason="tutorials need the docs extra (pip install '.[docs]')")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the kernel imports this checkout's packages
    monkeypatch.setenv("SCALEFORGE_PROGRESS", "0")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend keeps the figures
    path = DOCS / "tutorials" / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert sum(1 for c in nb.cells if c.cell_type == "code"
               for o in c.outputs if "image/png" in o.get("data", {})) >= 2
