"""The one conversion: every .tflite edgekit writes is made here, for build and convert alike.

The build's model, its pre-flight probe, the int8 head's feature extractor and a model
someone else trained all become a :class:`~edgekit.conversion.source.Source`, exported
with the target's batch and converted as the target profile says, with the same bias
correction, float16 constants and float front end, each behind its flag.
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgekit.conversion.bias_correction import Correction
from edgekit.conversion.float_front_end import FrontEnd
from edgekit.conversion.samples import Samples
from edgekit.conversion.source import Source
from edgekit.errors import ConversionError
from edgekit.progress import Progress
from edgekit.targets import Quantization, TargetKind, TargetProfile, TensorType


@dataclass(frozen=True)
class Converted:
    """What :func:`to_target` wrote, and what it did beyond the converter's defaults."""

    path: Path
    bias_correction: Correction | None
    front_end: FrontEnd | None
    # float16 conversions: the constants left float32 (see conversion.float16_constants).
    float16_kept_float32: int | None

    def to_dict(self) -> dict:
        return {"bias_correction": self.bias_correction.to_dict() if self.bias_correction else None,
                "float_front_end": self.front_end.to_dict() if self.front_end else None,
                "float16_kept_float32": self.float16_kept_float32}


def to_target(source: Source, calibrate: Samples, profile: TargetProfile, path: Path, say: Progress, *,
              metadata: Any | Callable[[bytes], Any] = None, bias_correction: bool = True,
              float_front_end: bool = True) -> Converted:
    """Export with the target's batch (static where it needs one), convert as it says
    (int8 off the Edge TPU: a LOG's inputs computed in float, see conversion.float_front_end;
    float16: the constants it cannot hold kept float32, see conversion.float16_constants),
    correct the biases of a calibrated conversion for its weights' rounding, attach
    ``metadata`` (a metadata.ModelInfo, or a function of the .tflite's bytes giving one),
    and hold the file to the target's size limit."""
    from edgekit.conversion import saved_model_to_tflite
    from edgekit.conversion.bias_correction import correct_biases
    from edgekit.conversion.float16_constants import restore_float32_constants
    from edgekit.metadata import attach
    from edgekit.targets import ConvertSettings

    settings = profile.convert
    if source.postprocess is not None:
        # The post-process op writes float32 boxes, classes, scores and count; quantising
        # them again would put 0-1 scores and pixel-free boxes on one coarse grid each.
        settings = dataclasses.replace(settings, output_type=TensorType.FLOAT32)
    say.log(f"converting for {profile.id}: {settings.quantization}, {settings.input_type} input, "
            f"{settings.output_type} output, batch {profile.limits.batch_size or 'dynamic'}")
    dtypes = {port.name: port.dtype for port in source.inputs}
    take = {name: np.asarray(value[: settings.representative_samples], dtypes.get(name, "float32"))
            for name, value in calibrate.items()}
    # The Edge TPU runs no float op: the compiler would leave all that follows one to the CPU.
    keep_float = float_front_end and settings.quantization == Quantization.INT8 and profile.kind != TargetKind.EDGETPU
    correction = front = restored = None
    with tempfile.TemporaryDirectory() as scratch:
        folder = source.converter(Path(scratch) / "saved_model", profile.limits.batch_size)
        data = saved_model_to_tflite(folder, settings, take if settings.quantization.calibrated else None,
                                     float_front_end=keep_float)
        if settings.quantization == Quantization.FLOAT16:
            data, restored = restore_float32_constants(data, saved_model_to_tflite(folder, ConvertSettings()),
                                                       front_end=float_front_end)
            if restored:
                say.log(f"float16: {restored} constant(s) kept float32")
        if float_front_end and (keep_float or settings.quantization == Quantization.FLOAT16):
            front = _front_end(data, say)
        if bias_correction and settings.quantization.calibrated:
            data, correction = correct_biases(data, saved_model_to_tflite(folder, ConvertSettings()), take)
            say.log(f"bias correction: {correction.corrected} of {correction.weight_ops} convolution and fully "
                    f"connected ops, from {correction.samples} calibration samples")
    if source.postprocess is not None:
        from edgekit.conversion.postprocess import fuse_quantized_inputs

        data = fuse_quantized_inputs(data)
    if metadata is not None:
        data = attach(data, metadata(data) if callable(metadata) else metadata)
    limit = profile.limits.max_model_bytes
    if limit and len(data) > limit:
        raise ConversionError(f"{path.name} is {len(data):,} bytes, over {profile.id}'s limit of {limit:,}")
    path.write_bytes(data)
    return Converted(path, correction, front, restored)


def _front_end(data: bytes, say: Progress) -> FrontEnd:
    from edgekit.conversion.float_front_end import front_end

    front = front_end(data)
    if front.ops:
        say.log(f"float front end: {front.ops} of {front.total} ops compute the input of {front.logs} LOG op(s) "
                f"in float32, from {front.constants} float32 constant(s)")
    return front




def keras_to_target(model: Any, images: np.ndarray, profile: TargetProfile, path: Path, say: Progress, *,
                    output: str, options: Any = None, metadata: Any | Callable[[bytes], Any] = None) -> Converted:
    """A Keras model of edgekit's own (pixels in as ``image``, one output named ``output``)
    through :func:`to_target`, calibrated on float pixel ``images``; ``options``: the
    build's ConversionOptions (bias correction and float front end on when None)."""
    import dataclasses

    from edgekit.conversion.source import Port, source_from_model

    source = source_from_model(model)
    first = source.outputs[0]
    source = dataclasses.replace(source, inputs=(dataclasses.replace(source.inputs[0], name="image"),),
                                 outputs=(Port(output, first.shape, first.dtype),))
    return to_target(source, {"image": np.asarray(images, np.float32)}, profile, path, say, metadata=metadata,
                     bias_correction=options.bias_correction if options is not None else True,
                     float_front_end=options.float_front_end if options is not None else True)
