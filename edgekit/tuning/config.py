"""The tune configuration: limits, the search's budget and storage, and the build options fixed for every trial.

Target and output are the sections every action shares (``edgekit.options``); every
other build option given to ``tune`` is held in ``build`` and named in ``fixed``, so
it is the same for every trial and, where it is a dimension of the search space
(``backbone``, ``image_size``...), narrows that dimension to the value given.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from edgekit.config import BuildConfig
from edgekit.errors import ConfigError, OptionError
from edgekit.options import OutputOptions, Section, Sectioned, TargetOptions, option, section
from edgekit.tables import check_fields

_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*$")


def parse_duration(value: Any, key: str = "time_budget") -> float:
    """Seconds from ``90``, ``90s``, ``30m``, ``1h30m`` or a number of seconds."""
    if isinstance(value, bool):
        raise OptionError(key, f"must be a duration like 30m, 1h or 90s, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match or not any(match.groups()):
            raise OptionError(key, f"must be a duration like 30m, 1h or 90s, got {value!r}")
        hours, minutes, secs = (float(g) if g else 0.0 for g in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    if not seconds > 0:
        raise OptionError(key, f"must be positive, got {value!r}")
    return seconds


@dataclass(frozen=True)
class LimitOptions(Section):
    """What the chosen model must meet on the target."""

    max_latency_ms: float | None = option(
        None, "Latency limit on the target, in ms (required): measured where the target is this machine or "
              "--remote, else estimated from the target's cost model.")
    max_size_kb: float | None = option(None, "Limit on model.tflite's size in KB (1,000 bytes).")

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("max_latency_ms", "max_size_kb"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise OptionError(name, f"must be positive, got {value}")

    @property
    def max_bytes(self) -> float | None:
        return None if self.max_size_kb is None else self.max_size_kb * 1000


@dataclass(frozen=True)
class SearchOptions(Section):
    """How long the search runs, where it is stored, and how it spends its time."""

    trials: int | None = option(
        None, "Stop after this many trained trials (all workers together; candidates rejected before training "
              "do not count).")
    time_budget: float | None = option(
        None, "Stop after this long, all of the search's runs together (30m, 1h30m, 90s); the trial running at "
              "the end is cut at its next epoch.", parse=parse_duration)
    space: str | None = option(
        None, "A .toml search space that replaces the default's keys: backbones with their alpha and image_size "
              "lists, learning_rate and dropout ranges, prune, cluster and qat choices.")
    storage: str | None = option(
        None, "An Optuna storage URL shared by several workers (postgresql+psycopg://user@host/db, "
              "mysql://..., or a journal file path) [default: study.journal in --out].", recipe=False)
    study: str = option("edgekit-tune", "Study name in the storage: workers with the same name share one search.",
                        recipe=False)
    screen_epochs: int = option(
        3, "Epochs every trial trains before successive halving compares it with the others at the same epoch; "
           "the worse two thirds stop at each rung (3, 9, 27 epochs).")
    baselines: bool = option(
        True, "Train the hand-picked baselines first: the default recipe, and each backbone at width 1.0 and "
              "its standard size, where they fit the limits; they are screened like every trial.")
    finalists: int = option(
        3, "With --remote: the most accurate trials that meet the limits by estimate, measured on the device.")
    refit: bool = option(
        True, "best/ is the chosen trial's recipe trained again on training plus validation images for the "
              "epochs its trial chose (its held-out figures stay in the report); the search keeps time for it. "
              "--no-refit: best/ is the trial's own build.")
    remote: str | None = option(
        None, "user@host[:port] of the target device (edgekit installed there): the finalists are measured on "
              "it, and a target without a cost model is measured there before training.", recipe=False)
    def __post_init__(self) -> None:
        super().__post_init__()
        if self.trials is not None and self.trials < 1:
            raise OptionError("trials", f"must be at least 1, got {self.trials}")
        if self.screen_epochs < 1:
            raise OptionError("screen_epochs", f"must be at least 1, got {self.screen_epochs}")
        if self.finalists < 1:
            raise OptionError("finalists", f"must be at least 1, got {self.finalists}")
        if not self.study:
            raise OptionError("study", "must name a study")


@dataclass(frozen=True)
class TuneConfig(Sectioned):
    """Everything ``edgekit tune`` does, as one value."""

    target: TargetOptions = section(TargetOptions)
    limits: LimitOptions = section(LimitOptions)
    search: SearchOptions = section(SearchOptions)
    # The build options every trial shares, and which of them the caller fixed.
    build: BuildConfig = field(default_factory=BuildConfig, metadata={"cli": False, "recipe": False})
    fixed: tuple[str, ...] = field(default=(), metadata={"cli": False, "recipe": False})
    output: OutputOptions = section(OutputOptions, out="tune")

    def __post_init__(self) -> None:
        check_fields(self)

    def replace(self, **options: Any) -> "TuneConfig":
        """Tune's own options by name; any other build option is fixed for every trial."""
        own = self.owners()
        mine = {k: v for k, v in options.items() if k in own and k not in ("build", "fixed")}
        theirs = {k: v for k, v in options.items() if k not in mine}
        config = super().replace(**mine)
        if theirs:
            build_owners = BuildConfig.owners()
            unknown = sorted(set(theirs) - set(build_owners))
            if unknown:
                known = sorted((set(own) | set(build_owners)) - {"build", "fixed"})
                raise ConfigError(f"unknown option {unknown[0]!r} (known: {', '.join(known)})")
            fixed = tuple(dict.fromkeys([*config.fixed, *theirs]))
            config = dataclasses.replace(config, build=config.build.replace(**theirs), fixed=fixed)
        return config

    def require_limits(self) -> None:
        if self.limits.max_latency_ms is None:
            raise OptionError("max_latency_ms", "is required: the latency limit on the target, in ms",
                              template="--max-latency-ms {problem}")
        if self.search.trials is None and self.search.time_budget is None:
            raise ConfigError("give --trials N or --time-budget DURATION: the search needs an end")
