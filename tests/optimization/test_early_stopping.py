"""Stages stop when validation stops improving, and end on their best epoch."""

import numpy as np
import pytest

from edgekit._tf import keras_module
from edgekit.models.training import epoch_shape, fit_phase
from edgekit.optimization.flatten import flatten_model
from edgekit.optimization.stages import History, Prune
from edgekit.progress import Progress
from tests.models.test_training import digits_split, scratch_model


def _sabotage(from_epoch):
    """Zeroes the classifier's kernel at the start of every epoch from ``from_epoch`` (1-based) on."""
    keras = keras_module()

    class Sabotage(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch + 1 >= from_epoch:
                layer = next(layer for layer in self.model.layers if "classifier" in layer.name)
                kernel = next(w for w in layer.weights if "kernel" in w.name)
                kernel.assign(np.zeros(kernel.shape, np.float32))

    return Sabotage()


def test_a_stage_with_early_stopping_ends_on_its_best_epoch():
    train_data, val_data = digits_split(16, 40)
    model, train_ds, val_ds = scratch_model(train_data, val_data, 5)

    stage = Prune(sparsity=0.5, schedule="constant", epochs=8, learning_rate=1e-6)
    shape = epoch_shape(len(train_data), 32)
    applied = stage.apply(flatten_model(model), History(), shape.steps)
    result = fit_phase(applied.model, train_ds, val_ds, "prune", stage.epochs, stage.learning_rate, 2, Progress(),
                       shape=shape, callbacks=[*applied.callbacks, _sabotage(3)])
    # From epoch 3 on it scores at chance: patience 2 stops it at epoch 4 (at 3 when epoch 2
    # only tied epoch 1), well short of the ceiling...
    assert result.epochs_run in (3, 4)
    assert result.best_epoch in (1, 2)
    # ...and the weights are those of the best epoch, pruning masks included.
    stripped = stage.strip(applied.model)
    accuracy = float(np.mean(stripped.predict(val_ds, verbose=0).argmax(1) == val_data.labels))
    assert accuracy == pytest.approx(result.val_accuracy, abs=1e-6)
    assert accuracy > 0.5
    kernel = stripped.get_layer("conv1").kernel.numpy()
    assert np.mean(kernel == 0) >= 0.45
