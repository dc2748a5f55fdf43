"""``evaluate_boxes()``: COCO mAP of a .tflite detector on a box-annotated folder, with only a
TFLite runtime (and pycocotools): what ``edgekit eval`` does for a detector on a Pi."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from edgekit.errors import ConfigError
from edgekit.models.anchors import Detections


@dataclass(frozen=True)
class BoxEvaluation:
    model: str
    data: str
    format: str
    images: int
    boxes: int
    class_names: tuple[str, ...]
    map: float
    map50: float
    per_class: dict
    skipped: list

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def render(self) -> str:
        width = max(len(n) for n in self.class_names)
        lines = [f"model     {self.model}",
                 f"data      {self.data} ({self.format}): {self.images} images, {self.boxes} boxes, "
                 f"{len(self.skipped)} bad boxes skipped",
                 f"mAP@.5    {self.map50:.4f}   mAP@[.5:.95] {self.map:.4f}  (COCO, pycocotools)",
                 "per class (AP@[.5:.95], AP@.5):"]
        for name in self.class_names:
            row = self.per_class[name]
            ap, ap50 = ("-" if row[k] is None else f"{row[k]:.4f}" for k in ("ap", "ap50"))
            lines.append(f"  {name:<{width}}  {ap}  {ap50}")
        return "\n".join(lines)


def is_detector(info: object) -> bool:
    """Whether a read model ends in the detection post-process op."""
    from edgekit.conversion.postprocess import OP_NAME

    return any(op.opcode == OP_NAME for op in info.main.ops)


def evaluate_boxes(model: str | Path, data: str | Path, class_names: Sequence[str] | None, *,
                   strict: bool = False) -> BoxEvaluation:
    """mAP of ``model`` on ``data`` (COCO, VOC or YOLO), the data's classes matched to the
    model's by name (``class_names``: the model's labels, in its class order)."""
    from edgekit.analyze import read_model
    from edgekit.data.boxes import boxed, read_boxes
    from edgekit.detection_metrics import mean_ap

    info = read_model(model)
    shape = info.main.tensors[info.main.inputs[0]].shape
    found = read_boxes(data, strict=strict)
    names = list(class_names) if class_names is not None else list(found.class_names)
    unknown = [n for n in found.class_names if n not in names]
    if unknown:
        raise ConfigError(f"{data} has class {unknown[0]!r}, which {model}'s labels do not name "
                          f"({', '.join(names)})")
    data = boxed(found, names, (shape[1], shape[2]))
    images, truth = data.images, data.truth
    scored = mean_ap(truth, tflite_detections(Path(model), images), names)
    return BoxEvaluation(model=str(model), data=str(data), format=found.format.value, images=len(images),
                         boxes=sum(len(t.classes) for t in truth), class_names=tuple(names), map=scored.map,
                         map50=scored.map50, per_class=scored.per_class,
                         skipped=[{"image": b.image, "reason": b.reason} for b in found.bad])


def tflite_detections(path: Path, images: np.ndarray) -> list[Detections]:
    """The .tflite's detections: its four outputs by signature name, run by LiteRT."""
    from edgekit.conversion.postprocess import OUTPUTS
    from edgekit.inference import run_signature

    out = run_signature(path, {"image": images.astype(np.float32)})
    boxes, classes, scores, counts = (out[name] for name in OUTPUTS)
    return [Detections(b[:int(n)].astype(np.float64), c[:int(n)].astype(np.int64), s[:int(n)].astype(np.float64))
            for b, c, s, n in zip(boxes, classes, scores, counts.reshape(-1))]
