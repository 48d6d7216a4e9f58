"""Every command's outputs carry their metadata: each HDF5 dataset a ``units`` attribute ("1" when
dimensionless), each HDF5 header and JSON summary the code version and the full validated config
(every default key included, not only the keys the config file set). Runs the shipped small configs
(examples/configs/*_small.toml), a few seconds each."""
from __future__ import annotations

import dataclasses
import importlib
import json
from pathlib import Path

import h5py
import pytest

from gpu.config import load_config, to_dict
from gpu.io import code_version

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "examples" / "configs"


def _full_config(stem):
    """The small config loaded and validated here: the keys (defaults included) outputs must carry."""
    path = CONFIGS / f"{stem}.toml"
    if stem == "nbody_merger_small":
        from nbody.simulation import SimulationConfig
        return to_dict(load_config(path, SimulationConfig))
    if stem == "nbody_pm_small":
        from nbody.cosmological import PMConfig
        return to_dict(load_config(path, PMConfig))
    if stem == "cosmo_forecast_small":
        from cosmo.forecast import load_vg_config
        return dataclasses.asdict(load_vg_config(path)[0])
    if stem == "pde_lpbf_small":
        from pde.lpbf import LPBFConfig
        return to_dict(load_config(path, LPBFConfig))
    if stem == "clouds_parcel_small":
        from clouds.parcel import ParcelConfig
        return to_dict(load_config(path, ParcelConfig))
    if stem == "clouds_dns_small":
        from clouds.dns import DNSConfig
        return to_dict(load_config(path, DNSConfig))
    raise AssertionError(stem)


#: stem -> (package, argv given the config and a temp folder)
RUNS = {
    "nbody_merger_small": ("nbody", lambda c, d: ["run", str(c), "--outdir", str(d / "out"), "--quiet"]),
    "nbody_pm_small": ("nbody", lambda c, d: ["pm", str(c), "--output-dir", str(d / "out"), "--json",
                                              str(d / "s.json"), "--quiet"]),
    "cosmo_forecast_small": ("cosmo", lambda c, d: ["forecast", str(c), "--out", str(d / "r.h5"), "--json",
                                                    str(d / "s.json"), "--quiet"]),
    "pde_lpbf_small": ("pde", lambda c, d: ["lpbf", str(c), "--out", str(d / "r.h5"), "--json", str(d / "s.json"),
                                            "--quiet"]),
    "clouds_parcel_small": ("clouds", lambda c, d: ["parcel", str(c), "--out", str(d / "r.h5"), "--json",
                                                    str(d / "s.json"), "--quiet"]),
    "clouds_dns_small": ("clouds", lambda c, d: ["dns", str(c), "--out", str(d / "r.h5"), "--json",
                                                 str(d / "s.json"), "--quiet"]),
}


def _keys(d, prefix=""):
    """All nested key paths of a dict (lists of dicts: their items' keys)."""
    out = set()
    for k, v in d.items():
        out.add(prefix + str(k))
        if isinstance(v, dict):
            out |= _keys(v, f"{prefix}{k}.")
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for i, x in enumerate(v):
                out |= _keys(x, f"{prefix}{k}[{i}].")
    return out


def _check_config(found, expected, where):
    assert isinstance(found, dict), f"{where}: no full config"
    missing = _keys(expected) - _keys(found)
    assert not missing, f"{where}: config lacks the (default) keys {sorted(missing)[:10]}"


def _header_attrs(f):
    """Header attributes: /Header (GADGET snapshots: /Header, /Parameters and /Config together)."""
    out = dict(f.attrs)
    for name in ("Header", "Parameters", "Config"):
        if name in f:
            out.update(f[name].attrs)
    return out


@pytest.mark.parametrize("stem", sorted(RUNS))
def test_outputs_carry_units_version_and_full_config(stem, tmp_path, capsys):
    pkg, argv = RUNS[stem]
    main = importlib.import_module(f"{pkg}.__main__").main
    assert main(argv(CONFIGS / f"{stem}.toml", tmp_path)) == 0, capsys.readouterr().err
    expected = _full_config(stem)
    version = code_version()
    h5s = sorted(p for p in tmp_path.rglob("*") if p.suffix in (".h5", ".hdf5"))
    jsons = sorted(p for p in tmp_path.rglob("*.json") if p.name != "manifest.json")
    assert h5s or jsons
    for path in h5s:
        with h5py.File(path, "r") as f:
            head = _header_attrs(f)
            assert head.get("code_version") == version, f"{path.name}: no code_version in the header"
            full = head.get("config_full")
            assert full is not None, f"{path.name}: no config_full in the header"
            _check_config(json.loads(full), expected, path.name)
            no_units = []
            f.visititems(lambda name, obj: no_units.append(name) if isinstance(obj, h5py.Dataset)
                         and not str(obj.attrs.get("units", "")).strip() else None)
            assert not no_units, f"{path.name}: datasets without a units attribute: {no_units[:10]}"
    for path in jsons:
        summary = json.loads(path.read_text())
        assert summary.get("code_version") == version, f"{path.name}: no code_version"
        _check_config(summary.get("config"), expected, path.name)


def test_pairwise_outputs_carry_units_version_and_options(tmp_path):
    """cosmo pairwise has no config file: its options (defaults included) are the config."""
    import numpy as np

    from cosmo.__main__ import main
    from nbody.particles import PTYPE_DM, Particles
    from nbody.snapshot import Snapshot, write_snapshot

    rng = np.random.default_rng(4)
    c = rng.uniform(0, 20, (30, 3))
    pos = (c[rng.integers(0, 30, 600)] + 0.2 * rng.normal(size=(600, 3))) % 20
    vel = rng.normal(0, 100, (600, 3))
    snap = Snapshot({1: Particles.from_arrays(np.ones(600), pos, vel, PTYPE_DM, ids=np.arange(600, dtype=np.uint64))},
                    {"BoxSize": 20.0, "Time": 0.5, "Redshift": 1.0},
                    {"UnitLength_in_cm": 3.085678e24, "ComovingIntegrationOn": 1})
    write_snapshot(tmp_path / "snap_000.hdf5", snap)
    assert main(["pairwise", str(tmp_path / "snap_000.hdf5"), "--halo-split", "--rbins", "0.1,5,6",
                 "--out", str(tmp_path / "st.h5"), "--json", str(tmp_path / "s.json"), "--quiet"]) == 0
    options = {"snapshot", "rbins", "orders", "quantities", "type", "halo_split", "b", "min_size", "fit", "seed"}
    with h5py.File(tmp_path / "st.h5", "r") as f:
        head = _header_attrs(f)
        assert head["code_version"] == code_version()
        assert options <= set(json.loads(head["config_full"]))
        no_units = []
        f.visititems(lambda name, obj: no_units.append(name) if isinstance(obj, h5py.Dataset)
                     and not str(obj.attrs.get("units", "")).strip() else None)
        assert not no_units, no_units
        assert f["all/rbins"].attrs["units"] == "1000 kpc /h (comoving)"
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["code_version"] == code_version() and options <= set(summary["config"])
    # the snapshot written here carries units on its datasets too
    with h5py.File(tmp_path / "snap_000.hdf5", "r") as f:
        assert f["PartType1/Coordinates"].attrs["units"] == "1000 kpc /h (comoving)"
        assert f["PartType1/ParticleIDs"].attrs["units"] == "1"
