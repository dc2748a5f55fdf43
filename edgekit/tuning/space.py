"""The search space of ``tune``: which models and recipes a trial may be, and how one is drawn.

A candidate is an architecture (backbone, width, input size, where its weights come
from), which fixes latency and size, plus a recipe (learning rate, dropout, augmentation,
stages), which does not. Optuna draws both by name (``model``, ``<backbone>_alpha``,
``<backbone>_image_size``...), each backbone's dimensions under their own names, so
every name always has the same choices.

No TensorFlow here: a space file with a bad key fails before anything is imported.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit.errors import ConfigError
from edgekit.models.backbones import MIN_IMAGE_SIZE, Backbone, WeightsKind, WeightsSpec
from edgekit.tables import read_toml

# Widths with published ImageNet weights (keras.applications): MobileNetV2 0.35-1.4,
# MobileNetV3 0.75 and 1.0, EfficientNet-B0 none but 1.0. The small CNN has none.
_MOBILE_SIZES = (96, 128, 160, 224)
_DEFAULT_BACKBONES = {
    Backbone.SMALL_CNN: ((0.5, 1.0, 2.0), (32, 48, 64)),
    Backbone.MOBILENET_V2: ((0.35, 0.5, 0.75, 1.0), _MOBILE_SIZES),
    Backbone.MOBILENET_V3_SMALL: ((0.75, 1.0), _MOBILE_SIZES),
    Backbone.MOBILENET_V3_SMALL_MINIMALISTIC: ((0.75, 1.0), _MOBILE_SIZES),
    Backbone.MOBILENET_V3_LARGE: ((0.75, 1.0), _MOBILE_SIZES),
    Backbone.MOBILENET_V3_LARGE_MINIMALISTIC: ((0.75, 1.0), _MOBILE_SIZES),
    Backbone.EFFICIENTNET_B0: ((1.0,), (128, 160, 224)),
}
# Where the build's defaults sit, for the baselines.
DEFAULT_LEARNING_RATE = 1e-3
DEFAULT_DROPOUT = 0.2
_KEYS = ("backbones", "learning_rate", "dropout", "augment", "prune", "cluster", "qat")
# --augment values searched by default: none, the default without its horizontal flip (which
# turns a 2 into no digit at all), and the default. At 30 images a class, small_cnn on MNIST
# scored 0.918 on test without augmentation and 0.968 with flip=none; on elpv's 1,575 solar
# cells augmentation lost 1 point. Only validation can tell which a data set wants.
DEFAULT_AUGMENT = ("none", "flip=none", "default")
_BACKBONE_KEYS = ("alpha", "image_size")


@dataclass(frozen=True)
class Widths:
    """One backbone's dimensions: its widths and input sizes."""

    alpha: tuple[float, ...]
    image_size: tuple[int, ...]


@dataclass(frozen=True)
class Architecture:
    """What fixes a model's latency and size: backbone, width, input size (None: a .keras
    backbone's own) and weights (none, imagenet, or a file)."""

    backbone: Backbone
    alpha: float
    image_size: int | None
    weights: str = "none"

    @property
    def key(self) -> str:
        size = "own" if self.image_size is None else str(self.image_size)
        return f"{self.backbone.value}/{self.alpha:g}/{size}/{self.weights}"

    @property
    def pretrained(self) -> bool:
        return self.weights != "none"

    def describe(self) -> str:
        size = "" if self.image_size is None else f"@{self.image_size}"
        weights = "" if not self.pretrained else f" ({Path(self.weights).name} weights)"
        return f"{self.backbone.value} {self.alpha:g}{size}{weights}"


@dataclass(frozen=True)
class Choice:
    """One trial: an architecture and the recipe it is trained with."""

    architecture: Architecture
    learning_rate: float
    dropout: float
    prune: float = 0.0
    cluster: int = 0
    qat: bool = False
    # An --augment value; None where the caller fixed augmentation.
    augment: str | None = None

    def build_options(self) -> dict[str, Any]:
        """The build options that make this trial, by their flat names."""
        arch = self.architecture
        options: dict[str, Any] = {
            "backbone": arch.backbone, "alpha": arch.alpha, "weights": arch.weights,
            "learning_rate": self.learning_rate, "dropout": self.dropout,
        }
        if arch.image_size is not None:
            options["image_size"] = arch.image_size
        if self.augment is not None:
            options["augment"] = self.augment
        stages: list[dict] = []
        if self.prune:
            stages.append({"kind": "prune", "sparsity": self.prune})
        if self.cluster:
            stages.append({"kind": "cluster", "clusters": self.cluster})
        if self.qat:
            stages.append({"kind": "qat"})
        options["stages"] = stages
        return options


