"""Image classification: what the classification task supplies to the shared pipeline.

The pipeline (builder.py) trains, runs the stages, converts, verifies, checks, measures
latency and writes the output folder the same way for every task. A task supplies only
what differs: how its data is read and split, its head, loss and metrics, the name of
the .tflite's output, how the verification scores it, its metadata, and the report's
task sections. Detection will be a second module of this shape.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgekit.data import LabelledImages, from_arrays, load_image_folder, stratified_split
from edgekit.evaluation import class_results, mistakes
from edgekit.progress import Progress
from edgekit.verification import Verification, measure

DataSource = str | Path | LabelledImages | tuple

# Integer class labels against softmax scores.
LOSS = "sparse_categorical_crossentropy"
METRICS = ("accuracy",)
# The .tflite's serving_default signature: image -> scores.
OUTPUT = "scores"
# Mistake thumbnails: a 224-pixel input is still recognisable at 96, and the page stays small.
THUMBNAIL = 96


def head(features: Any, classes: int, *, dropout: float, frozen_batchnorm: bool = False) -> Any:
    """The classifier on a backbone: pooling, dropout, a softmax over the classes."""
    from edgekit.models.classifier import build_classifier

    return build_classifier(features, classes, dropout=dropout, frozen_batchnorm=frozen_batchnorm)


def verify(expected: np.ndarray, got: np.ndarray, val: LabelledImages, *, max_accuracy_drop: float) -> Verification:
    """The .tflite's class scores against the model's, with accuracy on the validation labels."""
    return measure({OUTPUT: expected}, {OUTPUT: got}, labels=val.labels, max_accuracy_drop=max_accuracy_drop)


@dataclass(frozen=True)
class Split:
    train: LabelledImages
    val: LabelledImages
    # Everything read, with the skipped-file list for the report.
    everything: LabelledImages



def read_data(data: DataSource, plan: Any, say: Progress) -> Split:
    """Decode and resize the images (or take the arrays) and split off validation."""
    size, settings = plan.image_size, plan.config.data
    if isinstance(data, LabelledImages):
        everything = data if data.image_size == size else from_arrays(
            data.images, data.labels, class_names=data.class_names, image_size=size)
    elif isinstance(data, tuple):
        everything = from_arrays(data[0], data[1], image_size=size)
    else:
        say.log(f"reading images from {data} at {size[0]}x{size[1]}")
        everything = load_image_folder(
            data, size, strict=settings.strict, progress=say)
    if settings.val_dir is None:
        train_set, val = stratified_split(everything, settings.val_split, plan.config.training.seed)
    else:
        say.log(f"reading validation images from {settings.val_dir}")
        train_set = everything
        val = load_image_folder(settings.val_dir, size, strict=settings.strict, class_names=everything.class_names)
        everything = dataclasses.replace(
            everything, skipped=everything.skipped + val.skipped, ignored=everything.ignored + val.ignored)
    for skipped in everything.skipped:
        say.log(f"skipped {skipped.path}: {skipped.reason}")
    say.log(f"{len(everything.class_names)} classes, {len(train_set)} training and {len(val)} validation images")
    return Split(train_set, val, everything)



def metadata(plan: Any, split: Split) -> Callable[[bytes], Any]:
    """What the .tflite's metadata says, as a function of its bytes: names, the image input
    and the class names (metadata.classifier_info)."""
    from edgekit.metadata import classifier_info
    from edgekit.tasks import model_card

    source = Path(split.everything.root).name if split.everything.root else "arrays"
    keywords = model_card(plan, split.train.class_names, source, kind="Image classifier")
    return lambda data: classifier_info(data, **keywords)



def validation_results(scores: np.ndarray, val: LabelledImages) -> dict:
    """Confusion matrix, per-class accuracy and the most confident mistakes of ``scores``."""
    names, truth, predicted = val.class_names, val.labels, scores.argmax(axis=1)
    confusion, per_class = class_results(truth, predicted, names)
    return {"confusion": confusion, "per_class": per_class,
            "errors": int(np.sum(predicted != truth)),
            "mistakes": mistakes(scores, truth, names, val.sources)}


def write_mistake_images(work: Path, shown: list[dict], images: np.ndarray) -> None:
    """Each mistake's validation image as a PNG under ``mistakes/``, named in ``shown``."""
    from PIL import Image

    if not shown:
        return
    folder = work / "mistakes"
    folder.mkdir()
    for rank, mistake in enumerate(shown, 1):
        name = f"mistakes/{rank:02d}.png"
        picture = Image.fromarray(np.asarray(images[mistake["index"]], dtype=np.uint8))
        picture.thumbnail((THUMBNAIL, THUMBNAIL))
        picture.save(work / name, optimize=True)
        mistake["image"] = name
