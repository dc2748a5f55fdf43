"""A classifier: backbone, pooling, dropout and a softmax head."""

from __future__ import annotations

from typing import Any

from edgekit._tf import keras_module


def build_classifier(backbone: Any, num_classes: int, *, dropout: float = 0.2, frozen_batchnorm: bool = True) -> Any:
    """Wrap ``backbone`` with a new head.

    ``frozen_batchnorm`` (a pretrained backbone) calls it with ``training=False``: its
    BatchNorm statistics stay frozen even when its top layers are unfrozen for
    fine-tuning, since updating them from a few small batches destroys what the
    pretrained backbone learned (Keras transfer-learning guide). From scratch that
    would leave BatchNorm normalising with its initial statistics, and the model would
    not train (MobileNetV3 stays at chance), so there it follows the training phase.
    """
    keras = keras_module()
    inputs = keras.Input(backbone.input_shape[1:], name="image")
    x = backbone(inputs, training=False) if frozen_batchnorm else backbone(inputs)
    if len(x.shape) == 4:
        x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    elif len(x.shape) != 2:
        x = keras.layers.Flatten(name="flatten")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name="edgekit_classifier")


def leaf_layers(model: Any) -> list:
    """Layers in order with nested models expanded, so 'the top N layers' means real layers."""
    out = []
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:
            out.extend(leaf_layers(layer))
        else:
            out.append(layer)
    return out
