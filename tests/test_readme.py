"""The README's Python blocks run exactly as printed (slow: one of them is the full V_G forecast).

The blocks run in README order, each in a fresh namespace, in a temporary folder that holds what a
reader would have: a copy of examples/configs and a GADGET snapshot ``snap_005.hdf5``.
"""
import contextlib
import os
import re
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"^```python\n(.*?)^```", (REPO / "README.md").read_text(), re.S | re.M)


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 8


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("readme")
    shutil.copytree(REPO / "examples" / "configs", d / "examples" / "configs")
    from nbody.cosmological import PMConfig, PMSimulation

    PMSimulation(PMConfig(box=64.0, nside=8, nsteps=3, a_start=0.1, output_redshifts=[0.5])).run(d / "pm")
    shutil.copy(d / "pm" / "snap_000.hdf5", d / "snap_005.hdf5")
    return d


@pytest.mark.slow
@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_readme_block_runs_as_printed(i, workdir, capsys):
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        with contextlib.suppress(SystemExit):
            exec(compile(BLOCKS[i], f"README block {i + 1}", "exec"), {"__name__": "__readme__"})
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    assert "nan" not in out.lower(), out   # no silent NaN in what a reader sees
