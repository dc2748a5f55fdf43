"""A single-shot detector on a backbone: SSD-style extra feature maps, one box and one class
head per map, anchors from models.anchors, and its loss.

Every op is one the Edge TPU maps (3x3 and 1x1 convolutions, ReLU6, reshape,
concatenation, logistic), so the whole network runs there and only the final
``TFLite_Detection_PostProcess`` runs on the host, as in Coral's own detectors.

Loss (RetinaNet, Lin et al. 2017): sigmoid focal loss on the class scores (alpha 0.25,
gamma 2), so the tens of thousands of easy background anchors do not drown the few
positive ones without SSD's hard-negative mining; Huber loss on the encoded boxes of the
positive anchors; both divided by the number of positive anchors in the batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgekit._tf import keras_module, tensorflow
from edgekit.models.anchors import ANCHORS_PER_CELL, anchors_for

BOXES = "box_encodings"
SCORES = "class_scores"
# Extra maps below the backbone's: SSD halves the map at each until it is 1 px.
MAX_LEVELS = 3
EXTRA_FILTERS = 128
FOCAL_ALPHA = 0.25
FOCAL_GAMMA = 2.0
# The class heads start predicting this probability everywhere (RetinaNet's prior), so
# the first steps are not spent unlearning 0.5 on every background anchor.
PRIOR_PROBABILITY = 0.01


@dataclass(frozen=True)
class Detector:
    model: Any
    anchors: np.ndarray
    feature_sizes: tuple[tuple[int, int], ...]


def build_detector(backbone: Any, classes: int, *, frozen_batchnorm: bool = False) -> Detector:
    """``backbone`` (pixels in, a feature map out) with extra maps and heads; outputs
    (anchors, 4) box encodings and (anchors, classes) sigmoid scores."""
    keras = keras_module()
    layers = keras.layers
    inputs = keras.Input(backbone.input_shape[1:], name="image")
    x = backbone(inputs, training=False) if frozen_batchnorm else backbone(inputs)
    maps = [x]
    while len(maps) < MAX_LEVELS and min(maps[-1].shape[1], maps[-1].shape[2]) >= 2:
        level = len(maps)
        y = layers.Conv2D(EXTRA_FILTERS // 2, 1, name=f"extra{level}_reduce")(maps[-1])
        y = layers.ReLU(6.0, name=f"extra{level}_reduce_relu")(y)
        y = layers.Conv2D(EXTRA_FILTERS, 3, strides=2, padding="same", name=f"extra{level}")(y)
        maps.append(layers.ReLU(6.0, name=f"extra{level}_relu")(y))
    bias = keras.initializers.Constant(-math.log((1 - PRIOR_PROBABILITY) / PRIOR_PROBABILITY))
    boxes, scores = [], []
    for level, feature in enumerate(maps):
        b = layers.Conv2D(ANCHORS_PER_CELL * 4, 3, padding="same", name=f"boxes{level}")(feature)
        boxes.append(layers.Reshape((-1, 4), name=f"boxes{level}_flat")(b))
        s = layers.Conv2D(ANCHORS_PER_CELL * classes, 3, padding="same", bias_initializer=bias,
                          name=f"scores{level}")(feature)
        scores.append(layers.Reshape((-1, classes), name=f"scores{level}_flat")(s))
    box_out = layers.Concatenate(axis=1, name=BOXES)(boxes) if len(boxes) > 1 else layers.Activation(
        "linear", name=BOXES)(boxes[0])
    logits = layers.Concatenate(axis=1, name="logits")(scores) if len(scores) > 1 else scores[0]
    score_out = layers.Activation("sigmoid", name=SCORES)(logits)
    model = keras.Model(inputs, [box_out, score_out], name="edgekit_detector")
    sizes = tuple((int(m.shape[1]), int(m.shape[2])) for m in maps)
    return Detector(model, anchors_for(list(sizes)), sizes)


def anchors_of(model: Any) -> np.ndarray:
    """The anchors of a detector this module built (a saved model.keras, say), from the sizes
    of the feature maps its box heads read."""
    sizes = []
    level = 0
    while True:
        try:
            layer = model.get_layer(f"boxes{level}")
        except ValueError:
            break
        shape = layer.output_shape if hasattr(layer, "output_shape") else layer.output.shape
        sizes.append((int(shape[1]), int(shape[2])))
        level += 1
    if not sizes:
        raise ValueError("not an edgekit detector: no layer boxes0")
    return anchors_for(sizes)


def targets(matched: list, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """A batch of :class:`~edgekit.models.anchors.Matched` as the two outputs' training
    targets: boxes with a positive flag (n, anchors, 5), and one-hot classes with a weight
    that is 0 on ignored anchors (n, anchors, classes + 1)."""
    count = len(matched[0].classes)
    box_targets = np.zeros((len(matched), count, 5), dtype=np.float32)
    class_targets = np.zeros((len(matched), count, classes + 1), dtype=np.float32)
    for i, m in enumerate(matched):
        positive = m.classes >= 0
        box_targets[i, :, :4] = m.boxes
        box_targets[i, :, 4] = positive
        class_targets[i, positive, m.classes[positive]] = 1.0
        class_targets[i, :, classes] = m.classes != -2
    return box_targets, class_targets


def losses() -> list:
    """The two outputs' losses in output order, each normalised by the batch's positive anchors.
    By position, not by output name: QAT renames the output layers (quant_box_encodings)."""
    tf = tensorflow()

    def positives(weights):
        return tf.maximum(1.0, tf.reduce_sum(weights))

    def box_loss(y_true, y_pred):
        positive = y_true[..., 4]
        error = tf.abs(y_true[..., :4] - y_pred)
        # Huber with delta 1 (smooth L1), written out: keras' Huber averages over the last axis.
        per = tf.where(error < 1.0, 0.5 * error ** 2, error - 0.5)
        return tf.reduce_sum(tf.reduce_sum(per, axis=-1) * positive) / positives(positive)

    def class_loss(y_true, y_pred):
        one_hot, weight = y_true[..., :-1], y_true[..., -1]
        p = tf.clip_by_value(y_pred, 1e-6, 1 - 1e-6)
        p_t = one_hot * p + (1 - one_hot) * (1 - p)
        alpha = one_hot * FOCAL_ALPHA + (1 - one_hot) * (1 - FOCAL_ALPHA)
        focal = -alpha * (1 - p_t) ** FOCAL_GAMMA * tf.math.log(p_t)
        positive = tf.reduce_sum(one_hot, axis=-1)
        return tf.reduce_sum(tf.reduce_sum(focal, axis=-1) * weight) / positives(positive)

    return [box_loss, class_loss]
