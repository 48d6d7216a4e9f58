"""The layering that docs/architecture.md states, checked against the code's own imports.

The layer of every module is the table in docs/architecture_figure.py (which also draws the
picture in the docs); these tests fail when a module is unplaced, when an import points up a layer,
when imports form a cycle, or when code cites files that are not in the repository.
"""
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _layers():
    spec = importlib.util.spec_from_file_location("architecture_figure", ROOT / "docs" / "architecture_figure.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


AF = _layers()
GRAPH = AF.graph()
RANK = {layer: i for i, layer in enumerate(AF.LAYERS)}


def test_every_module_is_placed_in_a_layer():
    for name in GRAPH:
        AF.layer_of(name)  # raises KeyError naming the module


def test_imports_point_down_only():
    up = []
    for a, deps in GRAPH.items():
        la = AF.layer_of(a)
        for b in deps:
            lb = AF.layer_of(b)
            if la is None or lb is None:
                continue
            if la == "gpu":
                if lb != "gpu":
                    up.append(f"{a} (gpu) imports {b}")
            elif lb != "gpu" and RANK[lb] < RANK[la]:
                up.append(f"{a} ({la}) imports {b} ({lb})")
    assert not up, "imports pointing up a layer:\n" + "\n".join(sorted(up))


def test_no_import_cycles():
    # package __init__ modules re-export lazily and are left out (they import their own children)
    g = {a: {b for b in deps if AF.layer_of(b) is not None} for a, deps in GRAPH.items() if AF.layer_of(a)}
    state, stack, cycles = {}, [], []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(g.get(n, ())):
            if state.get(m) == 1:
                cycles.append(stack[stack.index(m):] + [m])
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(g):
        if n not in state:
            visit(n)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_kernel_files_are_named_for_what_they_compute():
    by_device = [p for p in ROOT.glob("*/_kernels/*.py") if p.stem in ("cpu", "gpu", "cuda", "kernels", "utils")]
    assert not by_device, f"kernel modules named for the device or nothing: {by_device}"


def test_cached_kernel_modules_guard_their_cache():
    """A module with ``cache=True`` kernels that call njit functions of other files must flush its cache
    when those change (gpu.jit.refresh_stale_cache); physics modules whose njit functions call nothing
    outside their own file are exempt."""
    missing = []
    for p in sorted(ROOT.glob("*/**/*.py")):
        if p.parts[len(ROOT.parts)] not in ("nbody", "cosmo", "pde", "clouds"):
            continue
        src = p.read_text()
        if not re.search(r"^\s*(@|[\w.]+\s*=).*cache=True", src, re.M) or "refresh_stale_cache(globals())" in src:
            continue
        in_kernels = "_kernels" in p.parts or p.stem.startswith("_") and "kernels" in p.stem
        if in_kernels:
            missing.append(str(p.relative_to(ROOT)))
    assert not missing, f"cached kernel modules without gpu.jit.refresh_stale_cache(globals()): {missing}"


@pytest.mark.parametrize("package", ["nbody", "cosmo", "pde", "clouds", "gpu", "examples", "benchmarks"])
def test_code_cites_nothing_outside_the_repository(package):
    pattern = re.compile(r"DESIGN\.md|REFERENCES\.md|shared/|\bthe issue\b|issue report", re.I)
    hits = [f"{p.relative_to(ROOT)}:{i}" for p in (ROOT / package).rglob("*.py")
            for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not hits, "references a reader cannot follow: " + ", ".join(hits)


def test_the_picture_is_drawn_from_the_code(tmp_path):
    pytest.importorskip("matplotlib")
    out = AF.draw(tmp_path / "arch.png")
    assert out.stat().st_size > 10_000


_REASONS = ("argument", "one piece", "one function", "plain arrays", "splitting")


def test_long_kernels_say_why():
    """A kernel over ~100 lines or ~10 arguments says in its docstring why it is not split or grouped."""
    import ast

    files = sorted(ROOT.glob("*/_kernels/*.py")) + sorted(ROOT.glob("nbody/cosmological/_*kernels*.py"))
    silent = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                lines = node.end_lineno - node.lineno + 1
                nargs = len(node.args.args) + len(node.args.kwonlyargs)
                doc = (ast.get_docstring(node) or "").lower()
                if (lines > 100 or nargs > 10) and not any(r in doc for r in _REASONS):
                    silent.append(f"{path.relative_to(ROOT)}:{node.name} ({lines} lines, {nargs} arguments)")
    assert not silent, "long kernels without a reason in their docstring:\n" + "\n".join(silent)
