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

import warnings
from dataclasses import dataclass
from typing import Mapping

import flatbuffers
import numpy as np

from edgekit.analyze.schema import schema

# Enough samples for per-channel means; each costs one run with every tensor kept.
_SAMPLES = 64


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
    op: object  # the quantised model's OperatorT
    float_weights: np.ndarray


def correct_biases(quantized: bytes, reference: bytes,
                   samples: Mapping[str, np.ndarray]) -> tuple[bytes, Correction]:
    """``quantized`` with each int8-weight op's bias corrected for its weights' rounding;
    ``reference``: the float32 conversion of the same model; ``samples``: calibration
    inputs by signature name, as the float model takes them."""
    s = schema()
    model = s.ModelT.InitFromPackedBuf(bytearray(quantized), 0)
    floats = s.ModelT.InitFromPackedBuf(bytearray(reference), 0)
    ops = _weight_ops(model, floats)
    count = min(_SAMPLES, len(next(iter(samples.values()))))
    total = sum(1 for op in model.subgraphs[0].operators or [] if _kind(model, op) is not None)
    if not ops:
        return quantized, Correction(0, total, count)
    window_means = _window_means(quantized, model, ops, samples, count)
    graph = model.subgraphs[0]
    for weight_op in ops:
        weights = _dequantized(model, graph, weight_op.op.inputs[1])
        shift = _output_shift(weight_op, weights - weight_op.float_weights, window_means[id(weight_op)])
        _subtract_from_bias(model, graph, weight_op.op, shift)
    builder = flatbuffers.Builder(len(quantized) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output()), Correction(len(ops), total, count)


def _kind(model, op) -> str | None:
    s = schema()
    code = model.operatorCodes[op.opcodeIndex]
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
    return {s.BuiltinOperator.CONV_2D: "conv", s.BuiltinOperator.DEPTHWISE_CONV_2D: "depthwise",
            s.BuiltinOperator.FULLY_CONNECTED: "fully_connected"}.get(builtin)


def _name(tensor) -> str:
    return tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)


