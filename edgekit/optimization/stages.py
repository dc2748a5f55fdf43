"""Optimisation stages: Model -> Model steps that make a trained model smaller and int8-friendly.

Each stage is a frozen dataclass (its configuration, written into the report and the
recipe) with the same shape: ``name``, ``validate()``, ``apply()`` returning the model
to fine-tune plus its Keras callbacks, and ``strip()`` removing the training wrappers.
Stages run in the order given, each fine-tuning with its own epochs and learning
rate, and each preserves what the ones before it did: clustering after pruning keeps
the zeros, and quantisation-aware training after either uses
tensorflow-model-optimization's sparsity- / cluster-preserving schemes (PQAT, CQAT,
PCQAT), chosen automatically.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence

from edgekit._compat import StrEnum
from edgekit._tf import keras_module
from edgekit.errors import ConfigError
from edgekit.optimization.tfmot import tfmot
from edgekit.tables import check_fields, from_table, pair


class Schedule(StrEnum):
    POLYNOMIAL = "polynomial"
    CONSTANT = "constant"


class CentroidInit(StrEnum):
    KMEANS_PLUS_PLUS = "kmeans++"
    LINEAR = "linear"
    DENSITY = "density"


@dataclass(frozen=True)
class History:
    """What earlier stages did, so a later one can preserve it."""

    pruned: bool = False
    quantized: bool = False
    # Clusters per tensor (0: not clustered) and whether each output channel had its own.
    clusters: int = 0
    cluster_per_channel: bool = False

    @property
    def clustered(self) -> bool:
        return self.clusters > 0


@dataclass(frozen=True)
class Applied:
    model: Any
    callbacks: list = field(default_factory=list)
    details: dict = field(default_factory=dict)
    # The first epoch whose weights are a result of the stage (a pruning schedule's
    # earlier epochs are below the target sparsity): early stopping keeps none before it.
    settled_epoch: int = 1


def _weight_layers(model: Any, kinds: tuple, exclude_first_conv: bool, exclude_last_dense: bool,
                   exclude: Sequence[str]) -> list[str]:
    keras = keras_module()
    conv_kinds = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)
    convs = [layer.name for layer in model.layers if isinstance(layer, conv_kinds)]
    denses = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    skip = set(exclude)
    if exclude_first_conv and convs:
        skip.add(convs[0])
    if exclude_last_dense and denses:
        skip.add(denses[-1])
    return [layer.name for layer in model.layers if isinstance(layer, kinds) and layer.name not in skip]


@dataclass(frozen=True)
class Prune:
    """Magnitude pruning to ``sparsity`` (or structured m-by-n, e.g. 2:4), stripped at the end."""

    sparsity: float = 0.5
    schedule: Schedule = Schedule.POLYNOMIAL
    block_size: tuple[int, int] = field(default=(1, 1), metadata={"parse": pair})
    m_by_n: tuple[int, int] | None = field(default=None, metadata={"parse": pair})
    exclude_first_conv: bool = True
    exclude_last_dense: bool = True
    exclude: tuple[str, ...] = ()
    # A ceiling: the stage stops when validation stops improving after the target is reached.
    epochs: int = 12
    learning_rate: float = 5e-4
    # Epochs over which the polynomial schedule rises to the target sparsity (at most epochs).
    ramp_epochs: int = 4
    name: ClassVar[str] = "prune"

    def __post_init__(self) -> None:
        check_fields(self)

    def validate(self, history: History) -> None:
        if self.m_by_n is None and not 0.0 <= self.sparsity < 1.0:
            raise ConfigError(f"prune: sparsity must be in [0, 1), got {self.sparsity}")
        if self.m_by_n is not None:
            m, n = self.m_by_n
            if not 0 < m < n:
                raise ConfigError(f"prune: m-by-n sparsity needs 0 < m < n, got {m}:{n}")
            if self.block_size != (1, 1):
                raise ConfigError("prune: block sparsity and m-by-n sparsity cannot be combined")
        if history.pruned:
            raise ConfigError("prune: the model is pruned already (one prune stage per recipe)")
        if self.ramp_epochs < 1:
            raise ConfigError(f"prune: ramp_epochs must be at least 1, got {self.ramp_epochs}")
        if history.clustered or history.quantized:
            raise ConfigError("prune must come before cluster and qat: they would not preserve it otherwise")
        _check_training(self)

    def apply(self, model: Any, history: History, steps_per_epoch: int) -> Applied:
        keras = keras_module()
        sparsity = tfmot().sparsity.keras
        kinds = (keras.layers.Conv2D, keras.layers.Dense)
        if self.m_by_n is None:
            kinds += (keras.layers.DepthwiseConv2D,)
        names = _weight_layers(model, kinds, self.exclude_first_conv, self.exclude_last_dense, self.exclude)
        if self.m_by_n is not None:
            # m-by-n runs along the input channels: a depthwise kernel has none to group.
            names = [n for n in names if not isinstance(model.get_layer(n), keras.layers.DepthwiseConv2D)]
        # Reach the target after the ramp; the epochs after it recover at it, and the best
        # of them is kept.
        ramped = self.schedule == Schedule.POLYNOMIAL and self.m_by_n is None
        ramp = min(self.ramp_epochs, self.epochs)
        end = max(1, steps_per_epoch * ramp)
        frequency = max(1, end // 10)
        if self.schedule == Schedule.CONSTANT:
            schedule = sparsity.ConstantSparsity(self.sparsity, begin_step=0, frequency=frequency)
        else:
            schedule = sparsity.PolynomialDecay(0.0, self.sparsity, begin_step=0, end_step=end, frequency=frequency)
        params: dict[str, Any] = {"pruning_schedule": schedule, "block_size": self.block_size}
        if self.m_by_n is not None:
            params = {"sparsity_m_by_n": tuple(self.m_by_n)}

        def wrap(layer):
            return sparsity.prune_low_magnitude(layer, **params) if layer.name in names else layer

        pruned = keras.models.clone_model(model, clone_function=wrap)
        return Applied(pruned, [sparsity.UpdatePruningStep()], {"layers": names},
                       settled_epoch=ramp if ramped else 1)

    def strip(self, model: Any) -> Any:
        return tfmot().sparsity.keras.strip_pruning(model)


@dataclass(frozen=True)
class Cluster:
    """Weight clustering to ``clusters`` shared values; keeps earlier pruning's zeros."""

    clusters: int = 16
    init: CentroidInit = CentroidInit.KMEANS_PLUS_PLUS
    # Cluster each output channel separately (Conv2D only): int8 kernels are quantised per
    # channel anyway, so per-channel centroids cost nothing in the .tflite.
    per_channel: bool = False
    exclude_first_conv: bool = True
    exclude_last_dense: bool = True
    exclude: tuple[str, ...] = ()
    epochs: int = 10  # a ceiling, as for every stage
    learning_rate: float = 1e-4
    name: ClassVar[str] = "cluster"

    def __post_init__(self) -> None:
        check_fields(self)

    def validate(self, history: History) -> None:
        if self.clusters < 2:
            raise ConfigError(f"cluster: at least 2 clusters are needed, got {self.clusters}")
        if history.clustered:
            raise ConfigError("cluster: the model is clustered already (one cluster stage per recipe)")
        if history.quantized:
            raise ConfigError("cluster must come before qat")
        _check_training(self)

    def apply(self, model: Any, history: History, steps_per_epoch: int) -> Applied:
        keras = keras_module()
        clustering = tfmot().clustering.keras
        init = {
            CentroidInit.KMEANS_PLUS_PLUS: clustering.CentroidInitialization.KMEANS_PLUS_PLUS,
            CentroidInit.LINEAR: clustering.CentroidInitialization.LINEAR,
            CentroidInit.DENSITY: clustering.CentroidInitialization.DENSITY_BASED,
        }[self.init]
        kinds = (keras.layers.Conv2D, keras.layers.Dense, keras.layers.DepthwiseConv2D)
        names = _weight_layers(model, kinds, self.exclude_first_conv, self.exclude_last_dense, self.exclude)

        def wrap(layer):
            if layer.name not in names:
                return layer
            per_channel = self.per_channel and type(layer) is keras.layers.Conv2D
            return clustering.cluster_weights(layer, number_of_clusters=self.clusters, cluster_centroids_init=init,
                                              preserve_sparsity=history.pruned, cluster_per_channel=per_channel)

        clustered = keras.models.clone_model(model, clone_function=wrap)
        return Applied(clustered, [], {"layers": names, "preserve_sparsity": history.pruned})

    def strip(self, model: Any) -> Any:
        return tfmot().clustering.keras.strip_clustering(model)


