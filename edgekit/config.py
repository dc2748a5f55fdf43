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
from typing import Any

from edgekit._compat import StrEnum
from edgekit.data.augment import Augmentation
from edgekit.errors import ConfigError, OptionError
from edgekit.models.backbones import Backbone
from edgekit.models.strategy import Strategy
from edgekit.models.training import DEFAULT_BATCH_SIZE, DEFAULT_PATIENCE
from edgekit.optimization.distill import Distill
from edgekit.optimization.stages import Stage, stage_from_config
from edgekit.options import (
    ConversionOptions,
    GateOptions,
    MetadataOptions,
    OutputOptions,
    Section,
    Sectioned,
    TargetOptions,
    fraction,
    option,
    section,
    trust_model_code_option,
)
from edgekit.tables import check_fields, square


def _positive(obj: Any, *names: str) -> None:
    for name in names:
        if not getattr(obj, name) > 0:
            raise OptionError(name, f"must be positive, got {getattr(obj, name)}")


@dataclass(frozen=True)
class AccuracyOptions(Section):
    """A build's gates on labelled validation accuracy, each step against the model it was given."""

    max_accuracy_drop: float = option(
        0.05, "Fail when the .tflite's validation accuracy is this much below the Keras model it was "
              "converted from (after any stages).")
    max_stage_drop: float = option(
        0.05, "Fail when the optimisation stages together cost more validation accuracy than this.")
    max_map_drop: float = option(
        0.02, "--task detect: fail when the .tflite's validation mAP@[.5:.95] (COCO's own) is this much "
              "below the Keras model's.")

    def __post_init__(self) -> None:
        super().__post_init__()
        fraction(self, "max_accuracy_drop")
        fraction(self, "max_stage_drop")
        fraction(self, "max_map_drop")


class Task(StrEnum):
    CLASSIFY = "classify"
    DETECT = "detect"


@dataclass(frozen=True)
class ModelConfig(Section):
    task: Task = option(
        Task.CLASSIFY, "classify: one label per image, DATA a folder per class. detect: boxes, DATA a COCO "
                       "(annotations.json), Pascal VOC (Annotations/, JPEGImages/) or YOLO (images/, labels/) "
                       "folder; the .tflite ends in TFLite_Detection_PostProcess.")
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
    max_detections: int = option(25, "--task detect: the most boxes the .tflite returns per image.")
    box_copies: int = option(
        3, "--task detect: flipped and cropped copies of each training image trained on as well, boxes moved "
           "with the pixels (0: none; --augment applies to classifiers).")

    def __post_init__(self) -> None:
        check_fields(self)
        if self.image_size is not None and min(self.image_size) < 1:
            raise OptionError("image_size", f"must be positive, got {list(self.image_size)}")
        if not 0 < self.alpha <= 2:
            raise OptionError("alpha", f"must be in (0, 2], got {self.alpha}")
        fraction(self, "dropout", high_open=True)
        if self.max_detections < 1:
            raise OptionError("max_detections", f"must be at least 1, got {self.max_detections}")
        if self.box_copies < 0:
            raise OptionError("box_copies", f"must not be negative, got {self.box_copies}")

    @property
    def resolved_weights(self) -> str:
        """What ``weights`` means when it is not given: nothing to download for the small CNN."""
        if self.weights is not None:
            return self.weights
        return "none" if self.backbone == Backbone.SMALL_CNN else "imagenet"


@dataclass(frozen=True)
class TrainingConfig(Section):
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
    batch_size: int = option(DEFAULT_BATCH_SIZE, "Training images per step.")
    patience: int = option(
        DEFAULT_PATIENCE, "Early stopping: epochs without validation gain (0 runs every epoch); each phase and "
                          "stage ends on its best epoch's weights. Stages use half of it.")
    cache_features: bool = option(
        True, "With a pretrained backbone, train the head on backbone features computed once (plus "
              "augmented copies) instead of running the frozen backbone every epoch.")
    refit: bool = option(
        False, "After training and the stages are judged on the held-out validation images, train the "
               "model that ships again on training plus validation images, each phase and stage for the "
               "epochs validation chose. The held-out figures are reported as such; the shipped model's "
               "are measured on images it saw.")
    refit_from: str | None = option(
        None, "A build folder of the same recipe (without refit) whose recorded training the refit "
              "replays, instead of training on the split first.", recipe=False, cli=False)
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
class DataConfig(Section):
    val_split: float = option(0.2, "Fraction of each class held out for validation (stratified, seeded).")
    val_dir: str | None = option(
        None, "A separate validation folder with the same class sub-folders (replaces --val-split). Not "
              "recorded in recipe.toml: a replay on other data splits that data.", recipe=False)
    strict: bool = option(False, "Stop on an unreadable image instead of skipping it.")

    def __post_init__(self) -> None:
        check_fields(self)
        fraction(self, "val_split", low_open=True, high_open=True)


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


@dataclass(frozen=True)
class BuildConfig(Sectioned):
    """Everything ``edgekit build`` does, as one value: a recipe, plus where to write."""

    target: TargetOptions = section(TargetOptions)
    accuracy: AccuracyOptions = section(AccuracyOptions)
    gates: GateOptions = section(GateOptions)
    conversion: ConversionOptions = section(ConversionOptions)
    model: ModelConfig = section(ModelConfig)
    training: TrainingConfig = section(TrainingConfig)
    data: DataConfig = section(DataConfig)
    augment: Augmentation = field(
        default_factory=Augmentation.off,
        metadata={"parse": _augment, "help": (
            "Training-time augmentation: none; default (horizontal flip, rotation 0.05, zoom, translation and "
            "contrast 0.1); or overrides of default like 'flip=none,rotation=0.1,noise=4' (flip, rotation, "
            "zoom, translation, contrast, noise). Training images only."), "recipe": True, "cli": True})
    distill: Distill | None = field(default=None, metadata={"parse": _distill})
    stages: tuple[Stage, ...] = field(default=(), metadata={"parse": _stages})
    metadata: MetadataOptions = section(MetadataOptions)
    trust_model_code: bool = trust_model_code_option()
    # Python only: False when the caller has converted and checked this very architecture on
    # the target already (edgekit tune sizes each candidate so), sparing the build its
    # pre-flight conversion (9 s for a 224-pixel MobileNet on 2 cores).
    preflight_conversion: bool = field(default=True, metadata={"cli": False, "recipe": False})
    output: OutputOptions = section(OutputOptions, out="build")

    def __post_init__(self) -> None:
        check_fields(self)


def option_owners() -> dict[str, str | None]:
    """Each flat build option name -> the section holding it (None: a field of BuildConfig itself)."""
    return BuildConfig.owners()


def option_fields() -> dict[str, dataclasses.Field]:
    """Each flat build option name -> its dataclass field (default, help, recipe and CLI metadata)."""
    return {name: f for name, _, f in BuildConfig().options()}
