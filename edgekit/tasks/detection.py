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

from edgekit.box_evaluation import tflite_detections
from edgekit.conversion.postprocess import OUTPUTS
from edgekit.data.boxes import BoxedImages, DetectionSet, boxed, read_boxes
from edgekit.detection_metrics import MeanAP, Truth, mean_ap
from edgekit.errors import DataError
from edgekit.models.anchors import Detections, detect, match
from edgekit.progress import Progress

# Augmented copies of the training images (ModelConfig.box_copies) are flipped left-right
# at random, and cropped and rescaled (zoomed in) by up to this much, boxes moved with them.
MAX_ZOOM = 1.6
# A box cut by a crop is kept while this much of it is left in the image.
MIN_VISIBLE = 0.5


@dataclass(frozen=True)
class DetectionSplit:
    train: BoxedImages
    val: BoxedImages
    # Everything read, with the bad boxes for the report.
    everything: DetectionSet


def read_data(root: str | Path, image_size: tuple[int, int], *, val_split: float, seed: int, strict: bool,
              say: Progress, val_dir: str | Path | None = None) -> DetectionSplit:
    """The folder's images resized to ``image_size`` with their boxes, split by image; or all
    of them to train on, and ``val_dir``'s (the same classes, by name) to validate on."""
    found = read_boxes(root, strict=strict)
    for bad in found.bad:
        say.log(f"skipped box {bad.line()}")
    say.log(f"reading {len(found.images)} {found.format.value} images from {root} at {image_size[0]}x{image_size[1]}")
    everything = boxed(found, found.class_names, image_size)
    if val_dir is None:
        train_idx, val_idx = split_by_image(everything, val_split, seed)
        split = DetectionSplit(everything.subset(train_idx), everything.subset(val_idx), found)
    else:
        held = read_boxes(val_dir, strict=strict)
        unknown = sorted(set(held.class_names) - set(found.class_names))
        if unknown:
            raise DataError(f"validation folder {val_dir} has class {unknown[0]!r}, which {root} has not")
        say.log(f"reading {len(held.images)} validation images from {val_dir}")
        import dataclasses

        split = DetectionSplit(everything, boxed(held, found.class_names, image_size),
                               dataclasses.replace(found, bad=found.bad + held.bad))
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
    """Batches of (float32 pixels, (box targets (n, anchors, 5), class targets (n, anchors, classes + 1))),
    in the detector's output order."""
    from edgekit._tf import tensorflow
    from edgekit.models.detector import targets

    tf = tensorflow()
    boxes, classes = targets([match(anchors, t.boxes, t.classes) for t in data.truth], len(data.class_names))
    ds = tf.data.Dataset.from_tensor_slices((data.images, (boxes, classes)))
    if training:
        ds = ds.shuffle(len(data), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(lambda x, y: (tf.cast(x, tf.float32), y))
    return ds.prefetch(tf.data.AUTOTUNE)


def keras_detections(model: Any, images: np.ndarray, anchors: np.ndarray, post: Any,
                     batch_size: int = 32) -> list[Detections]:
    """The Keras model's detections, decoded as the post-process op decodes them."""
    return decoded(head_predictions(model, images, batch_size), anchors, post)


def head_predictions(model: Any, images: np.ndarray, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """The Keras model's two head outputs (box encodings, class scores) on ``images``."""
    boxes, scores = model.predict(images.astype(np.float32), batch_size=batch_size, verbose=0)
    return np.asarray(boxes), np.asarray(scores)


def decoded(outputs: tuple[np.ndarray, np.ndarray], anchors: np.ndarray, post: Any) -> list[Detections]:
    boxes, scores = outputs
    return [detect(b, s, anchors, max_detections=post.max_detections, score_threshold=post.score_threshold,
                   iou_threshold=post.iou_threshold) for b, s in zip(boxes, scores)]


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


# The pipeline's detection steps (builder.py calls these where a classifier's differ) ----

# The learned check: mAP@.5 at least this much above a trivial detector's, and this multiple of it.
LEARNED_MARGIN = 0.1
LEARNED_FACTOR = 2.0
_LEARNED_ADVICE = ("Check that the boxes and their classes are right; then try more --epochs, another "
                   "--learning-rate, a pretrained backbone (--weights), or a larger --image-size.")


@dataclass(frozen=True)
class TrainedDetector:
    model: Any
    anchors: np.ndarray
    phases: list
    # The Keras model's validation mAP, and the trivial detector's it was checked against.
    keras: MeanAP
    trivial: MeanAP
    calibration: np.ndarray
    post: Any
    # The batched training and validation targets, which the stages go on with.
    train_ds: Any = None
    val_ds: Any = None
    examples: int = 0
    # After optimise(): the stages' results and the mAP before them.
    stage_results: tuple = ()
    before_stages: MeanAP | None = None
    # The model's head outputs on the validation images, which verify() compares the .tflite's with.
    val_outputs: tuple | None = None


def post_process(plan: Any, classes: int) -> Any:
    from edgekit.conversion.postprocess import PostProcess

    return PostProcess(classes=classes, max_detections=plan.config.model.max_detections)


def source(model: Any, anchors: np.ndarray, post: Any) -> Any:
    """The detector as a conversion Source whose serving function ends in the post-process op."""
    import dataclasses

    from edgekit.conversion.source import Port, source_from_model

    n = post.max_detections
    plain = source_from_model(model)
    return dataclasses.replace(
        plain, inputs=(dataclasses.replace(plain.inputs[0], name="image"),),
        outputs=(Port(OUTPUTS[0], (1, n, 4), "float32"), Port(OUTPUTS[1], (1, n), "float32"),
                 Port(OUTPUTS[2], (1, n), "float32"), Port(OUTPUTS[3], (1,), "float32")),
        postprocess=post.function(anchors))


def metadata(plan: Any, split: DetectionSplit) -> Any:
    """What the .tflite's metadata says, as a function of its bytes (metadata.detector_info):
    what MediaPipe Tasks' ObjectDetector needs to load it and name the classes."""
    from edgekit.metadata import detector_info
    from edgekit.tasks import model_card

    keywords = model_card(plan, split.train.class_names, Path(split.everything.root).name, kind="Object detector",
                          name_suffix=" detector", architecture=" SSD")
    return lambda data: detector_info(data, **keywords)


def probe_source(features: Any, plan: Any) -> Any:
    """An untrained two-class detector on ``features``, for the pre-flight check."""
    from edgekit.models.detector import build_detector

    detector = build_detector(features, 2)
    return source(detector.model, detector.anchors, post_process(plan, 2))


def train(features: Any, split: DetectionSplit, plan: Any, say: Progress) -> TrainedDetector:
    """The detector trained to convergence on validation loss, checked to have learned."""
    from edgekit.models import train as train_phases
    from edgekit.models.detector import build_detector, losses

    config, training = plan.config, plan.config.training
    classes = len(split.train.class_names)
    detector = build_detector(features, classes, frozen_batchnorm=plan.weights.pretrained)
    say.log(f"detector: {plan.backbone} ({plan.weights} weights) {plan.image_size[0]}x{plan.image_size[1]}, "
            f"{len(detector.anchors)} anchors on {len(detector.feature_sizes)} feature maps "
            f"{', '.join(f'{h}x{w}' for h, w in detector.feature_sizes)}, {detector.model.count_params():,} parameters")
    # On by default, unlike a classifier's --augment: on the composite digit boxes, 3 copies
    # took the test mAP@.5 from 0.636 to 0.789 (tools/bench_detect.py).
    copies = config.model.box_copies
    train_set = augmented(split.train, copies, training.seed) if copies else split.train
    if copies:
        say.log(f"augmentation: {copies} flipped and cropped copies of the training images, boxes moved with them")
    train_ds = targets_dataset(train_set, detector.anchors, batch_size=training.batch_size, training=True,
                               seed=training.seed)
    val_ds = targets_dataset(split.val, detector.anchors, batch_size=training.batch_size, training=False,
                             seed=training.seed)
    wrap = None
    distill = config.distill
    if distill is not None and distill.teacher != "self":
        from edgekit.optimization.distill import detection_distiller, load_detector_teacher

        teacher = load_detector_teacher(distill.teacher, split.train.class_names, detector.anchors,
                                        trust=config.trust_model_code)
        say.log(f"distilling from {distill.teacher} (temperature {distill.temperature:g}, alpha {distill.alpha:g})")
        wrap = lambda student: detection_distiller(student, teacher, distill)  # noqa: E731
    phases = train_phases(detector.model, train_ds, val_ds, training, pretrained=plan.weights.pretrained,
                          progress=say, examples=len(train_set), loss=losses(), metrics=(), wrap=wrap)
    post = post_process(plan, classes)
    outputs = head_predictions(detector.model, split.val.images)
    keras = score(split.val.truth, decoded(outputs, detector.anchors, post), split.val.class_names)
    trivial = trivial_map(split.train, split.val)
    say.log(f"keras validation mAP@.5 {keras.map50:.4f}, mAP@[.5:.95] {keras.map:.4f} on {len(split.val)} images "
            f"(a trivial detector: mAP@.5 {trivial.map50:.4f})")
    require_learned(keras, trivial)
    from edgekit.conversion.samples import calibration_draw

    calibration = calibration_draw(split.train.images, plan.profile.convert.representative_samples, training.seed)
    return TrainedDetector(detector.model, detector.anchors, phases, keras, trivial, calibration, post, train_ds,
                           val_ds, len(train_set), val_outputs=outputs)


def optimise(trained: TrainedDetector, split: DetectionSplit, plan: Any, say: Progress) -> TrainedDetector:
    """The stages (prune, cluster, QAT) on the trained detector, each fine-tuned on the detection
    loss; their mAP@[.5:.95] together is gated by ``max_stage_drop`` against the trained detector's."""
    import dataclasses

    from edgekit.errors import TrainingError
    from edgekit.models.detector import losses
    from edgekit.models.training import epoch_shape
    from edgekit.optimization.run import run_stages

    config = plan.config
    if not config.stages:
        return trained
    wrap = None
    if config.distill is not None and config.distill.teacher == "self":
        from edgekit.optimization.distill import detection_distiller, frozen_copy

        teacher = frozen_copy(trained.model)
        say.log(f"the trained detector teaches the stages (temperature {config.distill.temperature:g}, alpha "
                f"{config.distill.alpha:g})")
        wrap = lambda student: detection_distiller(student, teacher, config.distill)  # noqa: E731
    model, results = run_stages(trained.model, config.stages, trained.train_ds, trained.val_ds, None,
                                shape=epoch_shape(trained.examples, config.training.batch_size),
                                patience=config.training.patience, progress=say, loss=losses(), metrics=(),
                                wrap=wrap)
    outputs = head_predictions(model, split.val.images)
    staged = score(split.val.truth, decoded(outputs, trained.anchors, trained.post), split.val.class_names)
    names = ", ".join(stage.name for stage in config.stages)
    say.log(f"stages {names}: validation mAP@[.5:.95] {trained.keras.map:.4f} -> {staged.map:.4f}, mAP@.5 "
            f"{trained.keras.map50:.4f} -> {staged.map50:.4f}")
    require_learned(staged, trained.trivial)
    drop = trained.keras.map - staged.map
    if drop > config.accuracy.max_stage_drop:
        raise TrainingError(f"the stages ({names}) cost {drop:.4f} validation mAP@[.5:.95] ({trained.keras.map:.4f} -> "
                            f"{staged.map:.4f}; limit {config.accuracy.max_stage_drop:g} from --max-stage-drop). "
                            "Try a lower --prune sparsity, more --cluster clusters, or more epochs for the stage in "
                            "a recipe.")
    return dataclasses.replace(trained, model=model, keras=staged, stage_results=tuple(results),
                               before_stages=trained.keras, val_outputs=outputs)


def require_learned(keras: MeanAP, trivial: MeanAP) -> None:
    from edgekit.errors import TrainingError

    needed = max(trivial.map50 + LEARNED_MARGIN, trivial.map50 * LEARNED_FACTOR)
    if keras.map50 < needed:
        raise TrainingError(f"the detector did not learn: validation mAP@.5 {keras.map50:.4f}, a trivial detector "
                            f"{trivial.map50:.4f} (at least {needed:.4f} needed). {_LEARNED_ADVICE}")


def verify(tflite_path: Path, trained: TrainedDetector, split: DetectionSplit, max_map_drop: float,
           say: Progress) -> tuple[Any, MeanAP, list[Detections]]:
    """The .tflite's detections scored on the validation images against the Keras model's
    (mAP@[.5:.95] gated by ``max_map_drop``), and its two head outputs, the post-process op's
    inputs, compared with the Keras model's (SNR, cosine), each with its own quantisation."""
    from edgekit.errors import ConversionError
    from edgekit.verification import Change, Verification, compare_output

    found = tflite_detections(tflite_path, split.val.images)
    lite = score(split.val.truth, found, split.val.class_names)
    expected = trained.val_outputs or head_predictions(trained.model, split.val.images)
    got = head_outputs(tflite_path, split.val.images)
    from edgekit.models.detector import BOXES, SCORES

    outputs = tuple(compare_output(name, np.asarray(e), g) for name, e, g in zip((BOXES, SCORES), expected, got))
    # Gated on COCO's own metric, mAP@[.5:.95]: on the 18 validation crops (66 boxes) of the
    # nuclei set, one box crossing IoU 0.5 moves mAP@.5 by about 1.5 points, and int8 moved it
    # 5.4 points there while mAP@[.5:.95] moved 1.0 and the test set's mAP@.5 not at all.
    change = Change(step="conversion", before=trained.keras.map, after=lite.map, limit=max_map_drop)
    verification = Verification(samples=len(split.val), outputs=outputs, accuracy=change)
    for line in verification.lines()[:-1]:
        say.log(line)
    say.log(f"mAP@.5: keras {trained.keras.map50:.4f}, tflite {lite.map50:.4f}; mAP@[.5:.95]: keras "
            f"{trained.keras.map:.4f}, tflite {lite.map:.4f}")
    if change.drop > max_map_drop:
        raise ConversionError(f"the conversion lost {change.drop:.4f} validation mAP@[.5:.95] (keras "
                              f"{change.before:.4f}, tflite {change.after:.4f}; limit {max_map_drop:g} from "
                              "--max-map-drop)")
    return verification, lite, found


def head_outputs(path: Path, images: np.ndarray) -> list[np.ndarray]:
    """The post-process op's two inputs (box encodings, class scores), dequantised, per image:
    what the network computed before the decoding."""
    import warnings

    from edgekit.inference import dequantize, quantize
    from edgekit.runtime import find_runtime

    with warnings.catch_warnings():
        # LiteRT warns that keeping every tensor is for debugging: here it is how the two
        # tensors inside the graph are read, once, on the validation images.
        warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors")
        interpreter = find_runtime().interpreter(model_path=path, experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    source = interpreter.get_input_details()[0]
    post = next(op for op in interpreter._get_ops_details() if op["op_name"] == "TFLite_Detection_PostProcess")
    details = {t["index"]: t for t in interpreter.get_tensor_details()}
    parts: list[list[np.ndarray]] = [[], []]
    for image in images:
        interpreter.set_tensor(source["index"], quantize(image[None].astype(np.float32), source))
        interpreter.invoke()
        for slot in (0, 1):
            tensor = details[post["inputs"][slot]]
            parts[slot].append(dequantize(interpreter.get_tensor(tensor["index"]), tensor)[0])
    return [np.stack(p) for p in parts]


# Validation images drawn in the report, the worst first, and the size they are drawn at.
IMAGES_SHOWN = 12
DRAWN = 192
# A detection counts in an image's score from this confidence on.
SHOWN_SCORE = 0.3


def image_scores(truth: Sequence[Truth], found: Sequence[Detections]) -> list[float]:
    """Each image's F1 at IoU 0.5 over detections scoring at least SHOWN_SCORE: low is worst."""
    from edgekit.models.anchors import iou

    scores = []
    for t, d in zip(truth, found):
        keep = d.scores >= SHOWN_SCORE
        boxes, classes = d.boxes[keep], d.classes[keep]
        matched = 0
        if len(boxes) and len(t.boxes):
            overlaps = iou(boxes.astype(np.float64), t.boxes.astype(np.float64))
            used: set[int] = set()
            for i in range(len(boxes)):
                for j in np.argsort(-overlaps[i]):
                    if overlaps[i, j] >= 0.5 and j not in used and classes[i] == t.classes[j]:
                        used.add(int(j))
                        matched += 1
                        break
        total = len(boxes) + len(t.boxes)
        scores.append(1.0 if total == 0 else 2 * matched / total)
    return scores


def write_detection_images(work: Path, split: DetectionSplit, found: Sequence[Detections]) -> list[dict]:
    """The worst validation images (by :func:`image_scores`) with true boxes (green) and the
    .tflite's (red, with class and score), as PNGs under ``detections/``."""
    from PIL import Image, ImageDraw

    val = split.val
    ranked = np.argsort(image_scores(val.truth, found), kind="stable")[:IMAGES_SHOWN]
    if not len(ranked):
        return []
    folder = work / "detections"
    folder.mkdir()
    shown = []
    for rank, i in enumerate(ranked, 1):
        picture = Image.fromarray(val.images[i]).resize((DRAWN, DRAWN), Image.Resampling.NEAREST)
        pen = ImageDraw.Draw(picture)
        for box in val.truth[i].boxes:
            pen.rectangle(_drawn(box), outline=(46, 157, 91), width=2)
        d = found[i]
        for box, label, score in zip(d.boxes, d.classes, d.scores):
            if score < SHOWN_SCORE:
                continue
            corner = _drawn(box)
            pen.rectangle(corner, outline=(209, 73, 63), width=1)
            pen.text((corner[0] + 2, corner[1] + 1), f"{val.class_names[int(label)]} {score:.2f}", fill=(209, 73, 63))
        name = f"detections/{rank:02d}.png"
        picture.save(work / name, optimize=True)
        shown.append({"image": name, "source": val.sources[i], "boxes": int(len(val.truth[i].classes)),
                      "found": int(np.sum(d.scores >= SHOWN_SCORE))})
    return shown


def _drawn(box: np.ndarray) -> tuple[float, float, float, float]:
    y0, x0, y1, x1 = (float(np.clip(v, 0, 1)) * (DRAWN - 1) for v in box)
    return x0, y0, max(x0, x1), max(y0, y1)


def report_sections(split: DetectionSplit, trained: TrainedDetector, lite: MeanAP,
                    val_dir: str | None = None) -> dict:
    """The detection parts of report.json: data, validation and the models' mAP."""
    found = split.everything
    keras_classes = trained.keras.per_class
    return {
        "data": {
            "source": found.root, "format": found.format.value,
            "validation": "split by image" if val_dir is None else str(val_dir),
            "classes": list(found.class_names),
            "train_images": len(split.train), "validation_images": len(split.val),
            "train_counts": split.train.box_counts(), "validation_counts": split.val.box_counts(),
            "skipped": [{"path": b.image, "reason": f"{b.annotation}: {b.reason}"
                         + ("" if b.box is None else f" {[round(v, 2) for v in b.box]}")} for b in found.bad],
            "ignored_non_image_files": 0,
        },
        "validation": {
            "metric": "COCO mAP by pycocotools, boxes in each image's own pixels",
            "map": lite.map, "map50": lite.map50, "trivial_map50": trained.trivial.map50,
            "per_class": {name: {"tflite": lite.per_class[name], "keras": keras_classes[name],
                                 "boxes": split.val.box_counts()[name]} for name in split.val.class_names},
            "precision_recall": lite.curves or {},
            "images": [],
        },
        "detection": {"anchors": int(len(trained.anchors)), "max_detections": trained.post.max_detections,
                      "score_threshold": trained.post.score_threshold, "iou_threshold": trained.post.iou_threshold,
                      "post_process": "TFLite_Detection_PostProcess"},
    }
