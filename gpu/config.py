"""TOML configs validated into dataclasses, with errors that name the key and its valid range.

Declare a config as a dataclass whose fields use :func:`param`::

    @dataclasses.dataclass
    class Softening:
        eps: float = param(0.01, gt=0, doc="Plummer-equivalent softening [kpc]")
        kernel: str = param("spline", choices=("spline", "plummer"))

    cfg = load_config("run.toml", Softening)        # or load_config({...}, Softening)

Nested dataclass fields map to TOML tables. Unknown keys, wrong types and
out-of-range values raise :class:`ConfigError` naming the dotted key.

A field declared with ``unit=`` (an astropy unit string, e.g. ``param(50e-6, gt=0, unit="m")``) also
accepts an :class:`astropy.units.Quantity` (from Python) or a quantity string (from TOML, e.g.
``radius = "50 um"``); it is converted to that unit before validation, so kernels see plain SI floats.
"""
from __future__ import annotations

import dataclasses
import sys
import typing
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ConfigError(ValueError):
    """A configuration value is missing, unknown, of the wrong type or out of range.

    It is the project's one "bad input" error: ``python -m <package>`` prints its message as one
    ``error: ...`` line and exits 2 (``gpu.cli``). Subclasses name the kind of input.
    """


def param(default=dataclasses.MISSING, *, gt=None, ge=None, lt=None, le=None, choices=None,
          doc: str = "", default_factory=dataclasses.MISSING, unit: str | None = None,
          allow_inf: bool = False):
    """A dataclass field carrying its valid range / choices (and optional astropy ``unit``) for
    :func:`load_config`.

    Numbers must be finite unless ``allow_inf=True`` (NaN is never accepted): an infinite step,
    power or viscosity passes every one-sided range check and then yields NaN or zero steps.
    """
    meta = {"gt": gt, "ge": ge, "lt": lt, "le": le, "choices": choices, "doc": doc, "unit": unit,
            "allow_inf": allow_inf}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _range_text(meta) -> str:
    parts = []
    if meta.get("gt") is not None:
        parts.append(f"> {meta['gt']}")
    if meta.get("ge") is not None:
        parts.append(f">= {meta['ge']}")
    if meta.get("lt") is not None:
        parts.append(f"< {meta['lt']}")
    if meta.get("le") is not None:
        parts.append(f"<= {meta['le']}")
    return " and ".join(parts)


def check_value(key: str, value, meta: dict) -> None:
    """Raise :class:`ConfigError` if ``value`` violates the range/choices in ``meta``."""
    choices = meta.get("choices")
    if choices is not None:
        vals = value if isinstance(value, (list, tuple)) else [value]
        for v in vals:
            if v not in choices:
                raise ConfigError(f"config key '{key}' = {v!r} is not valid; choose from {list(choices)}")
        return
    if isinstance(value, (list, tuple)):
        for v in value:
            check_value(key, v, meta)
        return
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value != value:
            raise ConfigError(f"config key '{key}' is NaN; it must be a finite number"
                              + (f" {_range_text(meta)}" if _range_text(meta) else ""))
        if value in (float("inf"), float("-inf")) and not meta.get("allow_inf"):
            raise ConfigError(f"config key '{key}' = {value!r} is not finite; it must be a finite number"
                              + (f" {_range_text(meta)}" if _range_text(meta) else ""))
        bad = (
            (meta.get("gt") is not None and not value > meta["gt"])
            or (meta.get("ge") is not None and not value >= meta["ge"])
            or (meta.get("lt") is not None and not value < meta["lt"])
            or (meta.get("le") is not None and not value <= meta["le"])
        )
        if bad:
            raise ConfigError(f"config key '{key}' = {value!r} is out of range; it must be {_range_text(meta)}")


def _to_unit(key: str, value, unit: str):
    """A Quantity or a quantity string converted to a plain number in ``unit``; other values unchanged."""
    is_str = isinstance(value, str)
    if not is_str and not hasattr(value, "unit"):
        return value
    from astropy import units as u

    try:
        q = u.Quantity(value)
        if is_str and q.unit == u.dimensionless_unscaled:
            raise TypeError("no unit")
        return float(q.to_value(u.Unit(unit)))
    except (TypeError, ValueError, u.UnitConversionError) as exc:
        raise ConfigError(f"config key '{key}' = {value!r} cannot be read as a quantity in {unit} ({exc})") from exc


