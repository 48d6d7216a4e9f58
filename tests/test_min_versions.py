"""The declared dependency floors work: a fresh venv with every dependency pinned to its lowest allowed
release runs a cross-section of the test suite (slow: it downloads and installs those releases)."""
import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def floor_pins() -> list[str]:
    """``pkg==X.Y.*`` for every ``pkg>=X.Y`` dependency of the distribution (markers honoured)."""
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = []
    for dep in deps:
        spec, _, marker = dep.partition(";")
        if marker and "python_version < '3.11'" in marker and sys.version_info >= (3, 11):
            continue
        m = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)\s*>=\s*([0-9.]+)\s*", spec)
        assert m, f"dependency {dep!r} has no '>=' floor"
        pins.append(f"{m.group(1)}=={m.group(2)}.*")
    return pins


def test_every_dependency_has_a_floor():
    assert len(floor_pins()) >= 8


@pytest.mark.slow
def test_suite_cross_section_at_the_floors(tmp_path):
    env_dir = tmp_path / "minvenv"
    venv.create(env_dir, with_pip=True)
    py = str(env_dir / "bin" / "python")
    pip = [py, "-m", "pip", "install", "-q"]
    subprocess.run(pip + floor_pins() + ["pytest", "pytest-timeout", "hypothesis"], check=True, timeout=1500)
    subprocess.run(pip + ["--no-deps", str(REPO)], check=True, timeout=600)
    tests = ["tests/cosmo/test_growth.py", "tests/cosmo/test_power.py", "tests/cosmo/test_lensing.py",
             "tests/cosmo/test_ksz.py", "tests/cosmo/test_pairwise.py", "tests/gpu", "tests/clouds/test_physics.py",
             "tests/nbody/test_orbits.py", "tests/nbody/test_snapshot.py", "tests/pde/test_chidenn.py"]
    proc = subprocess.run([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not mpi and not slow", *tests],
                          cwd=REPO, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
