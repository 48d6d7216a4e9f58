"""Build the gallery page from ``examples/`` without running the examples.

Each paper reproduction ``examples/<name>.py`` writes its figures to ``results/<name>/*.png``
(``python examples/run_all.py --quick``, see ``examples/run_all.py``). This script lists every
example with its module docstring and, where those figures exist, shows them with the headline
numbers of the run (``results/<name>/numbers.json``); otherwise the entry says how to produce them. The docs build calls :func:`write_gallery` from ``conf.py``; running
``python docs/gallery.py`` writes the page too.

The results folder is ``<repository>/results`` unless ``SCALEFORGE_RESULTS`` names another.
"""
from __future__ import annotations

import ast
import json
import os
import shutil
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
EXAMPLES = ROOT / "examples"


def results_dir() -> Path:
    return Path(os.environ.get("SCALEFORGE_RESULTS", ROOT / "results"))


def examples() -> list[tuple[str, str]]:
    """``(name, docstring)`` of every example script (``run_all.py`` and private files excluded)."""
    out = []
    for path in sorted(EXAMPLES.glob("*.py")):
        if path.stem == "run_all" or path.stem.startswith("_"):
            continue
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        out.append((path.stem, doc))
    return out


def _fence(text: str) -> str:
    """The docstring as preformatted text: docstrings are plain text, not Markdown."""
    return "```text\n" + text.strip() + "\n```\n"


def _summary(path: Path) -> dict:
    """The ``"summary"`` dict of an example's ``numbers.json`` (empty if unreadable)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    summary = data.get("summary", {}) if isinstance(data, dict) else {}
    return summary if isinstance(summary, dict) else {}


def write_gallery(outdir: Path | None = None, results: Path | None = None) -> Path:
    """Write ``gallery/index.md`` (and copy the figures beside it); returns the page's path."""
    outdir = Path(outdir) if outdir is not None else DOCS / "gallery"
    results = Path(results) if results is not None else results_dir()
    figs_dir = outdir / "figures"
    if figs_dir.exists():
        shutil.rmtree(figs_dir)
    items = examples()
    n_with = 0
    lines = ["# Gallery", "",
             "The paper reproductions in `examples/`, one script per figure. Each runs at a small size "
             "with `--quick` (minutes in all on 2 cores):", "",
             "```bash", "python examples/run_all.py --quick      # all of them, figures into results/<name>/",
             "python examples/run_all.py --quick --only ketju   # names containing 'ketju'",
             "```", "",
             "The docs build does not run them; it shows the figures found under `results/` when the "
             "site is built. Full-size runs drop `--quick`.", ""]
    body = []
    for name, doc in items:
        first, _, rest = doc.partition("\n")
        body += [f"({name})=", f"## {name}", "", f"*{first.strip()}*" if first.strip() else "", "",
                 f"Source: `examples/{name}.py`.  Run: `python examples/{name}.py --quick --outdir "
                 f"results/{name}`", ""]
        pngs = sorted((results / name).glob("*.png")) if (results / name).is_dir() else []
        if pngs:
            n_with += 1
            (figs_dir / name).mkdir(parents=True, exist_ok=True)
            for png in pngs:
                shutil.copy2(png, figs_dir / name / png.name)
                body += [f"```{{figure}} figures/{name}/{png.name}", ":width: 100%", "",
                         f"`results/{name}/{png.name}`", "```", ""]
        numbers = results / name / "numbers.json"
        summary = _summary(numbers) if numbers.is_file() else {}
        if summary:
            body += [f"Headline numbers of that run (`results/{name}/numbers.json`):", "",
                     "| quantity | value |", "|---|---|"]
            body += [f"| `{k}` | {v:.4g} |" if isinstance(v, (int, float)) and not isinstance(v, bool)
                     else f"| `{k}` | {str(v).replace('|', '/')} |" for k, v in summary.items()]
            body += [""]
        if not pngs:
            body += [f"No figure yet: run `python examples/run_all.py --quick --only {name}` and "
                     "rebuild the docs.", ""]
        if rest.strip():
            body += ["What it shows (the script's docstring):", "", _fence(rest)]
    lines += [f"Figures found for {n_with} of {len(items)} examples.", ""] + body
    page = outdir / "index.md"
    outdir.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines) + "\n"
    if not page.exists() or page.read_text() != text:
        page.write_text(text)
    return page


if __name__ == "__main__":
    print(write_gallery())
