"""Training to convergence: epochs are a ceiling, validation decides when to stop.

Two phases with a pretrained backbone (the head on a frozen backbone, then its top
layers fine-tuned), one phase when training from scratch. Every phase runs at least
``MIN_STEPS_PER_EPOCH`` optimizer steps between validations, lowers its learning rate
when validation loss stalls, stops when validation accuracy stops improving, and ends
on its best epoch's weights.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from edgekit._tf import keras_module
from edgekit.models.classifier import leaf_layers
from edgekit.progress import Progress
from edgekit.tasks.classification import LOSS, METRICS

# Defaults of the build's options (config.TrainingConfig) that the Python API's optimize()
# shares: set here once, the lowest module both read.
DEFAULT_PATIENCE = 6
DEFAULT_BATCH_SIZE = 32

if TYPE_CHECKING:  # the configuration imports the models package, not the other way
    from edgekit.config import TrainingConfig

# A validation "epoch" is at least this many optimizer steps: 240 images at batch 32 are
# 8 steps, and early stopping after a few such epochs stops a model that has barely
# started (the head of a 30-shot transfer was still improving at epoch 10). Larger sets
# validate once a pass, as a hand-written script does.
MIN_STEPS_PER_EPOCH = 25
# The learning rate is cut by this factor when validation loss has not improved for
# about half the patience, down to 1/100 of where the phase started.
LR_FACTOR = 0.3


@dataclass(frozen=True)
class PhaseResult:
    name: str
    epochs_run: int
    epochs_max: int
    learning_rate: float
    trainable_weights: int
    best_epoch: int
    val_accuracy: float
    seconds: float
    steps_per_epoch: int = 0
    cached_features: bool = False
    # Per epoch, as Keras logged it: loss, accuracy, val_loss, val_accuracy, learning_rate
    # (what the report's training curves plot).
    history: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Replay:
    """A phase trained again, on more images, for the epochs an earlier run's validation chose.

    A refit has no held-out images left to judge it: it runs exactly ``epochs`` epochs at the
    learning rate the earlier run had at each of them (its plateau cuts included) and ends on
    its last epoch.
    """

    epochs: int
    learning_rates: tuple[float, ...] = ()

    @classmethod
    def of(cls, best_epoch: int, epochs_run: int, history: dict) -> "Replay":
        # Every epoch before a phase has settled is no result (best_epoch 0): all of it ran.
        epochs = best_epoch or epochs_run
        return cls(max(1, epochs), tuple(float(r) for r in history.get("learning_rate", [])[:epochs]))

    def rate(self, epoch: int, current: float) -> float:
        return self.learning_rates[epoch] if epoch < len(self.learning_rates) else current


@dataclass(frozen=True)
class EpochShape:
    """An epoch of ``passes`` whole passes over the training set, ``steps`` optimizer steps in all."""

    passes: int
    steps: int


def epoch_shape(examples: int, batch_size: int) -> EpochShape:
    """One pass, or as many whole passes as reach MIN_STEPS_PER_EPOCH steps when a pass is shorter.

    Whole passes, not ``repeat()`` with ``steps_per_epoch``: an endless tf.data iterator
    takes seconds per epoch trained to tear down when fit returns.
    """
    per_pass = max(1, math.ceil(examples / batch_size))
    passes = math.ceil(MIN_STEPS_PER_EPOCH / per_pass)
    return EpochShape(passes=passes, steps=passes * per_pass)


def batchnorm_momentum(steps: int) -> float:
    """Moving-average momentum for BatchNorm trained for ``steps`` steps an epoch.

    keras.applications builds MobileNet with momentum 0.999: its moving statistics
    need thousands of steps to forget their initial values, so a model trained from
    scratch on a small set validates at chance while it trains at 0.99. A horizon of
    a fifth of an epoch (0.9, PyTorch's default, for short epochs; at most Keras' 0.99)
    keeps them current at every validation.
    """
    return float(min(0.99, max(0.9, 1.0 - 5.0 / steps)))


def train(model: Any, train_ds: Any, val_ds: Any, config: TrainingConfig, *, pretrained: bool, progress: Progress,
          examples: int, wrap: Callable[[Any], Any] | None = None,
          head: Callable[[Replay | None], PhaseResult] | None = None,
          replays: dict[str, Replay] | None = None, loss: Any = LOSS,
          metrics: Sequence = METRICS) -> list[PhaseResult]:
    """Fit ``model`` (from models.build_classifier) in place; returns one result per phase.

    With a pretrained backbone: a head phase (``head`` when given: the head trained on
    cached features), then a fine-tuning phase. From scratch, freezing random features
    teaches nothing, so the whole budget (epochs + fine_tune_epochs) goes to one phase
    training every layer, with BatchNorm in training mode at a momentum suited to the
    number of steps. ``wrap`` turns the model into the one that is fitted (a distiller
    around it, say). ``examples`` is the number of training images. ``replays``, by phase
    name: a refit, each phase run as an earlier run chose (``val_ds`` may then be None).
    ``loss`` and ``metrics``: a model of another task's (a detector's, judged on validation loss).
    """
    backbone = model.get_layer("backbone")
    shape = epoch_shape(examples, config.batch_size)
    phases = []
    if not pretrained:
        backbone.trainable = True
        keras = keras_module()
        for layer in leaf_layers(backbone):
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = batchnorm_momentum(shape.steps)
        plan = [("scratch", config.epochs + config.fine_tune_epochs, config.learning_rate)]
    else:
        plan = []
        if config.epochs:
            plan.append(("head", config.epochs, config.learning_rate))
        if config.fine_tune_epochs and config.fine_tune_layers:
            plan.append(("fine_tune", config.fine_tune_epochs, config.fine_tune_rate))
    for name, epochs, lr in plan:
        if pretrained:
            _set_trainable(backbone, 0 if name == "head" else config.fine_tune_layers)
        replay = None if replays is None else replays.get(name)
        if replays is not None and replay is None:
            continue  # the earlier run skipped this phase (a cached head replays as "head")
        if name == "head" and head is not None:
            phases.append(head(replay))
            continue
        fitted = wrap(model) if wrap else model
        phases.append(fit_phase(fitted, train_ds, val_ds, name, epochs, lr, config.patience, progress,
                                shape=shape, replay=replay, loss=loss, metrics=metrics))
    return phases


def _set_trainable(backbone: Any, top_layers: int) -> None:
    layers = leaf_layers(backbone)
    backbone.trainable = top_layers > 0
    keras = keras_module()
    for i, layer in enumerate(layers):
        in_top = i >= len(layers) - top_layers
        layer.trainable = in_top and not isinstance(layer, keras.layers.BatchNormalization)


def fit_phase(model: Any, train_ds: Any, val_ds: Any, name: str, epochs: int, lr: float, patience: int,
              progress: Progress, *, shape: EpochShape, callbacks: Sequence = (), settled_epoch: int = 1,
              cached: bool = False, loss: Any = LOSS,
              metrics: Sequence = METRICS, replay: Replay | None = None) -> PhaseResult:
    """Compile and fit ``model`` for up to ``epochs`` epochs of ``shape``, ending on the best epoch.

    The best epoch is the one with the highest validation accuracy (lowest validation
    loss among ties) from ``settled_epoch`` on: a pruning stage's weights before its
    schedule reaches the target sparsity are not a result. A model compiled without an
    accuracy metric (``loss`` and ``metrics`` of the caller's own) is judged on validation loss.
    With ``replay`` it runs the replay's epochs and schedule and ends on the last one.
    """
    keras = keras_module()
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss=loss,
        metrics=list(metrics),
    )
    if replay is not None:
        epochs, settled_epoch, patience = replay.epochs, replay.epochs, 0
        schedule = [keras.callbacks.LearningRateScheduler(replay.rate)]
    else:
        schedule = [keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=LR_FACTOR,
                                                      patience=max(1, patience // 2), min_lr=lr / 100, verbose=0)]
    best = _BestEpoch(patience, settled_epoch)
    callbacks = [
        *callbacks,
        _EpochReporter(name, epochs, progress),
        *schedule,
        best,
    ]
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    progress.log(f"{name}: up to {epochs} epochs of {shape.steps} steps at lr {lr:g}, "
                 f"{trainable:,} trainable weights")
    start = time.perf_counter()
    data = train_ds.repeat(shape.passes) if shape.passes > 1 else train_ds
    history = model.fit(data, validation_data=val_ds, epochs=epochs, verbose=0, callbacks=callbacks)
    val_acc = history.history.get("val_accuracy", [float("nan")] * len(history.epoch))
    measured_accuracy = "val_accuracy" in history.history
    return PhaseResult(
        name=name,
        epochs_run=len(history.epoch),
        epochs_max=epochs,
        learning_rate=lr,
        trainable_weights=trainable,
        best_epoch=best.best_epoch,
        val_accuracy=(float(best.best[0]) if best.best_epoch else float(val_acc[-1])) if measured_accuracy
        else float("nan"),
        seconds=round(time.perf_counter() - start, 2),
        steps_per_epoch=shape.steps,
        cached_features=cached,
        history=epoch_history(history.history),
    )


def epoch_history(logged: dict) -> dict:
    """Keras' History as plain floats, the learning rate under one name across versions."""
    names = {"lr": "learning_rate"}
    # Six significant digits, not decimals: a refit replays the learning rates, which reach 1e-6.
    return {names.get(key, key): [float(f"{float(v):.6g}") for v in values] for key, values in logged.items()}


class _BestEpoch:
    """Early stopping on validation accuracy that always ends on the best epoch's weights.

    Keras' EarlyStopping compares accuracy alone (ties on a small validation set keep
    the first, often undertrained, epoch) and restores nothing when the ceiling is
    reached first; this breaks ties by validation loss and restores in both cases.
    """

    def __new__(cls, patience: int, settled_epoch: int):
        keras = keras_module()

        class BestEpoch(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.best = (-math.inf, -math.inf)
                self.best_epoch = 0
                self.best_weights = None
                self.wait = 0

            def on_epoch_end(self, epoch, logs=None):
                logs = logs or {}
                if epoch + 1 < settled_epoch:
                    return
                loss = -logs.get("val_loss", math.inf)
                score = (logs["val_accuracy"], loss) if "val_accuracy" in logs else (loss, 0.0)
                # Patience waits for a gain in accuracy; a tie with a lower loss only
                # chooses which weights are kept.
                self.wait = 0 if score[0] > self.best[0] else self.wait + 1
                if score > self.best:
                    self.best, self.best_epoch = score, epoch + 1
                    self.best_weights = self.model.get_weights()
                if patience and self.wait >= patience:
                    self.model.stop_training = True

            def on_train_end(self, logs=None):
                if self.best_weights is not None:
                    self.model.set_weights(self.best_weights)

        return BestEpoch()


class _EpochReporter:
    """Adapter from Keras' callback protocol to edgekit's progress lines."""

    def __new__(cls, phase: str, epochs: int, progress: Progress):
        keras = keras_module()

        class Reporter(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self._start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                logs = logs or {}
                progress.epoch(
                    phase,
                    epoch + 1,
                    epochs,
                    loss=logs.get("loss"),
                    accuracy=logs.get("accuracy"),
                    val_accuracy=logs.get("val_accuracy"),
                    seconds=time.perf_counter() - self._start,
                )

        return Reporter()