def _weight_ops(model, floats) -> list[_WeightOp]:
    """The quantised model's ops with int8 weights, a bias, a quantised input, and a float
    twin in ``floats``: the one op of the same kind whose weights, or else whose output,
    have the same name (an op writing a model output is renamed in the quantised model,
    where a DEQUANTIZE takes the output's name), with weights of the same shape."""
    s = schema()
    graph, float_graph = model.subgraphs[0], floats.subgraphs[0]
    twins: dict[tuple, list] = {}
    for op in float_graph.operators or []:
        kind = _kind(floats, op)
        if kind is not None and len(op.inputs) > 1 and op.inputs[1] >= 0:
            for key in _keys(kind, float_graph, op):
                twins.setdefault(key, []).append(op)
    found = []
    for op in graph.operators or []:
        kind = _kind(model, op)
        if kind is None or len(op.inputs) < 2 or min(op.inputs[:2]) < 0:
            continue
        x, w = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
        # The converter leaves out a bias that is all zeros; the correction adds one.
        b = graph.tensors[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        quantized_input = x.type in (s.TensorType.INT8, s.TensorType.INT16) and _scales(x) is not None
        if w.type != s.TensorType.INT8 or _scales(w) is None or not quantized_input or (
                b is not None and _scales(b) is None):
            continue
        twin = next((twins[key][0] for key in _keys(kind, graph, op) if len(twins.get(key, ())) == 1), None)
        if twin is None:
            continue
        float_weights = _constant(floats, float_graph, twin.inputs[1])
        if float_weights is None or float_weights.dtype != np.float32 or float_weights.shape != tuple(w.shape):
            continue
        found.append(_WeightOp(kind, op, float_weights))
    return found


def _keys(kind: str, graph, op) -> list[tuple]:
    return [(kind, "weights", _name(graph.tensors[op.inputs[1]])),
            (kind, "output", _name(graph.tensors[op.outputs[0]]))]


def _scales(tensor) -> np.ndarray | None:
    q = tensor.quantization
    if q is None or q.scale is None or len(q.scale) == 0:
        return None
    return np.asarray(q.scale, np.float64)


def _zero_points(tensor) -> np.ndarray:
    points = tensor.quantization.zeroPoint
    return np.asarray(points if points is not None and len(points) else [0], np.float64)


def _constant(model, graph, index: int) -> np.ndarray | None:
    tensor = graph.tensors[index]
    data = model.buffers[tensor.buffer].data if tensor.buffer < len(model.buffers) else None
    if data is None or len(data) == 0:
        return None
    dtype = {schema().TensorType.FLOAT32: np.float32, schema().TensorType.INT8: np.int8,
             schema().TensorType.INT32: np.int32, schema().TensorType.INT64: np.int64}.get(tensor.type)
    if dtype is None:
        return None
    return np.frombuffer(bytes(bytearray(data)), dtype=dtype).reshape(tensor.shape)


def _dequantized(model, graph, index: int) -> np.ndarray:
    tensor = graph.tensors[index]
    values = _constant(model, graph, index).astype(np.float64)
    scales, axis = _scales(tensor), tensor.quantization.quantizedDimension
    shape = [1] * values.ndim
    shape[axis] = -1
    zero = _zero_points(tensor)
    return (values - (zero.reshape(shape) if zero.size > 1 else zero[0])) * (
        scales.reshape(shape) if scales.size > 1 else scales[0])


def _window_means(data: bytes, model, ops: list[_WeightOp], samples: Mapping[str, np.ndarray],
                  count: int) -> dict[int, np.ndarray]:
    """For each op, the mean (over samples and output positions) of the input value each
    weight tap reads, zero padding included: taps x input channels (a vector for fully
    connected ops)."""
    from edgekit.inference import quantize
    from edgekit.runtime import find_runtime

    with warnings.catch_warnings():
        # Keeping every tensor is what this step needs, not a debugging leftover.
        warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors.*")
        interpreter = find_runtime().interpreter(model_content=data, experimental_preserve_all_tensors=True)
    runner = interpreter.get_signature_runner()
    details = runner.get_input_details()
    graph = model.subgraphs[0]
    sums: dict[int, np.ndarray] = {}
    for i in range(count):
        runner(**{name: quantize(np.asarray(value[i:i + 1], np.float32), details[name])
                  for name, value in samples.items()})
        for weight_op in ops:
            source = graph.tensors[weight_op.op.inputs[0]]
            raw = interpreter.get_tensor(weight_op.op.inputs[0]).astype(np.float64)
            x = (raw - _zero_points(source)[0]) * _scales(source)[0]
            mean = _taps_mean(weight_op, x)
            sums[id(weight_op)] = sums.get(id(weight_op), 0) + mean
    return {key: value / count for key, value in sums.items()}


def _taps_mean(weight_op: _WeightOp, x: np.ndarray) -> np.ndarray:
    if weight_op.kind == "fully_connected":
        return x.reshape(-1, weight_op.float_weights.shape[1]).mean(axis=0)
    options = weight_op.op.builtinOptions
    kernel_h, kernel_w = weight_op.float_weights.shape[1:3]
    stride_h, stride_w = options.strideH, options.strideW
    dilation_h, dilation_w = options.dilationHFactor or 1, options.dilationWFactor or 1
    same = options.padding == schema().Padding.SAME
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


def _subtract_from_bias(model, graph, op, shift: np.ndarray) -> None:
    """Subtract ``shift`` (float) from the op's quantised bias."""
    s = schema()
    if len(op.inputs) < 3 or op.inputs[2] < 0:
        _add_zero_bias(model, graph, op, len(shift))
    index = op.inputs[2]
    tensor = graph.tensors[index]
    bias = _constant(model, graph, index)
    scales = _scales(tensor)
    steps = np.round(shift / (scales if scales.size > 1 else scales[0]))
    info = np.iinfo(bias.dtype)
    corrected = np.clip(bias.astype(np.float64) - steps, info.min, info.max).astype(bias.dtype)
    data = np.frombuffer(corrected.tobytes(), np.uint8)
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
        import copy

        tensor = copy.deepcopy(tensor)
        graph.tensors.append(tensor)
        op.inputs[2] = len(graph.tensors) - 1
    tensor.buffer = len(model.buffers) - 1


def _add_zero_bias(model, graph, op, channels: int) -> None:
    """A zero bias quantised as the converter writes one: int32 (int64 for 16-bit
    activations) at the input scale times each channel's weight scale."""
    s = schema()
    x, w = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
    wide = x.type == s.TensorType.INT16
    buffer = s.BufferT()
    buffer.data = np.zeros(channels * (8 if wide else 4), np.uint8)
    model.buffers.append(buffer)
    quantization = s.QuantizationParametersT()
    quantization.scale = [float(v) for v in _scales(x)[0] * _scales(w)]  # per channel when the weights are
    quantization.zeroPoint = [0] * len(quantization.scale)
    quantization.quantizedDimension = 0
    tensor = s.TensorT()
    tensor.shape = [channels]
    tensor.type = s.TensorType.INT64 if wide else s.TensorType.INT32
    tensor.buffer = len(model.buffers) - 1
    tensor.name = _name(graph.tensors[op.outputs[0]]) + "/bias"
    tensor.quantization = quantization
    graph.tensors.append(tensor)
    inputs = [int(i) for i in op.inputs]
    op.inputs = inputs[:2] + [len(graph.tensors) - 1] + inputs[3:]
