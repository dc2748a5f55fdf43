"""Two-phase transfer learning: train the head on a frozen backbone, then fine-tune its top."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from edgekit._tf import keras_module
from edgekit.errors import ConfigError
from edgekit.models.classifier import leaf_layers
from edgekit.progress import Progress


@dataclass(frozen=True)
class TrainConfig:
    # Head phase (or the only phase when training from scratch).
    epochs: int = 10
    learning_rate: float = 1e-3
    # Fine-tuning phase: the top `fine_tune_layers` backbone layers, at a lower rate so
    # the pretrained features move a little rather than being overwritten.
    fine_tune_epochs: int = 5
    fine_tune_layers: int = 20
    fine_tune_learning_rate: float = 1e-4
    batch_size: int = 32
    dropout: float = 0.2
    # Stop a phase when validation accuracy has not improved for this many epochs,
    # keeping the best weights; 0 disables.
    patience: int = 5

    def validate(self) -> None:
        for name in ("epochs", "fine_tune_epochs", "fine_tune_layers", "patience"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.epochs + self.fine_tune_epochs == 0:
            raise ConfigError("epochs and fine_tune_epochs are both 0: nothing would be trained")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {self.batch_size}")
        for name in ("learning_rate", "fine_tune_learning_rate"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")


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


def train(model: Any, train_ds: Any, val_ds: Any, config: TrainConfig, *, pretrained: bool, progress: Progress,
          wrap: Callable[[Any], Any] | None = None) -> list[PhaseResult]:
    """Fit ``model`` (from models.build_classifier) in place; returns one result per phase.

    With a pretrained backbone: a head phase, then a fine-tuning phase. From scratch,
    freezing random features teaches nothing, so the whole budget (epochs +
    fine_tune_epochs) goes to one phase training every layer. ``wrap`` turns the model
    into the one that is fitted (a distiller around it, say).
    """
    backbone = model.get_layer("backbone")
    phases = []
    if not pretrained:
        backbone.trainable = True
        plan = [("scratch", config.epochs + config.fine_tune_epochs, config.learning_rate)]
    else:
        plan = []
        if config.epochs:
            plan.append(("head", config.epochs, config.learning_rate))
        if config.fine_tune_epochs and config.fine_tune_layers:
            plan.append(("fine_tune", config.fine_tune_epochs, config.fine_tune_learning_rate))
    for name, epochs, lr in plan:
        if pretrained:
            _set_trainable(backbone, 0 if name == "head" else config.fine_tune_layers)
        fitted = wrap(model) if wrap else model
        phases.append(fit_phase(fitted, train_ds, val_ds, name, epochs, lr, config.patience, progress))
    return phases


def _set_trainable(backbone: Any, top_layers: int) -> None:
    layers = leaf_layers(backbone)
    backbone.trainable = top_layers > 0
    keras = keras_module()
    for i, layer in enumerate(layers):
        in_top = i >= len(layers) - top_layers
        layer.trainable = in_top and not isinstance(layer, keras.layers.BatchNormalization)


def fit_phase(model: Any, train_ds: Any, val_ds: Any, name: str, epochs: int, lr: float, patience: int,
              progress: Progress, callbacks: Sequence = ()) -> PhaseResult:
    """Compile and fit ``model`` for one phase, reporting each epoch; patience 0 disables early stopping."""
    keras = keras_module()
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    callbacks = [*callbacks, _EpochReporter(name, epochs, progress)]
    if patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=patience, restore_best_weights=True)
        )
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    progress.log(f"{name}: up to {epochs} epochs at lr {lr:g}, {trainable:,} trainable weights")
    start = time.perf_counter()
    history = model.fit(train_ds, validation_data=val_ds, epochs=epochs, verbose=0, callbacks=callbacks)
    val_acc = history.history.get("val_accuracy", [float("nan")])
    best = int(np.nanargmax(val_acc)) if patience else len(val_acc) - 1
    return PhaseResult(
        name=name,
        epochs_run=len(val_acc),
        epochs_max=epochs,
        learning_rate=lr,
        trainable_weights=trainable,
        best_epoch=best + 1,
        val_accuracy=float(val_acc[best]),
        seconds=round(time.perf_counter() - start, 2),
    )


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
