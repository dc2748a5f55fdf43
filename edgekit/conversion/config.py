"""``ConvertConfig``: every option of ``edgekit convert``, composed from the shared sections (edgekit.options)."""

from __future__ import annotations

from dataclasses import dataclass

from edgekit.errors import OptionError
from edgekit.options import (
    ConversionOptions,
    GateOptions,
    MetadataOptions,
    OutputOptions,
    Section,
    Sectioned,
    TargetOptions,
    option,
    section,
    trust_model_code_option,
)
from edgekit.tables import check_fields


@dataclass(frozen=True)
class CalibrationOptions(Section):
    """How the calibration samples are read and how many are held back to verify."""

    mean: float = option(
        0.0, "Image calibration folders only: pixels (0-255) are fed as (pixel - mean) / std, as the model "
             "expects them (MobileNetV2's [-1, 1]: --mean 127.5 --std 127.5). Leave it when the model scales "
             "its own pixels (a Rescaling or Normalization layer at its input).")
    std: float = option(1.0, "See --mean.")
    verify_samples: int = option(
        100, "Samples held back from calibration to verify the .tflite against the source model (at most "
             "a fifth of the samples when there are fewer than 500).")
    labels: str | None = option(
        None, "Class names, one per line, for a model with one class-score output: packed into the .tflite's "
              "metadata.", recipe=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.std > 0:
            raise OptionError("std", f"must be positive, got {self.std}")
        if self.verify_samples < 1:
            raise OptionError("verify_samples", f"must be at least 1, got {self.verify_samples}")


@dataclass(frozen=True)
class ConvertConfig(Sectioned):
    target: TargetOptions = section(TargetOptions)
    calibration: CalibrationOptions = section(CalibrationOptions)
    gates: GateOptions = section(GateOptions)
    conversion: ConversionOptions = section(ConversionOptions)
    metadata: MetadataOptions = section(MetadataOptions)
    trust_model_code: bool = trust_model_code_option()
    output: OutputOptions = section(OutputOptions, out="convert")

    def __post_init__(self) -> None:
        check_fields(self)
