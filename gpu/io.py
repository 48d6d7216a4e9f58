"""Shared HDF5 output: atomic writes and a standard header of parameters, units and version.

Every driver writes its results through :func:`write_results` (or the
:func:`atomic_path` context manager for custom layouts), so that

* an interrupted or failed run never leaves a half-written file under the real
  name (write ``name.tmp``, then ``os.replace``), and
* every file carries ``/Header`` attributes: ``code``, ``code_version``,
  ``created``, the run parameters, the units of each dataset and the config text.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
from pathlib import Path

import numpy as np


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
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


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


def write_header(group, params: dict | None = None, units: dict | None = None, config_text: str | None = None):
    """Fill an h5py group with the standard header attributes."""
    group.attrs["code"] = "scaleforge"
    group.attrs["code_version"] = code_version()
    group.attrs["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat()
    for k, v in (params or {}).items():
        group.attrs[k] = _attr_value(v)
    if units:
        group.attrs["units"] = json.dumps(units)
    if config_text is not None:
        group.attrs["config"] = config_text


def write_results(path, datasets: dict, params: dict | None = None, units: dict | None = None,
                  config_text: str | None = None, compression: str | None = None):
    """Write ``datasets`` (name -> array, '/'-separated names make groups) atomically.

    Each dataset gets a ``units`` attribute when ``units`` names it.
    """
    import h5py

    units = dict(units or {})
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            write_header(f.create_group("Header"), params, units, config_text)
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


def write_json(path, obj) -> Path:
    """Write JSON atomically (NumPy scalars and arrays converted)."""

    def default(o):
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, np.generic):
            return o.item()
        return str(o)

    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(obj, indent=2, default=default))
    return Path(path)