@dataclass(frozen=True)
class SearchSpace:
    backbones: tuple[tuple[Backbone, Widths], ...]
    learning_rate: tuple[float, float] = (1e-4, 1e-2)
    dropout: tuple[float, float] = (0.0, 0.5)
    augment: tuple[str, ...] = DEFAULT_AUGMENT
    prune: tuple[float, ...] = (0.0, 0.5)
    cluster: tuple[int, ...] = (0, 16)
    qat: tuple[bool, ...] = (False, True)
    # Pretrained weights beside training from scratch: "imagenet", or a weights file for
    # ``pretrained_backbone`` at ``pretrained_alpha``.
    pretrained: str | None = None
    pretrained_backbone: Backbone = Backbone.MOBILENET_V2
    pretrained_alpha: float = 1.0
    # Searched from scratch too (False when the caller fixed the weights to one file).
    scratch: bool = True
    # The stage dimensions are searched only when the caller did not fix the stages.
    search_stages: bool = True
    # Augmentation is searched only when the caller did not fix --augment.
    search_augment: bool = True

    @property
    def no_augment(self) -> str | None:
        """The augment choice a hand-picked baseline takes: none where the space has it."""
        if not self.search_augment:
            return None
        return "none" if "none" in self.augment else self.augment[0]

    @property
    def widths(self) -> dict[Backbone, Widths]:
        return dict(self.backbones)

    def models(self) -> list[str]:
        """The ``model`` dimension: each backbone from scratch, and pretrained where weights exist."""
        names = [b.value for b, _ in self.backbones] if self.scratch else []
        if self.pretrained == "imagenet":
            names += [f"{b.value}+imagenet" for b, _ in self.backbones if b != Backbone.SMALL_CNN]
        elif self.pretrained is not None:
            names.append(f"{self.pretrained_backbone.value}+weights")
        return names

    def without(self, model: str) -> "SearchSpace":
        """The space without one ``model`` choice: a backbone (with its ImageNet twin), or the
        weights file's backbone."""
        backbone, _, weights = model.partition("+")
        if not weights:
            kept = tuple((b, w) for b, w in self.backbones if b.value != backbone)
            return dataclasses.replace(self, backbones=kept)
        return dataclasses.replace(self, pretrained=None)

    def architecture(self, model: str, alpha: float | None = None, image_size: int | None = None) -> Architecture:
        backbone_name, _, weights = model.partition("+")
        backbone = Backbone(backbone_name)
        if weights == "weights":
            spec = WeightsSpec.parse(self.pretrained)
            size = None if spec.kind == WeightsKind.MODEL else image_size
            return Architecture(backbone, self.pretrained_alpha, size, str(self.pretrained))
        return Architecture(backbone, alpha, image_size, "imagenet" if weights == "imagenet" else "none")

    def sizes_of(self, model: str) -> tuple[int, ...]:
        backbone = Backbone(model.partition("+")[0])
        widths = self.widths.get(backbone) or dict(default_space().backbones)[backbone]
        return widths.image_size

    def alphas_of(self, model: str) -> tuple[float, ...]:
        backbone_name, _, weights = model.partition("+")
        if weights == "weights":
            return (self.pretrained_alpha,)
        return self.widths[Backbone(backbone_name)].alpha

    def cheapest(self, model: str) -> Architecture:
        """The narrowest, smallest-input architecture of ``model``: the fastest and smallest
        it can be, as latency and size grow with width and input size."""
        return self.architecture(model, min(self.alphas_of(model)), min(self.sizes_of(model)))

    def sample(self, trial: Any) -> Choice:
        """Draw one trial's choice through Optuna's define-by-run API."""
        model = trial.suggest_categorical("model", self.models())
        backbone = model.partition("+")[0]
        alphas = self.alphas_of(model)
        alpha = trial.suggest_categorical(f"{backbone}_alpha", list(alphas)) if "+weights" not in model else alphas[0]
        size = None
        if self.architecture(model, alpha, 0).image_size is not None:
            size = trial.suggest_categorical(f"{backbone}_image_size", list(self.sizes_of(model)))
        arch = self.architecture(model, alpha, size)
        lr = _range(trial, "learning_rate", self.learning_rate, log=True)
        dropout = _range(trial, "dropout", self.dropout)
        augment = _categorical(trial, "augment", self.augment) if self.search_augment else None
        if not self.search_stages:
            return Choice(arch, lr, dropout, augment=augment)
        prune = _categorical(trial, "prune", self.prune)
        cluster = _categorical(trial, "cluster", self.cluster)
        qat = _categorical(trial, "qat", self.qat)
        return Choice(arch, lr, dropout, prune, cluster, qat, augment)

    def params(self, choice: Choice) -> dict[str, Any]:
        """Optuna parameters that draw ``choice`` again (for enqueued baselines)."""
        arch = choice.architecture
        model = arch.backbone.value + ("" if not arch.pretrained else
                                       "+imagenet" if arch.weights == "imagenet" else "+weights")
        params: dict[str, Any] = {"model": model}
        if "+weights" not in model:
            params[f"{arch.backbone.value}_alpha"] = arch.alpha
        if arch.image_size is not None:
            params[f"{arch.backbone.value}_image_size"] = arch.image_size
        for name, value, bounds in (("learning_rate", choice.learning_rate, self.learning_rate),
                                    ("dropout", choice.dropout, self.dropout)):
            if bounds[0] < bounds[1]:
                params[name] = value
        if self.search_augment and len(self.augment) > 1:
            params["augment"] = choice.augment
        if self.search_stages:
            for name, value, choices in (("prune", choice.prune, self.prune), ("cluster", choice.cluster, self.cluster),
                                         ("qat", choice.qat, self.qat)):
                if len(choices) > 1:
                    params[name] = value
        return params

    def contains(self, choice: Choice) -> bool:
        """Whether ``choice`` lies in this space (a baseline outside it is not trained)."""
        arch, model = choice.architecture, self.params(choice)["model"]
        if model not in self.models():
            return False
        return (arch.alpha in self.alphas_of(model)
                and (arch.image_size is None or arch.image_size in self.sizes_of(model))
                and self.learning_rate[0] <= choice.learning_rate <= self.learning_rate[1]
                and self.dropout[0] <= choice.dropout <= self.dropout[1]
                and (not self.search_augment or choice.augment in self.augment))

    def to_dict(self) -> dict:
        return {
            "backbones": {b.value: {"alpha": list(w.alpha), "image_size": list(w.image_size)}
                          for b, w in self.backbones},
            "learning_rate": list(self.learning_rate), "dropout": list(self.dropout),
            "augment": list(self.augment) if self.search_augment else "fixed",
            "prune": list(self.prune) if self.search_stages else "fixed",
            "cluster": list(self.cluster) if self.search_stages else "fixed",
            "qat": list(self.qat) if self.search_stages else "fixed",
            "pretrained": self.pretrained, "models": self.models(),
        }


