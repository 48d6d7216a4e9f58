"""Output checks shared by the ``python -m clouds`` commands (run before any computation)."""
from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

from gpu.config import ConfigError, from_dict, load_toml
from gpu.io import OutputError, check_writable


def read_config(path, cls):
    """(parsed dict, validated ``cls`` instance, raw text) of a TOML config file.

    An empty file (no tables or keys, e.g. a truncated copy) is refused rather than silently run
    with every default.
    """
    data, text = load_toml(path)
    if not data:
        raise ConfigError(f"config file '{path}' is empty (no tables or keys); give at least one section, "
                          "e.g. an empty table such as [run] to run with every default")
    return data, from_dict(data, cls), text


def check_outputs(paths, overwrite=False, existing=(), allowed=()):
    """Check ``[(flag, path), ...]`` before any work.

    Every path must be writable (:func:`gpu.io.check_writable`) and distinct; a path whose flag is
    in ``existing`` must not exist already (another run's result) unless ``overwrite`` or the path is
    one of ``allowed`` (e.g. the file a restart continues). Raises :class:`gpu.io.OutputError`.
    """
    seen = {}
    allowed = {Path(a).resolve() for a in allowed if a}
    for flag, path in paths:
        if path is None:
            continue
        key = Path(path).resolve()
        if key in seen:
            raise OutputError(f"{flag} and {seen[key]} name the same file '{path}'; give different names")
        seen[key] = flag
        check_writable(path)
        if flag in existing and Path(path).exists() and not overwrite and key not in allowed:
            raise OutputError(f"output file '{path}' ({flag}) already exists (another run's result); "
                              "choose a new name or pass --overwrite")


@contextlib.contextmanager
def one_line_warnings():
    """Warnings printed while running a command read ``warning: <message>`` (one line, no source)."""
    old = warnings.formatwarning
    warnings.formatwarning = lambda message, category, *a, **k: f"warning: {message}\n"
    try:
        yield
    finally:
        warnings.formatwarning = old
