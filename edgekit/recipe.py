"""Recipes: a :class:`~edgekit.config.BuildConfig` written down as TOML, so any build can be replayed.

A recipe holds the options by their flat names at its top level, augmentation and
distillation as ``[augment]`` and ``[distill]`` tables, and the optimisation stages
as ``[[stages]]`` tables, e.g.::

    backbone = "small_cnn"
    image_size = 32
    epochs = 25

    [[stages]]
    kind = "prune"
    sparsity = 0.5

    [[stages]]
    kind = "qat"

Every build writes its effective recipe to ``recipe.toml`` beside the model. Options
that describe one run (the output folder, a separate validation folder) are not part
of a recipe.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from edgekit._compat import StrEnum
from edgekit.config import BuildConfig, option_fields
from edgekit.errors import ConfigError
from edgekit.optimization.stages import stage_config
from edgekit.tables import read_toml
from edgekit.targets import TargetProfile


def recipe_keys(config: Any = None) -> set[str]:
    """The keys a recipe of ``config``'s action may hold (a build's by default)."""
    if config is None:
        return {name for name, f in option_fields().items() if f.metadata.get("recipe", True)}
    return {name for name, _, f in config.options() if f.metadata.get("recipe", True)}


def load_recipe(path: str | Path, base: Any = None) -> Any:
    """The recipe at ``path`` over ``base`` (a build's defaults, or another action's
    configuration such as a ConvertConfig); errors name the file and the key."""
    path = Path(path)
    table = read_toml(path, "recipe")
    known = recipe_keys(base)
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"recipe {path}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
    try:
        return (base or BuildConfig()).replace(**table)
    except ConfigError as exc:
        raise ConfigError(f"recipe {path}: {exc}") from None


def recipe_dict(config: Any) -> dict:
    """The recipe options of ``config`` as plain TOML-able values, in recipe order."""
    recipe: dict[str, Any] = {}
    for name, value, f in config.options():
        if not f.metadata.get("recipe", True):
            continue
        recipe[name] = _plain(value, name)
    return recipe


def dump_recipe(config: Any, replay: str = "edgekit build DATA --recipe recipe.toml") -> str:
    """TOML text for ``config``'s recipe: scalars first, then tables, then [[stages]]."""
    recipe = recipe_dict(config)
    lines = [f"# edgekit recipe: replay with  {replay}", ""]
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


def _plain(value: Any, name: str) -> Any:
    if name == "stages":
        return [stage_config(stage) for stage in value]
    if isinstance(value, TargetProfile):
        # A shipped profile by its id; a user's by the file it came from, which replays it.
        return value.id if value.shipped or not value.source else value.source
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name), f.name) for f in dataclasses.fields(value)}
    if isinstance(value, StrEnum):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a TOML basic string has JSON's escapes