@dataclass(frozen=True)
class QAT:
    """Quantisation-aware training (8-bit), preserving earlier pruning and clustering."""

    epochs: int = 10  # a ceiling, as for every stage
    learning_rate: float = 1e-4
    # After clustering with one codebook per kernel, keep one codebook and one int8 range
    # across a convolution's output channels, so that every channel stores the same codes
    # (false: tfmot's own per-channel centroids and ranges).
    shared_codebook: bool = True
    name: ClassVar[str] = "qat"

    def __post_init__(self) -> None:
        check_fields(self)

    def validate(self, history: History) -> None:
        if history.quantized:
            raise ConfigError("qat: the model is quantisation-aware already (one qat stage per recipe)")
        _check_training(self)

    def scheme_name(self, history: History) -> str:
        if history.clustered:
            return "PCQAT" if history.pruned else "CQAT"
        return "PQAT" if history.pruned else "QAT"

    def apply(self, model: Any, history: History, steps_per_epoch: int) -> Applied:
        from edgekit.optimization.codebook import has_shared_codebook
        from edgekit.optimization.quantize import quantize_aware

        shared = []
        if self.shared_codebook and history.clustered and not history.cluster_per_channel:
            # The zero of pruning is one value more than the clusters.
            shared = [layer.name for layer in model.layers if has_shared_codebook(layer, history.clusters + 1)]
        quantized, passthrough = quantize_aware(model, self.scheme_name(history), shared)
        return Applied(quantized, [], {"scheme": self.scheme_name(history), "output_quantized_layers": passthrough,
                                       "shared_codebook_layers": shared})

    def strip(self, model: Any) -> Any:
        # The fake-quant nodes are what the converter reads the int8 ranges from.
        return model