def _range(trial: Any, name: str, bounds: tuple[float, float], log: bool = False) -> float:
    low, high = bounds
    return low if low == high else trial.suggest_float(name, low, high, log=log)


def _categorical(trial: Any, name: str, choices: tuple) -> Any:
    return choices[0] if len(choices) == 1 else trial.suggest_categorical(name, list(choices))


def default_space() -> SearchSpace:
    return SearchSpace(tuple((b, Widths(a, s)) for b, (a, s) in _DEFAULT_BACKBONES.items()))


def load_space(path: str | Path, base: SearchSpace | None = None) -> SearchSpace:
    """The space file at ``path`` over ``base``: each key it holds replaces the base's.
    Errors name the file and the key."""
    path = Path(path)
    table = read_toml(path, "space")
    try:
        return space_from_table(table, base or default_space())
    except ConfigError as exc:
        raise ConfigError(f"space {path}: {exc}") from None


def space_from_table(table: dict, base: SearchSpace) -> SearchSpace:
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} (known: {', '.join(_KEYS)})")
    changes: dict[str, Any] = {}
    if "backbones" in table:
        changes["backbones"] = _backbones(table["backbones"], base)
    if "learning_rate" in table:
        changes["learning_rate"] = _bounds(table["learning_rate"], "learning_rate", low=0, low_open=True)
    if "dropout" in table:
        changes["dropout"] = _bounds(table["dropout"], "dropout", low=0, high=1, high_open=True)
    if "prune" in table:
        changes["prune"] = tuple(_each(table["prune"], "prune", float, lambda v: 0 <= v < 1, "in [0, 1) (0: off)"))
    if "cluster" in table:
        changes["cluster"] = tuple(_each(table["cluster"], "cluster", int, lambda v: v == 0 or v >= 2,
                                         "0 (off) or at least 2"))
    if "qat" in table:
        changes["qat"] = tuple(_each(table["qat"], "qat", bool, lambda v: True, "true or false"))
    if "augment" in table:
        changes["augment"] = tuple(_each(table["augment"], "augment", str, _augment_value,
                                         "--augment values: none, default, or overrides like 'flip=none'"))
    return dataclasses.replace(base, **changes)


def _augment_value(value: str) -> bool:
    from edgekit.data.augment import Augmentation

    try:
        Augmentation.parse(value)
    except ConfigError:
        return False
    return True


