"""Shared output: atomic writes, a standard header, writable-path checks and run folders.

Every driver writes its results through :func:`write_results` / :func:`atomic_h5` (or
:func:`atomic_path` for custom layouts), so that

* an interrupted or failed run never leaves a half-written file under the real name (write
  ``name.<pid>.tmp``, then ``os.replace``); the temporary file is removed on any failure;
* HDF5 files are assembled in memory (h5py's ``core`` driver) and reach the disk as one plain
  byte write: a full disk or a file-size limit gives :class:`OutputError`, never a crash inside the
  HDF5 library's close (a segfault seen with files written in place when the disk filled);
* every file carries ``/Header`` attributes: ``code``, ``code_version``, ``created``, the run
  parameters, the units of each dataset, the config text and (``config_full``) the validated
  config with every default filled in, as JSON; every JSON summary written by :func:`write_json`
  carries ``code_version`` (and ``config``, the full config, when given one).

Outputs are checked before any work (:func:`check_writable`), and a simulation's output folder is
claimed by one run at a time (:class:`RunFolder`, with a ``manifest.json`` of the run's files).
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import os
from pathlib import Path

import numpy as np

from .config import ConfigError

#: errno values meaning "the storage is full or the file is too large"
_SPACE_ERRNOS = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


class OutputError(ConfigError):
    """An output file or folder cannot be written (unwritable, full disk, another run's folder)."""


class ResultError(RuntimeError):
    """A computation finished but failed its own checks (non-finite values, a conservation or
    convergence test): the numbers are not a result. Commands report it in one line, exit 1."""


def _output_error(path, exc: OSError) -> OutputError:
    if exc.errno in _SPACE_ERRNOS:
        why = "no space left on the device or file-size limit reached"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = "permission denied (read-only or not yours)"
    else:
        why = exc.strerror or str(exc)
    return OutputError(f"cannot write output '{path}': {why} [{exc.__class__.__name__} errno {exc.errno}]; "
                       "earlier files are left as they were")


def check_writable(path, *, directory: bool = False) -> Path:
    """Check, before any computation, that ``path`` (a file, or a folder if ``directory``) can be written.

    Creates missing parent folders (or the folder itself), then creates and removes a probe file
    beside the target. Raises :class:`OutputError` naming the path.
    """
    path = Path(path)
    folder = path if directory else path.parent
    if not directory and path.is_dir():
        raise OutputError(f"output file '{path}' is an existing directory; give a file name")
    if directory and path.exists() and not path.is_dir():
        raise OutputError(f"output folder '{path}' exists and is not a directory")
    for parent in [folder, *folder.parents]:
        if parent.exists() and not parent.is_dir():
            raise OutputError(f"cannot write output '{path}': '{parent}' is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".scaleforge-write-probe.{os.getpid()}"
        with open(probe, "wb") as fh:
            fh.write(b"x")
        probe.unlink()
    except OSError as exc:
        raise _output_error(path, exc) from exc
    return path


def check_outputs(paths, *, overwrite: bool = False, existing=(), allowed=(), comm=None) -> None:
    """Check a command's output files before any work: distinct, writable, not another run's.

    ``paths`` is ``[(flag, path), ...]`` (``path`` None = not requested). Every path must be
    writable (:func:`check_writable`) and no two may name the same file; a path whose flag is in
    ``existing`` must not exist already unless ``overwrite`` or the path is one of ``allowed`` (e.g.
    the file a restart continues). Under MPI the file system is probed on rank 0 only (the rank
    that writes); the name checks run on every rank, so every rank raises alike.
    Raises :class:`OutputError` naming the flag and the file.
    """
    seen = {}
    allowed = {Path(a).resolve() for a in allowed if a}
    requested = [(flag, path) for flag, path in paths if path is not None]
    for flag, path in requested:
        key = Path(path).resolve()
        if key in seen:
            raise OutputError(f"{flag} and {seen[key]} name the same file '{path}'; give different names")
        seen[key] = flag
    if getattr(comm, "rank", 0) != 0:
        return
    for flag, path in requested:
        check_writable(path)
        if flag in existing and Path(path).exists() and not overwrite and Path(path).resolve() not in allowed:
            raise OutputError(f"output file '{path}' ({flag}) already exists (another run's result); "
                              "choose a new name or pass --overwrite")


def code_version() -> str:
    """Version string of the installed ``scaleforge`` distribution (or "unknown")."""
    try:
        from importlib.metadata import version

        return version("scaleforge")
    except Exception:
        return "unknown"


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; on success rename it to ``path``.

    On an exception the temporary file is removed and any existing ``path`` is
    left untouched.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _output_error(path, exc) from exc
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
            raise _output_error(path, exc) from exc
        raise


def _write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with plain OS writes (errors surface as OSError, never a crash)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def h5_image(path, images: list):
    """Yield an in-memory ``h5py.File`` for ``path``; at exit append ``(path, image bytes)`` to ``images``.

    The file is built with h5py's ``core`` driver (no backing store), so the HDF5 library never
    writes to disk itself. :func:`write_images` puts the images on disk atomically; a set of files
    that must appear together (a multi-file snapshot) is built by one call per file, then written
    by one :func:`write_images`.
    """
    import h5py

    path = Path(path)
    f = h5py.File(f"{path.name}.{os.getpid()}.mem", "w", driver="core", backing_store=False)
    try:
        yield f
        f.flush()
        images.append((path, f.id.get_file_image()))
    finally:
        f.close()


def write_images(images) -> None:
    """Write ``(path, bytes)`` pairs all or nothing: each to ``path.<pid>.tmp`` by plain writes, and
    every temporary renamed over its ``path`` only when all are complete. Disk full or a file-size
    limit raises :class:`OutputError`; no temporary file is left and no ``path`` is touched."""
    with contextlib.ExitStack() as stack:
        for path, image in images:
            _write_bytes(stack.enter_context(atomic_path(path)), image)


@contextlib.contextmanager
def atomic_h5(path):
    """Yield an in-memory ``h5py.File``; on success its image is written to ``path`` atomically.

    The file is built with h5py's ``core`` driver (no backing store), so the HDF5 library never
    writes to disk itself; the finished image goes to ``path.<pid>.tmp`` by plain writes and is
    renamed over ``path``. Disk full or a file-size limit raises :class:`OutputError`; the
    temporary file is removed and an existing ``path`` is untouched.
    """
    images = []
    with h5_image(path, images) as f:
        yield f
    write_images(images)


def _attr_value(v):
    """Convert a Python value to something h5py stores as an attribute."""
    if v is None:
        return "None"
    if isinstance(v, (str, bytes, int, float, bool, np.generic)):
        return v
    if isinstance(v, (list, tuple, np.ndarray)):
        arr = np.asarray(v)
        if arr.dtype.kind in "iufb":
            return arr
    return json.dumps(v, default=str)


def full_config(config) -> dict:
    """The validated config with every default filled in, as a JSON-ready dict (dataclass or dict)."""
    import dataclasses

    from .config import to_dict

    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = to_dict(config)
    return json.loads(json.dumps(config, default=_json_default))


def write_header(group, params: dict | None = None, units: dict | None = None, config_text: str | None = None,
                 config=None):
    """Fill an h5py group with the standard header attributes.

    ``config`` (a config dataclass or dict): stored as JSON in ``config_full``, defaults included.
    """
    group.attrs["code"] = "scaleforge"
    group.attrs["code_version"] = code_version()
    group.attrs["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat()
    for k, v in (params or {}).items():
        group.attrs[k] = _attr_value(v)
    if units:
        group.attrs["units"] = json.dumps(units)
    if config_text is not None:
        group.attrs["config"] = config_text
    if config is not None:
        group.attrs["config_full"] = json.dumps(full_config(config))


def write_results(path, datasets: dict, params: dict | None = None, units: dict | None = None,
                  config_text: str | None = None, compression: str | None = None, config=None):
    """Write ``datasets`` (name -> array, '/'-separated names make groups) atomically.

    Each dataset gets a ``units`` attribute when ``units`` names it (``"1"`` for dimensionless);
    ``config`` goes to the header's ``config_full`` (:func:`write_header`).
    """
    units = dict(units or {})
    with atomic_h5(path) as f:
        write_header(f.create_group("Header"), params, units, config_text, config)
        for name, data in datasets.items():
            ds = f.create_dataset(name, data=np.asarray(data), compression=compression)
            if name in units:
                ds.attrs["units"] = units[name]
    return Path(path)


def read_results(path) -> tuple[dict, dict]:
    """Read a file written by :func:`write_results`: (datasets, header attributes)."""
    import h5py

    out, header = {}, {}
    with h5py.File(path, "r") as f:
        header = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f["Header"].attrs.items()}

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()]

        f.visititems(visit)
    return out, header


def _json_default(o):
    if hasattr(o, "unit") and hasattr(o, "value"):  # astropy Quantity: "1.5 Myr"
        return str(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    return str(o)


def _strict(o):
    """``o`` with every non-finite float replaced by None: strict JSON (``null``), never a bare NaN token
    that standard parsers reject and that reads like a number."""
    if isinstance(o, float):
        return o if o == o and o not in (float("inf"), float("-inf")) else None
    if isinstance(o, dict):
        return {k: _strict(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_strict(v) for v in o]
    return o


def write_json(path, obj, config=None) -> Path:
    """Write strict JSON atomically (NumPy scalars and arrays converted; NaN and inf as ``null``).

    A dict gets ``code_version`` (unless it has one) and, given ``config`` (a config dataclass or
    dict), ``config``: the full validated config, defaults included (:func:`full_config`).
    """
    if isinstance(obj, dict):
        head = {"code_version": code_version()}
        if config is not None:
            head["config"] = full_config(config)
        obj = {**head, **obj}
    plain = json.loads(json.dumps(obj, default=_json_default))  # NumPy, Quantities -> JSON types
    text = json.dumps(_strict(plain), indent=2, allow_nan=False)
    with atomic_path(path) as tmp:
        _write_bytes(Path(tmp), text.encode())
    return Path(path)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_tmp(folder) -> list[Path]:
    """Remove ``*.<pid>.tmp`` files left in ``folder`` by processes that no longer run (kill -9)."""
    removed = []
    for p in Path(folder).glob("*.tmp"):
        parts = p.name.split(".")
        if len(parts) >= 3 and parts[-2].isdigit() and not _pid_alive(int(parts[-2])):
            with contextlib.suppress(OSError):
                p.unlink()
                removed.append(p)
    return removed


class RunFolder:
    """A simulation's output folder: claimed by one run, with a ``manifest.json`` of that run's files.

    * A new run refuses a folder that holds files (another run's outputs) unless ``overwrite``;
      with ``overwrite`` it first removes the files listed in the old manifest and those matching
      ``own_patterns`` (the command's own output names), so old snapshots cannot be mistaken for
      this run's. Files that match neither are named in the error and left alone.
    * ``restart=True`` continues the run recorded in the manifest; the driver removes files it will
      rewrite with :meth:`remove`.
    * :meth:`add` records each file as it is written; :meth:`finish` marks the run ``complete``
      (or ``failed`` with a reason). The manifest is rewritten atomically after every change.

    Under MPI only rank 0 touches the disk; an error is broadcast so that every rank raises it.
    """

    MANIFEST = "manifest.json"

    def __init__(self, path, *, command: str, overwrite: bool = False, restart: bool = False,
                 own_patterns=(), comm=None):
        self.path = Path(path)
        self.command = command
        self.overwrite = overwrite
        self.restart = restart
        self.own_patterns = tuple(own_patterns)
        self.comm = comm
        self.rank = getattr(comm, "rank", 0) if comm is not None else 0
        self.manifest: dict = {}

    # -- claiming ---------------------------------------------------------------------------------
    def claim(self) -> "RunFolder":
        """Check writability and ownership before any work; raise :class:`OutputError` if refused."""
        msg = None
        if self.rank == 0:
            try:
                self._claim_rank0()
            except OutputError as exc:
                msg = str(exc)
        if self.comm is not None and getattr(self.comm, "size", 1) > 1:
            msg = self.comm.bcast(msg, root=0)
            self.manifest = self.comm.bcast(self.manifest, root=0)
        if msg is not None:
            raise OutputError(msg)
        return self

    def _read_manifest(self) -> dict:
        p = self.path / self.MANIFEST
        if not p.is_file():
            return {}
        try:
            return json.loads(p.read_text())
        except (OSError, ValueError):
            return {}

    def _claim_rank0(self) -> None:
        check_writable(self.path, directory=True)
        remove_stale_tmp(self.path)
        old = self._read_manifest()
        if self.restart:
            self.manifest = old or self._new_manifest()
            self.manifest["status"] = "running"
            self.manifest.setdefault("restarts", []).append(_now())
            self._write_manifest()
            return
        present = sorted(p.name for p in self.path.iterdir() if not p.name.startswith("."))
        if present == [self.MANIFEST] and not old.get("files"):
            present = []  # a run that died before writing any file (MPI abort, kill -9): nothing to protect
        if present:
            if not self.overwrite:
                shown = ", ".join(present[:3]) + (", ..." if len(present) > 3 else "")
                raise OutputError(f"output folder '{self.path}' already holds {len(present)} file(s) ({shown}) "
                                  "of another run; choose an empty folder, or overwrite=true / --overwrite "
                                  "to remove that run's files first")
            self._clear(old, present)
        self.manifest = self._new_manifest()
        self._write_manifest()

    def _clear(self, old: dict, present: list[str]) -> None:
        listed = {f["name"] for f in old.get("files", [])} | {self.MANIFEST}
        ours = set(listed)
        for pat in self.own_patterns:
            ours |= {p.name for p in self.path.glob(pat)}
        foreign = [n for n in present if n not in ours]
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise OutputError(f"output folder '{self.path}' holds files that are not outputs of "
                              f"'{self.command}' ({shown}); refusing to remove them, choose another folder")
        for name in sorted(ours):
            try:
                (self.path / name).unlink()
            except FileNotFoundError:  # e.g. no manifest.json: a folder written before manifests
                pass
            except OSError as exc:
                raise _output_error(self.path / name, exc) from exc

    def _new_manifest(self) -> dict:
        return {"code": "scaleforge", "code_version": code_version(), "command": self.command,
                "status": "running", "started": _now(), "files": []}

    def _write_manifest(self) -> None:
        self.manifest["updated"] = _now()
        write_json(self.path / self.MANIFEST, self.manifest)

    # -- recording ----------------------------------------------------------------------------------
    @property
    def files(self) -> list[str]:
        """Names (relative to the folder) of this run's files, in the order written."""
        return [f["name"] for f in self.manifest.get("files", [])]

    def add(self, path, **meta) -> None:
        """Record ``path`` (inside the folder) as one of this run's outputs (rank 0 writes)."""
        name = Path(path).name
        files = [f for f in self.manifest.setdefault("files", []) if f["name"] != name]
        files.append({"name": name, "written": _now(), **meta})
        self.manifest["files"] = files
        if self.rank == 0:
            self._write_manifest()

    def remove(self, name) -> None:
        """Delete one of this run's files (e.g. snapshots a restart will rewrite) and unlist it."""
        name = Path(name).name
        self.manifest["files"] = [f for f in self.manifest.get("files", []) if f["name"] != name]
        if self.rank == 0:
            with contextlib.suppress(FileNotFoundError):
                (self.path / name).unlink()
            self._write_manifest()

    def finish(self, ok: bool = True, reason: str | None = None, **summary) -> None:
        """Mark the run ``complete`` (or ``failed`` with ``reason``) in the manifest."""
        self.manifest["status"] = "complete" if ok else "failed"
        if reason:
            self.manifest["reason"] = reason
        self.manifest.update(summary)
        if self.rank == 0:
            self._write_manifest()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat()
