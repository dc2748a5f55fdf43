"""Options shared by every action, defined once and composed into each action's configuration.

An action's configuration (``BuildConfig``, ``ConvertConfig``) is a frozen dataclass of
*sections*; a section's fields are options under one flat name each (``target``,
``min_snr``, ``out``), unique across the action. A recipe, the CLI's flags and Python
keywords all feed the configuration by those flat names (:meth:`Sectioned.replace`),
and :meth:`Sectioned.options` lists them, with their help, for the CLI and recipes.
The sections below are the ones every action that converts a model shares.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Iterator

from edgekit.errors import ConfigError, OptionError
from edgekit.progress import Progress
from edgekit.tables import check_fields
from edgekit.targets import TargetProfile


def option(default: Any, help: str, *, recipe: bool = True, cli: bool = True, short: str | None = None,
           parse: Any = None) -> Any:
    """A field with what the CLI and the recipe need to know about it.

    ``recipe=False``: it describes one run (where the data or output lives), so a
    replay on other data does not inherit it.
    """
    metadata = {"help": help, "recipe": recipe, "cli": cli, "short": short, "parse": parse}
    return field(default=default, metadata={k: v for k, v in metadata.items() if v is not None})


class Section:
    """A group of options of an action's configuration, each under its own flat name."""

    def __post_init__(self) -> None:
        check_fields(self)


def section(cls: type, **defaults: Any) -> Any:
    """A configuration field holding section ``cls``, with this action's own ``defaults``."""
    return field(default_factory=lambda: cls(**defaults))


class Sectioned:
    """An action's configuration: sections, plus options that are fields of their own."""

    @classmethod
    def owners(cls) -> dict[str, str | None]:
        """Each flat option name -> the section holding it (None: a field of the configuration)."""
        owners: dict[str, str | None] = {}
        for f in dataclasses.fields(cls):
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            if isinstance(default, Section):
                owners.update({inner.name: f.name for inner in dataclasses.fields(default)})
            else:
                owners[f.name] = None
        return owners

    def replace(self, **options: Any) -> Any:
        """A copy with options changed by their flat names; an unknown name is an error."""
        owners = self.owners()
        by_section: dict[str, dict] = {}
        top: dict[str, Any] = {}
        for name, value in options.items():
            if name not in owners:
                raise ConfigError(f"unknown option {name!r} (known: {', '.join(sorted(owners))})")
            if owners[name] is None:
                top[name] = value
            else:
                by_section.setdefault(owners[name], {})[name] = value
        for name, values in by_section.items():
            top[name] = dataclasses.replace(getattr(self, name), **values)
        return dataclasses.replace(self, **top)

    def options(self) -> Iterator[tuple[str, Any, dataclasses.Field]]:
        """(flat name, value, field) for every option, in recipe order."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Section):
                for inner in dataclasses.fields(value):
                    yield inner.name, getattr(value, inner.name), inner
            else:
                yield f.name, value, f


def fraction(obj: Any, name: str, low_open: bool = False, high_open: bool = False) -> None:
    value = getattr(obj, name)
    ok = (0 < value if low_open else 0 <= value) and (value < 1 if high_open else value <= 1)
    if not ok:
        bounds = ("(" if low_open else "[") + "0, 1" + (")" if high_open else "]")
        raise OptionError(name, f"must be in {bounds}, got {value}")


@dataclass(frozen=True)
class TargetOptions(Section):
    target: str | TargetProfile = option(
        "cpu", "Target profile id (see `edgekit targets`) or a path to a .toml profile: quantisation, I/O "
               "types, batch size and how latency is measured.", short="-t")
    allow_cpu_fallback: bool = option(
        False, "Accept a model that runs partly on the CPU instead of failing (see `edgekit check`).")


@dataclass(frozen=True)
class ConversionOptions(Section):
    bias_correction: bool = option(
        True, "int8 and int16x8: subtract from each convolution's and fully connected op's bias the mean "
              "shift its rounded weights add, measured on the calibration samples (no cost per inference).")
    float_front_end: bool = option(
        True, "int8 (except for the Edge TPU) and float16: compute a LOG's input (an audio model's built-in "
              "spectrogram) in float32, from float32 weights: int8 would round its quiet values to zero, and "
              "the LOG magnifies float16's rounding.")


@dataclass(frozen=True)
class GateOptions(Section):
    """Gates on the one verification of the .tflite against the model it was converted from."""

    min_snr: float | None = option(
        None, "Fail when any output's signal-to-noise ratio against the model it was converted from is below "
              "this many dB [default for convert: 60 float32, 30 float16, 20 dynamic, 15 int8, 25 int16x8; a "
              "build, whose labels gate accuracy, reports the SNR and gates it only when given].")
    min_agreement: float = option(
        0.0, "Fail when a class-score output's top-1 agreement with the model it was converted from is below "
             "this.")

    def __post_init__(self) -> None:
        super().__post_init__()
        fraction(self, "min_agreement")


@dataclass(frozen=True)
class MetadataOptions(Section):
    """What the model's TFLite metadata says about it (apps' clients read it)."""

    model_name: str | None = option(None, "Model name in the .tflite's metadata [default: from the data or file].")
    model_description: str | None = option(None, "Description in the metadata [default: what the model is].")
    model_version: str = option("1", "Version in the metadata.")
    model_author: str = option("", "Author in the metadata.")
    model_license: str = option("", "Licence in the metadata.")


@dataclass(frozen=True)
class OutputOptions(Section):
    out: str = option("out", "Output folder: model.tflite, report.json, report.html, recipe.toml (and a build's "
                             "model.keras and labels.txt). Replaced atomically.", recipe=False, short="-o")
    # The CLI's --quiet; a Progress routes the lines elsewhere from Python.
    progress: bool | Progress = option(True, "Progress lines on stderr.", recipe=False, cli=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.out:
            raise OptionError("out", "must name a folder")


def trust_model_code_option() -> Any:
    """The one definition of --trust-model-code, for every action that loads a model file."""
    return option(
        False, "Load model files (the model, --weights, --distill-from) even when they carry code: Lambda "
               "layers, custom objects, SavedModel ops that touch files or run Python. Without it such a file "
               "is refused before it loads. Recorded in report.json; never in recipe.toml.", recipe=False)


def action_config(default: Sectioned, target: Any, config: Any, options: dict) -> Any:
    """An action's configuration from its call: ``config`` (or the defaults), then the
    ``target`` given second, then keyword ``options``. A configuration object given in
    the target's place is taken as ``config``, as calls written before the target came
    second pass it."""
    if isinstance(target, Sectioned):
        if config is not None:
            raise ConfigError("give the configuration once: second, or as config=")
        target, config = None, target
    config = config if config is not None else default
    if target is not None:
        options = {"target": target, **options}
    return config.replace(**options)

