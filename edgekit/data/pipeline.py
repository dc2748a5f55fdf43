"""tf.data input pipelines over in-memory labelled images."""

from __future__ import annotations

from edgekit._tf import keras_module, tensorflow
from edgekit.data.augment import Augmentation
from edgekit.data.dataset import LabelledImages


def to_tf_dataset(
    data: LabelledImages,
    *,
    batch_size: int,
    training: bool,
    augmentation: Augmentation | None = None,
    seed: int = 0,
):
    """Batches of (float32 pixels 0-255, int labels).

    Training batches are shuffled every epoch and augmented on the fly, vectorised per
    batch; validation batches are neither, so every epoch sees the same validation
    images.
    """
    tf = tensorflow()
    keras = keras_module()
    ds = tf.data.Dataset.from_tensor_slices((data.images, data.labels)).cache()
    if training:
        ds = ds.shuffle(len(data), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    ds = ds.map(lambda x, y: (tf.cast(x, tf.float32), y), num_parallel_calls=tf.data.AUTOTUNE)
    if training and augmentation is not None and augmentation.enabled:
        augmenter = keras.Sequential(augmentation.layers(keras, seed), name="augmentation")
        # One call at a time: the random layers draw from a seeded generator, and
        # parallel calls would draw in a racy order, so the same seed would not give
        # the same model. The ops inside still use every core.
        ds = ds.map(lambda x, y: (tf.clip_by_value(augmenter(x, training=True), 0.0, 255.0), y))
    return ds.prefetch(tf.data.AUTOTUNE)
