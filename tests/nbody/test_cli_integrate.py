"""python -m nbody integrate: snapshot in, HDF5 with snapshots, SMBH orbit log and summary out."""
import json

import numpy as np
import pytest
from astropy import constants as const

from gpu.io import read_results
from nbody.__main__ import main
from nbody.particles import Particles
from nbody.snapshot import Snapshot, write_snapshot


def _ic(path):
    # GADGET units: kpc, 1e10 Msun, km/s. Two 1e8 Msun BHs 1 pc apart on a circular orbit + a star at 10 pc.
    G = float(const.G.to_value("kpc km2 / (s2 Msun)"))
    m = 1e8
    r = 1e-3
    v = np.sqrt(G * 2 * m / r) / 2
    bh = Particles.from_arrays(np.array([m, m]) / 1e10, np.array([[r / 2, 0, 0], [-r / 2, 0, 0]]),
                               np.array([[0, v, 0], [0, -v, 0]]), 5, ids=np.array([1, 2]))
    vs = np.sqrt(G * 2 * m / 1e-2)
    star = Particles.from_arrays(np.array([1e6 / 1e10]), np.array([[0, 1e-2, 0.0]]), np.array([[-vs, 0, 0.0]]), 4,
                                 ids=np.array([3]))
    write_snapshot(path, Snapshot(particles={5: bh, 4: star}))
    return v


def test_integrate_command(tmp_path, capsys):
    ic = tmp_path / "ic.hdf5"
    _ic(ic)
    out = tmp_path / "run.hdf5"
    rc = main(["integrate", str(ic), "--t-end", "0.02 Myr", "--pn", "1PN,2.5PN", "--n-out", "5", "--out", str(out),
               "--quiet"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["n_steps"] > 0 and summary["n_mergers"] == 0
    ds, header = read_results(out)
    assert json.loads(header["pn"]) == ["1PN", "2.5PN"]
    assert len([k for k in ds if k.endswith("/time") and k.startswith("snapshots")]) == 6
    # one BH pair, logged at t = 0 and at every output
    assert ds["orbits/a"].shape == (6,)
    assert np.all(ds["orbits/id1"] == 1) and np.all(ds["orbits/id2"] == 2)
    a_pc = ds["orbits/a"] * header["unit_length_pc"]
    # circular at 1 pc initially, up to GADGET's UnitMass_in_g = 1.989e43 g vs 1e10 astropy Msun (3e-4)
    assert a_pc[0] == pytest.approx(1.0, rel=5e-4)
    assert np.all(np.abs(a_pc - 1.0) < 2e-3)  # perturbed by the star and by 1PN at the 1e-3 level
    final = ds["snapshots/005/time"] * header["unit_time_yr"]
    assert final == pytest.approx(2e4, rel=1e-10)
    # every dataset has its units; the header the full options (defaults included)
    import h5py

    with h5py.File(out, "r") as f:
        missing = []
        f.visititems(lambda n, o: missing.append(n) if isinstance(o, h5py.Dataset) and "units" not in o.attrs else None)
        assert not missing
        assert f["orbits/inclination"].attrs["units"] == "rad" and f["orbits/e"].attrs["units"] == "1"
    assert {"tolerance", "merger_radius_rs", "coordinates", "n_out", "pn"} <= set(json.loads(header["config_full"]))


def test_bad_time(tmp_path, capsys):
    ic = tmp_path / "ic.hdf5"
    _ic(ic)
    assert main(["integrate", str(ic), "--t-end", "3 km", "--out", str(tmp_path / "x.hdf5")]) == 2
    err = capsys.readouterr().err
    assert "'--t-end'" in err and "must be a time" in err and not (tmp_path / "x.hdf5").exists()