def _backbones(table: Any, base: SearchSpace) -> tuple[tuple[Backbone, Widths], ...]:
    if not isinstance(table, dict) or not table:
        raise ConfigError("'backbones' must be a table of backbones, e.g. [backbones.mobilenet_v2]")
    defaults = dict(default_space().backbones)
    known = [b.value for b in Backbone]
    out = []
    for name, inner in table.items():
        if name not in known:
            raise ConfigError(f"unknown backbone 'backbones.{name}' (known: {', '.join(known)})")
        backbone = Backbone(name)
        inner = inner if isinstance(inner, dict) else None
        if inner is None:
            raise ConfigError(f"'backbones.{name}' must be a table with alpha and image_size")
        bad = sorted(set(inner) - set(_BACKBONE_KEYS))
        if bad:
            raise ConfigError(f"unknown key 'backbones.{name}.{bad[0]}' (known: {', '.join(_BACKBONE_KEYS)})")
        default = defaults[backbone]
        alpha = tuple(_each(inner["alpha"], f"backbones.{name}.alpha", float, lambda v: 0 < v <= 2, "in (0, 2]")) \
            if "alpha" in inner else default.alpha
        if backbone == Backbone.EFFICIENTNET_B0 and alpha != (1.0,):
            raise ConfigError(f"'backbones.{name}.alpha' must be [1.0]: efficientnet_b0 has no width multiplier")
        smallest = MIN_IMAGE_SIZE[backbone]
        sizes = default.image_size
        if "image_size" in inner:
            sizes = tuple(_each(inner["image_size"], f"backbones.{name}.image_size", int,
                                lambda v, least=smallest: v >= least, f"at least {smallest}"))
        out.append((backbone, Widths(alpha, sizes)))
    return tuple(out)


def _each(values: Any, key: str, kind: type, ok: Any, what: str) -> list:
    if not isinstance(values, list) or not values:
        raise ConfigError(f"'{key}' must be a non-empty list, got {values!r}")
    out = []
    for value in values:
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)) or not ok(value):
            raise ConfigError(f"'{key}' values must be {what}, got {value!r}")
        out.append(value)
    return sorted(set(out), key=out.index)


def _bounds(value: Any, key: str, *, low: float, high: float | None = None, low_open: bool = False,
            high_open: bool = False) -> tuple[float, float]:
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        raise ConfigError(f"'{key}' must be a range [low, high], got {value!r}")
    lo, hi = float(value[0]), float(value[1])
    too_low = lo <= low if low_open else lo < low
    too_high = high is not None and (hi >= high if high_open else hi > high)
    if lo > hi or too_low or too_high:
        bounds = ("(" if low_open else "[") + f"{low:g}, " + ("inf" if high is None else f"{high:g}") + \
                 (")" if high_open or high is None else "]")
        raise ConfigError(f"'{key}' must be a range [low, high] with low <= high within {bounds}, got {value!r}")
    return lo, hi


def narrowed(space: SearchSpace, build: Any, fixed: tuple[str, ...]) -> SearchSpace:
    """The space with every dimension the caller fixed (a build option given to tune) set to
    that value. ``build`` is the BuildConfig holding them."""
    model = build.model
    backbones = space.backbones
    if "backbone" in fixed:
        default = dict(default_space().backbones)[model.backbone]
        widths = space.widths.get(model.backbone, default)
        backbones = ((model.backbone, widths),)
    if "alpha" in fixed:
        backbones = tuple((b, dataclasses.replace(w, alpha=(model.alpha,))) for b, w in backbones)
    if "image_size" in fixed and model.image_size is not None:
        backbones = tuple((b, dataclasses.replace(w, image_size=(model.image_size[0],))) for b, w in backbones)
    changes: dict[str, Any] = {"backbones": backbones}
    if "learning_rate" in fixed:
        changes["learning_rate"] = (build.training.learning_rate,) * 2
    if "dropout" in fixed:
        changes["dropout"] = (model.dropout,) * 2
    if "stages" in fixed:
        changes["search_stages"] = False
    if "augment" in fixed:
        changes["search_augment"] = False
    if "weights" in fixed:
        weights = WeightsSpec.parse(model.weights)
        if weights.kind == WeightsKind.IMAGENET:
            changes["pretrained"] = "imagenet"
        elif weights.kind in (WeightsKind.FILE, WeightsKind.MODEL):
            changes.update(pretrained=str(weights), pretrained_backbone=model.backbone, pretrained_alpha=model.alpha)
            # A file of one backbone's weights: that backbone pretrained, the rest from scratch.
            if "backbone" in fixed:
                changes["scratch"] = False
        else:
            changes["pretrained"] = None
    return dataclasses.replace(space, **changes)
