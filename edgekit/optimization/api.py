"""``optimize()``: the prune / cluster / QAT stages on a Keras model of the caller's own, with their data.

The stages are the ones ``edgekit build`` runs, with what they guarantee: nested models
flattened, layers tfmot cannot quantise handled and left float, pruning's zeros kept
through clustering and QAT, codebooks kept. The model returned is stripped of the
training wrappers and converts with :func:`edgekit.conversion` (QAT's ranges included).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from edgekit.errors import ConfigError, DataError
from edgekit.models.training import DEFAULT_BATCH_SIZE, DEFAULT_PATIENCE
from edgekit.optimization.stages import Stage, stage_from_config, validate_stages
from edgekit.progress import Progress, resolve
from edgekit.tasks.classification import LOSS, METRICS


@dataclass(frozen=True)
class OptimizeResult:
    model: Any
    # One per stage: epochs run, best epoch, validation accuracy (NaN without an accuracy metric).
    stages: list
    # Validation loss and metrics of the model given and of the model returned.
    before: dict
    after: dict


def optimize(model: Any, *, train: Any, validation: Any, stages: Sequence[Stage | dict],
             loss: Any = LOSS, metrics: Sequence = METRICS,
             batch_size: int = DEFAULT_BATCH_SIZE, patience: int = DEFAULT_PATIENCE,
             progress: bool | Progress = False) -> OptimizeResult:
    """Run ``stages`` in order on ``model`` (tf-keras) with ``train`` and ``validation`` data.

    Data: ``(x, y)`` arrays or a ``tf.data.Dataset`` of ``(x, y)`` batches. Each stage
    fine-tunes up to its epochs with its own learning rate and ends on its best epoch,
    judged on validation accuracy when ``metrics`` has it, else on validation loss.
    """
    from edgekit._tf import keras_module
    from edgekit.models.training import EpochShape
    from edgekit.optimization.run import run_stages

    keras = keras_module()
    stages = [stage_from_config(s) if isinstance(s, dict) else s for s in stages]
    if not stages:
        raise ConfigError("optimize: give at least one stage (prune, cluster, qat)")
    validate_stages(stages)
    model = _as_tf_keras(model, keras)
    train_ds, steps = _dataset(train, batch_size, shuffle=True, what="train")
    val_ds, _ = _dataset(validation, batch_size, shuffle=False, what="validation")
    say = resolve(progress)
    model.compile(loss=loss, metrics=list(metrics))
    before = _evaluate(model, val_ds)
    optimised, results = run_stages(model, stages, train_ds, val_ds, None, shape=EpochShape(steps, 1),
                                    progress=say, patience=patience, loss=loss, metrics=metrics)
    optimised.compile(loss=loss, metrics=list(metrics))
    return OptimizeResult(optimised, results, before, _evaluate(optimised, val_ds))


def _as_tf_keras(model: Any, keras: Any) -> Any:
    if isinstance(model, keras.Model):
        return model
    if type(model).__module__.startswith("keras."):
        # Rebuilding from a Keras 3 configuration fails on tf-keras for ordinary layers
        # (Keras 3 initialiser and dtype-policy configs), so it is not attempted.
        raise ConfigError(
            "optimize needs a tf-keras model: tensorflow-model-optimization wraps Keras 2 layers only, and this is "
            "a Keras 3 model; build it with tf_keras (import tf_keras as keras) and load its weights, or convert "
            "it without stages with edgekit.conversion")
    raise ConfigError(f"optimize takes a Keras model, not {type(model).__name__}")


def _dataset(data: Any, batch_size: int, *, shuffle: bool, what: str) -> tuple[Any, int]:
    """A batched tf.data.Dataset of (x, y) and its batches per pass."""
    from edgekit._tf import tensorflow

    tf = tensorflow()
    if isinstance(data, tuple) and len(data) == 2:
        x, y = data
        count = len(y)
        if count == 0:
            raise DataError(f"{what}: no samples")
        ds = tf.data.Dataset.from_tensor_slices((x, y))
        if shuffle:
            ds = ds.shuffle(count, seed=0, reshuffle_each_iteration=True)
        return ds.batch(batch_size), int(np.ceil(count / batch_size))
    if isinstance(data, tf.data.Dataset):
        steps = int(data.cardinality())
        if steps < 0:  # unknown or infinite: count one pass
            steps = sum(1 for _ in data)
        if steps == 0:
            raise DataError(f"{what}: the dataset is empty")
        return data, steps
    raise DataError(f"{what} must be (x, y) arrays or a tf.data.Dataset of (x, y) batches, not {type(data).__name__}")


def _evaluate(model: Any, val_ds: Any) -> dict:
    values = model.evaluate(val_ds, verbose=0, return_dict=True)
    return {name: float(value) for name, value in values.items()}
