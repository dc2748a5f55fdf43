"""The page of an ``edgekit build`` output folder, from its report.json."""

from __future__ import annotations

from pathlib import Path

import edgekit.report.plots as plots
import edgekit.report.sections as sections
from edgekit.report.document import BuildReport, Size, read_build
from edgekit.report.html import Page, facts, figure, image_grid, note, paragraph, row, table


def build_page(data: dict, folder: Path, recipe_text: str | None) -> Page:
    report: BuildReport = read_build(data)
    shared = report.shared
    tflite = shared.tflite
    page = Page(
        title=f"edgekit build: {Path(report.source).name} for {shared.target_id}",
        subtitle=f"{report.backbone} ({report.weights} weights), "
                 f"{report.input_size[0]}×{report.input_size[1]}, "
                 f"{len(report.classes)} classes, {report.train_images} training and "
                 f"{report.validation_images} validation images from {report.source}")
    summary = page.section("summary", "Summary")
    refit = report.refit
    held = [] if refit is None else [
        (".tflite accuracy on held-out images", f"{refit.tflite_accuracy:.4f} on {refit.held_out_images} "
                                                 "validation images, by the first run before the refit"),
        ("refit on", f"all {refit.images} images; the figures below are on {refit.shipped_measured_on}"),
    ]
    summary.add(facts([
        *held,
        (".tflite validation accuracy", f"{tflite.accuracy:.4f}"),
        ("agreement with the Keras model", f"{tflite.agreement:.4f}"),
        ("model.tflite", f"{tflite.bytes:,} bytes"),
        ("gzip -9", f"{tflite.gzip_bytes:,} bytes"),
        ("quantization", tflite.quantization),
        ("ops on the target", f"{shared.check.on_target()} of {len(shared.check.ops)}"),
    ]))
    for change in report.changes:
        limit = "" if change.limit is None else f" (limit {change.limit:.1%})"
        summary.add(paragraph(f"{change.step}: validation accuracy {change.before:.4f} → "
                              f"{change.after:.4f}, a drop of {change.drop:.1%}{limit}."))
    _training(page, report)
    _validation(page, report, folder)
    sections.weights(page, shared.kernels)
    sections.placement(page, shared.check)
    sections.latency(page, report.latency)
    _progression(page, report)
    sections.provenance(page, shared.provenance, recipe_text)
    return page


def _training(page: Page, report: BuildReport) -> None:
    section = page.section("training", "Training")
    segments = [*report.phases, *report.stages]
    if any(s.history for s in segments):
        section.add(figure("training", plots.training_curves([s.segment() for s in segments if s.history]),
                           "per epoch; phases and optimisation stages one after another, each ending on its "
                           "best epoch (★); ✕ marks early stopping"))
    else:
        section.add(paragraph("This report carries no per-epoch history (made by an older edgekit).", muted=True))
    section.add(table(["phase", "epochs run", "best epoch", "learning rate", "validation accuracy", "seconds"],
                      [(s.name, f"{s.epochs_run} of {s.epochs_max}", s.best_epoch, f"{s.learning_rate:g}",
                        _accuracy(s.val_accuracy), f"{s.seconds:.1f}") for s in segments],
                      numeric=(2, 3, 4, 5)))


def _validation(page: Page, report: BuildReport, folder: Path) -> None:
    validation = report.validation
    section = page.section("validation", "Validation results of the .tflite")
    if validation is None:
        section.add(paragraph("This report carries no validation results (made by an older edgekit).", muted=True))
        return
    names = list(report.classes)
    section.add(
        paragraph(f"model.tflite run on the {report.shared.tflite.evaluated_on} validation images: "
                  f"{validation.errors} misclassified."),
        row(figure("confusion", plots.confusion_matrix(validation.confusion, names),
                   "confusion matrix: rows are the true class, columns the predicted one"),
            figure("per_class", plots.per_class_accuracy(validation.per_class, report.shared.tflite.accuracy),
                   "accuracy per class" + (" (the 40 worst)" if len(names) > 40 else ""))),
    )
    shown = [m for m in validation.mistakes if m.image and (folder / m.image).is_file()]
    if shown:
        section.add(paragraph(f"The {len(shown)} most confident mistakes"
                              + (f" of {validation.errors}" if validation.errors > len(shown) else "")
                              + ": true class, then the predicted class and its score."),
                    image_grid((folder / m.image, f"true {m.true}", f"→ {m.predicted} {m.score:.2f}")
                               for m in shown))
        sources = [m.source for m in shown if m.source and not m.source.startswith("array[")]
        if sources:
            section.add(paragraph("Files, in the same order: " + ", ".join(sources), muted=True))
    elif validation.errors == 0:
        section.add(note("No validation image is misclassified.", ok=True))


def _progression(page: Page, report: BuildReport) -> None:
    tflite = report.shared.tflite
    steps = []
    none = Size(None, None)
    if report.keras_weights is not None:
        steps.append({"name": "float (Keras)", "bytes": report.keras_weights.bytes,
                      "gzip_bytes": report.keras_weights.gzip_bytes, "accuracy": report.keras_accuracy})
    for stage in report.stages:
        size = stage.weights or none
        steps.append({"name": stage.name.removeprefix("stage "), "bytes": size.bytes, "gzip_bytes": size.gzip_bytes,
                      "accuracy": stage.val_accuracy})
    steps.append({"name": f".tflite ({tflite.quantization})", "bytes": tflite.bytes,
                  "gzip_bytes": tflite.gzip_bytes, "accuracy": tflite.accuracy})
    section = page.section("progression", "Progression")
    section.add(
        paragraph("Size and validation accuracy at each step. Keras models are measured as their weights in "
                  "float32 (what the stages change); the .tflite as the file an app ships. A QAT model's "
                  "weights hold fake-quantisation state, so it has no size of its own: its size is the .tflite's."),
        figure("progression", plots.progression(steps), "size and accuracy from the float model to the .tflite"),
        table(["step", "bytes", "gzip -9", "validation accuracy"],
              [(s["name"], _bytes(s["bytes"]), _bytes(s["gzip_bytes"]), _accuracy(s["accuracy"])) for s in steps],
              numeric=(1, 2, 3)),
    )


def _accuracy(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _bytes(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"
