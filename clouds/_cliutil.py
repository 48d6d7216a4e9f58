"""Helpers shared by the ``python -m clouds`` commands: reading a config file, one-line warnings."""
from __future__ import annotations

import contextlib
import warnings

from gpu.config import ConfigError, from_dict, load_toml


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


@contextlib.contextmanager
def one_line_warnings():
    """Warnings printed while running a command read ``warning: <message>`` (one line, no source)."""
    old = warnings.formatwarning
    warnings.formatwarning = lambda message, category, *a, **k: f"warning: {message}\n"
    try:
        yield
    finally:
        warnings.formatwarning = old
