"""GADGET snapshots: HDF5 round trips bit for bit, multi-file sets, GADGET-2 binary fixtures, bad files."""
import struct

import h5py
import numpy as np
import pytest

from nbody.particles import Particles
from nbody.snapshot import (Snapshot, SnapshotFormatError, read_snapshot, snapshot_paths,
                            write_snapshot)


def make_snap(cosmological=False, dtype=np.float64, id_dtype=np.uint64, seed=1):
    rng = np.random.default_rng(seed)
    parts = {}
    for t, n, equal in ((1, 50, True), (4, 20, False), (5, 2, False)):
        mass = np.full(n, 0.25) if equal else rng.uniform(0.1, 2.0, n)
        pos, vel = rng.uniform(0, 100, (n, 3)).astype(dtype), rng.normal(0, 300, (n, 3)).astype(dtype)
        parts[t] = Particles.from_arrays(mass, pos, vel, t, ids=np.arange(n, dtype=id_dtype) + 1000 * t)
    header = {"BoxSize": 100.0, "Time": 0.5 if cosmological else 1.0, "Redshift": 1.0 if cosmological else 0.0,
              "HubbleParam": 0.7, "Omega0": 0.3 if cosmological else 0.0, "OmegaLambda": 0.7 if cosmological else 0.0}
    return Snapshot(parts, header, {"ComovingIntegrationOn": int(cosmological)})


def assert_same(a: Snapshot, b: Snapshot):
    assert sorted(a.particles) == sorted(b.particles)
    for t in a.particles:
        pa, pb = a.particles[t], b.particles[t]
        for f in ("pos", "vel", "ids", "mass"):
            x, y = getattr(pa, f), getattr(pb, f)
            assert x.dtype == y.dtype, (t, f)
            assert x.tobytes() == y.tobytes(), (t, f)  # bit for bit
    for k in ("BoxSize", "Time", "Redshift", "HubbleParam", "Omega0", "OmegaLambda"):
        assert a.header[k] == b.header[k]


@pytest.mark.parametrize("num_files", [1, 3])
@pytest.mark.parametrize("dtype,id_dtype", [(np.float64, np.uint64), (np.float32, np.uint32)])
def test_hdf5_roundtrip_bit_for_bit(tmp_path, num_files, dtype, id_dtype):
    snap = make_snap(dtype=dtype, id_dtype=id_dtype)
    paths = write_snapshot(tmp_path / "snap_005.hdf5", snap, num_files=num_files)
    assert len(paths) == num_files
    if num_files > 1:
        assert paths[1] == tmp_path / "snapdir_005" / "snap_005.1.hdf5"
    back = read_snapshot(paths[0])
    assert_same(snap, back)
    if num_files > 1:  # the directory and the base name open the same set
        assert_same(snap, read_snapshot(tmp_path / "snapdir_005"))
        assert_same(snap, read_snapshot(tmp_path / "snapdir_005" / "snap_005"))


def test_gadget4_layout_and_mass_table(tmp_path):
    snap = make_snap()
    (path,) = write_snapshot(tmp_path / "snap_000.hdf5", snap)
    with h5py.File(path) as f:
        h = f["Header"].attrs
        for key in ("BoxSize", "Time", "Redshift", "NumPart_ThisFile", "NumPart_Total", "NumPart_Total_HighWord",
                    "MassTable", "HubbleParam", "Omega0", "OmegaLambda", "NumFilesPerSnapshot"):
            assert key in h
        assert list(h["NumPart_Total"]) == [0, 50, 0, 0, 20, 2]
        assert h["MassTable"][1] == 0.25 and h["MassTable"][4] == 0.0
        assert "Masses" not in f["PartType1"] and "Masses" in f["PartType4"]
        assert f["Parameters"].attrs["UnitVelocity_in_cm_per_s"] == 1e5
    # without the table every type stores per-particle masses
    (path2,) = write_snapshot(tmp_path / "snap_001.hdf5", snap, use_mass_table=False)
    with h5py.File(path2) as f:
        assert "Masses" in f["PartType1"]
    assert_same(snap, read_snapshot(path2))


