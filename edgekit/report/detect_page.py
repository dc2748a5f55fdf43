"""The page of an ``edgekit build --task detect`` output folder, from its report.json."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import edgekit.report.plots as plots
import edgekit.report.sections as sections
from edgekit.report.document import Latency, Phase, Shared
from edgekit.report.html import Page, facts, figure, image_grid, note, paragraph, table


@dataclass(frozen=True)
class ClassAP:
    name: str
    boxes: int
    tflite_ap: float | None
    tflite_ap50: float | None
    keras_ap50: float | None

    @classmethod
    def read(cls, name: str, d: dict) -> "ClassAP":
        return cls(name, d["boxes"], d["tflite"]["ap"], d["tflite"]["ap50"], d["keras"]["ap50"])


@dataclass(frozen=True)
class DetectReport:
    """What the page reads of a detection build's report.json."""

    shared: Shared
    source: str
    data_format: str
    classes: tuple[str, ...]
    train_images: int
    validation_images: int
    skipped: tuple[tuple[str, str], ...]
    backbone: str
    weights: str
    input_size: tuple[int, int]
    keras_map: float
    keras_map50: float
    tflite_map: float
    tflite_map50: float
    trivial_map50: float
    per_class: tuple[ClassAP, ...]
    curves: dict
    # Drawn validation images, the worst first: (file, source, true boxes, detections shown).
    images: tuple[tuple[str, str, int, int], ...]
    anchors: int
    phases: tuple[Phase, ...]
    latency: Latency | None


def read_detect(d: dict) -> DetectReport:
    data, model, validation = d["data"], d["model"], d["validation"]
    return DetectReport(
        shared=Shared.read(d), source=data["source"], data_format=data["format"], classes=tuple(data["classes"]),
        train_images=data["train_images"], validation_images=data["validation_images"],
        skipped=tuple((s["path"], s["reason"]) for s in data["skipped"]),
        backbone=model["backbone"], weights=model["weights"], input_size=tuple(model["input_size"]),
        keras_map=d["keras"]["map"], keras_map50=d["keras"]["map50"], tflite_map=d["tflite"]["map"],
        tflite_map50=d["tflite"]["map50"], trivial_map50=validation["trivial_map50"],
        per_class=tuple(ClassAP.read(name, c) for name, c in validation["per_class"].items()),
        curves=validation.get("precision_recall") or {},
        images=tuple((i["image"], i["source"], i["boxes"], i["found"]) for i in validation.get("images", [])),
        anchors=d["detection"]["anchors"], phases=tuple(Phase.read(p) for p in d["training"]["phases"]),
        latency=Latency.read(d.get("latency")))


def detect_page(data: dict, folder: Path, recipe_text: str | None) -> Page:
    report = read_detect(data)
    shared = report.shared
    tflite = shared.tflite
    page = Page(
        title=f"edgekit detector: {Path(report.source).name} for {shared.target_id}",
        subtitle=f"{report.backbone} ({report.weights} weights), {report.input_size[0]}×{report.input_size[1]}, "
                 f"{len(report.classes)} classes, {report.train_images} training and {report.validation_images} "
                 f"validation images ({report.data_format}) from {report.source}")
    summary = page.section("summary", "Summary")
    summary.add(facts([
        (".tflite validation mAP@.5", f"{report.tflite_map50:.4f} (Keras {report.keras_map50:.4f})"),
        (".tflite validation mAP@[.5:.95]", f"{report.tflite_map:.4f} (Keras {report.keras_map:.4f})"),
        ("a trivial detector's mAP@.5", f"{report.trivial_map50:.4f}"),
        ("model.tflite", f"{tflite.bytes:,} bytes"),
        ("quantization", tflite.quantization),
        ("ops on the target", f"{shared.check.on_target()} of {len(shared.check.ops)}"),
        ("anchors", report.anchors),
    ]))
    section = page.section("validation", "Validation results of the .tflite")
    section.add(
        paragraph("COCO average precision by pycocotools on the validation images, each class against its own "
                  "true boxes; the Keras model's AP@.5 beside the .tflite's."),
        table(["class", "boxes", "AP@[.5:.95]", "AP@.5", "Keras AP@.5"],
              [(c.name, c.boxes, _ap(c.tflite_ap), _ap(c.tflite_ap50), _ap(c.keras_ap50)) for c in report.per_class],
              numeric=(1, 2, 3, 4)))
    if report.curves:
        section.add(figure("precision_recall", plots.precision_recall(report.curves),
                           "precision against recall of the .tflite's detections, per class, at IoU 0.5"))
    shown = [i for i in report.images if (folder / i[0]).is_file()]
    if shown:
        section.add(paragraph(f"The {len(shown)} validation images the .tflite did worst on (F1 at IoU 0.5 of its "
                              "detections scoring 0.3 or more): true boxes green, detections red with class and "
                              "score."),
                    image_grid((folder / name, Path(source).name, f"{boxes} true, {found} found")
                               for name, source, boxes, found in shown))
    if report.skipped:
        section.add(note(f"{len(report.skipped)} box(es) left out of the data:"),
                    table(["image", "why"], list(report.skipped)))
    training = page.section("training", "Training")
    if any(p.history for p in report.phases):
        training.add(figure("training", plots.training_curves([p.segment() for p in report.phases if p.history]),
                            "per epoch: focal and box loss together, judged on validation loss"))
    training.add(table(["phase", "epochs run", "best epoch", "learning rate", "seconds"],
                       [(p.name, f"{p.epochs_run} of {p.epochs_max}", p.best_epoch, f"{p.learning_rate:g}",
                         f"{p.seconds:.1f}") for p in report.phases], numeric=(2, 3, 4)))
    sections.weights(page, shared.kernels)
    sections.placement(page, shared.check)
    sections.latency(page, report.latency)
    sections.provenance(page, shared.provenance, recipe_text)
    return page


def _ap(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
