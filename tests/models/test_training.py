import functools

import numpy as np
import pytest

from edgekit.config import TrainingConfig
from edgekit.data import Augmentation, from_arrays
from edgekit.data.pipeline import to_tf_dataset
from edgekit.models import Backbone, WeightsSpec, build_backbone, build_classifier, train
from edgekit.models.classifier import leaf_layers
from edgekit.models.head import head_phase
from edgekit.models.learned import check_learned
from edgekit.models.training import MIN_STEPS_PER_EPOCH, batchnorm_momentum, epoch_shape
from edgekit.progress import Progress


class Recorder(Progress):
    def __init__(self):
        self.epochs = []

    def epoch(self, phase, epoch, epochs, **metrics):
        self.epochs.append((phase, epoch, epochs, metrics))


def _tiny_data():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (40, 16, 16, 3), dtype=np.uint8)
    y = np.repeat([0, 1], 20)
    x[y == 1, :8] = 255  # a learnable difference
    data = from_arrays(x, y)
    ds = to_tf_dataset(data, batch_size=8, training=False)
    return ds


def digits_split(size, train_per_class, val_per_class=20):
    """scikit-learn's real digit scans, split per class into train and validation."""
    from sklearn.datasets import load_digits

    d = load_digits()
    pixels = np.rint(d.images * (255 / 16)).astype(np.uint8)
    train_idx, val_idx = [], []
    for c in range(10):
        idx = np.flatnonzero(d.target == c)
        train_idx.extend(idx[:train_per_class])
        val_idx.extend(idx[train_per_class:train_per_class + val_per_class])
    grey = np.repeat(pixels[..., None], 3, axis=-1)
    return (from_arrays(grey[train_idx], d.target[train_idx], image_size=(size, size)),
            from_arrays(grey[val_idx], d.target[val_idx], image_size=(size, size)))


def scratch_model(train_data, val_data, epochs):
    """(model, train_ds, val_ds): a small_cnn (alpha 0.5) trained from scratch for ``epochs`` epochs."""
    train_ds = to_tf_dataset(train_data, batch_size=32, training=True, seed=0)
    val_ds = to_tf_dataset(val_data, batch_size=32, training=False)
    size = train_data.image_size
    model = build_classifier(build_backbone("small_cnn", size, alpha=0.5, weights=WeightsSpec.parse("none")),
                             len(train_data.class_names), frozen_batchnorm=False)
    train(model, train_ds, val_ds, TrainingConfig(epochs=epochs, fine_tune_epochs=0, patience=0), pretrained=False,
          progress=Progress(), examples=len(train_data))
    return model, train_ds, val_ds


def test_pretrained_runs_head_then_fine_tune_with_bn_frozen():
    ds = _tiny_data()
    backbone = build_backbone("small_cnn", (16, 16), alpha=0.5, weights=WeightsSpec.parse("none"))
    model = build_classifier(backbone, 2)
    before = [w.copy() for w in backbone.get_weights()]
    recorder = Recorder()
    config = TrainingConfig(epochs=2, fine_tune_epochs=2, fine_tune_layers=3, patience=0)
    phases = train(model, ds, ds, config, pretrained=True, progress=recorder, examples=40)
    assert [p.name for p in phases] == ["head", "fine_tune"]
    assert [p.epochs_run for p in phases] == [2, 2]
    assert recorder.epochs[0][:3] == ("head", 1, 2) and recorder.epochs[-1][:3] == ("fine_tune", 2, 2)
    assert phases[1].learning_rate == config.fine_tune_rate

    layers = leaf_layers(backbone)
    trainable = [layer.name for layer in layers if layer.trainable]
    # The top 3 leaf layers are relu3, bn3, conv3: BatchNorm stays frozen.
    assert trainable == ["conv3", "relu3"]
    after = backbone.get_weights()
    changed = [not np.array_equal(a, b) for a, b in zip(before, after)]
    # Only conv3's kernel moved; the earlier convs and every BatchNorm statistic did not.
    names = [w.name for w in backbone.weights]
    moved = {n for n, c in zip(names, changed) if c}
    assert moved == {n for n in names if n.startswith("conv3")}


def test_from_scratch_is_one_phase_whose_batchnorm_statistics_follow_the_data():
    ds = _tiny_data()
    backbone = build_backbone("small_cnn", (16, 16), alpha=0.5, weights=WeightsSpec.parse("none"))
    model = build_classifier(backbone, 2, frozen_batchnorm=False)
    phases = train(model, ds, ds, TrainingConfig(epochs=2, fine_tune_epochs=1, patience=0), pretrained=False,
                   progress=Progress(), examples=40)
    assert [(p.name, p.epochs_run) for p in phases] == [("scratch", 3)]
    bn = next(layer for layer in leaf_layers(backbone) if layer.name == "bn0")
    assert bn.momentum == batchnorm_momentum(phases[0].steps_per_epoch) == 0.9
    assert phases[0].steps_per_epoch == 26  # 13 passes of 2 batches
    # Moving statistics moved off their initial values (mean 0, variance 1).
    assert np.abs(bn.moving_mean.numpy()).max() > 0.01


