"""Running a .tflite classifier over images with a TFLite runtime (no TensorFlow needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgekit.runtime import Runtime, RuntimeName, find_runtime


def quantize(values: np.ndarray, detail: dict) -> np.ndarray:
    """Float values to the tensor's dtype with its own scale and zero point."""
    dtype = detail["dtype"]
    if not np.issubdtype(dtype, np.integer):
        return values.astype(dtype)
    scale, zero_point = detail["quantization"]
    if scale == 0:
        return values.astype(dtype)
    info = np.iinfo(dtype)
    return np.clip(np.rint(values / scale + zero_point), info.min, info.max).astype(dtype)


def dequantize(values: np.ndarray, detail: dict) -> np.ndarray:
    if not np.issubdtype(values.dtype, np.integer):
        return values.astype(np.float32)
    scale, zero_point = detail["quantization"]
    if scale == 0:
        return values.astype(np.float32)
    return (values.astype(np.float32) - zero_point) * scale


def predict(model: str | Path | bytes, images: np.ndarray, *, num_threads: int = 1,
            runtime: Runtime | RuntimeName | str | None = None, batch_size: int = 64) -> np.ndarray:
    """Class scores (N, classes) as float32 for uint8 pixel images (N, H, W, 3).

    A model with a fixed batch of 1 is run image by image; one with a dynamic batch
    is resized to ``batch_size`` chunks.
    """
    runtime = runtime if isinstance(runtime, Runtime) else find_runtime(runtime)
    if isinstance(model, (bytes, bytearray)):
        interpreter = runtime.interpreter(model_content=bytes(model), num_threads=num_threads)
    else:
        interpreter = runtime.interpreter(model_path=model, num_threads=num_threads)
    inp = interpreter.get_input_details()[0]
    dynamic = int(inp["shape_signature"][0]) == -1
    step = batch_size if dynamic else int(inp["shape"][0])
    pixels = images.astype(np.float32)
    outputs = []
    allocated_for = None
    for start in range(0, len(images), step):
        chunk = pixels[start:start + step]
        n = chunk.shape[0]
        if dynamic and allocated_for != n:
            interpreter.resize_tensor_input(inp["index"], [n, *inp["shape"][1:]])
            allocated_for = None
        if allocated_for != n:
            interpreter.allocate_tensors()
            inp = interpreter.get_input_details()[0]
            out = interpreter.get_output_details()[0]
            allocated_for = n
        if not dynamic and n < step:
            chunk = np.concatenate([chunk, np.zeros((step - n, *chunk.shape[1:]), np.float32)])
        interpreter.set_tensor(inp["index"], quantize(chunk, inp))
        interpreter.invoke()
        outputs.append(dequantize(interpreter.get_tensor(out["index"]), out)[:n].copy())
    return np.concatenate(outputs).reshape(len(images), -1)


def run_signature(model: str | Path | bytes, inputs: dict[str, np.ndarray], *, num_threads: int = 1,
                  runtime: Runtime | RuntimeName | str | None = None) -> dict[str, np.ndarray]:
    """Outputs by name (float32) of a model's ``serving_default`` signature for inputs by name.

    Inputs are float values, quantised with each tensor's own scale and zero point; a
    model with a static batch is run in chunks of that batch.
    """
    runtime = runtime if isinstance(runtime, Runtime) else find_runtime(runtime)
    if isinstance(model, (bytes, bytearray)):
        interpreter = runtime.interpreter(model_content=bytes(model), num_threads=num_threads)
    else:
        interpreter = runtime.interpreter(model_path=model, num_threads=num_threads)
    runner = interpreter.get_signature_runner()
    details, outs = runner.get_input_details(), runner.get_output_details()
    first = next(iter(details.values()))
    step = int(first["shape"][0]) if int(first["shape_signature"][0]) != -1 else 64
    count = len(next(iter(inputs.values())))
    parts: dict[str, list] = {name: [] for name in outs}
    for start in range(0, count, step):
        chunk = {name: value[start:start + step] for name, value in inputs.items()}
        n = len(next(iter(chunk.values())))
        if n < step and int(first["shape_signature"][0]) != -1:
            chunk = {name: np.concatenate([v, np.zeros((step - n, *v.shape[1:]), v.dtype)]) for name, v in
                     chunk.items()}
        result = runner(**{name: quantize(np.asarray(v, np.float32), details[name]) for name, v in chunk.items()})
        for name, value in result.items():
            parts[name].append(dequantize(np.asarray(value), outs[name])[:n].copy())
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}
