#!/usr/bin/env python3
"""The layer map of scaleforge, read from the code's own imports, and its picture.

Every module of the five packages is placed in one layer (the table below); the imports are read
from the source with :mod:`ast`, so the picture and the checks in ``tests/test_architecture.py``
follow the code, not a drawing made by hand. Run::

    python docs/architecture_figure.py            # writes docs/architecture.png

Layers, from the top (a module may import from its own layer or any layer below it, never above):

* ``entry``    -- ``python -m <pkg> <cmd>``: ``__main__``, ``cli_*`` and their helpers;
* ``drivers``  -- configs, simulations and forecasts a user builds (validate, convert units, run);
* ``numerics`` -- solvers and data structures the drivers compose (tree, GBS, TD, pair engine ...);
* ``kernels``  -- ``_kernels/``: Numba ``@njit`` and ``numba.cuda`` functions on plain arrays;
* ``physics``  -- formulae as functions citing paper and equation, and the constants.

``gpu`` sits under all of them (backend switch, MPI, configs, outputs, the command dispatcher) and
imports none of the physics packages.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("nbody", "cosmo", "pde", "clouds")
LAYERS = ("entry", "drivers", "numerics", "kernels", "physics")

#: modules that are neither entry points nor kernels, by layer (module path inside its package,
#: dotted, without the package name). A module missing here fails tests/test_architecture.py.
PLACED = {
    "nbody": {
        "drivers": ["simulation", "ics", "cosmological.simulation",
                    "cosmological.ics", "snapshot"],
        "numerics": ["tree", "direct", "ketju", "regularized", "gbs", "mstar", "timestepping", "domain", "particles", "orbits",
                     "cosmological.pm", "cosmological.treepm", "cosmological.treepm_stepping", "cosmological.ewald", "cosmological.fft",
                     "galaxy_physics"],
        "physics": ["pn", "mergers", "softening", "units", "cosmological.growth", "cosmological.split"],
    },
    "cosmo": {
        "drivers": ["forecast", "pairwise"],
        "numerics": ["cell_grid", "distributions", "dtfe", "fof", "spectra", "power", "flow_laws", "lensing", "ksz", "hmf"],
        "physics": ["background", "growth", "mg", "surveys"],
    },
    "pde": {
        "drivers": ["lpbf", "lpbf_cases"],
        "numerics": ["td", "multilevel", "multilevel_td", "fem", "chidenn", "mesh", "polynomials", "nonlinear"],
        "physics": ["analytic", "heat_source", "materials"],
    },
    "clouds": {
        "drivers": ["dns", "parcel", "observations", "dispersion"],
        "numerics": ["spectral", "droplets", "diagnostics"],
        "physics": ["thermo", "growth", "koehler", "autoconversion", "drag"],
    },
}


def modules(package: str) -> dict[str, Path]:
    """Dotted module name (``pkg.sub.mod``) -> source file, for every module of ``package``."""
    out = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def layer_of(name: str) -> str | None:
    """The layer of module ``name`` (dotted, with package); None for a package ``__init__``."""
    package, _, inner = name.partition(".")
    if package == "gpu":
        return "gpu"
    if not inner or inner.endswith("__init__") or inner in ("cosmological",):
        return None
    leaf = inner.rsplit(".", 1)[-1]
    if leaf == "__main__" or leaf.startswith("cli_") or leaf == "_cliutil":
        return "entry"
    if "_kernels" in inner.split(".") or leaf.startswith("_") and "kernels" in leaf:
        return "kernels"
    for layer, names in PLACED.get(package, {}).items():
        if inner in names:
            return layer
    raise KeyError(f"module {name} is not placed in a layer: add it to PLACED in {Path(__file__).name}")


def _resolve(name: str, path: Path, node: ast.ImportFrom) -> list[str]:
    """Project modules named by one ``from ... import ...`` statement inside module ``name``."""
    if node.level:
        base = name.split(".")
        if path.name != "__init__.py":
            base = base[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    out = [target]
    out += [f"{target}.{a.name}" for a in node.names]  # "from pkg import module"
    return out


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Project modules imported by module ``name`` (anywhere in the file, lazy imports included)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            cands = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            cands = _resolve(name, path, node)
        else:
            continue
        for c in cands:
            if c in known and c != name:
                found.add(c)
    return found


def graph() -> dict[str, set[str]]:
    """Import graph over every module of the four physics packages and ``gpu``."""
    mods = {}
    for package in PACKAGES + ("gpu",):
        mods.update(modules(package))
    known = set(mods)
    return {name: imports(name, path, known) for name, path in mods.items()}


def draw(out: Path) -> Path:
    """Write the layer map: a column per package, a row per layer, gpu underneath."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    g = graph()
    cells: dict[tuple[str, str], list[str]] = {}
    for name in g:
        layer = layer_of(name)
        if layer in (None, "gpu"):
            continue
        package, _, inner = name.partition(".")
        cells.setdefault((package, layer), []).append(inner.replace("_kernels.", "_k."))
    fig, ax = plt.subplots(figsize=(15, 10))
    colw, rowh = 1.0, 1.0
    colours = dict(zip(LAYERS, ("#f4d6a0", "#cfe3f7", "#d9ecd0", "#f2c9c9", "#e6dcf2")))
    for j, layer in enumerate(LAYERS):
        y = len(LAYERS) - j
        ax.text(-0.05, y + 0.5, layer, ha="right", va="center", fontsize=12, weight="bold")
        for i, package in enumerate(PACKAGES):
            names = sorted(cells.get((package, layer), []))
            ax.add_patch(FancyBboxPatch((i * colw + 0.03, y + 0.04), colw - 0.06, rowh - 0.08,
                                        boxstyle="round,pad=0.0,rounding_size=0.03",
                                        fc=colours[layer], ec="0.4"))
            ax.text(i * colw + 0.5, y + 0.5, _wrap(names), ha="center", va="center", fontsize=6.5)
    ax.add_patch(FancyBboxPatch((0.03, 0.1), len(PACKAGES) * colw - 0.06, 0.8,
                                boxstyle="round,pad=0.0,rounding_size=0.03", fc="0.9", ec="0.4"))
    gpu_names = sorted(n.partition(".")[2] or "__init__" for n in g if n.startswith("gpu"))
    ax.text(len(PACKAGES) * colw / 2, 0.5, "gpu:  " + "  ".join(gpu_names), ha="center", va="center",
            fontsize=9)
    ax.text(-0.05, 0.5, "gpu", ha="right", va="center", fontsize=12, weight="bold")
    for i, package in enumerate(PACKAGES):
        ax.text(i * colw + 0.5, len(LAYERS) + 1.15, package, ha="center", fontsize=14, weight="bold")
    # arrows between packages (cosmo reads nbody snapshots, ...): one per package pair
    pairs = {(a.partition(".")[0], b.partition(".")[0]) for a, deps in g.items() for b in deps}
    for a, b in sorted(pairs):
        if a != b and a in PACKAGES and b in PACKAGES:
            i, k = PACKAGES.index(a), PACKAGES.index(b)
            ax.add_patch(FancyArrowPatch((i * colw + 0.5, len(LAYERS) + 1.1), (k * colw + 0.5, len(LAYERS) + 1.1),
                                         connectionstyle="arc3,rad=0.35", arrowstyle="-|>", mutation_scale=14))
    ax.set_xlim(-0.9, len(PACKAGES) * colw + 0.05)
    ax.set_ylim(0, len(LAYERS) + 1.6)
    ax.axis("off")
    ax.set_title("scaleforge: modules by layer (imports point down only; read from the code)", fontsize=13)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return out


def _wrap(names: list[str], width: int = 38) -> str:
    lines, cur = [], ""
    for n in names:
        if cur and len(cur) + len(n) + 2 > width:
            lines.append(cur)
            cur = n
        else:
            cur = f"{cur}, {n}" if cur else n
    if cur:
        lines.append(cur)
    return "\n".join(lines)


if __name__ == "__main__":
    path = draw(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "architecture.png")
    print(path)
