"""Keras model to .tflite bytes, driven by a target's conversion settings."""

from __future__ import annotations

import contextlib
import tempfile
import warnings
from typing import Any, Callable

import numpy as np

from edgekit._tf import tensorflow
from edgekit.errors import ConfigError, ConversionError
from edgekit.targets import ConvertSettings, Quantization, TensorType


def to_tflite(model: Any, settings: ConvertSettings, *, batch_size: int = 1,
              representative: np.ndarray | None = None) -> bytes:
    """Convert ``model`` (pixels in, class scores out).

    ``batch_size`` 0 keeps the batch dimension dynamic; accelerators need it fixed.
    ``representative``: float pixel images calibrating activation ranges, needed for int8.
    """
    tf = tensorflow()
    _check_settings(settings, representative)
    shape = [batch_size or None, *model.input_shape[1:]]
    # A concrete function with an explicit signature: the only way to give the
    # .tflite a static batch dimension, which the Edge TPU requires.
    signature = tf.TensorSpec(shape, tf.float32, name="image")
    with contextlib.ExitStack() as stack:
        if tf.distribute.has_strategy():
            converter = _from_saved_model(tf, model, signature, stack.enter_context(tempfile.TemporaryDirectory()))
        else:
            # Named output: the .tflite's serving_default signature runs as image -> scores.
            function = tf.function(lambda image: {"scores": model(image, training=False)}).get_concrete_function(
                signature)
            converter = tf.lite.TFLiteConverter.from_concrete_functions([function], model)
        return _convert(tf, converter, settings, representative)


def saved_model_to_tflite(folder: str | Callable[[Any], Any], settings: ConvertSettings,
                          calibration: dict[str, np.ndarray] | None = None, *,
                          float_front_end: bool = False) -> bytes:
    """Convert a SavedModel's ``serving_default`` signature; ``calibration``: samples by input name.

    ``folder`` may also be a function of the tensorflow module giving the converter (a
    Source's, see conversion.source). ``float_front_end`` (int8 only): the ops computing a
    LOG's input stay float32 (see conversion.float_front_end).
    """
    tf = tensorflow()
    _check_settings(settings, calibration)
    converter = folder(tf) if callable(folder) else tf.lite.TFLiteConverter.from_saved_model(folder)
    if not (float_front_end and settings.quantization == Quantization.INT8):
        return _convert(tf, converter, settings, calibration)
    from tensorflow.lite.python.convert import deduplicate_readonly_buffers, mlir_quantize

    from edgekit.conversion.float_front_end import front_end_nodes

    # What TFLiteConverter.convert does for int8 with the MLIR quantiser (lite.py, _quantize),
    # split in two so that the calibrated float model names the nodes to leave float.
    converter._experimental_calibrate_only = True
    calibrated = _convert(tf, converter, settings, calibration)
    nodes = front_end_nodes(calibrated)
    try:
        quantized = mlir_quantize(
            calibrated, converter._experimental_disable_per_channel,
            input_data_type=_tf_dtype(tf, settings.input_type), output_data_type=_tf_dtype(tf, settings.output_type),
            disable_per_channel_for_dense_layers=(
                converter._experimental_disable_per_channel_quantization_for_dense_layers),
            denylisted_nodes=list(nodes) or None)
    except Exception as exc:  # noqa: BLE001 - as _convert: the quantiser raises several kinds
        raise _conversion_error("int8 quantization", exc) from exc
    return bytes(deduplicate_readonly_buffers(quantized))


def _from_saved_model(tf: Any, model: Any, signature: Any, folder: str) -> Any:
    """A converter for a model trained under a tf.distribute strategy, through a SavedModel.

    Traced directly, a model whose variables live under MultiWorkerMirroredStrategy reads
    its BatchNorm statistics (sync-on-read variables) through collective all-reduce ops,
    which TFLite cannot convert. SavedModel export traces in a saving context where each
    distributed variable reads as one plain variable.
    """
    module = tf.Module()
    module.model = model
    module.serve = tf.function(lambda image: {"scores": model(image, training=False)}, input_signature=[signature])
    tf.saved_model.save(module, folder, signatures={"serving_default": module.serve})
    return tf.lite.TFLiteConverter.from_saved_model(folder)


def _convert(tf: Any, converter: Any, settings: ConvertSettings,
             representative: np.ndarray | dict[str, np.ndarray] | None) -> bytes:
    quantization = settings.quantization
    if quantization == Quantization.FLOAT16:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == Quantization.DYNAMIC_RANGE:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantization.calibrated:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if isinstance(representative, dict):
            # A signature's inputs by name, one sample at a time (the batch the model was given).
            count = len(next(iter(representative.values())))

            def calibration():
                for i in range(count):
                    yield {name: value[i:i + 1] for name, value in representative.items()}
        else:
            samples = representative.astype(np.float32)

            def calibration():
                for image in samples:
                    yield [image[None]]

        converter.representative_dataset = calibration
        ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8 if quantization == Quantization.INT8 else
               tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        if settings.allow_float_ops:
            ops.append(tf.lite.OpsSet.TFLITE_BUILTINS)
        converter.target_spec.supported_ops = ops
        converter.inference_input_type = _tf_dtype(tf, settings.input_type)
        converter.inference_output_type = _tf_dtype(tf, settings.output_type)
    try:
        with warnings.catch_warnings():
            # TensorFlow's calibrator runs its own deprecated tf.lite.Interpreter; nothing for users to do.
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
            return bytes(converter.convert())
    except Exception as exc:  # noqa: BLE001 - the converter raises ConverterError, RuntimeError, ValueError...
        raise _conversion_error(f"conversion ({quantization})", exc) from exc


def _conversion_error(what: str, exc: Exception) -> ConversionError:
    """One line for the user: the converter's first line that names an error."""
    lines = ([line for line in str(exc).splitlines() if "error" in line.lower()]
             or str(exc).splitlines() or [type(exc).__name__])
    return ConversionError(f"TFLite {what} failed: {lines[0].strip()[:400]}")


def _check_settings(settings: ConvertSettings, representative: np.ndarray | dict | None) -> None:
    integer_io = {settings.input_type, settings.output_type} - {TensorType.FLOAT32}
    if integer_io and settings.quantization != Quantization.INT8:
        raise ConfigError(
            f"{settings.input_type}/{settings.output_type} input/output needs int8 quantization, "
            f"not {settings.quantization}"
        )
    if settings.quantization.calibrated and (representative is None or len(representative) == 0):
        raise ConfigError(f"{settings.quantization} quantization needs representative images to calibrate "
                          "activation ranges")


def _tf_dtype(tf: Any, kind: TensorType) -> Any:
    return {TensorType.FLOAT32: tf.float32, TensorType.INT8: tf.int8, TensorType.UINT8: tf.uint8}[kind]