def test_an_epoch_is_whole_passes_of_at_least_the_minimum_steps():
    assert epoch_shape(240, 32) == type(epoch_shape(1, 1))(passes=4, steps=32)
    big = epoch_shape(10_000, 32)
    assert big.passes == 1 and big.steps == 313 >= MIN_STEPS_PER_EPOCH
    assert batchnorm_momentum(313) == pytest.approx(1 - 5 / 313)
    assert batchnorm_momentum(10_000) == 0.99


@pytest.mark.slow
def test_mobilenet_v3_small_from_scratch_learns_above_chance():
    train_data, val_data = digits_split(32, 60)
    backbone = build_backbone(Backbone.MOBILENET_V3_SMALL, (32, 32), alpha=0.35, weights=WeightsSpec.parse("none"))
    model = build_classifier(backbone, 10, frozen_batchnorm=False)
    train_ds = to_tf_dataset(train_data, batch_size=32, training=True, seed=0)
    val_ds = to_tf_dataset(val_data, batch_size=32, training=False)
    train(model, train_ds, val_ds, TrainingConfig(epochs=6, fine_tune_epochs=0, patience=0), pretrained=False,
          progress=Progress(), examples=len(train_data))
    accuracy = float(np.mean(model.predict(val_ds, verbose=0).argmax(1) == val_data.labels))
    check = check_learned(accuracy, val_data.labels)
    assert check.learned, check


def test_head_on_cached_features_reaches_the_accuracy_of_the_uncached_head(tmp_path):
    train_data, val_data = digits_split(16, 30, 30)
    # A backbone pretrained here: two epochs from scratch, then saved as a .keras model.
    source, train_ds, val_ds = scratch_model(train_data, val_data, 2)
    source.save(tmp_path / "pretrained.keras")
    config = TrainingConfig(epochs=15, fine_tune_epochs=0, patience=4)
    accuracies = {}
    for cached in (True, False):
        backbone = build_backbone("small_cnn", (16, 16), alpha=0.5,
                                  weights=WeightsSpec.parse(tmp_path / "pretrained.keras"))
        model = build_classifier(backbone, 10)
        head = functools.partial(head_phase, model, train_data, val_data, config, Augmentation.off(), 0,
                                 Progress()) if cached else None
        phases = train(model, train_ds, val_ds, config, pretrained=True, progress=Progress(),
                       examples=len(train_data), head=head)
        assert phases[0].cached_features is cached
        accuracies[cached] = float(np.mean(model.predict(val_ds, verbose=0).argmax(1) == val_data.labels))
    assert accuracies[True] >= accuracies[False] - 0.03, accuracies
    assert check_learned(accuracies[True], val_data.labels).learned


def test_int8_head_trains_on_the_features_the_int8_model_computes(tmp_path):
    from edgekit.conversion.target import keras_to_target
    from edgekit.inference import predict
    from edgekit.models.head import int8_head_phase
    from edgekit.targets import load_target

    train_data, val_data = digits_split(16, 30, 30)
    source, train_ds, val_ds = scratch_model(train_data, val_data, 2)
    source.save(tmp_path / "pretrained.keras")
    model = build_classifier(build_backbone("small_cnn", (16, 16), alpha=0.5,
                                            weights=WeightsSpec.parse(tmp_path / "pretrained.keras")), 10)
    config = TrainingConfig(epochs=10, fine_tune_epochs=0, patience=3)
    train(model, train_ds, val_ds, config, pretrained=True, progress=Progress(), examples=len(train_data))

    target = load_target("cpu")
    calibration = train_data.images[:100].astype(np.float32)
    result = int8_head_phase(model, train_data, val_data, target, calibration, config, 0, Progress())
    assert result.name == "int8_head" and result.learning_rate == config.learning_rate
    # The whole model converted by the same conversion, settings and calibration scores what
    # the head scored on the int8 features: they are the features the .tflite computes.
    lite = keras_to_target(model, calibration, target, tmp_path / "whole.tflite", Progress(), output="scores").path
    tflite_accuracy = float(np.mean(predict(lite, val_data.images).argmax(1) == val_data.labels))
    # In images, at most 2 apart: Keras keeps the accuracy in float32 (0.83666664 for 251/300).
    assert abs(round(tflite_accuracy * len(val_data)) - round(result.val_accuracy * len(val_data))) <= 2
