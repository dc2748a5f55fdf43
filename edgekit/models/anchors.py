"""Anchors of a single-shot detector, matching boxes to them, and decoding what it predicts.

numpy only: the training targets are made here, and an app-side decoder (the
``TFLite_Detection_PostProcess`` op) does exactly what :func:`decode` and :func:`detect`
do, so the Keras model can be scored the way the .tflite is.

The choices follow the detectors Coral and TFLite ship:

- SSD's anchors (Liu et al. 2016; the TF Object Detection API's ``ssd_anchor_generator``):
  per feature map, scales spaced evenly between ``MIN_SCALE`` and ``MAX_SCALE`` of the
  image, aspect ratios 1, 2 and 1/2, plus one square anchor at the geometric mean of this
  scale and the next.
- Box encoding in centre-size form divided by the variances ``BOX_SCALES`` (10, 10, 5, 5),
  the TF Object Detection API's ``faster_rcnn_box_coder`` defaults, which the post-process
  op takes as ``y_scale, x_scale, h_scale, w_scale``.
- RetinaNet's matching (Lin et al. 2017): IoU >= 0.5 positive, < 0.4 background, between
  ignored; plus SSD's rule that each true box claims its best anchor, so that a small
  object no anchor covers at 0.5 is still learned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_SCALE = 0.2
MAX_SCALE = 0.9
ASPECT_RATIOS = (1.0, 2.0, 0.5)
# Per feature-map cell: the aspect ratios, and the square at the intermediate scale.
ANCHORS_PER_CELL = len(ASPECT_RATIOS) + 1
BOX_SCALES = (10.0, 10.0, 5.0, 5.0)
POSITIVE_IOU = 0.5
NEGATIVE_IOU = 0.4


@dataclass(frozen=True)
class Matched:
    """Training targets for one image's anchors."""

    # (anchors, 4) encoded boxes; meaningful where ``positive``.
    boxes: np.ndarray
    # (anchors,) class index, -1 background, -2 ignored.
    classes: np.ndarray

    @property
    def positive(self) -> np.ndarray:
        return self.classes >= 0


def anchors_for(feature_sizes: list[tuple[int, int]]) -> np.ndarray:
    """(anchors, 4) as (y centre, x centre, height, width) in fractions of the image, level by
    level, cell by cell in row-major order, ``ANCHORS_PER_CELL`` per cell: the order a
    detector's heads reshape their outputs in."""
    levels = len(feature_sizes)
    scales = [MIN_SCALE + (MAX_SCALE - MIN_SCALE) * i / max(1, levels - 1) for i in range(levels)] + [1.0]
    rows = []
    for level, (height, width) in enumerate(feature_sizes):
        scale, following = scales[level], scales[level + 1]
        shapes = [(scale / np.sqrt(r), scale * np.sqrt(r)) for r in ASPECT_RATIOS]
        shapes.append((np.sqrt(scale * following),) * 2)
        ys, xs = (np.arange(height) + 0.5) / height, (np.arange(width) + 0.5) / width
        for y in ys:
            for x in xs:
                rows.extend((y, x, h, w) for h, w in shapes)
    return np.asarray(rows, dtype=np.float32)


def corners(centre_size: np.ndarray) -> np.ndarray:
    """(y centre, x centre, h, w) to (y0, x0, y1, x1)."""
    y, x, h, w = np.moveaxis(centre_size, -1, 0)
    return np.stack([y - h / 2, x - w / 2, y + h / 2, x + w / 2], axis=-1)


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) intersection over union of (y0, x0, y1, x1) boxes."""
    top = np.maximum(a[:, None, 0], b[None, :, 0])
    left = np.maximum(a[:, None, 1], b[None, :, 1])
    bottom = np.minimum(a[:, None, 2], b[None, :, 2])
    right = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(bottom - top, 0, None) * np.clip(right - left, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def encode(boxes: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """(y0, x0, y1, x1) boxes against their anchors, in the post-process op's encoding."""
    h, w = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    y, x = boxes[:, 0] + h / 2, boxes[:, 1] + w / 2
    ay, ax, ah, aw = anchors.T
    sy, sx, sh, sw = BOX_SCALES
    return np.stack([(y - ay) / ah * sy, (x - ax) / aw * sx, np.log(np.maximum(h, 1e-6) / ah) * sh,
                     np.log(np.maximum(w, 1e-6) / aw) * sw], axis=-1).astype(np.float32)


def decode(encoded: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """The inverse of :func:`encode`: (y0, x0, y1, x1) in fractions of the image."""
    sy, sx, sh, sw = BOX_SCALES
    ay, ax, ah, aw = anchors.T
    y = encoded[..., 0] / sy * ah + ay
    x = encoded[..., 1] / sx * aw + ax
    h = np.exp(encoded[..., 2] / sh) * ah
    w = np.exp(encoded[..., 3] / sw) * aw
    return np.stack([y - h / 2, x - w / 2, y + h / 2, x + w / 2], axis=-1)


def match(anchors: np.ndarray, boxes: np.ndarray, labels: np.ndarray) -> Matched:
    """Targets for one image: ``boxes`` (n, 4) as (y0, x0, y1, x1) fractions, ``labels`` (n,)."""
    count = len(anchors)
    classes = np.full(count, -1, dtype=np.int32)
    targets = np.zeros((count, 4), dtype=np.float32)
    if len(boxes) == 0:
        return Matched(targets, classes)
    overlaps = iou(corners(anchors), boxes)
    best = overlaps.argmax(axis=1)
    best_iou = overlaps[np.arange(count), best]
    classes[best_iou >= NEGATIVE_IOU] = -2
    positive = best_iou >= POSITIVE_IOU
    # Each true box claims the anchor that overlaps it most, even below the threshold.
    claimed = overlaps.argmax(axis=0)
    best[claimed] = np.arange(len(boxes))
    positive[claimed] = True
    classes[positive] = labels[best[positive]]
    targets[positive] = encode(boxes[best[positive]], anchors[positive])
    return Matched(targets, classes)


@dataclass(frozen=True)
class Detections:
    """One image's detections, best first: (n, 4) (y0, x0, y1, x1) fractions, classes and scores."""

    boxes: np.ndarray
    classes: np.ndarray
    scores: np.ndarray


def detect(encoded: np.ndarray, scores: np.ndarray, anchors: np.ndarray, *, max_detections: int,
           score_threshold: float, iou_threshold: float) -> Detections:
    """What ``TFLite_Detection_PostProcess`` does with ``use_regular_nms`` false: each anchor's
    best class, those above ``score_threshold``, greedy non-maximum suppression across classes,
    at most ``max_detections`` (tensorflow/lite/kernels/detection_postprocess.cc)."""
    boxes = decode(encoded, anchors)
    best = scores.argmax(axis=1)
    best_scores = scores[np.arange(len(scores)), best]
    candidates = np.flatnonzero(best_scores >= score_threshold)
    order = candidates[np.argsort(-best_scores[candidates], kind="stable")]
    kept: list[int] = []
    while len(order) and len(kept) < max_detections:
        head = order[0]
        kept.append(int(head))
        if len(order) == 1:
            break
        overlaps = iou(boxes[head][None], boxes[order[1:]])[0]
        order = order[1:][overlaps <= iou_threshold]
    kept_array = np.asarray(kept, dtype=np.int64)
    return Detections(boxes[kept_array].reshape(-1, 4), best[kept_array], best_scores[kept_array])
