"""The head phase on cached features: the frozen backbone runs once, not once an epoch.

With the backbone frozen, every epoch of the head phase would push every training
image through it again to train one Dense layer. Instead its pooled features are
computed once (the original images plus a few augmented copies when augmentation is
on) and the head trains on them to convergence in seconds. The head's layers are the
classifier's own, so the trained weights are in the model when this returns.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from edgekit._tf import keras_module, tensorflow
from edgekit.data.augment import Augmentation
from edgekit.data.dataset import LabelledImages
from edgekit.models.training import PhaseResult, Replay, epoch_shape, fit_phase
from edgekit.progress import Progress

if TYPE_CHECKING:
    from edgekit.config import TrainingConfig

# Augmented copies of the training set whose features are cached beside the originals:
# each copy costs one pass of the backbone over the training images.
AUGMENTED_COPIES = 3
_FEATURE_BATCH = 64


def head_phase(model: Any, train: LabelledImages, val: LabelledImages | None, config: TrainingConfig,
               augmentation: Augmentation | None, seed: int, progress: Progress,
               replay: Replay | None = None) -> PhaseResult:
    """Train ``model``'s head (everything after its ``backbone`` layer) on cached backbone features
    (a refit's ``replay`` with no ``val``)."""
    tf, keras = tensorflow(), keras_module()
    start = time.perf_counter()
    features = _feature_model(model)
    copies = AUGMENTED_COPIES if augmentation is not None and augmentation.enabled else 0
    progress.log(f"head: caching backbone features of {len(train)} training images"
                 + (f" and {copies} augmented copies" if copies else "")
                 + (f" and {len(val)} validation images" if val is not None else ""))
    train_x = [_features(features, _batches(train.images))]
    if copies:
        augmenter = keras.Sequential(augmentation.layers(keras, seed), name="augmentation")
        for copy in range(copies):
            progress.count("augmented copies", copy, copies)
            augmented = _batches(train.images).map(
                lambda x: tf.clip_by_value(augmenter(x, training=True), 0.0, 255.0))
            train_x.append(_features(features, augmented))
    train_x = np.concatenate(train_x)
    train_y = np.tile(train.labels, copies + 1)
    val_xy = None if val is None else (_features(features, _batches(val.images)), val.labels)
    progress.log(f"head: features cached in {time.perf_counter() - start:.1f}s, {train_x.shape[1]} per image")
    result = fit_head(model, (train_x, train_y), val_xy, "head", config.learning_rate, config, seed,
                      progress, replay=replay)
    # The phase's time includes computing the features it trained on.
    return dataclasses.replace(result, seconds=round(time.perf_counter() - start, 2))


def int8_head_phase(model: Any, train: LabelledImages, val: LabelledImages | None, profile: Any,
                    calibration: np.ndarray, config: TrainingConfig, seed: int, progress: Progress, *,
                    conversion: Any = None, replay: Replay | None = None) -> PhaseResult:
    """Fine-tune the head on the features the int8 model will compute, not the float ones.

    Post-training int8 quantisation moves a pretrained backbone's pooled features a long
    way: for a MobileNetV2 on 30 images a class, their cosine similarity to the float
    features was 0.85, and a head trained on float features lost 15 points when fed int8
    ones, while one trained on the int8 features did not. The backbone and pooling are
    converted alone by the same conversion, settings and calibration images as the whole
    model (so the same quantisation parameters), run on the training and validation images,
    and the head, starting from its float weights, fits those features.
    """
    import dataclasses as _dc
    import tempfile
    from pathlib import Path

    from edgekit.conversion.target import keras_to_target
    from edgekit.inference import predict
    from edgekit.progress import Progress as Silent

    start = time.perf_counter()
    features = _feature_model(model)
    images = len(train) + (len(val) if val is not None else 0)
    progress.log(f"int8 head: converting the backbone and running it on {images} images")
    # Batch 1, as the whole model on an Edge TPU: the same quantisation parameters.
    profile = _dc.replace(profile, limits=_dc.replace(profile.limits, batch_size=1, max_model_bytes=None))
    with tempfile.TemporaryDirectory() as scratch:
        tflite = keras_to_target(features, calibration, profile, Path(scratch) / "features.tflite", Silent(),
                                 output="features", options=conversion).path.read_bytes()
    train_x = predict(tflite, train.images, batch_size=_FEATURE_BATCH)
    val_xy = None if val is None else (predict(tflite, val.images, batch_size=_FEATURE_BATCH), val.labels)
    result = fit_head(model, (train_x, train.labels), val_xy, "int8_head",
                      config.learning_rate, config, seed, progress, replay=replay)
    return dataclasses.replace(result, seconds=round(time.perf_counter() - start, 2))


def fit_head(model: Any, train: tuple, val: tuple | None, name: str, lr: float, config: TrainingConfig, seed: int,
             progress: Progress, replay: Replay | None = None) -> PhaseResult:
    """Fit ``model``'s own head layers on (features, labels) arrays; returns the phase's result."""
    tf, keras = tensorflow(), keras_module()
    head_layers = _head_layers(model)
    inputs = keras.Input(train[0].shape[1:], name="features")
    x = inputs
    for layer in head_layers:
        x = layer(x)
    head = keras.Model(inputs, x, name="head")
    train_ds = tf.data.Dataset.from_tensor_slices(train).shuffle(
        len(train[0]), seed=seed, reshuffle_each_iteration=True).batch(config.batch_size)
    val_ds = None if val is None else tf.data.Dataset.from_tensor_slices(val).batch(256)
    return fit_phase(head, train_ds, val_ds, name, config.epochs, lr, config.patience, progress,
                     shape=epoch_shape(len(train[0]), config.batch_size), cached=True, replay=replay)


def _feature_model(model: Any) -> Any:
    """The classifier up to its head: pixels in, pooled backbone features out."""
    return keras_module().Model(model.input, _head_layers(model)[0].input, name="features")


def _head_layers(model: Any) -> list:
    """The layers after the backbone that have weights or act in training (dropout): pooling
    and flattening are fixed functions, so the cache holds their output, which is small."""
    names = [layer.name for layer in model.layers]
    after = model.layers[names.index("backbone") + 1:]
    while after and after[0].name in ("pool", "flatten"):
        after = after[1:]
    return after


def _batches(images: np.ndarray) -> Any:
    tf = tensorflow()
    return tf.data.Dataset.from_tensor_slices(images).batch(_FEATURE_BATCH).map(lambda x: tf.cast(x, tf.float32))


def _features(extractor: Any, batches: Any) -> np.ndarray:
    return np.asarray(extractor.predict(batches, verbose=0), dtype=np.float32)
