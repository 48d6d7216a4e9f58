"""GADGET-compatible snapshots: GADGET-4 HDF5 (read/write, single and multi-file) and GADGET-2 binary (read).

Shared by ``nbody`` (SMBH/galaxy runs, the PM generator) and ``cosmo`` (flow
statistics of users' snapshots).

Layout written (GADGET-4 HDF5, Springel et al. 2021, MNRAS 506, 2871; the
GADGET-4 user guide, "Snapshot file format"):

* ``/Header`` attributes ``BoxSize``, ``Time``, ``Redshift``, ``NumPart_ThisFile``,
  ``NumPart_Total``, ``NumPart_Total_HighWord`` (totals split into low/high
  32-bit words as GADGET-2/3 HDF5 readers expect), ``MassTable``,
  ``NumFilesPerSnapshot``, ``HubbleParam``, ``Omega0``, ``OmegaLambda``,
  ``Flag_DoublePrecision``;
* ``/Parameters`` attributes ``UnitLength_in_cm``, ``UnitMass_in_g``,
  ``UnitVelocity_in_cm_per_s``, ``ComovingIntegrationOn``, ``HubbleParam`` ...;
* ``/PartTypeN/Coordinates``, ``Velocities``, ``ParticleIDs`` and ``Masses``
  (omitted when all particles of the type share the mass stored in
  ``MassTable[N]``). Types used by scaleforge: 1 dark matter, 4 stars, 5 black holes.

Multi-file snapshots live in ``snapdir_XXX/snap_XXX.N.hdf5``.

Velocity convention (GADGET-2 user guide, sec. 6.1; GADGET-4 guide): in
cosmological runs (``ComovingIntegrationOn = 1``) positions are comoving and
the stored velocity is ``u = v_pec / sqrt(a)``. :func:`read_snapshot` returns
*peculiar* velocities ``v_pec = sqrt(a) u`` by default (``velocities="gadget"``
returns the stored ``u`` untouched); :func:`write_snapshot` takes the same switch.
Non-cosmological runs store physical velocities unchanged.

GADGET-2 binary (Springel 2005, user guide sec. 6.1): format 1 is a sequence
of Fortran records ``[int32 n][n bytes][int32 n]``: HEAD (256 bytes), POS, VEL,
ID, MASS (types whose MassTable entry is 0), then gas-only blocks; format 2
puts an 8-byte record ``label(4) + int32`` before each block. The byte order is
read from the first record marker (256 or 8); positions/velocities are float32
or float64 and IDs int32 or int64, each deduced from the block sizes.
"""
from __future__ import annotations

import dataclasses
import json
import re
import struct
from pathlib import Path

import numpy as np

from gpu.config import ConfigError
from gpu.io import code_version, h5_image, write_images

from .particles import NTYPES, PTYPE_BH, PTYPE_DM, PTYPE_STAR, Particles
from .units import UnitSystem

PTYPE_NAMES = {0: "gas", 1: "dark matter", 2: "disk", 3: "bulge", 4: "stars", 5: "black holes"}

#: GADGET's default internal units (kpc/h, 1e10 Msun/h, km/s)
DEFAULT_UNITS = {
    "UnitLength_in_cm": 3.085678e21,
    "UnitMass_in_g": 1.989e43,
    "UnitVelocity_in_cm_per_s": 1.0e5,
}


class SnapshotFormatError(ConfigError):
    """The file is not a readable GADGET snapshot (truncated, foreign or inconsistent).

    A :class:`gpu.config.ConfigError` (hence a ``ValueError``): the commands report it as an input error.
    """


