"""Typed tables into frozen dataclasses, for recipes, target profiles and keyword options.

A TOML value, a CLI value and a Python keyword are checked against the field's
annotation here, in one place, so each gets the same one-line error naming its key.
Nothing is coerced that could hide a mistake: ``epochs = 2.5`` is not 2, ``true`` is
not a thread count, and ``exclude = "conv1"`` is not the characters c, o, n, v, 1.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import types
import typing
from typing import Any

from edgekit._compat import StrEnum
from edgekit.errors import OptionError

_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


@functools.cache
def hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def check_fields(obj: Any) -> None:
    """Check and normalise every field of a frozen dataclass in place (from ``__post_init__``).

    A field's ``metadata["parse"]`` runs first, for the spellings a person writes
    (``image_size = 32`` for 32x32, ``m_by_n = "2:4"``).
    """
    types_ = hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        parse = f.metadata.get("parse")
        if parse is not None and value is not None:
            value = parse(value, f.name)
        checked = coerce(types_[f.name], value, f.name)
        if checked is not getattr(obj, f.name):
            object.__setattr__(obj, f.name, checked)


def check_non_negative(obj: Any) -> None:
    """Every count and every number of a checked dataclass (``check_fields`` first) is at
    least zero; a NaN is no number of anything."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            raise OptionError(f.name, f"must not be negative, got {value}")
        if isinstance(value, float) and (value < 0 or value != value):
            raise OptionError(f.name, f"must be a non-negative number, got {value}")


def from_table(cls: type, table: Any, key: str = "", skip: frozenset[str] = frozenset()) -> Any:
    """``cls(**table)``, naming an unknown key (as ``key.name``) with the known ones."""
    if not isinstance(table, dict):
        raise OptionError(key, f"must be a table, got {table!r}")
    names = [f.name for f in dataclasses.fields(cls) if f.name not in skip]
    unknown = sorted(set(table) - set(names))
    # OptionErrors, so that a table inside a table names the whole path (cost_model.float32.x).
    if unknown:
        raise OptionError(_join(key, unknown[0]), f"(known: {', '.join(sorted(names))})",
                          template="unknown key {key} {problem}")
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in table and f.name not in skip
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise OptionError(_join(key, missing[0]), "", template="missing key {key}")
    try:
        return cls(**table)
    except OptionError as exc:
        raise exc.within(key) from None


def coerce(hint: Any, value: Any, key: str) -> Any:
    """``value`` as the annotation ``hint`` wants it, or a ConfigError naming ``key``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        for arg in inner:
            if isinstance(arg, type) and not issubclass(arg, (int, float, str)) and isinstance(value, arg):
                return value
        errors = []
        for arg in inner:
            try:
                return coerce(arg, value, key)
            except OptionError as exc:
                errors.append(exc)
        raise errors[0]
    if origin is tuple:
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise OptionError(key, f"must be a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(args[0], v, f"{key}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise OptionError(key, f"must be a list of {len(args)}, got {list(value)!r}")
        return tuple(coerce(a, v, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return value
        return from_table(hint, value, key)
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        try:
            return hint(value)
        except ValueError:
            choices = ", ".join(m.value for m in hint)
            raise OptionError(key, f"is {value!r}; use one of {choices}") from None
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is str and isinstance(value, os.PathLike):
        return os.fspath(value)
    # bool is an int in Python; a TOML `true` must not pass as a count.
    if isinstance(value, hint) and not (hint in (int, float) and isinstance(value, bool)):
        return value
    name = _NAMES.get(hint, getattr(hint, "__name__", str(hint)))
    raise OptionError(key, f"must be {name}, got {value!r}")


def pair(value: Any, key: str) -> Any:
    """``"2:4"`` or ``"2x4"`` as ``(2, 4)``; anything else is left for the type check."""
    if isinstance(value, str):
        parts = value.replace("x", ":").split(":")
        try:
            return tuple(int(p) for p in parts) if len(parts) == 2 else value
        except ValueError:
            raise OptionError(key, f"must be two integers like 2:4, got {value!r}") from None
    return value


def square(value: Any, key: str) -> Any:
    """One side for a square, as Keras' image sizes are usually given."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    return value


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def read_toml(path: Any, what: str) -> dict:
    """The table in the TOML file ``path``; a missing, unreadable or invalid file is one
    ConfigError naming ``what`` and the file ("recipe x.toml: not valid TOML: ...")."""
    from pathlib import Path

    from edgekit._compat import tomllib
    from edgekit.errors import ConfigError

    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{what} {path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {path}: is a folder, not a .toml file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} {path}: not valid TOML: {exc}") from None
