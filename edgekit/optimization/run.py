"""Running a recipe's stages on a trained classifier, each fine-tuned and measured."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from edgekit._tf import keras_module
from edgekit.files import weight_facts
from edgekit.models.training import DEFAULT_PATIENCE, EpochShape, Replay, fit_phase
from edgekit.optimization.flatten import flatten_model
from edgekit.optimization.stages import QAT, Stage, stage_config, validate_stages
from edgekit.progress import Progress
from edgekit.tasks.classification import LOSS, METRICS


@dataclass(frozen=True)
class StageResult:
    name: str
    config: dict
    epochs: int
    learning_rate: float
    epochs_run: int
    best_epoch: int
    val_accuracy: float
    seconds: float
    details: dict = field(default_factory=dict)
    # The fine-tuning's per-epoch log (see PhaseResult.history).
    history: dict = field(default_factory=dict)
    # The stripped model's weights as float32 arrays, raw and gzipped: what pruning's
    # zeros and clustering's shared values save once compressed.
    weights: dict = field(default_factory=dict)


def run_stages(model: Any, stages: Sequence[Stage], train_ds: Any, val_ds: Any, val_labels: np.ndarray | None,
               *, shape: EpochShape, progress: Progress, patience: int = DEFAULT_PATIENCE,
               wrap: Callable[[Any], Any] | None = None,
               check: Callable[[float, str], None] | None = None,
               loss: Any = LOSS,
               metrics: Sequence = METRICS,
               replays: Sequence[Replay] | None = None) -> tuple[Any, list[StageResult]]:
    """Apply, fine-tune and strip each stage in order; returns the final model and one result per stage.

    Each stage fine-tunes up to its epochs, stops when validation accuracy has not
    improved for half of ``patience`` epochs, and keeps its best epoch. ``check`` is
    called with each stage's validation accuracy and name (it raises to stop the build).
    ``val_labels`` None (a model of the caller's own, with its ``loss`` and ``metrics``):
    each stage is judged on validation loss and its accuracy is the best epoch's metric.
    ``replays``, one per stage: a refit, each stage run for the epochs an earlier run chose
    (``val_ds`` None; nothing is measured or checked).

    The model is flattened first (tfmot wraps layers of a flat model only) and its
    BatchNorm layers frozen: their statistics came from full training and a few
    fine-tuning epochs on pruned or fake-quantised weights should not move them.
    """
    keras = keras_module()
    histories = validate_stages(stages)
    current = flatten_model(model)
    for layer in current.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    results = []
    for index, (stage, history) in enumerate(zip(stages, histories)):
        replay = None if replays is None else replays[index]
        start = time.perf_counter()
        applied = stage.apply(current, history, shape.steps)
        detail = ", ".join(f"{k} {v}" for k, v in applied.details.items() if not isinstance(v, list))
        progress.log(f"stage {stage.name}" + (f" ({detail})" if detail else ""))
        fitted = wrap(applied.model) if wrap else applied.model
        phase = fit_phase(fitted, train_ds, val_ds, stage.name, stage.epochs, stage.learning_rate,
                          max(1, patience // 2) if patience else 0, progress, shape=shape,
                          callbacks=applied.callbacks, settled_epoch=applied.settled_epoch, loss=loss,
                          metrics=metrics, replay=replay)
        current = stage.strip(applied.model)
        if replay is not None:
            accuracy = float("nan")
            progress.log(f"after {stage.name}: refit for {phase.epochs_run} epochs")
        elif val_labels is not None:
            scores = current.predict(val_ds, verbose=0)
            accuracy = float(np.mean(scores.argmax(axis=1) == val_labels))
        else:
            accuracy = phase.val_accuracy
        if replay is None:
            # A model judged on validation loss alone (a detector's) has no accuracy to show.
            judged = "validation loss" if accuracy != accuracy else f"validation accuracy {accuracy:.4f}"
            progress.log(f"after {stage.name}: {judged} (best of {phase.epochs_run} epochs: {phase.best_epoch})")
        if check is not None and replay is None:
            check(accuracy, stage.name)
        results.append(StageResult(
            name=stage.name, config=stage_config(stage), epochs=stage.epochs, learning_rate=stage.learning_rate,
            epochs_run=phase.epochs_run, best_epoch=phase.best_epoch, val_accuracy=accuracy,
            seconds=round(time.perf_counter() - start, 2), details=applied.details, history=phase.history,
            # A QAT model's weights carry fake-quantisation state, not what ships: its
            # size is the .tflite's.
            weights={} if isinstance(stage, QAT) else weight_facts(current),
        ))
    return current, results