def _coerce(key: str, value, tp):
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"config key '{key}' must be a table, got {type(value).__name__}")
        return from_dict(value, tp, prefix=key + ".")
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config key '{key}' must be a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"config key '{key}' must be an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"config key '{key}' must be true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"config key '{key}' must be a string, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key '{key}' must be a list, got {value!r}")
        args = typing.get_args(tp)
        inner = args[0] if args else None
        if inner is not None and inner is not Ellipsis:
            value = [_coerce(key, v, inner) for v in value]
        return list(value) if origin is list else tuple(value)
    if origin is typing.Union or str(origin) == "types.UnionType":
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        errors = []
        for a in args:
            try:
                return _coerce(key, value, a)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"config key '{key}' has an invalid value {value!r}")
    return value


def from_dict(data: dict, cls, prefix: str = ""):
    """Build dataclass ``cls`` from a dict, validating keys, types and ranges."""
    if not isinstance(data, dict):
        raise ConfigError(f"config section '{prefix.rstrip('.') or '<root>'}' must be a table")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"unknown config key '{prefix}{unknown[0]}'; valid keys here are {sorted(fields)}"
        )
    kwargs = {}
    for name, f in fields.items():
        key = prefix + name
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"config key '{key}' is required")
            continue
        raw = data[name]
        if f.metadata.get("unit"):
            raw = _to_unit(key, raw, f.metadata["unit"])
        value = _coerce(key, raw, hints.get(name, typing.Any))
        if not dataclasses.is_dataclass(value):
            check_value(key, value, f.metadata)
        kwargs[name] = value
    try:
        obj = cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:  # a __post_init__ check: name the section it belongs to
        raise ConfigError(f"config section '{prefix.rstrip('.') or '<root>'}': {exc}") from exc
    # defaults are validated too, so a dataclass default can never be out of range silently
    for name, f in fields.items():
        if name not in data:
            v = getattr(obj, name)
            if not dataclasses.is_dataclass(v):
                check_value(prefix + name, v, f.metadata)
    # cross-key constraints: a config class may define check_config(self, prefix) raising ConfigError
    # (it names the keys involved); it runs after every key of its section is valid on its own
    check = getattr(obj, "check_config", None)
    if callable(check):
        check(prefix)
    return obj


def load_toml(path) -> tuple[dict, str]:
    """Read a TOML file: (parsed dict, raw text). Errors name the file and line."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"config file '{path}' is a directory; give a TOML file")
    if not path.is_file():
        raise ConfigError(f"config file '{path}' does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file '{path}' cannot be read as UTF-8 text ({exc.__class__.__name__}: {exc})") from exc
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file '{path}' is not valid TOML: {exc}") from exc


def load_config(source, cls):
    """Load ``source`` (TOML path, TOML text via ``tomllib``-parsed dict, or dict) into ``cls``."""
    if isinstance(source, (str, Path)) and not (isinstance(source, str) and "\n" in source):
        data, _ = load_toml(source)
    elif isinstance(source, str):
        try:
            data = tomllib.loads(source)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config text is not valid TOML: {exc}") from exc
    else:
        data = dict(source)
    return from_dict(data, cls)


def to_dict(obj) -> dict:
    """A config dataclass as a plain dict (for headers and JSON summaries)."""
    return dataclasses.asdict(obj)


def check_arg(name: str, value, *, gt=None, ge=None, lt=None, le=None, allow_inf: bool = False):
    """Validate one number passed to a library API (not through a config): finite and in range.

    Raises :class:`ConfigError` naming the argument, e.g. ``check_arg("t_end", t, gt=t_now)``;
    returns the value as a float.
    """
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"argument '{name}' must be a number, got {value!r}") from exc
    meta = {"gt": gt, "ge": ge, "lt": lt, "le": le, "allow_inf": allow_inf}
    try:
        check_value(name, v, meta)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace(f"config key '{name}'", f"argument '{name}'", 1)) from None
    return v
