"""The build configuration: one frozen, nested object that defines every build option.

Each option is defined once, here, with its default and its help text. A recipe
(``recipe.py``), the CLI's flags (``cli.py``) and ``build()``'s keyword arguments
all feed it by the option's one flat name (``epochs``, ``target``), which is unique
across sections. Construction checks every field's type and range, so a bad value
fails with its name before anything is read, downloaded or trained.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Iterator

from edgekit.data.augment import Augmentation
from edgekit.errors import ConfigError, OptionError
from edgekit.models.backbones import Backbone
from edgekit.models.strategy import Strategy
from edgekit.optimize.distill import Distill
from edgekit.optimize.stages import Stage, stage_from_config
from edgekit.progress import Progress
from edgekit.tables import check_fields, square
from edgekit.targets import TargetProfile


def option(default: Any, help: str, *, recipe: bool = True, cli: bool = True, short: str | None = None,
           parse: Any = None) -> Any:
    """A field with what the CLI and the recipe need to know about it.

    ``recipe=False``: it describes one run (where the data or output lives), so a
    replay on other data does not inherit it.
    """
    metadata = {"help": help, "recipe": recipe, "cli": cli, "short": short, "parse": parse}
    return field(default=default, metadata={k: v for k, v in metadata.items() if v is not None})


def trust_model_code_option() -> Any:
    """The one definition of --trust-model-code, for every action that loads a model file."""
    return option(
        False, "Load model files (the model, --weights, --distill-from) even when they carry code: Lambda "
               "layers, custom objects, SavedModel ops that touch files or run Python. Without it such a file "
               "is refused before it loads. Recorded in report.json; never in recipe.toml.", recipe=False)


def _positive(obj: Any, *names: str) -> None:
    for name in names:
        if not getattr(obj, name) > 0:
            raise OptionError(name, f"must be positive, got {getattr(obj, name)}")


def _fraction(obj: Any, name: str, low_open: bool = False, high_open: bool = False) -> None:
    value = getattr(obj, name)
    ok = (0 < value if low_open else 0 <= value) and (value < 1 if high_open else value <= 1)
    if not ok:
        bounds = ("(" if low_open else "[") + "0, 1" + (")" if high_open else "]")
        raise OptionError(name, f"must be in {bounds}, got {value}")


@dataclass(frozen=True)
class TargetConfig:
    target: str | TargetProfile = option(
        "cpu", "Target profile id (see `edgekit targets`) or a path to a .toml profile.", short="-t")
    max_accuracy_drop: float = option(
        0.05, "Fail when the .tflite's validation accuracy is this much below the Keras model it was "
              "converted from (after any stages).")
    max_stage_drop: float = option(
        0.05, "Fail when the optimisation stages together cost more validation accuracy than this.")
    allow_cpu_fallback: bool = option(
        False, "Accept a model that runs partly on the CPU instead of failing (see `edgekit check`).")

    def __post_init__(self) -> None:
        check_fields(self)
        _fraction(self, "max_accuracy_drop")
        _fraction(self, "max_stage_drop")


@dataclass(frozen=True)
class ModelConfig:
    backbone: Backbone = option(Backbone.MOBILENET_V2, "Feature extractor; small_cnn is for thumbnails (8-64 px).",
                                short="-b")
    weights: str | None = option(
        None, "Backbone weights: imagenet (Keras download, cached in ~/.keras/models), none, a .h5 weights "
              "file of the backbone, or a .keras model to reuse as backbone [default: imagenet; none for "
              "small_cnn].", short="-w")
    image_size: tuple[int, int] | None = option(
        None, "Square input size in pixels [default: 224, or 32 for small_cnn; a .keras backbone's own].",
        parse=square)
    alpha: float = option(1.0, "Width multiplier of the backbone.")
    dropout: float = option(0.2, "Dropout before the classifier, during training only.")
    trust_model_code: bool = trust_model_code_option()

    def __post_init__(self) -> None:
        check_fields(self)
        if self.image_size is not None and min(self.image_size) < 1:
            raise OptionError("image_size", f"must be positive, got {list(self.image_size)}")
        if not 0 < self.alpha <= 2:
            raise OptionError("alpha", f"must be in (0, 2], got {self.alpha}")
        _fraction(self, "dropout", high_open=True)

    @property
    def resolved_weights(self) -> str:
        """What ``weights`` means when it is not given: nothing to download for the small CNN."""
        if self.weights is not None:
            return self.weights
        return "none" if self.backbone == Backbone.SMALL_CNN else "imagenet"


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int = option(
        40, "Most epochs of the head phase (the only phase with --weights none); early stopping usually "
            "ends it sooner. An epoch is one pass, or whole passes of at least 25 steps.")
    learning_rate: float = option(
        1e-3, "Adam's starting rate for the head phase (or the only phase from scratch); cut by 0.3 when "
              "validation loss stalls.")
    fine_tune_epochs: int = option(
        20, "Most epochs fine-tuning the backbone's top layers (added to --epochs with --weights none).")
    fine_tune_layers: int = option(
        20, "How many of the backbone's top layers to fine-tune (BatchNorm stays frozen).")
    fine_tune_learning_rate: float | None = option(
        None, "Starting rate of the fine-tuning phase [default: learning rate / 10].")
    batch_size: int = option(32, "Training images per step.")
    patience: int = option(
        6, "Early stopping: epochs without validation gain (0 runs every epoch); each phase and stage ends "
           "on its best epoch's weights. Stages use half of it.")
    cache_features: bool = option(
        True, "With a pretrained backbone, train the head on backbone features computed once (plus "
              "augmented copies) instead of running the frozen backbone every epoch.")
    seed: int = option(
        0, "Seeds the split, shuffling, augmentation and initial weights: the same seed gives the same "
           "model, byte for byte.")
    strategy: Strategy = option(
        Strategy.DEFAULT, "tf.distribute strategy: mirrored uses every local GPU; multiworker reads TF_CONFIG.")

    def __post_init__(self) -> None:
        check_fields(self)
        for name in ("epochs", "fine_tune_epochs", "fine_tune_layers", "patience"):
            if getattr(self, name) < 0:
                raise OptionError(name, f"must not be negative, got {getattr(self, name)}")
        if self.epochs + self.fine_tune_epochs == 0:
            raise ConfigError("epochs and fine_tune_epochs are both 0: nothing would be trained")
        if self.batch_size < 1:
            raise OptionError("batch_size", f"must be at least 1, got {self.batch_size}")
        _positive(self, "learning_rate")
        if self.fine_tune_learning_rate is not None:
            _positive(self, "fine_tune_learning_rate")

    @property
    def fine_tune_rate(self) -> float:
        # A tenth: the pretrained features move a little rather than being overwritten.
        if self.fine_tune_learning_rate is not None:
            return self.fine_tune_learning_rate
        return self.learning_rate / 10


@dataclass(frozen=True)
class DataConfig:
    val_split: float = option(0.2, "Fraction of each class held out for validation (stratified, seeded).")
    val_dir: str | None = option(
        None, "A separate validation folder with the same class sub-folders (replaces --val-split). Not "
              "recorded in recipe.toml: a replay on other data splits that data.", recipe=False)
    strict: bool = option(False, "Stop on an unreadable image instead of skipping it.")

    def __post_init__(self) -> None:
        check_fields(self)
        _fraction(self, "val_split", low_open=True, high_open=True)


@dataclass(frozen=True)
class MetadataConfig:
    """What the model's TFLite metadata says about it (apps' clients read it)."""

    model_name: str | None = option(
        None, "Model name in the .tflite's metadata [default: the data folder's name and the backbone].")
    model_description: str | None = option(
        None, "Description in the metadata [default: the classes, backbone, input size and target].")
    model_version: str = option("1", "Version in the metadata.")
    model_author: str = option("", "Author in the metadata.")
    model_license: str = option("", "Licence in the metadata.")

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class OutputConfig:
    out: str = option("build", "Output folder: model.tflite, model.keras, labels.txt, report.json, recipe.toml. "
                               "Replaced atomically.", recipe=False, short="-o")
    # The CLI's --quiet; a Progress routes the lines elsewhere from Python.
    progress: bool | Progress = option(True, "Progress lines on stderr.", recipe=False, cli=False)

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.out:
            raise OptionError("out", "must name a folder")


def _augment(value: Any, key: str) -> Any:
    if isinstance(value, str):
        return Augmentation.parse(value)
    return value


def _stages(value: Any, key: str) -> Any:
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        raise OptionError(key, f"must be a list of stages, got {value!r}")
    stages = []
    for i, stage in enumerate(value):
        try:
            stages.append(stage_from_config(stage) if isinstance(stage, dict) else stage)
        except ConfigError as exc:
            raise ConfigError(f"stage {i + 1}: {exc}") from None
    return tuple(stages)


def _distill(value: Any, key: str) -> Any:
    # A teacher alone: the path (or "self") with the default temperature and alpha.
    return Distill(teacher=value) if isinstance(value, str) else value


# Sections whose fields are options under their own names; augment, stages and distill are
# options themselves (a table, a list of tables, a table).
_SECTIONS = ("target", "model", "training", "data", "metadata", "output")


@dataclass(frozen=True)
class BuildConfig:
    """Everything ``edgekit build`` does, as one value: a recipe, plus where to write."""

    target: TargetConfig = field(default_factory=TargetConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augment: Augmentation = field(
        default_factory=Augmentation.off,
        metadata={"parse": _augment, "help": (
            "Training-time augmentation: none; default (horizontal flip, rotation 0.05, zoom, translation and "
            "contrast 0.1); or overrides of default like 'flip=none,rotation=0.1,noise=4' (flip, rotation, "
            "zoom, translation, contrast, noise). Training images only."), "recipe": True, "cli": True})
    distill: Distill | None = field(default=None, metadata={"parse": _distill})
    stages: tuple[Stage, ...] = field(default=(), metadata={"parse": _stages})
    metadata: MetadataConfig = field(default_factory=MetadataConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    def __post_init__(self) -> None:
        check_fields(self)

    def replace(self, **options: Any) -> BuildConfig:
        """A copy with options changed by their flat names; an unknown name is an error."""
        owners = option_owners()
        by_section: dict[str, dict] = {}
        top: dict[str, Any] = {}
        for name, value in options.items():
            if name not in owners:
                raise ConfigError(f"unknown option {name!r} (known: {', '.join(sorted(owners))})")
            section = owners[name]
            if section is None:
                top[name] = value
            else:
                by_section.setdefault(section, {})[name] = value
        for section, values in by_section.items():
            top[section] = dataclasses.replace(getattr(self, section), **values)
        return dataclasses.replace(self, **top)

    def options(self) -> Iterator[tuple[str, Any, dataclasses.Field]]:
        """(flat name, value, field) for every option, in recipe order."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in _SECTIONS:
                for inner in dataclasses.fields(value):
                    yield inner.name, getattr(value, inner.name), inner
            else:
                yield f.name, value, f


def option_owners() -> dict[str, str | None]:
    """Each flat option name -> the section holding it (None: a field of BuildConfig itself)."""
    owners: dict[str, str | None] = {}
    hints = {f.name: f for f in dataclasses.fields(BuildConfig)}
    for name in hints:
        if name in _SECTIONS:
            section_type = type(BuildConfig.__dataclass_fields__[name].default_factory())
            for inner in dataclasses.fields(section_type):
                owners[inner.name] = name
        else:
            owners[name] = None
    return owners


def option_fields() -> dict[str, dataclasses.Field]:
    """Each flat option name -> its dataclass field (default, help, recipe and CLI metadata)."""
    fields: dict[str, dataclasses.Field] = {}
    for name, _, f in BuildConfig().options():
        fields[name] = f
    return fields
