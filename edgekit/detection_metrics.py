"""COCO mAP of detections, by pycocotools' own evaluator (not a home-made one).

Boxes come in as (y0, x0, y1, x1) fractions of each image, as the detector and the
post-process op give them, and are scored in the image's pixels, as COCO defines areas.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from edgekit.errors import MissingDependencyError


@dataclass(frozen=True)
class Truth:
    """One image's true boxes: (n, 4) (y0, x0, y1, x1) fractions and (n,) class indices."""

    width: int
    height: int
    boxes: np.ndarray
    classes: np.ndarray


@dataclass(frozen=True)
class MeanAP:
    map: float
    map50: float
    # Per class: AP@[.5:.95] and AP@.5 (None for a class with no true box).
    per_class: dict[str, dict[str, float | None]]
    # Per class: precision at COCO's 101 recall points (0, 0.01 ... 1) at IoU 0.5; -1 where
    # that recall is never reached.
    curves: dict[str, list[float]] | None = None

    def to_dict(self) -> dict:
        return {"map": self.map, "map50": self.map50, "per_class": self.per_class}


def mean_ap(truth: Sequence[Truth], detections: Sequence, class_names: Sequence[str]) -> MeanAP:
    """mAP@[.5:.95] and mAP@.5 over every image, and each class's; ``detections`` are
    models.anchors.Detections (boxes, classes, scores), one per image of ``truth``."""
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError:
        raise MissingDependencyError("scoring detections needs pycocotools: pip install pycocotools") from None
    images, annotations, results = [], [], []
    for image_id, (t, d) in enumerate(zip(truth, detections), 1):
        images.append({"id": image_id, "width": t.width, "height": t.height})
        for box, label in zip(_pixels(t.boxes, t), t.classes):
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": int(label) + 1,
                                "bbox": box, "area": box[2] * box[3], "iscrowd": 0})
        for box, label, score in zip(_pixels(d.boxes, t), d.classes, d.scores):
            results.append({"image_id": image_id, "category_id": int(label) + 1, "bbox": box, "score": float(score)})
    ground = COCO()
    ground.dataset = {"images": images, "annotations": annotations,
                      "categories": [{"id": i + 1, "name": n} for i, n in enumerate(class_names)]}
    # pycocotools prints its progress; edgekit reports its own.
    with contextlib.redirect_stdout(io.StringIO()):
        ground.createIndex()
        if not results:
            return MeanAP(0.0, 0.0, {n: {"ap": 0.0, "ap50": 0.0} for n in class_names})
        found = ground.loadRes(results)
        evaluation = COCOeval(ground, found, "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    # precision: [iou thresholds, recall points, classes, areas, max detections]; area 0 is
    # all, and the last max-detections setting is 100.
    precision = evaluation.eval["precision"][:, :, :, 0, -1]
    per_class, curves = {}, {}
    for k, name in enumerate(class_names):
        curves[name] = [round(float(v), 4) for v in precision[0, :, k]]
        p = precision[:, :, k]
        valid = p[p > -1]
        per_class[name] = {"ap": float(valid.mean()) if valid.size else None,
                           "ap50": float(p[0][p[0] > -1].mean()) if (p[0] > -1).any() else None}
    stats = evaluation.stats
    return MeanAP(max(0.0, float(stats[0])), max(0.0, float(stats[1])), per_class, curves)


def _pixels(boxes: np.ndarray, image: Truth) -> list[list[float]]:
    """(y0, x0, y1, x1) fractions to COCO's [x, y, width, height] in pixels, clipped to the image."""
    out = []
    for y0, x0, y1, x1 in np.asarray(boxes, np.float64).reshape(-1, 4):
        x0, x1 = np.clip([x0, x1], 0, 1) * image.width
        y0, y1 = np.clip([y0, y1], 0, 1) * image.height
        out.append([float(x0), float(y0), float(x1 - x0), float(y1 - y0)])
    return out
