"""Recipes: the options of a build written down (TOML), so any build can be replayed exactly.

A recipe holds the keyword options of :func:`edgekit.build` at its top level and the
optimisation stages as ``[[stages]]`` tables, e.g.::

    backbone = "small_cnn"
    image_size = 32
    epochs = 25

    [[stages]]
    kind = "prune"
    sparsity = 0.5

    [[stages]]
    kind = "qat"

Every build writes its effective recipe to ``recipe.toml`` beside the model.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

from edgekit._compat import tomllib
from edgekit.errors import ConfigError

# build() options that describe the run, not the model: never part of a recipe.
_NOT_RECIPE = {"data", "out", "progress"}


def recipe_keys() -> set[str]:
    from edgekit.builder import build

    return set(inspect.signature(build).parameters) - _NOT_RECIPE


def load_recipe(path: str | Path) -> dict:
    """Read a recipe into build() keyword options, rejecting unknown keys by name."""
    path = Path(path)
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"recipe {path}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"recipe {path}: not valid TOML: {exc}") from None
    known = recipe_keys()
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"recipe {path}: unknown option {unknown[0]!r} (known: {', '.join(sorted(known))})")
    stages = table.get("stages", [])
    if not isinstance(stages, list) or not all(isinstance(s, dict) for s in stages):
        raise ConfigError(f"recipe {path}: stages must be [[stages]] tables")
    if "image_size" in table and isinstance(table["image_size"], list):
        table["image_size"] = tuple(table["image_size"])
    return table


def dump_recipe(recipe: dict) -> str:
    """TOML text for a recipe dict (scalars, lists, tables and [[stages]])."""
    lines = ["# edgekit recipe: replay with  edgekit build DATA --recipe recipe.toml", ""]
    tables = []
    for key, value in recipe.items():
        if key == "stages" or isinstance(value, dict):
            continue
        if value is None:
            lines.append(f"# {key} is not set")
            continue
        lines.append(f"{key} = {_value(value)}")
    for key, value in recipe.items():
        if isinstance(value, dict):
            tables.append(f"\n[{key}]")
            tables.extend(f"{k} = {_value(v)}" for k, v in value.items() if v is not None)
    for stage in recipe.get("stages", []):
        tables.append("\n[[stages]]")
        tables.extend(f"{k} = {_value(v)}" for k, v in stage.items() if v is not None)
    return "\n".join(lines + tables) + "\n"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a TOML basic string has JSON's escapes