def test_numpart_highword_combined(tmp_path):
    snap = make_snap()
    (path,) = write_snapshot(tmp_path / "snap_000.hdf5", snap)
    # fake a > 2^32 total to check the reader combines the two words (then the count check must fail loudly)
    with h5py.File(path, "r+") as f:
        hw = np.zeros(6, dtype=np.uint32)
        hw[1] = 1
        f["Header"].attrs["NumPart_Total_HighWord"] = hw
    with pytest.raises(SnapshotFormatError, match=str(2**32 + 50)):
        read_snapshot(path)


def test_cosmological_velocity_convention(tmp_path):
    snap = make_snap(cosmological=True)
    a = snap.header["Time"]
    (path,) = write_snapshot(tmp_path / "snap_002.hdf5", snap)  # snap holds peculiar velocities
    with h5py.File(path) as f:
        stored = f["PartType4/Velocities"][()]
    np.testing.assert_allclose(stored, snap.particles[4].vel / np.sqrt(a), rtol=1e-15)
    back = read_snapshot(path)
    assert back.velocity_convention == "peculiar"
    np.testing.assert_allclose(back.particles[4].vel, snap.particles[4].vel, rtol=4e-16, atol=0)
    raw = read_snapshot(path, velocities="gadget")
    assert raw.particles[4].vel.tobytes() == stored.tobytes()
    # stored convention in and out: bit for bit
    snap.velocity_convention = "gadget"
    (p2,) = write_snapshot(tmp_path / "snap_003.hdf5", snap)
    assert_same(snap, read_snapshot(p2, velocities="gadget"))


def test_failed_write_keeps_old_snapshot(tmp_path, monkeypatch):
    snap = make_snap()
    (path,) = write_snapshot(tmp_path / "snap_000.hdf5", snap)
    before = path.read_bytes()
    bad = make_snap(seed=2)
    bad.particles[4].pos = bad.particles[4].pos.astype(object)  # h5py cannot store object arrays
    with pytest.raises(Exception):
        write_snapshot(path, bad)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap_000.hdf5"]


def test_truncated_hdf5_raises_clearly(tmp_path):
    (path,) = write_snapshot(tmp_path / "snap_000.hdf5", make_snap())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SnapshotFormatError, match="truncated or corrupt"):
        read_snapshot(path)


