"""``evaluate()``: accuracy of a .tflite classifier on labelled images, with only a TFLite runtime."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from edgekit.analyze import read_model
from edgekit.data.dataset import load_image_folder
from edgekit.errors import ConfigError, DataError
from edgekit.files import read_labels
from edgekit.inference import predict

# A grid this size shows a pattern in the mistakes and keeps the report small.
MISTAKES_SHOWN = 24


@dataclass(frozen=True)
class Evaluation:
    model: str
    data: str
    images: int
    class_names: tuple[str, ...]
    top1: float
    top5: float | None  # None when the model has fewer than five classes
    per_class: dict  # class -> {"images": n, "accuracy": a}
    confusion: list  # rows: true class, columns: predicted class
    skipped: list

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def render(self) -> str:
        lines = [
            f"model     {self.model}",
            f"data      {self.data}: {self.images} images, {len(self.class_names)} classes, "
            f"{len(self.skipped)} skipped",
            f"top-1     {self.top1:.4f}" + (f"   top-5 {self.top5:.4f}" if self.top5 is not None else ""),
            "per class:",
        ]
        width = max(len(n) for n in self.class_names)
        for name in self.class_names:
            row = self.per_class[name]
            acc = "-" if row["accuracy"] is None else f"{row['accuracy']:.4f}"
            lines.append(f"  {name:<{width}}  {row['images']:>6} images  {acc}")
        lines.append("confusion matrix (rows: true class, columns: predicted):")
        cell = max(5, max(len(str(v)) for r in self.confusion for v in r) + 1)
        lines.append(" " * (width + 2) + "".join(f"{i:>{cell}}" for i in range(len(self.class_names))))
        for i, (name, row) in enumerate(zip(self.class_names, self.confusion)):
            lines.append(f"  {name:<{width}}" + "".join(f"{v:>{cell}}" for v in row) + f"   ({i})")
        return "\n".join(lines)


def evaluate(model: str | Path, data: str | Path, *, labels: str | Path | None = None, threads: int = 1,
             strict: bool = False) -> Evaluation:
    """Top-1/top-5, per-class accuracy and the confusion matrix of ``model`` on ``data``
    (one sub-folder per class, named as in the labels file). A detector (a model ending in
    TFLite_Detection_PostProcess) gets box_evaluation's COCO mAP on a box folder instead.

    Labels: ``labels``, the ``labels.txt`` beside the model (as ``edgekit build`` writes
    it), or the class names in the model's metadata; without any, the class sub-folders
    sorted by name, the order a build uses.
    Quantised inputs and outputs use the model's own scale and zero point.
    """
    info = read_model(model)
    from edgekit.box_evaluation import evaluate_boxes, is_detector

    if is_detector(info):
        return evaluate_boxes(model, data, _labels(model, labels), strict=strict)
    inp = info.main.tensors[info.main.inputs[0]]
    if len(inp.shape) != 4 or inp.shape[-1] != 3:
        raise ConfigError(f"{model}: evaluate takes image classifiers with a (1, H, W, 3) input, not {list(inp.shape)}")
    class_names = _labels(model, labels)
    images = load_image_folder(data, (inp.shape[1], inp.shape[2]), strict=strict, class_names=class_names)
    if len(images) == 0:
        raise DataError(f"data folder {data} has no readable images")
    scores = predict(model, images.images, num_threads=threads)
    names = images.class_names
    if scores.shape[1] != len(names):
        raise ConfigError(f"{model} has {scores.shape[1]} outputs but there are {len(names)} labels")
    truth = images.labels
    ranked = np.argsort(-scores, axis=1)
    top1 = float(np.mean(ranked[:, 0] == truth))
    top5 = float(np.mean(np.any(ranked[:, :5] == truth[:, None], axis=1))) if len(names) >= 5 else None
    confusion, per_class = class_results(truth, ranked[:, 0], names)
    return Evaluation(
        model=str(model), data=str(data), images=len(images), class_names=tuple(names), top1=top1, top5=top5,
        per_class=per_class, confusion=confusion,
        skipped=[dataclasses.asdict(s) for s in images.skipped],
    )


def class_results(truth: np.ndarray, predicted: np.ndarray, names: Sequence[str]) -> tuple[list, dict]:
    """The confusion matrix (rows: true class, columns: predicted) and each class's accuracy."""
    confusion = np.zeros((len(names), len(names)), dtype=np.int64)
    np.add.at(confusion, (truth, predicted), 1)
    per_class = {}
    for i, name in enumerate(names):
        n = int(confusion[i].sum())
        per_class[name] = {"images": n, "accuracy": float(confusion[i, i] / n) if n else None}
    return confusion.tolist(), per_class


def mistakes(scores: np.ndarray, truth: np.ndarray, names: Sequence[str], sources: Sequence[str],
             limit: int = MISTAKES_SHOWN) -> list[dict]:
    """The misclassified images, the most confidently wrong first (those teach the most
    about the data: mislabelled files, look-alike classes), at most ``limit``."""
    predicted = scores.argmax(axis=1)
    wrong = np.flatnonzero(predicted != truth)
    confidence = scores[wrong, predicted[wrong]]
    order = wrong[np.argsort(-confidence, kind="stable")][:limit]
    return [{
        "index": int(i),
        "source": sources[i] if i < len(sources) else None,
        "true": names[int(truth[i])],
        "predicted": names[int(predicted[i])],
        "score": float(scores[i, predicted[i]]),
        "true_score": float(scores[i, truth[i]]),
    } for i in order]


def _labels(model: str | Path, labels: str | Path | None) -> list[str] | None:
    path = Path(labels) if labels is not None else Path(model).with_name("labels.txt")
    if labels is None and not path.is_file():
        from edgekit.metadata import read_metadata

        metadata = read_metadata(model)
        named = [t.labels for t in (metadata.outputs if metadata else ()) if t.labels]
        return list(named[0]) if named else None
    return read_labels(path)
