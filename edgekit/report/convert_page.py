"""The page of an ``edgekit convert`` output folder, from its report.json."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import edgekit.report.plots as plots
import edgekit.report.sections as sections
from edgekit.report.document import BiasCorrection, ConvertReport, FloatFrontEnd, read_convert
from edgekit.report.html import Page, facts, figure, paragraph, table


def convert_page(data: dict, recipe_text: str | None) -> Page:
    report: ConvertReport = read_convert(data)
    shared = report.shared
    tflite, outputs = shared.tflite, shared.outputs
    page = Page(
        title=f"edgekit convert: {Path(report.source_path).name} for {shared.target_id}",
        subtitle=f"{report.source_kind} model with inputs "
                 + ", ".join(f"{name} {shape}" for name, shape in report.source_inputs) + " and outputs "
                 + ", ".join(f"{name} {shape}" for name, shape in report.source_outputs))
    summary = page.section("summary", "Summary")
    summary.add(facts([
        ("model.tflite", f"{tflite.bytes:,} bytes"),
        ("gzip -9", f"{tflite.gzip_bytes:,} bytes"),
        ("quantization", tflite.quantization),
        ("least SNR of an output", f"{min(o.snr_db for o in outputs):.1f} dB"),
        ("ops on the target", f"{shared.check.on_target()} of {len(shared.check.ops)}"),
    ]))
    calibration = report.calibration
    section = page.section("verification", "Verification against the source model")
    section.add(
        paragraph(f"The .tflite and the source model run on {calibration.verified_on} held-back samples of "
                  f"{calibration.data} (calibrated on {calibration.calibrated_on} others)."
                  + _bias_correction(report.bias_correction)
                  + _float_front_end(report.float_front_end)
                  + _float16_kept(report.float16_kept_float32)),
        figure("snr", plots.output_snr([dataclasses.asdict(o) for o in outputs], shared.min_snr_db),
               "signal-to-noise ratio of each output; an output under the line fails the conversion"),
        table(["output", "SNR (dB)", "cosine", "max abs error", "mean abs error", "top-1 agreement"],
              [(o.name, f"{o.snr_db:.1f}", f"{o.cosine:.5f}", f"{o.max_abs_error:.4g}",
                f"{o.mean_abs_error:.4g}", "-" if o.top1_agreement is None else f"{o.top1_agreement:.4f}")
               for o in outputs], numeric=(1, 2, 3, 4, 5)),
    )
    section.add(table(["tensor", "name", "type", "shape", "scale", "zero point"],
                      [(kind, t.name, t.dtype, list(t.shape), f"{t.scale:g}", t.zero_point)
                       for kind, ports in (("inputs", tflite.inputs), ("outputs", tflite.outputs)) for t in ports],
                      numeric=(4, 5)))
    sections.weights(page, shared.kernels)
    sections.placement(page, shared.check)
    sections.provenance(page, shared.provenance, recipe_text)
    return page


def _bias_correction(done: BiasCorrection | None) -> str:
    if done is None:
        return ""
    return (f" The biases of {done.corrected} of its {done.weight_ops} convolution and fully connected ops "
            f"were corrected for their rounded weights, from {done.samples} calibration samples.")


def _float_front_end(front: FloatFrontEnd | None) -> str:
    if front is None or not front.float_ops:
        return ""
    return (f" {front.float_ops} of its {front.ops} ops compute the input of {front.log_ops} LOG op(s) in "
            "float32, from float32 weights: a LOG magnifies int8's and float16's rounding (--no-float-front-end "
            "turns this off).")


def _float16_kept(count: int | None) -> str:
    if not count:
        return ""
    return (f" {count} constant(s) were kept float32 rather than float16: values float16 cannot hold (an epsilon "
            "it rounds to zero), weights that feed a LOG, constants under 1024 values (biases: float16 would save "
            "under 2 KB on each), and what a comparison or a select reads (LiteRT's GPU accelerator was measured "
            "computing those wrongly from float16).")