def test_foreign_files_raise(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("hello world, not a snapshot")
    with pytest.raises(SnapshotFormatError, match="neither HDF5 nor GADGET-2"):
        read_snapshot(p)
    q = tmp_path / "other.h5"
    with h5py.File(q, "w") as f:
        f["x"] = np.ones(3)
    with pytest.raises(SnapshotFormatError, match="no /Header"):
        read_snapshot(q)
    with pytest.raises(FileNotFoundError):
        read_snapshot(tmp_path / "missing.hdf5")


def test_multifile_needs_number_in_name(tmp_path):
    with pytest.raises(ValueError, match="_NNN"):
        snapshot_paths(tmp_path / "snapshot.hdf5", 2)


# ---------------------------------------------------------------------------------------------
# GADGET-2 binary fixtures, built byte by byte from the format description (GADGET-2 guide sec. 6)
# ---------------------------------------------------------------------------------------------
def _record(endian, payload: bytes) -> bytes:
    n = struct.pack(endian + "i", len(payload))
    return n + payload + n


def gadget2_bytes(npart, mass_table, pos, vel, ids, masses, endian="<", fmt=2, time=0.5, box=50.0, omega0=0.3):
    header = struct.pack(endian + "6i", *npart)
    header += struct.pack(endian + "6d", *mass_table)
    header += struct.pack(endian + "dd", time, 1 / time - 1)
    header += struct.pack(endian + "ii", 0, 0)
    header += struct.pack(endian + "6I", *npart)
    header += struct.pack(endian + "ii", 0, 1)
    header += struct.pack(endian + "4d", box, omega0, 1 - omega0, 0.7)
    header += struct.pack(endian + "ii", 0, 0)
    header += struct.pack(endian + "6I", *([0] * 6))
    header += struct.pack(endian + "i", 0)
    header += b"\0" * (256 - len(header))
    assert len(header) == 256
    out = b""
    blocks = [("HEAD", header), ("POS ", pos.astype(pos.dtype.newbyteorder(endian)).tobytes()),
              ("VEL ", vel.astype(vel.dtype.newbyteorder(endian)).tobytes()),
              ("ID  ", ids.astype(ids.dtype.newbyteorder(endian)).tobytes())]
    if masses is not None:
        blocks.append(("MASS", masses.astype(masses.dtype.newbyteorder(endian)).tobytes()))
    for label, payload in blocks:
        if fmt == 2:
            out += _record(endian, label.encode() + struct.pack(endian + "i", len(payload) + 8))
        out += _record(endian, payload)
    return out


def fixture_arrays(float_dtype=np.float32, id_dtype=np.uint32):
    npart = [0, 3, 0, 0, 2, 1]
    n = sum(npart)
    pos = (np.arange(3 * n, dtype=np.float64).reshape(n, 3) * 1.5).astype(float_dtype)
    vel = (np.arange(3 * n, dtype=np.float64).reshape(n, 3) - 4.0).astype(float_dtype)
    ids = np.arange(10, 10 + n).astype(id_dtype)
    mass_table = [0, 0.125, 0, 0, 0, 0]
    masses = np.array([2.0, 3.0, 100.0], dtype=float_dtype)  # types 4 (x2) and 5 (x1)
    return npart, mass_table, pos, vel, ids, masses


@pytest.mark.parametrize("fmt", [1, 2])
@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("float_dtype,id_dtype", [(np.float32, np.uint32), (np.float64, np.uint64)])
def test_gadget2_binary_fixture(tmp_path, fmt, endian, float_dtype, id_dtype):
    npart, table, pos, vel, ids, masses = fixture_arrays(float_dtype, id_dtype)
    p = tmp_path / "snap_000"
    p.write_bytes(gadget2_bytes(npart, table, pos, vel, ids, masses, endian=endian, fmt=fmt))
    snap = read_snapshot(p, velocities="gadget")
    assert sorted(snap.particles) == [1, 4, 5]
    assert snap.header["BoxSize"] == 50.0 and snap.header["Time"] == 0.5 and snap.cosmological
    np.testing.assert_array_equal(snap.particles[1].pos, pos[:3])
    np.testing.assert_array_equal(snap.particles[4].vel, vel[3:5])
    np.testing.assert_array_equal(snap.particles[5].ids, ids[5:])
    assert snap.particles[4].ids.dtype.itemsize == np.dtype(id_dtype).itemsize
    np.testing.assert_array_equal(snap.particles[1].mass, [0.125] * 3)
    np.testing.assert_array_equal(snap.particles[4].mass, [2.0, 3.0])
    assert snap.particles[5].mass[0] == 100.0
    pec = read_snapshot(p)  # peculiar = sqrt(a) * stored
    np.testing.assert_allclose(pec.particles[4].vel, vel[3:5] * np.sqrt(0.5), rtol=1e-6)


def test_gadget2_truncated_raises(tmp_path):
    npart, table, pos, vel, ids, masses = fixture_arrays()
    data = gadget2_bytes(npart, table, pos, vel, ids, masses)
    p = tmp_path / "snap_000"
    p.write_bytes(data[:-20])
    with pytest.raises(SnapshotFormatError, match="truncated"):
        read_snapshot(p)
    p.write_bytes(data[:400])
    with pytest.raises(SnapshotFormatError, match="truncated"):
        read_snapshot(p)


def test_cli_snapshot_json(tmp_path, capsys):
    import json

    from nbody.__main__ import main

    (path,) = write_snapshot(tmp_path / "snap_000.hdf5", make_snap())
    assert main(["snapshot", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["types"]["1"]["count"] == 50
    assert out["types"]["1"]["total_mass"] == pytest.approx(12.5)
