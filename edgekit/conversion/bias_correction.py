"""Bias correction: undo the shift that rounding weights to int8 adds to each layer's output.

Rounding a convolution's weights changes what it computes by ``conv(x, W_q - W)``. The
mean of that over the calibration samples is a per-channel shift that every later layer
inherits; subtracting it from the int32 bias removes it at no cost per inference. This is
the correction of Nagel et al., "Data-Free Quantization Through Weight Equalization and
Bias Correction" (ICCV 2019, section 4.2), computed empirically as OpenVINO NNCF's
FastBiasCorrection does: the layer's own quantised inputs, the float weights it came from.

The float weights come from a float32 conversion of the same SavedModel; ops are matched
by the names the converter gives both models alike (their weights', else their output's). Only
the mean of each input window is needed, so the shift is exact (padding, stride and
dilation included) without running any convolution.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from edgekit.analyze.model import ModelInfo, Op, Tensor, read_model
from edgekit.analyze.weights import constant_array
from edgekit.flatbuffer import pack, schema, unpack

# Enough samples for per-channel means; each costs one run with every tensor kept.
_SAMPLES = 64
_KINDS = {"CONV_2D": "conv", "DEPTHWISE_CONV_2D": "depthwise", "FULLY_CONNECTED": "fully_connected"}


@dataclass(frozen=True)
class Correction:
    """What the step did: ``corrected`` of ``weight_ops`` convolutions and fully connected
    ops, from ``samples`` calibration samples."""

    corrected: int
    weight_ops: int
    samples: int

    def to_dict(self) -> dict:
        return {"corrected": self.corrected, "weight_ops": self.weight_ops, "samples": self.samples}


@dataclass(frozen=True)
class _WeightOp:
    kind: str  # conv, depthwise, fully_connected
    op: Op  # the quantised model's op, as read
    float_weights: np.ndarray


def correct_biases(quantized: bytes, reference: bytes,
                   samples: Mapping[str, np.ndarray]) -> tuple[bytes, Correction]:
    """``quantized`` with each int8-weight op's bias corrected for its weights' rounding;
    ``reference``: the float32 conversion of the same model; ``samples``: calibration
    inputs by signature name, as the float model takes them."""
    info = read_model(quantized)
    ops = _weight_ops(info, reference)
    count = min(_SAMPLES, len(next(iter(samples.values()))))
    total = sum(op.opcode in _KINDS for op in info.main.ops)
    if not ops:
        return quantized, Correction(0, total, count)
    window_means = _window_means(quantized, info, ops, samples, count)
    # Read with analyze.model; written with the schema's object API, op for op in the same order.
    model = unpack(quantized)
    for weight_op in ops:
        weights = _dequantized(constant_array(quantized, info, 0, weight_op.op.inputs[1]),
                               info.main.tensors[weight_op.op.inputs[1]])
        shift = _output_shift(weight_op, weights - weight_op.float_weights, window_means[weight_op.op.index])
        _subtract_from_bias(model, quantized, info, weight_op.op, shift)
    return pack(model), Correction(len(ops), total, count)


def _weight_ops(info: ModelInfo, reference: bytes) -> list[_WeightOp]:
    """The quantised model's ops with int8 weights, a quantised input, a quantised bias or
    none, and a float twin in ``reference``: the one op of the same kind whose weights, or
    else whose output, have the same name (an op writing a model output is renamed in the
    quantised model, where a DEQUANTIZE takes the output's name), with weights of the same
    shape."""
    floats = read_model(reference)
    twins: dict[tuple, list] = {}
    for op in floats.main.ops:
        if op.opcode in _KINDS and len(op.inputs) > 1 and op.inputs[1] >= 0:
            for key in _keys(floats, op):
                twins.setdefault(key, []).append(op)
    found = []
    tensors = info.main.tensors
    for op in info.main.ops:
        if op.opcode not in _KINDS or len(op.inputs) < 2 or min(op.inputs[:2]) < 0:
            continue
        x, w = tensors[op.inputs[0]], tensors[op.inputs[1]]
        # The converter leaves out a bias that is all zeros; the correction adds one.
        b = tensors[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        if w.dtype != "INT8" or w.quantization is None or x.dtype not in ("INT8", "INT16") or (
                x.quantization is None or (b is not None and b.quantization is None)):
            continue
        twin = next((twins[key][0] for key in _keys(info, op) if len(twins.get(key, ())) == 1), None)
        if twin is None:
            continue
        float_weights = constant_array(reference, floats, 0, twin.inputs[1])
        if float_weights is None or float_weights.dtype != np.float32 or float_weights.shape != w.shape:
            continue
        found.append(_WeightOp(_KINDS[op.opcode], op, float_weights))
    return found


def _keys(info: ModelInfo, op: Op) -> list[tuple]:
    tensors = info.main.tensors
    return [(op.opcode, "weights", tensors[op.inputs[1]].name), (op.opcode, "output", tensors[op.outputs[0]].name)]


def _dequantized(values: np.ndarray, tensor: Tensor) -> np.ndarray:
    q = tensor.quantization
    shape = [1] * values.ndim
    shape[q.axis] = -1
    scales = np.asarray(q.scales, np.float64).reshape(shape if q.per_channel else [])
    zeros = np.asarray(q.zero_points or (0,), np.float64)
    return (values.astype(np.float64) - (zeros.reshape(shape) if zeros.size > 1 else zeros[0])) * scales


def _window_means(data: bytes, info: ModelInfo, ops: list[_WeightOp], samples: Mapping[str, np.ndarray],
                  count: int) -> dict[int, np.ndarray]:
    """For each op (by index), the mean (over samples and output positions) of the input
    value each weight tap reads, zero padding included: taps x input channels (a vector
    for fully connected ops)."""
    from edgekit.inference import quantize
    from edgekit.runtime import find_runtime

    with warnings.catch_warnings():
        # Keeping every tensor is what this step needs, not a debugging leftover.
        warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors.*")
        interpreter = find_runtime().interpreter(model_content=data, experimental_preserve_all_tensors=True)
    runner = interpreter.get_signature_runner()
    details = runner.get_input_details()
    sums: dict[int, np.ndarray] = {}
    for i in range(count):
        runner(**{name: quantize(np.asarray(value[i:i + 1], np.float32), details[name])
                  for name, value in samples.items()})
        for weight_op in ops:
            source = weight_op.op.inputs[0]
            x = _dequantized(interpreter.get_tensor(source), info.main.tensors[source])
            sums[weight_op.op.index] = sums.get(weight_op.op.index, 0) + _taps_mean(weight_op, x)
    return {key: value / count for key, value in sums.items()}


def _taps_mean(weight_op: _WeightOp, x: np.ndarray) -> np.ndarray:
    if weight_op.kind == "fully_connected":
        return x.reshape(-1, weight_op.float_weights.shape[1]).mean(axis=0)
    options = weight_op.op.options
    kernel_h, kernel_w = weight_op.float_weights.shape[1:3]
    stride_h, stride_w = options["strideH"], options["strideW"]
    dilation_h, dilation_w = options.get("dilationHFactor") or 1, options.get("dilationWFactor") or 1
    same = options["padding"] == "SAME"
    _, height, width, channels = x.shape
    out_h, pad_h = _output_and_padding(height, kernel_h, stride_h, dilation_h, same)
    out_w, pad_w = _output_and_padding(width, kernel_w, stride_w, dilation_w, same)
    padded = np.zeros((x.shape[0], height + 2 * kernel_h * dilation_h + pad_h,
                       width + 2 * kernel_w * dilation_w + pad_w, channels))
    padded[:, pad_h:pad_h + height, pad_w:pad_w + width] = x
    means = np.empty((kernel_h, kernel_w, channels))
    for i in range(kernel_h):
        for j in range(kernel_w):
            rows = slice(i * dilation_h, i * dilation_h + (out_h - 1) * stride_h + 1, stride_h)
            cols = slice(j * dilation_w, j * dilation_w + (out_w - 1) * stride_w + 1, stride_w)
            means[i, j] = padded[:, rows, cols].mean(axis=(0, 1, 2))
    return means


def _output_and_padding(size: int, kernel: int, stride: int, dilation: int, same: bool) -> tuple[int, int]:
    """TFLite's output size and leading padding (the smaller half of the total goes first)."""
    effective = (kernel - 1) * dilation + 1
    if not same:
        return (size - effective) // stride + 1, 0
    out = -(-size // stride)
    return out, max((out - 1) * stride + effective - size, 0) // 2


def _output_shift(weight_op: _WeightOp, error: np.ndarray, means: np.ndarray) -> np.ndarray:
    """The mean change of each output channel that the weight error makes."""
    if weight_op.kind == "fully_connected":  # error: [outputs, inputs]
        return error @ means
    if weight_op.kind == "conv":  # error: [outputs, kh, kw, inputs]
        return np.einsum("ohwi,hwi->o", error, means)
    # depthwise: error [1, kh, kw, channels x multiplier]; output c reads input c // multiplier
    multiplier = error.shape[3] // means.shape[2]
    return np.einsum("hwc,hwc->c", error[0], np.repeat(means, multiplier, axis=2))


def _subtract_from_bias(model, quantized: bytes, info: ModelInfo, op: Op, shift: np.ndarray) -> None:
    """Subtract ``shift`` (float) from the op's quantised bias in ``model`` (the object API's
    copy of ``quantized``). A bias that other ops share is never changed in place (below),
    so ``quantized`` still holds this op's values."""
    s = schema()
    graph, operator = model.subgraphs[0], model.subgraphs[0].operators[op.index]
    tensors = info.main.tensors
    wide = tensors[op.inputs[0]].dtype == "INT16"
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        bias = constant_array(quantized, info, 0, op.inputs[2])
        scales = np.asarray(tensors[op.inputs[2]].quantization.scales, np.float64)
    else:
        bias = np.zeros(len(shift), np.int64 if wide else np.int32)
        # As the converter writes a bias: the input's scale times each channel's weight scale.
        scales = tensors[op.inputs[0]].quantization.scales[0] * np.asarray(
            tensors[op.inputs[1]].quantization.scales, np.float64)
        _add_bias_tensor(model, operator, len(shift), scales, wide, tensors[op.outputs[0]].name + "/bias")
    steps = np.round(shift / (scales if scales.size > 1 else scales[0]))
    limits = np.iinfo(bias.dtype)
    corrected = np.clip(bias.astype(np.float64) - steps, limits.min, limits.max).astype(bias.dtype)
    data = np.frombuffer(corrected.tobytes(), np.uint8)
    index = int(operator.inputs[2])
    tensor = graph.tensors[index]
    readers = sum(other.inputs is not None and index in list(other.inputs) for other in graph.operators)
    holders = sum(t.buffer == tensor.buffer for g in model.subgraphs for t in g.tensors)
    if readers == 1 and holders == 1:
        model.buffers[tensor.buffer].data = data
        return
    # The converter shares identical constants (zero biases, say): this op's bias gets a
    # buffer of its own, and a tensor of its own if another op reads the same tensor.
    buffer = s.BufferT()
    buffer.data = data
    model.buffers.append(buffer)
    if readers > 1:
        tensor = copy.deepcopy(tensor)
        graph.tensors.append(tensor)
        operator.inputs[2] = len(graph.tensors) - 1
    tensor.buffer = len(model.buffers) - 1


def _add_bias_tensor(model, operator, channels: int, scales: np.ndarray, wide: bool, name: str) -> None:
    """An empty int32 bias (int64 for 16-bit activations) of ``channels`` at ``scales`` becomes the
    operator's third input; its buffer is filled by the caller."""
    s = schema()
    model.buffers.append(s.BufferT())
    quantization = s.QuantizationParametersT()
    quantization.scale = [float(v) for v in scales]  # per channel when the weights are
    quantization.zeroPoint = [0] * len(quantization.scale)
    quantization.quantizedDimension = 0
    tensor = s.TensorT()
    tensor.shape = [channels]
    tensor.type = s.TensorType.INT64 if wide else s.TensorType.INT32
    tensor.buffer = len(model.buffers) - 1
    tensor.name = name
    tensor.quantization = quantization
    graph = model.subgraphs[0]
    graph.tensors.append(tensor)
    inputs = [int(i) for i in operator.inputs]
    operator.inputs = inputs[:2] + [len(graph.tensors) - 1] + inputs[3:]