@dataclasses.dataclass
class Snapshot:
    """A snapshot: particles by GADGET type (``{type: Particles}``), header values and the unit system.

    ``header`` holds ``BoxSize``, ``Time`` (scale factor a in cosmological runs),
    ``Redshift``, ``HubbleParam``, ``Omega0``, ``OmegaLambda``. ``units`` holds
    ``UnitLength_in_cm``, ``UnitMass_in_g``, ``UnitVelocity_in_cm_per_s`` and
    ``ComovingIntegrationOn`` (0/1). Velocities are peculiar unless
    ``velocity_convention == "gadget"``.
    """

    particles: dict
    header: dict = dataclasses.field(default_factory=dict)
    units: dict = dataclasses.field(default_factory=dict)
    velocity_convention: str = "peculiar"

    def __post_init__(self):
        for k, v in DEFAULT_UNITS.items():
            self.units.setdefault(k, v)
        self.units.setdefault("ComovingIntegrationOn", 0)
        for k, v in (("BoxSize", 0.0), ("Time", 1.0), ("Redshift", 0.0), ("HubbleParam", 1.0),
                     ("Omega0", 0.0), ("OmegaLambda", 0.0)):
            self.header.setdefault(k, v)
        for t in self.particles:
            if not (0 <= int(t) < NTYPES):
                raise ValueError(f"particle type must be in [0, {NTYPES - 1}], got {t}")

    @property
    def cosmological(self) -> bool:
        return bool(int(self.units.get("ComovingIntegrationOn", 0)))

    def numpart(self) -> np.ndarray:
        n = np.zeros(NTYPES, dtype=np.uint64)
        for t, p in self.particles.items():
            n[int(t)] = len(p)
        return n

    def unit_quantities(self) -> dict:
        """The unit scales as astropy Quantities (length, mass, velocity, time)."""
        import astropy.units as u

        L = self.units["UnitLength_in_cm"] * u.cm
        M = self.units["UnitMass_in_g"] * u.g
        V = self.units["UnitVelocity_in_cm_per_s"] * u.cm / u.s
        return {"length": L.to(u.kpc), "mass": M.to(u.Msun), "velocity": V.to(u.km / u.s),
                "time": (L / V).to(u.Gyr)}

    def describe_units(self) -> str:
        q = self.unit_quantities()
        h = " /h" if self.cosmological else ""
        frame = "comoving" if self.cosmological else "physical"
        return (f"length {q['length']:.6g}{h} ({frame}), mass {q['mass']:.6g}{h}, "
                f"velocity {q['velocity']:.6g} ({self.velocity_convention})")

    def unit_labels(self) -> dict:
        """``units`` attribute strings of length, velocity and mass data in this snapshot's units
        (GADGET: /h and comoving coordinates in cosmological runs), e.g. ``"1 kpc /h (comoving)"``."""
        q = self.unit_quantities()
        h = " /h" if self.cosmological else ""
        frame = " (comoving)" if self.cosmological else ""
        return {"length": f"{q['length'].value:.6g} kpc{h}{frame}", "velocity": f"{q['velocity'].value:.6g} km/s",
                "mass": f"{q['mass'].value:.6g} Msun{h}"}


# --------------------------------------------------------------------------------------------
# HDF5 writing
# --------------------------------------------------------------------------------------------
def _dataset_units(snap: Snapshot, velocities: str) -> dict:
    """``units`` attribute of each particle dataset, from the snapshot's unit system (GADGET: /h when
    cosmological, comoving coordinates; stored GADGET velocities are u = v_pec / sqrt(a))."""
    lab = snap.unit_labels()
    vel = lab["velocity"]
    if snap.cosmological and velocities == "gadget":
        vel += " (stored u = v_pec / sqrt(a))"
    return {"Coordinates": lab["length"], "Velocities": vel, "ParticleIDs": "1", "Masses": lab["mass"]}


