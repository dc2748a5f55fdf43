"""Architectures in published latency tables that keras.applications lacks.

TF-slim's Inception v1 (224x224) and Inception v4 (299x299), conv + batch norm + ReLU
throughout, 1001 classes; built with random weights (latency does not depend on them),
they have slim's published parameter counts, 6.6M and 42.7M.
"""

from __future__ import annotations

# Inception v1's mixed blocks: 1x1; 1x1 then 3x3; 1x1 then 3x3 (slim's, not the paper's
# 5x5); 3x3 max pool then 1x1. Filters per branch, in slim's order.
_V1_MIXED_3 = [(64, 96, 128, 16, 32, 32), (128, 128, 192, 32, 96, 64)]
_V1_MIXED_4 = [(192, 96, 208, 16, 48, 64), (160, 112, 224, 24, 64, 64), (128, 128, 256, 24, 64, 64),
               (112, 144, 288, 32, 64, 64), (256, 160, 320, 32, 128, 128)]
_V1_MIXED_5 = [(256, 160, 320, 32, 128, 128), (384, 192, 384, 48, 128, 128)]


def build(name: str):
    """``inception_v1`` or ``inception_v4`` as a tf-keras model."""
    from edgekit._tf import keras_module

    keras = keras_module()
    layers = keras.layers

    def conv(x, filters, kernel, strides=1, padding="same"):
        x = layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False)(x)
        return layers.ReLU()(layers.BatchNormalization()(x))

    def pool(x, size=3, strides=2, padding="valid", average=False):
        kind = layers.AveragePooling2D if average else layers.MaxPooling2D
        return kind(size, strides, padding=padding)(x)

    if name == "inception_v1":
        inputs = keras.Input((224, 224, 3))

        def mixed(x, a, b1, b2, c1, c2, d):
            return layers.Concatenate()([conv(x, a, 1), conv(conv(x, b1, 1), b2, 3), conv(conv(x, c1, 1), c2, 3),
                                         conv(pool(x, 3, 1, "same"), d, 1)])

        x = pool(conv(conv(pool(conv(inputs, 64, 7, 2), padding="same"), 64, 1), 192, 3), padding="same")
        for filters in _V1_MIXED_3:
            x = mixed(x, *filters)
        x = pool(x, padding="same")
        for filters in _V1_MIXED_4:
            x = mixed(x, *filters)
        x = pool(x, 2, 2, "same")
        for filters in _V1_MIXED_5:
            x = mixed(x, *filters)
        x = layers.Conv2D(1001, 1)(layers.GlobalAveragePooling2D(keepdims=True)(x))
        return keras.Model(inputs, layers.Softmax()(layers.Flatten()(x)))
    if name != "inception_v4":
        raise ValueError(f"unknown architecture {name}")

    inputs = keras.Input((299, 299, 3))
    x = conv(conv(conv(inputs, 32, 3, 2, "valid"), 32, 3, 1, "valid"), 64, 3)
    x = layers.Concatenate()([pool(x), conv(x, 96, 3, 2, "valid")])
    x = layers.Concatenate()([conv(conv(x, 64, 1), 96, 3, 1, "valid"),
                              conv(conv(conv(conv(x, 64, 1), 64, (1, 7)), 64, (7, 1)), 96, 3, 1, "valid")])
    x = layers.Concatenate()([conv(x, 192, 3, 2, "valid"), pool(x)])
    for _ in range(4):  # Inception-A, 35x35
        x = layers.Concatenate()([conv(x, 96, 1), conv(conv(x, 64, 1), 96, 3),
                                  conv(conv(conv(x, 64, 1), 96, 3), 96, 3),
                                  conv(pool(x, 3, 1, "same", average=True), 96, 1)])
    x = layers.Concatenate()([conv(x, 384, 3, 2, "valid"), conv(conv(conv(x, 192, 1), 224, 3), 256, 3, 2, "valid"),
                              pool(x)])
    for _ in range(7):  # Inception-B, 17x17
        seven = conv(conv(conv(x, 192, 1), 224, (1, 7)), 256, (7, 1))
        double = conv(conv(conv(conv(conv(x, 192, 1), 192, (7, 1)), 224, (1, 7)), 224, (7, 1)), 256, (1, 7))
        x = layers.Concatenate()([conv(x, 384, 1), seven, double,
                                  conv(pool(x, 3, 1, "same", average=True), 128, 1)])
    x = layers.Concatenate()([conv(conv(x, 192, 1), 192, 3, 2, "valid"),
                              conv(conv(conv(conv(x, 256, 1), 256, (1, 7)), 320, (7, 1)), 320, 3, 2, "valid"),
                              pool(x)])
    for _ in range(3):  # Inception-C, 8x8
        split = conv(x, 384, 1)
        deep = conv(conv(conv(x, 384, 1), 448, (3, 1)), 512, (1, 3))
        x = layers.Concatenate()([conv(x, 256, 1), conv(split, 256, (1, 3)), conv(split, 256, (3, 1)),
                                  conv(deep, 256, (1, 3)), conv(deep, 256, (3, 1)),
                                  conv(pool(x, 3, 1, "same", average=True), 256, 1)])
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(1001, activation="softmax")(x))