Stage = Prune | Cluster | QAT
STAGES: dict[str, type] = {"prune": Prune, "cluster": Cluster, "qat": QAT}


def _check_training(stage: Any) -> None:
    if stage.epochs < 1:
        raise ConfigError(f"{stage.name}: epochs must be at least 1, got {stage.epochs}")
    if not stage.learning_rate > 0:
        raise ConfigError(f"{stage.name}: learning_rate must be positive, got {stage.learning_rate}")


def validate_stages(stages: Sequence[Stage]) -> list[History]:
    """Check a whole recipe before any training; returns the history each stage starts from."""
    history = History()
    seen = []
    for stage in stages:
        if not isinstance(stage, (Prune, Cluster, QAT)):
            raise ConfigError(f"unknown stage {stage!r}: use one of {', '.join(STAGES)}")
        stage.validate(history)
        seen.append(history)
        history = dataclasses.replace(
            history,
            pruned=history.pruned or isinstance(stage, Prune),
            quantized=history.quantized or isinstance(stage, QAT),
            clusters=stage.clusters if isinstance(stage, Cluster) else history.clusters,
            cluster_per_channel=stage.per_channel if isinstance(stage, Cluster) else history.cluster_per_channel,
        )
    return seen


def stage_config(stage: Stage) -> dict:
    data = {"kind": stage.name}
    for f in dataclasses.fields(stage):
        value = getattr(stage, f.name)
        if isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, StrEnum):
            value = str(value)
        data[f.name] = value
    return data


def stage_from_config(table: dict) -> Stage:
    """A stage from its recipe table (``kind`` plus the stage's options); errors name the stage."""
    if not isinstance(table, dict):
        raise ConfigError(f"a stage must be a table with a kind, got {table!r}")
    table = dict(table)
    kind = table.pop("kind", None)
    if kind not in STAGES:
        raise ConfigError(f"unknown stage kind {kind!r}: use one of {', '.join(STAGES)}")
    return from_table(STAGES[kind], table, kind)