def _split_total(n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = np.asarray(n, dtype=np.uint64)
    return (n & np.uint64(0xFFFFFFFF)).astype(np.uint32), (n >> np.uint64(32)).astype(np.uint32)


def _mass_table(snap: Snapshot, use_mass_table: bool) -> np.ndarray:
    table = np.zeros(NTYPES, dtype=np.float64)
    if not use_mass_table:
        return table
    for t, p in snap.particles.items():
        m = p.mass
        if len(m) > 0 and m.dtype == np.float64 and np.all(m == m[0]) and m[0] != 0:
            table[int(t)] = m[0]
    return table


def _velocity_factor(snap: Snapshot) -> float:
    """Stored/peculiar velocity ratio: 1/sqrt(a) in cosmological runs, else 1."""
    if not snap.cosmological:
        return 1.0
    a = float(snap.header["Time"])
    if not a > 0:
        raise ValueError(f"header 'Time' (scale factor) must be > 0 in a cosmological snapshot, got {a}")
    return 1.0 / np.sqrt(a)


def _stored_velocities(snap: Snapshot, vel: np.ndarray, velocities: str) -> np.ndarray:
    """Velocities as GADGET stores them, from ``vel`` given in convention ``velocities``."""
    if velocities == "gadget" or not snap.cosmological:
        return vel
    return vel * vel.dtype.type(_velocity_factor(snap))


def _check_convention(velocities: str) -> None:
    if velocities not in ("peculiar", "gadget"):
        raise ValueError(f"velocities must be 'peculiar' or 'gadget', got {velocities!r}")


def snapshot_paths(path, num_files: int) -> list[Path]:
    """File names of a snapshot: ``path`` itself, or ``snapdir_XXX/snap_XXX.N.hdf5`` for several files."""
    path = Path(path)
    if num_files == 1:
        return [path]
    stem = path.name[:-5] if path.name.endswith(".hdf5") else path.name
    m = re.search(r"_(\d+)$", stem)
    if not m:
        raise ValueError(f"a multi-file snapshot name must end in _NNN (e.g. snap_005.hdf5), got {path.name!r}")
    d = path.parent / f"snapdir_{m.group(1)}"
    return [d / f"{stem}.{i}.hdf5" for i in range(num_files)]


def write_snapshot(path, snap: Snapshot, num_files: int = 1, use_mass_table: bool = True,
                   velocities: str | None = None, extra_header: dict | None = None, config=None) -> list[Path]:
    """Write ``snap`` as GADGET-4-compatible HDF5; returns the file paths written.

    Parameters
    ----------
    path : path-like
        ``.../snap_005.hdf5``; with ``num_files > 1`` the files go to
        ``.../snapdir_005/snap_005.N.hdf5``.
    num_files : int
        Number of files; particles of each type are split in contiguous blocks.
    use_mass_table : bool
        Store a type's mass in ``MassTable`` (and no ``Masses`` dataset) when all
        its particles share it, as GADGET does.
    velocities : {"peculiar", "gadget"} or None
        Convention of ``snap``'s velocities (default: ``snap.velocity_convention``).
    config : config dataclass or dict, optional
        The run's validated config: stored in full (defaults included) as JSON in ``/Config``
        attribute ``config_full`` (with ``code_version``).

    Notes
    -----
    Every file is assembled in memory (:func:`gpu.io.h5_image`, as :func:`gpu.io.atomic_h5`) and
    all are written by :func:`gpu.io.write_images`, renamed only when all are complete: a full
    disk or a file-size limit raises :class:`gpu.io.OutputError`, leaves no temporary file and no
    partial snapshot under the real names, and never crashes inside the HDF5 library.
    """
    velocities = velocities or snap.velocity_convention
    _check_convention(velocities)
    if not isinstance(num_files, (int, np.integer)) or num_files < 1:
        raise ValueError(f"num_files must be an integer >= 1, got {num_files!r}")
    paths = snapshot_paths(path, int(num_files))
    ntot = snap.numpart()
    low, high = _split_total(ntot)
    table = _mass_table(snap, use_mass_table)
    double = any(p.pos.dtype == np.float64 for p in snap.particles.values())
    ds_units = _dataset_units(snap, velocities)
    config_json = None
    if config is not None:
        from gpu.io import full_config

        config_json = json.dumps(full_config(config))
    images = []
    for ifile, final in enumerate(paths):
        with h5_image(final, images) as f:
            this = np.zeros(NTYPES, dtype=np.uint32)
            blocks = {}
            for t, p in snap.particles.items():
                lo = len(p) * ifile // num_files
                hi = len(p) * (ifile + 1) // num_files
                blocks[int(t)] = (lo, hi)
                this[int(t)] = hi - lo
            h = f.create_group("Header")
            h.attrs["BoxSize"] = np.float64(snap.header["BoxSize"])
            h.attrs["Time"] = np.float64(snap.header["Time"])
            h.attrs["Redshift"] = np.float64(snap.header["Redshift"])
            h.attrs["NumPart_ThisFile"] = this
            h.attrs["NumPart_Total"] = low
            h.attrs["NumPart_Total_HighWord"] = high
            h.attrs["MassTable"] = table
            h.attrs["NumFilesPerSnapshot"] = np.int32(num_files)
            h.attrs["HubbleParam"] = np.float64(snap.header["HubbleParam"])
            h.attrs["Omega0"] = np.float64(snap.header["Omega0"])
            h.attrs["OmegaLambda"] = np.float64(snap.header["OmegaLambda"])
            h.attrs["Flag_DoublePrecision"] = np.int32(double)
            for k, v in (extra_header or {}).items():
                h.attrs[k] = v
            par = f.create_group("Parameters")
            for k in ("UnitLength_in_cm", "UnitMass_in_g", "UnitVelocity_in_cm_per_s"):
                par.attrs[k] = np.float64(snap.units[k])
            par.attrs["ComovingIntegrationOn"] = np.int32(snap.units["ComovingIntegrationOn"])
            par.attrs["HubbleParam"] = np.float64(snap.header["HubbleParam"])
            par.attrs["Omega0"] = np.float64(snap.header["Omega0"])
            par.attrs["OmegaLambda"] = np.float64(snap.header["OmegaLambda"])
            par.attrs["BoxSize"] = np.float64(snap.header["BoxSize"])
            cfg = f.create_group("Config")
            cfg.attrs["WrittenBy"] = f"scaleforge {code_version()}"
            cfg.attrs["VelocityConvention"] = "u = v_pec/sqrt(a)" if snap.cosmological else "v_pec"
            cfg.attrs["code_version"] = code_version()
            if config_json is not None:
                cfg.attrs["config_full"] = config_json
            for t, p in sorted(snap.particles.items()):
                lo, hi = blocks[int(t)]
                if ntot[int(t)] == 0:
                    continue
                g = f.create_group(f"PartType{int(t)}")
                g.create_dataset("Coordinates", data=p.pos[lo:hi])
                g.create_dataset("Velocities", data=_stored_velocities(snap, p.vel[lo:hi], velocities))
                g.create_dataset("ParticleIDs", data=p.ids[lo:hi])
                if table[int(t)] == 0:
                    g.create_dataset("Masses", data=p.mass[lo:hi])
                for name, ds in g.items():
                    ds.attrs["units"] = ds_units[name]
    write_images(images)  # every file complete before the first rename
    return paths


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------
def _resolve_files(path) -> tuple[list[Path], str]:
    """All files of the snapshot named by ``path`` and the format ("hdf5" or "gadget2")."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.hdf5"), key=_file_index)
        if not files:
            files = sorted((p for p in path.iterdir() if re.search(r"\.\d+$", p.name)), key=_file_index)
        if not files:
            raise SnapshotFormatError(f"directory '{path}' holds no snapshot files")
        path = files[0]
    if not path.exists():
        # allow the base name of a multi-file set: snap_005 -> snap_005.0(.hdf5)
        for cand in (path.with_name(path.name + ".0.hdf5"), path.with_name(path.name + ".0"),
                     path.with_name(path.name + ".hdf5")):
            if cand.exists():
                path = cand
                break
        else:
            raise FileNotFoundError(f"snapshot '{path}' does not exist")
    fmt = _sniff(path)
    nfiles = _num_files(path, fmt)
    if nfiles == 1:
        return [path], fmt
    m = re.match(r"^(.*)\.(\d+)(\.hdf5)?$", path.name)
    if not m:
        raise SnapshotFormatError(f"'{path}' says NumFilesPerSnapshot={nfiles} but its name has no .N file index")
    files = [path.with_name(f"{m.group(1)}.{i}{m.group(3) or ''}") for i in range(nfiles)]
    missing = [str(p) for p in files if not p.exists()]
    if missing:
        raise SnapshotFormatError(f"multi-file snapshot is incomplete: missing {missing}")
    return files, fmt


def _file_index(p: Path) -> int:
    m = re.search(r"\.(\d+)(\.hdf5)?$", p.name)
    return int(m.group(1)) if m else -1


def _sniff(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "hdf5"
    if len(head) >= 4:
        for endian in "<>":
            marker = struct.unpack(endian + "i", head[:4])[0]
            if marker in (256, 8):
                return "gadget2"
    raise SnapshotFormatError(
        f"'{path}' is neither HDF5 nor GADGET-2 binary (first bytes {head[:8]!r}; "
        "a GADGET-2 file starts with a record marker of 256 or 8)"
    )


def _num_files(path: Path, fmt: str) -> int:
    if fmt == "hdf5":
        h = _hdf5_header(path)
        return int(h.get("NumFilesPerSnapshot", 1))
    return int(_read_gadget2_header(path)[0]["num_files"])


def _hdf5_header(path: Path) -> dict:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if "Header" not in f:
                raise SnapshotFormatError(f"'{path}' is HDF5 but has no /Header group: not a GADGET snapshot")
            return dict(f["Header"].attrs)
    except OSError as exc:
        raise SnapshotFormatError(f"cannot read HDF5 snapshot '{path}' (truncated or corrupt?): {exc}") from exc


def _combine_total(low, high) -> np.ndarray:
    low = np.asarray(low).astype(np.uint64)
    high = np.zeros_like(low) if high is None else np.asarray(high).astype(np.uint64)
    return low + (high << np.uint64(32))


def _read_hdf5(files: list[Path]) -> tuple[dict, dict, dict, np.ndarray]:
    import h5py

    parts: dict[int, dict[str, list]] = {}
    header = units = None
    table = None
    for path in files:
        try:
            with h5py.File(path, "r") as f:
                if "Header" not in f:
                    raise SnapshotFormatError(f"'{path}' has no /Header group: not a GADGET snapshot")
                h = dict(f["Header"].attrs)
                if header is None:
                    header = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in h.items()
                              if k in ("BoxSize", "Time", "Redshift", "HubbleParam", "Omega0", "OmegaLambda")}
                    units = dict(DEFAULT_UNITS)
                    units["ComovingIntegrationOn"] = 0
                    src = dict(f["Parameters"].attrs) if "Parameters" in f else {}
                    for k in ("UnitLength_in_cm", "UnitMass_in_g", "UnitVelocity_in_cm_per_s",
                              "ComovingIntegrationOn"):
                        if k in src:
                            units[k] = src[k].item() if isinstance(src[k], np.generic) else src[k]
                        elif k in h:
                            units[k] = h[k].item() if isinstance(h[k], np.generic) else h[k]
                    for k in ("HubbleParam", "Omega0", "OmegaLambda", "BoxSize"):
                        if k not in header and k in src:
                            header[k] = float(src[k])
                    if "ComovingIntegrationOn" not in src and "ComovingIntegrationOn" not in h:
                        # GADGET-2/3 HDF5 has no such flag: a=Time<1 or Omega0>0 means a cosmological run
                        units["ComovingIntegrationOn"] = int(float(h.get("Omega0", 0)) > 0)
                    total = _combine_total(h["NumPart_Total"], h.get("NumPart_Total_HighWord"))
                    table = np.asarray(h["MassTable"], dtype=np.float64)
                nthis = np.asarray(h["NumPart_ThisFile"]).astype(np.int64)
                for t in range(len(nthis)):
                    if nthis[t] == 0:
                        continue
                    gname = f"PartType{t}"
                    if gname not in f:
                        raise SnapshotFormatError(f"'{path}': NumPart_ThisFile[{t}]={nthis[t]} but no /{gname}")
                    g = f[gname]
                    d = parts.setdefault(t, {"pos": [], "vel": [], "ids": [], "mass": []})
                    for key, name in (("pos", "Coordinates"), ("vel", "Velocities"), ("ids", "ParticleIDs")):
                        if name not in g:
                            raise SnapshotFormatError(f"'{path}': /{gname}/{name} is missing")
                        arr = g[name][()]
                        if len(arr) != nthis[t]:
                            raise SnapshotFormatError(
                                f"'{path}': /{gname}/{name} has {len(arr)} rows, header says {nthis[t]}")
                        d[key].append(arr)
                    if table[t] != 0:
                        d["mass"].append(np.full(nthis[t], table[t], dtype=np.float64))
                    elif "Masses" in g:
                        d["mass"].append(g["Masses"][()])
                    else:
                        raise SnapshotFormatError(f"'{path}': MassTable[{t}] is 0 but /{gname}/Masses is missing")
        except OSError as exc:
            raise SnapshotFormatError(f"cannot read HDF5 snapshot '{path}' (truncated or corrupt?): {exc}") from exc
    return parts, header, units, total


def read_snapshot(path, velocities: str = "peculiar", types=None) -> Snapshot:
    """Read a GADGET snapshot (HDF5 single/multi-file, or GADGET-2 binary format 1/2).

    Parameters
    ----------
    path : path-like
        A file, one file of a multi-file set, its ``snapdir_XXX`` directory or its base name.
    velocities : {"peculiar", "gadget"}
        Return peculiar velocities (``sqrt(a) u`` in cosmological runs) or the stored ``u``.
    types : iterable of int, optional
        Particle types to keep (default: all present).

    Raises
    ------
    SnapshotFormatError
        Truncated, inconsistent or foreign files, with the reason.
    """
    _check_convention(velocities)
    files, fmt = _resolve_files(path)
    if fmt == "hdf5":
        parts, header, units, total = _read_hdf5(files)
    else:
        parts, header, units, total = _read_gadget2(files)
    particles = {}
    for t, d in sorted(parts.items()):
        if types is not None and t not in types:
            continue
        ps = Particles.from_arrays(np.concatenate(d["mass"]), np.concatenate(d["pos"]), np.concatenate(d["vel"]),
                                   t, ids=np.concatenate(d["ids"]))
        if len(ps) != int(total[t]):
            raise SnapshotFormatError(f"type {t}: read {len(ps)} particles but NumPart_Total says {int(total[t])}")
        particles[t] = ps
    snap = Snapshot(particles, header, units, velocity_convention="gadget")
    if velocities == "peculiar" and snap.cosmological:
        f = 1.0 / _velocity_factor(snap)
        for p in snap.particles.values():
            p.vel = p.vel * p.vel.dtype.type(f)
    snap.velocity_convention = velocities
    return snap


# --------------------------------------------------------------------------------------------
# The file boundary: snapshots <-> Particles
# --------------------------------------------------------------------------------------------
#: the particle types a galaxy simulation evolves (dark matter, stars, black holes)
SIMULATED_TYPES = (PTYPE_DM, PTYPE_STAR, PTYPE_BH)


def gadget_units(length, mass, velocity) -> dict:
    """GADGET unit parameters (``UnitLength_in_cm``, ``UnitMass_in_g``, ``UnitVelocity_in_cm_per_s``) of unit
    scales given as astropy Quantities (e.g. those of a :class:`nbody.units.UnitSystem`)."""
    import astropy.units as u

    return {"UnitLength_in_cm": float(length.to_value(u.cm)), "UnitMass_in_g": float(mass.to_value(u.g)),
            "UnitVelocity_in_cm_per_s": float(velocity.to_value(u.cm / u.s))}


def particles_from_snapshot(source, types=None, code_units: bool = False) -> Particles:
    """All particles of a snapshot in one :class:`Particles`, by type then file order, ``ptype`` = GADGET type.

    Parameters
    ----------
    source : path-like or Snapshot
        A file name as :func:`read_snapshot` takes it, or a snapshot already read (peculiar velocities).
    types : iterable of int, optional
        The types allowed; a snapshot holding another type is a :class:`gpu.config.ConfigError`
        naming it. Default: any.
    code_units : bool
        False: the stored numbers (mass, positions, velocities in the snapshot's units), as float64.
        True: converted to G = 1 code units with the snapshot's mass and length units
        (``units`` is that :class:`nbody.units.UnitSystem`; velocities rescale by
        ``V_snapshot / sqrt(G M_u / L_u)``).

    IDs are returned as uint64 (GADGET IDs are unsigned). A snapshot without particles is a ConfigError.
    """
    snap = source if isinstance(source, Snapshot) else read_snapshot(source)
    name = "the snapshot" if isinstance(source, Snapshot) else f"snapshot '{source}'"
    present = sorted(t for t, p in snap.particles.items() if len(p))
    if not present:
        raise ConfigError(f"{name} holds no particles")
    if types is not None:
        bad = [t for t in present if t not in tuple(types)]
        if bad:
            raise ConfigError(f"{name} holds particle type {bad[0]}; only types {sorted(types)} are allowed here")
    parts = [snap.particles[t] for t in present]
    ptype = np.concatenate([np.full(len(q), t, dtype=np.int64) for t, q in zip(present, parts)])
    ids = np.concatenate([q.ids for q in parts]).astype(np.uint64)
    if not code_units:
        return Particles.from_arrays(np.concatenate([q.mass.astype(np.float64) for q in parts]),
                                     np.concatenate([q.pos.astype(np.float64) for q in parts]),
                                     np.concatenate([q.vel.astype(np.float64) for q in parts]), ptype, ids=ids)
    uq = snap.unit_quantities()
    units = UnitSystem(mass=uq["mass"], length=uq["length"])
    mass = np.concatenate([q.mass for q in parts])
    pos = np.concatenate([q.pos for q in parts]).astype(float)
    vel = np.concatenate([q.vel for q in parts]).astype(float)
    return Particles(mass * uq["mass"], pos * uq["length"], vel * uq["velocity"], ids=ids, units=units, ptype=ptype)


def snapshot_from_particles(p: Particles, header: dict | None = None, units: dict | None = None,
                            types=None) -> Snapshot:
    """A :class:`Snapshot` of ``p``: one :class:`Particles` per GADGET type present (copies, file order kept).

    ``units``: GADGET unit parameters (default: :func:`gadget_units` of ``p.units``, or GADGET's defaults
    when ``p`` has none); ``types``: the types to store, in this order (default: all present, ascending);
    ``header``: header values (``Time`` defaults to ``p.time``).
    """
    header = dict(header or {})
    header.setdefault("Time", p.time)
    if units is None and p.units is not None:
        units = gadget_units(p.units.length, p.units.mass, p.units.velocity)
    parts = {}
    for t in (sorted(set(p.ptype.tolist())) if types is None else types):
        s = p.ptype == t
        if np.any(s):
            parts[int(t)] = Particles.from_arrays(p.mass[s].copy(), p.pos[s].copy(), p.vel[s].copy(), int(t),
                                                  ids=p.ids[s].copy(), time=p.time, units=p.units)
    return Snapshot(parts, header, dict(units or {}))


# --------------------------------------------------------------------------------------------
# GADGET-2 binary (format 1 and 2)
# --------------------------------------------------------------------------------------------
_HEADER_FMT = "6i6dddii6Iii4dii6Ii"  # followed by 60 bytes of padding to 256 bytes


def _read_gadget2_header(path: Path):
    with open(path, "rb") as fh:
        reader = _RecordReader(fh, path)
        label, body = reader.block()
    if len(body) != 256:
        raise SnapshotFormatError(f"'{path}': GADGET-2 header block is {len(body)} bytes, expected 256")
    return _parse_header(body, reader.endian), reader


def _parse_header(body: bytes, endian: str) -> dict:
    n = struct.calcsize(endian + _HEADER_FMT)
    v = struct.unpack(endian + _HEADER_FMT, body[:n])
    return {
        "npart": np.array(v[0:6], dtype=np.int64),
        "mass": np.array(v[6:12], dtype=np.float64),
        "time": v[12], "redshift": v[13],
        "flag_sfr": v[14], "flag_feedback": v[15],
        "npart_total": np.array(v[16:22], dtype=np.uint64),
        "flag_cooling": v[22], "num_files": v[23],
        "box": v[24], "omega0": v[25], "omega_lambda": v[26], "hubble": v[27],
        "flag_age": v[28], "flag_metals": v[29],
        "npart_total_high": np.array(v[30:36], dtype=np.uint64),
    }


class _RecordReader:
    """Reads Fortran records, format 1 or 2, with the byte order set by the first marker."""

    def __init__(self, fh, path):
        self.fh, self.path = fh, path
        first = fh.read(4)
        if len(first) < 4:
            raise SnapshotFormatError(f"'{path}' is empty or truncated before the first record")
        for endian in "<>":
            m = struct.unpack(endian + "i", first)[0]
            if m in (256, 8):
                self.endian, self.format = endian, (1 if m == 256 else 2)
                break
        else:
            raise SnapshotFormatError(f"'{path}': first record marker is not 256 or 8: not GADGET-2 binary")
        fh.seek(0)

    def _record(self, what: str) -> bytes | None:
        raw = self.fh.read(4)
        if len(raw) == 0:
            return None
        if len(raw) < 4:
            raise SnapshotFormatError(f"'{self.path}': truncated in the record marker of {what}")
        n = struct.unpack(self.endian + "i", raw)[0]
        if n < 0:
            raise SnapshotFormatError(f"'{self.path}': negative record length {n} in {what}")
        body = self.fh.read(n)
        if len(body) < n:
            raise SnapshotFormatError(
                f"'{self.path}': truncated: block {what} should hold {n} bytes, only {len(body)} present")
        tail = self.fh.read(4)
        if len(tail) < 4 or struct.unpack(self.endian + "i", tail)[0] != n:
            raise SnapshotFormatError(f"'{self.path}': record markers of block {what} do not match (truncated or corrupt)")
        return body

    def block(self, expected: str = "HEAD") -> tuple[str, bytes | None]:
        label = expected
        if self.format == 2:
            tag = self._record(f"label before {expected}")
            if tag is None:
                return expected, None
            if len(tag) != 8:
                raise SnapshotFormatError(f"'{self.path}': format-2 label record has {len(tag)} bytes, expected 8")
            label = tag[:4].decode("ascii", "replace").strip()
        return label, self._record(label)


def _read_gadget2(files: list[Path]):
    parts: dict[int, dict[str, list]] = {}
    header = units = total = None
    for path in files:
        with open(path, "rb") as fh:
            rd = _RecordReader(fh, path)
            label, body = rd.block("HEAD")
            if body is None or len(body) != 256:
                raise SnapshotFormatError(f"'{path}': header block is not 256 bytes")
            h = _parse_header(body, rd.endian)
            if header is None:
                header = {"BoxSize": h["box"], "Time": h["time"], "Redshift": h["redshift"],
                          "HubbleParam": h["hubble"], "Omega0": h["omega0"], "OmegaLambda": h["omega_lambda"]}
                units = dict(DEFAULT_UNITS)
                units["ComovingIntegrationOn"] = int(h["omega0"] > 0)
                total = _combine_total(h["npart_total"], h["npart_total_high"])
            npart = h["npart"]
            ntot = int(npart.sum())
            data = {}
            for name in ("POS", "VEL", "ID"):
                label, body = rd.block(name)
                if body is None:
                    raise SnapshotFormatError(f"'{path}': truncated: block {name} is missing")
                if rd.format == 2 and label != name:
                    raise SnapshotFormatError(f"'{path}': expected block {name}, found {label!r}")
                data[name] = body
            fbytes = len(data["POS"]) // max(3 * ntot, 1)
            if ntot and (fbytes not in (4, 8) or len(data["POS"]) != 3 * ntot * fbytes):
                raise SnapshotFormatError(f"'{path}': POS block of {len(data['POS'])} bytes fits no precision for {ntot} particles")
            fdt = np.dtype(rd.endian + ("f4" if fbytes == 4 else "f8"))
            ibytes = len(data["ID"]) // max(ntot, 1)
            if ntot and (ibytes not in (4, 8) or len(data["ID"]) != ntot * ibytes):
                raise SnapshotFormatError(f"'{path}': ID block of {len(data['ID'])} bytes fits neither int32 nor int64 IDs")
            idt = np.dtype(rd.endian + ("u4" if ibytes == 4 else "u8"))
            pos = np.frombuffer(data["POS"], dtype=fdt).reshape(-1, 3)
            vel = np.frombuffer(data["VEL"], dtype=fdt).reshape(-1, 3)
            if len(vel) != ntot:
                raise SnapshotFormatError(f"'{path}': VEL block holds {len(vel)} particles, header says {ntot}")
            ids = np.frombuffer(data["ID"], dtype=idt)
            nmass = int(sum(npart[t] for t in range(NTYPES) if h["mass"][t] == 0))
            masses = np.empty(0, dtype=fdt)
            if nmass:
                label, body = rd.block("MASS")
                if body is None:
                    raise SnapshotFormatError(f"'{path}': truncated: block MASS is missing")
                masses = np.frombuffer(body, dtype=fdt)
                if len(masses) != nmass:
                    raise SnapshotFormatError(f"'{path}': MASS block holds {len(masses)} values, expected {nmass}")
            off = moff = 0
            for t in range(NTYPES):
                n = int(npart[t])
                if n == 0:
                    continue
                d = parts.setdefault(t, {"pos": [], "vel": [], "ids": [], "mass": []})
                d["pos"].append(pos[off:off + n].astype(fdt.newbyteorder("=")))
                d["vel"].append(vel[off:off + n].astype(fdt.newbyteorder("=")))
                d["ids"].append(ids[off:off + n].astype(idt.newbyteorder("=")))
                if h["mass"][t] != 0:
                    d["mass"].append(np.full(n, h["mass"][t], dtype=np.float64))
                else:
                    d["mass"].append(masses[moff:moff + n].astype(np.float64))
                    moff += n
                off += n
    return parts, header, units, total


def yt_load_kwargs(path) -> dict:
    """Keyword arguments that make ``yt.load(path, **kw)`` read this snapshot in its real units.

    The files carry GADGET-4's unit parameters (``/Parameters``: ``UnitLength_in_cm``,
    ``UnitMass_in_g``, ``UnitVelocity_in_cm_per_s``, ``ComovingIntegrationOn``), but yt's GADGET HDF5
    frontend (checked for yt 4.4) does not read them: without ``unit_base`` it assumes kpc/h and
    1e10 Msun/h, so a 64 Mpc/h box shows as 64 kpc/h and galaxy velocities lose the code velocity
    unit. This returns ``unit_base`` from the file, and for an isolated system (``BoxSize = 0``) a
    ``bounding_box`` around the particles with a margin (yt otherwise divides by a zero domain width
    when, e.g., two black holes lie in one plane).
    """
    import h5py

    first = _resolve_files(path)[0][0]
    with h5py.File(first, "r") as f:
        par = dict(f["Parameters"].attrs) if "Parameters" in f else {}
        box = float(f["Header"].attrs.get("BoxSize", 0.0))
    missing = [k for k in ("UnitLength_in_cm", "UnitMass_in_g", "UnitVelocity_in_cm_per_s") if k not in par]
    if missing:
        raise SnapshotFormatError(f"'{first}' has no /Parameters {missing[0]}: not written with GADGET-4 unit "
                                  "parameters; pass yt.load(..., unit_base=...) yourself")
    kw = {"unit_base": {k: float(par[k]) for k in ("UnitLength_in_cm", "UnitMass_in_g",
                                                   "UnitVelocity_in_cm_per_s")}}
    if box <= 0:
        snap = read_snapshot(path)
        pos = np.concatenate([ps.pos for ps in snap.particles.values() if len(ps)])
        lo, hi = pos.min(axis=0), pos.max(axis=0)
        pad = 0.05 * max(float((hi - lo).max()), 0.0) or 1.0
        kw["bounding_box"] = [[float(a - pad), float(b + pad)] for a, b in zip(lo, hi)]
    return kw


def load_yt(path, **kwargs):
    """``yt.load`` of a scaleforge (GADGET-4 HDF5) snapshot with its units (see :func:`yt_load_kwargs`).

    Example (needs yt)::

        ds = load_yt("pm_out/snap_001.hdf5")
        ds.domain_width.to("Mpccm/h")        # the box in comoving Mpc/h, not kpc/h
    """
    import yt

    return yt.load(str(path), **{**yt_load_kwargs(path), **kwargs})
