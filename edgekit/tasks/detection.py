"""Object detection: what the detection task supplies to the shared pipeline.

As classification.py does for classifiers: how its data is read and split, its model,
loss and training targets, how its .tflite is made to end in the post-process op, and how
the .tflite is judged against the Keras model (COCO mAP by pycocotools, per class too).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from edgekit.conversion.postprocess import OUTPUTS
from edgekit.data.boxes import DetectionSet, read_boxes
from edgekit.detection_metrics import MeanAP, Truth, mean_ap
from edgekit.errors import DataError
from edgekit.models.anchors import Detections, detect, match
from edgekit.progress import Progress

# Augmented copies of the training images made before training, each with its boxes moved
# with its pixels: flipped left-right, and cropped and rescaled (zoomed in) by up to this much.
AUGMENTED_COPIES = 3
MAX_ZOOM = 1.6
# A box cut by a crop is kept while this much of it is left in the image.
MIN_VISIBLE = 0.5


@dataclass(frozen=True)
class BoxedImages:
    """Images at the model's input size with their true boxes (fractions of the image)."""

    images: np.ndarray
    truth: tuple[Truth, ...]
    class_names: tuple[str, ...]
    sources: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, indices: Sequence[int]) -> "BoxedImages":
        idx = list(indices)
        return BoxedImages(self.images[idx], tuple(self.truth[i] for i in idx), self.class_names,
                           tuple(self.sources[i] for i in idx))

    def box_counts(self) -> dict[str, int]:
        counts = np.bincount(np.concatenate([t.classes for t in self.truth] + [np.zeros(0, int)]).astype(int),
                             minlength=len(self.class_names))
        return {name: int(n) for name, n in zip(self.class_names, counts)}


@dataclass(frozen=True)
class DetectionSplit:
    train: BoxedImages
    val: BoxedImages
    # Everything read, with the bad boxes for the report.
    everything: DetectionSet


def read_data(root: str | Path, image_size: tuple[int, int], *, val_split: float, seed: int, strict: bool,
              say: Progress) -> DetectionSplit:
    """The folder's images resized to ``image_size`` with their boxes, split by image."""
    found = read_boxes(root, strict=strict)
    for bad in found.bad:
        say.log(f"skipped box {bad.line()}")
    say.log(f"reading {len(found.images)} {found.format.value} images from {root} at {image_size[0]}x{image_size[1]}")
    images = np.stack([_load_stored(image.path, image_size) for image in found.images])
    truth = tuple(Truth(
        width=image.width, height=image.height,
        boxes=np.asarray([(b.y0 / image.height, b.x0 / image.width, b.y1 / image.height, b.x1 / image.width)
                          for b in image.boxes], np.float32).reshape(-1, 4),
        classes=np.asarray([b.label for b in image.boxes], np.int64)) for image in found.images)
    everything = BoxedImages(images, truth, found.class_names, tuple(image.path for image in found.images))
    train_idx, val_idx = split_by_image(everything, val_split, seed)
    split = DetectionSplit(everything.subset(train_idx), everything.subset(val_idx), found)
    say.log(f"{len(found.class_names)} classes, {len(split.train)} training and {len(split.val)} validation images "
            f"({sum(split.train.box_counts().values())} and {sum(split.val.box_counts().values())} boxes)")
    return split


def split_by_image(data: BoxedImages, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Whole images held out, stratified by each image's rarest class: a class seen in few
    images still has some of them in validation."""
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"validation fraction must be between 0 and 1, got {val_fraction}")
    if len(data) < 2:
        raise DataError("detection needs at least 2 images: one to train on and one to validate on")
    counts = np.asarray(list(data.box_counts().values()))
    groups: dict[int, list[int]] = {}
    for i, t in enumerate(data.truth):
        key = int(min(t.classes, key=lambda c: counts[c])) if len(t.classes) else -1
        groups.setdefault(key, []).append(i)
    rng = np.random.default_rng(seed)
    train, val = [], []
    for key in sorted(groups):
        idx = rng.permutation(groups[key])
        n_val = min(len(idx) - 1, int(round(len(idx) * val_fraction))) if len(idx) > 1 else 0
        val.extend(int(i) for i in idx[:n_val])
        train.extend(int(i) for i in idx[n_val:])
    if not val:
        val.append(train.pop())
    return sorted(train), sorted(val)


def augmented(data: BoxedImages, copies: int, seed: int) -> BoxedImages:
    """``data`` plus ``copies`` augmented copies whose boxes moved with their pixels."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    images, truth, sources = [data.images], list(data.truth), list(data.sources)
    height, width = data.images.shape[1:3]
    for _ in range(copies):
        batch = []
        for image, t, source in zip(data.images, data.truth, data.sources):
            boxes = t.boxes.copy()
            picture = image
            if rng.random() < 0.5:
                picture = picture[:, ::-1]
                boxes = np.stack([boxes[:, 0], 1 - boxes[:, 3], boxes[:, 2], 1 - boxes[:, 1]], axis=-1)
            zoom = rng.uniform(1.0, MAX_ZOOM)
            side_y, side_x = 1 / zoom, 1 / zoom
            top, left = rng.uniform(0, 1 - side_y), rng.uniform(0, 1 - side_x)
            rows = slice(int(top * height), int((top + side_y) * height))
            crop = picture[rows, int(left * width):int((left + side_x) * width)]
            picture = np.asarray(Image.fromarray(np.ascontiguousarray(crop)).resize((width, height), Image.BILINEAR))
            moved = (boxes - [top, left, top, left]) / [side_y, side_x, side_y, side_x]
            clipped = np.clip(moved, 0, 1)
            area = (moved[:, 2] - moved[:, 0]) * (moved[:, 3] - moved[:, 1])
            kept = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1]) >= MIN_VISIBLE * area
            batch.append(picture)
            truth.append(Truth(t.width, t.height, clipped[kept].astype(np.float32), t.classes[kept]))
            sources.append(source)
        images.append(np.stack(batch))
    return BoxedImages(np.concatenate(images), tuple(truth), data.class_names, tuple(sources))


