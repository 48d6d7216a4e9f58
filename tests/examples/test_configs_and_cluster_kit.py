"""The shipped sample configs load and the small ones run through their commands; the cluster kit
(SLURM scripts, Apptainer recipe) is valid and points at files that exist."""
import importlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gpu.config import load_config

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "examples" / "configs"
CLUSTER = REPO / "examples" / "cluster"


def _parcel_config_class():
    for mod in ("clouds.parcel", "clouds.cli_parcel"):
        cls = getattr(importlib.import_module(mod), "ParcelConfig", None)
        if cls is not None:
            return cls
    raise AssertionError("no ParcelConfig")


def _load(path: Path):
    name = path.stem.replace("_small", "")
    if name == "nbody_merger":
        from nbody.simulation import SimulationConfig
        return load_config(path, SimulationConfig)
    if name in ("nbody_pm", "nbody_treepm_128", "darkflow_treepm_32"):
        from nbody.cosmological import PMConfig
        return load_config(path, PMConfig)
    if name == "cosmo_forecast":
        from cosmo.forecast import load_vg_config
        return load_vg_config(path)[0]
    if name == "pde_lpbf":
        from pde.lpbf import LPBFConfig
        return load_config(path, LPBFConfig)
    if name == "clouds_parcel":
        return load_config(path, _parcel_config_class())
    if name == "clouds_dns":
        from clouds.dns import DNSConfig
        return load_config(path, DNSConfig)
    raise AssertionError(f"no loader for {path.name}: add one here")


ALL = sorted(CONFIGS.glob("*.toml"))


def test_every_command_taking_a_config_ships_a_small_and_a_full_one():
    stems = {p.stem for p in ALL}
    for cmd in ("nbody_merger", "nbody_pm", "cosmo_forecast", "pde_lpbf", "clouds_parcel", "clouds_dns"):
        assert {cmd, cmd + "_small"} <= stems, cmd


@pytest.mark.parametrize("path", ALL, ids=[p.name for p in ALL])
def test_config_loads_and_is_commented(path):
    assert _load(path) is not None
    head = path.read_text().splitlines()[0]
    assert head.startswith("# ") and "python -m " in head  # the first line says how to run it


def _main(pkg):
    return importlib.import_module(f"{pkg}.__main__").main


SMALL_RUNS = {
    "nbody_merger_small": lambda c, d: ("nbody", ["run", str(c), "--outdir", str(d / "out"), "--quiet"], d / "out"),
    "nbody_pm_small": lambda c, d: ("nbody", ["pm", str(c), "--output-dir", str(d / "out"), "--quiet"], d / "out"),
    "cosmo_forecast_small": lambda c, d: ("cosmo", ["forecast", str(c), "--json", str(d / "s.json"), "--quiet"],
                                          d / "s.json"),
    "pde_lpbf_small": lambda c, d: ("pde", ["lpbf", str(c), "--out", str(d / "r.h5"), "--quiet"], d / "r.h5"),
    "clouds_parcel_small": lambda c, d: ("clouds", ["parcel", str(c), "--json", str(d / "s.json"), "--quiet"],
                                         d / "s.json"),
    "clouds_dns_small": lambda c, d: ("clouds", ["dns", str(c), "--out", str(d / "r.h5"), "--quiet"], d / "r.h5"),
}


@pytest.mark.parametrize("stem", sorted(SMALL_RUNS))
def test_small_config_runs_through_its_command(stem, tmp_path, capsys):
    pkg, argv, expected = SMALL_RUNS[stem](CONFIGS / f"{stem}.toml", tmp_path)
    assert _main(pkg)(argv) == 0, capsys.readouterr().err
    assert expected.exists()


SCRIPTS = sorted(CLUSTER.glob("*.slurm"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_slurm_scripts_are_valid_bash_and_point_at_shipped_configs(script):
    assert shutil.which("bash"), "bash is needed to check the job scripts"
    proc = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    text = script.read_text()
    assert text.startswith("#!/bin/bash") and "#SBATCH --ntasks-per-node" in text
    for cfg in re.findall(r"examples/configs/[\w.]+\.toml", text):
        assert (REPO / cfg).is_file(), cfg
    cmd = re.search(r"python\" -m (\w+) (\w+)", text)
    assert cmd, "the script launches python -m <package> <command>"
    pkg, sub = cmd.groups()
    assert sub in importlib.import_module(f"{pkg}.__main__").COMMANDS


def test_apptainer_recipe_parses():
    text = (CLUSTER / "scaleforge.def").read_text()
    header = dict(re.findall(r"^(Bootstrap|From):\s*(\S+)", text, re.M))
    assert header.get("Bootstrap") == "docker" and header.get("From")
    sections = re.findall(r"^%(\w+)", text, re.M)
    assert {"files", "post", "environment", "runscript", "test"} <= set(sections)
    assert len(sections) == len(set(sections))
    known = {"files", "post", "environment", "runscript", "test", "labels", "help", "setup", "startscript"}
    assert set(sections) <= known
    files = text.split("%files", 1)[1].split("\n%", 1)[0]
    for line in files.strip().splitlines():
        src = line.split()[0]
        assert (REPO / src).exists(), f"%files source {src} is not in the repository"