def targets_dataset(data: BoxedImages, anchors: np.ndarray, *, batch_size: int, training: bool, seed: int) -> Any:
    """Batches of (float32 pixels, {box_encodings: (n, anchors, 5), class_scores: (n, anchors, classes + 1)})."""
    from edgekit._tf import tensorflow
    from edgekit.models.detector import BOXES, SCORES, targets

    tf = tensorflow()
    boxes, classes = targets([match(anchors, t.boxes, t.classes) for t in data.truth], len(data.class_names))
    ds = tf.data.Dataset.from_tensor_slices((data.images, {BOXES: boxes, SCORES: classes}))
    if training:
        ds = ds.shuffle(len(data), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(lambda x, y: (tf.cast(x, tf.float32), y))
    return ds.prefetch(tf.data.AUTOTUNE)


def keras_detections(model: Any, images: np.ndarray, anchors: np.ndarray, post: Any,
                     batch_size: int = 32) -> list[Detections]:
    """The Keras model's detections, decoded as the post-process op decodes them."""
    boxes, scores = model.predict(images.astype(np.float32), batch_size=batch_size, verbose=0)
    return [detect(b, s, anchors, max_detections=post.max_detections, score_threshold=post.score_threshold,
                   iou_threshold=post.iou_threshold) for b, s in zip(boxes, scores)]


def tflite_detections(path: Path, images: np.ndarray) -> list[Detections]:
    """The .tflite's detections: its four outputs by signature name, run by LiteRT."""
    from edgekit.inference import run_signature

    out = run_signature(path, {"image": images.astype(np.float32)})
    boxes, classes, scores, counts = (out[name] for name in OUTPUTS)
    return [Detections(b[:int(n)].astype(np.float64), c[:int(n)].astype(np.int64), s[:int(n)].astype(np.float64))
            for b, c, s, n in zip(boxes, classes, scores, counts.reshape(-1))]


def score(truth: Sequence[Truth], found: Sequence[Detections], class_names: Sequence[str]) -> MeanAP:
    return mean_ap(truth, found, class_names)


def trivial_map(train: BoxedImages, val: BoxedImages) -> MeanAP:
    """A detector that has learned nothing from the pixels: in every image, each class's
    mean training box, scored by how often the class appears. The learned check asks for
    clearly more."""
    found = []
    per_class = []
    for c in range(len(train.class_names)):
        boxes = [t.boxes[t.classes == c] for t in train.truth]
        stacked = np.concatenate(boxes) if boxes else np.zeros((0, 4))
        per_class.append((stacked.mean(axis=0) if len(stacked) else np.array([0.25, 0.25, 0.75, 0.75]),
                          len(stacked)))
    total = max(1, sum(n for _, n in per_class))
    for _ in val.truth:
        found.append(Detections(np.stack([b for b, _ in per_class]), np.arange(len(per_class)),
                                np.asarray([n / total for _, n in per_class])))
    return mean_ap(val.truth, found, val.class_names)


def _load_stored(path: str, size: tuple[int, int]) -> np.ndarray:
    """The image as stored (no EXIF rotation: annotation tools draw on the stored pixels),
    as RGB at ``size`` (height, width)."""
    from PIL import Image

    with Image.open(path) as picture:
        rgb = picture.convert("RGB")
        if rgb.size != (size[1], size[0]):
            rgb = rgb.resize((size[1], size[0]), Image.Resampling.BILINEAR)
        return np.asarray(rgb, dtype=np.uint8)
