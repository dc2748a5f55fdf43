"""Single-op .tflite models written from scratch, for device calibration.

Written with the TFLite schema's object API (which the light runtime ships), so a
Raspberry Pi with only LiteRT can build its own micro-benchmarks. Weights are random;
int8 models carry per-channel weight scales and int32 biases as the converter writes
them, so XNNPACK takes the same kernels it takes for a converted model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgekit.flatbuffer import pack, schema

# Activation scales of the int8 models: any sane values give the same kernels.
_IN_SCALE, _OUT_SCALE, _W_SCALE = 0.02, 0.05, 0.004


@dataclass(frozen=True)
class MicroOp:
    """One micro-benchmark: an op of a class at one size and type."""

    kind: str  # conv, transpose_conv, depthwise, fully_connected, max_pool, average_pool, mean, add, mul, hard_swish,
    # logistic, prelu, concatenation, pad, resize_bilinear, softmax
    dtype: str  # float32 or int8
    height: int = 1
    width: int = 1
    channels: int = 1
    filters: int = 1  # output channels (conv, fully_connected)
    kernel: int = 1
    stride: int = 1

    @property
    def name(self) -> str:
        return (f"{self.kind}_{self.dtype}_{self.height}x{self.width}x{self.channels}"
                f"_f{self.filters}_k{self.kernel}_s{self.stride}")


def build(op: MicroOp, seed: int = 0) -> bytes:
    """The .tflite bytes of ``op``'s one-op model."""
    writer = _Writer(schema(), op.dtype, np.random.default_rng(seed))
    build_op = _BUILDERS.get(op.kind)
    if build_op is None:
        raise ValueError(f"no micro-benchmark for {op.kind!r}")
    build_op(writer, op)
    return writer.finish(op.name)


class _Writer:
    def __init__(self, s, dtype: str, rng: np.random.Generator):
        self.s, self.dtype, self.rng = s, dtype, rng
        self.int8 = dtype == "int8"
        self.tensors, self.buffers = [], [s.BufferT()]
        self.codes, self.operators, self.inputs, self.outputs = [], [], [], []

    def tensor(self, shape, *, data: np.ndarray | None = None, kind: str = "activation", scale=None,
               zero_point=0, axis: int = 0, input: bool = False, output: bool = False) -> int:
        s = self.s
        tensor = s.TensorT()
        tensor.shape = [int(d) for d in shape]
        tensor.name = f"t{len(self.tensors)}"
        types = {"float32": s.TensorType.FLOAT32, "int8": s.TensorType.INT8, "int32": s.TensorType.INT32}
        dtype = {"activation": "int8" if self.int8 else "float32", "int32": "int32"}.get(kind, kind)
        tensor.type = types[dtype]
        if scale is not None:
            quant = s.QuantizationParametersT()
            quant.scale = [float(v) for v in np.atleast_1d(scale)]
            quant.zeroPoint = [int(zero_point)] * len(quant.scale)
            quant.quantizedDimension = axis
            tensor.quantization = quant
        if data is not None:
            buffer = s.BufferT()
            buffer.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), dtype=np.uint8)
            self.buffers.append(buffer)
            tensor.buffer = len(self.buffers) - 1
        else:
            tensor.buffer = 0
        self.tensors.append(tensor)
        index = len(self.tensors) - 1
        if input:
            self.inputs.append(index)
        if output:
            self.outputs.append(index)
        return index

    def activation(self, shape, *, input: bool = False, output: bool = False) -> int:
        scale = (_OUT_SCALE if output else _IN_SCALE) if self.int8 else None
        return self.tensor(shape, scale=scale, zero_point=-3 if self.int8 else 0, input=input, output=output)

    def weights(self, shape, axis: int) -> tuple[int, float]:
        """Float or per-channel int8 weights; returns the tensor and its scale."""
        if not self.int8:
            data = self.rng.normal(0, 0.1, shape).astype(np.float32)
            return self.tensor(shape, data=data, kind="float32"), 1.0
        data = self.rng.integers(-127, 128, shape).astype(np.int8)
        scales = np.full(shape[axis], _W_SCALE)
        return self.tensor(shape, data=data, kind="int8", scale=scales, axis=axis), _W_SCALE

    def bias(self, count: int) -> int:
        if not self.int8:
            return self.tensor([count], data=np.zeros(count, np.float32), kind="float32")
        return self.tensor([count], data=np.zeros(count, np.int32), kind="int32",
                           scale=np.full(count, _IN_SCALE * _W_SCALE))

    def constant_ints(self, values) -> int:
        values = np.asarray(values, dtype=np.int32)
        return self.tensor(list(values.shape), data=values, kind="int32")

    def op(self, name: str, inputs, outputs, options_name: str | None = None, options=None, version: int = 1):
        s = self.s
        code = s.OperatorCodeT()
        builtin = getattr(s.BuiltinOperator, name)
        code.builtinCode = builtin
        # Readers before schema 3a take the deprecated field: it holds codes below 127.
        code.deprecatedBuiltinCode = min(builtin, 127)
        code.version = version
        self.codes.append(code)
        operator = s.OperatorT()
        operator.opcodeIndex = len(self.codes) - 1
        operator.inputs, operator.outputs = list(inputs), list(outputs)
        if options is not None:
            operator.builtinOptionsType = getattr(s.BuiltinOptions, options_name)
            operator.builtinOptions = options
        self.operators.append(operator)

    def finish(self, name: str) -> bytes:
        s = self.s
        subgraph = s.SubGraphT()
        subgraph.tensors, subgraph.operators = self.tensors, self.operators
        subgraph.inputs, subgraph.outputs, subgraph.name = self.inputs, self.outputs, name
        model = s.ModelT()
        model.version = 3
        model.operatorCodes, model.subgraphs, model.buffers = self.codes, [subgraph], self.buffers
        model.description = f"edgekit micro-benchmark {name}"
        return pack(model)

    def padding(self):
        return self.s.Padding.SAME


def _out_size(size: int, stride: int) -> int:
    return (size + stride - 1) // stride


def _conv(w: _Writer, op: MicroOp) -> None:
    s = w.s
    x = w.activation([1, op.height, op.width, op.channels], input=True)
    kernel, _ = w.weights([op.filters, op.kernel, op.kernel, op.channels], axis=0)
    bias = w.bias(op.filters)
    y = w.activation([1, _out_size(op.height, op.stride), _out_size(op.width, op.stride), op.filters], output=True)
    options = s.Conv2DOptionsT()
    options.padding, options.strideW, options.strideH = w.padding(), op.stride, op.stride
    options.fusedActivationFunction = s.ActivationFunctionType.RELU6
    options.dilationWFactor = options.dilationHFactor = 1
    w.op("CONV_2D", [x, kernel, bias], [y], "Conv2DOptions", options, version=3 if w.int8 else 1)


def _depthwise(w: _Writer, op: MicroOp) -> None:
    s = w.s
    x = w.activation([1, op.height, op.width, op.channels], input=True)
    kernel, _ = w.weights([1, op.kernel, op.kernel, op.channels], axis=3)
    bias = w.bias(op.channels)
    y = w.activation([1, _out_size(op.height, op.stride), _out_size(op.width, op.stride), op.channels],
                     output=True)
    options = s.DepthwiseConv2DOptionsT()
    options.padding, options.strideW, options.strideH = w.padding(), op.stride, op.stride
    options.depthMultiplier = 1
    options.fusedActivationFunction = s.ActivationFunctionType.RELU6
    options.dilationWFactor = options.dilationHFactor = 1
    w.op("DEPTHWISE_CONV_2D", [x, kernel, bias], [y], "DepthwiseConv2DOptions", options,
         version=3 if w.int8 else 1)


def _transpose_conv(w: _Writer, op: MicroOp) -> None:
    """TRANSPOSE_CONV with a bias (version 3): each input position spreads over ``stride``
    times as many output positions, as a decoder's upsampling layers do."""
    s = w.s
    out = [1, op.height * op.stride, op.width * op.stride, op.filters]
    shape = w.constant_ints(out)
    kernel, _ = w.weights([op.filters, op.kernel, op.kernel, op.channels], axis=0)
    x = w.activation([1, op.height, op.width, op.channels], input=True)
    bias = w.bias(op.filters)
    y = w.activation(out, output=True)
    options = s.TransposeConvOptionsT()
    options.padding, options.strideW, options.strideH = w.padding(), op.stride, op.stride
    w.op("TRANSPOSE_CONV", [shape, kernel, x, bias], [y], "TransposeConvOptions", options, version=3)


def _fully_connected(w: _Writer, op: MicroOp) -> None:
    s = w.s
    x = w.activation([1, op.channels], input=True)
    kernel, _ = w.weights([op.filters, op.channels], axis=0)
    bias = w.bias(op.filters)
    y = w.activation([1, op.filters], output=True)
    options = s.FullyConnectedOptionsT()
    options.fusedActivationFunction = s.ActivationFunctionType.NONE
    w.op("FULLY_CONNECTED", [x, kernel, bias], [y], "FullyConnectedOptions", options, version=4 if w.int8 else 1)


def _pool(name: str):
    def build_pool(w: _Writer, op: MicroOp) -> None:
        s = w.s
        x = w.activation([1, op.height, op.width, op.channels], input=True)
        # Pooling keeps the scale: the same quantisation in and out.
        y = w.tensor([1, _out_size(op.height, op.stride), _out_size(op.width, op.stride), op.channels],
                     scale=_IN_SCALE if w.int8 else None, zero_point=-3 if w.int8 else 0, output=True)
        options = s.Pool2DOptionsT()
        options.padding, options.strideW, options.strideH = w.padding(), op.stride, op.stride
        options.filterWidth = options.filterHeight = op.kernel
        options.fusedActivationFunction = s.ActivationFunctionType.NONE
        w.op(name, [x], [y], "Pool2DOptions", options, version=2 if w.int8 else 1)

    return build_pool


def _mean(w: _Writer, op: MicroOp) -> None:
    s = w.s
    x = w.activation([1, op.height, op.width, op.channels], input=True)
    axes = w.constant_ints([1, 2])
    y = w.activation([1, op.channels], output=True)
    options = s.ReducerOptionsT()
    options.keepDims = False
    w.op("MEAN", [x, axes], [y], "ReducerOptions", options, version=2 if w.int8 else 1)


def _binary(name: str, options_name: str, options_class: str):
    def build_binary(w: _Writer, op: MicroOp) -> None:
        s = w.s
        shape = [1, op.height, op.width, op.channels]
        a = w.activation(shape, input=True)
        b = w.activation(shape, input=True)
        y = w.activation(shape, output=True)
        options = getattr(s, options_class)()
        options.fusedActivationFunction = s.ActivationFunctionType.NONE
        w.op(name, [a, b], [y], options_name, options, version=2 if w.int8 else 1)

    return build_binary


def _unary(name: str):
    def build_unary(w: _Writer, op: MicroOp) -> None:
        shape = [1, op.height, op.width, op.channels]
        x = w.activation(shape, input=True)
        if w.int8 and name == "LOGISTIC":
            # The int8 kernel requires this output quantisation.
            y = w.tensor(shape, scale=1 / 256, zero_point=-128, output=True)
        else:
            y = w.activation(shape, output=True)
        # HARD_SWISH has one version for every type; LOGISTIC's int8 kernel is version 2.
        w.op(name, [x], [y], version=2 if w.int8 and name == "LOGISTIC" else 1)

    return build_unary


def _prelu(w: _Writer, op: MicroOp) -> None:
    shape = [1, op.height, op.width, op.channels]
    x = w.activation(shape, input=True)
    if w.int8:
        alpha = w.tensor([1, 1, op.channels], data=np.full(op.channels, 25, np.int8), kind="int8", scale=0.01)
    else:
        alpha = w.tensor([1, 1, op.channels], data=np.full(op.channels, 0.25, np.float32), kind="float32")
    y = w.activation(shape, output=True)
    w.op("PRELU", [x, alpha], [y], version=1)


def _concatenation(w: _Writer, op: MicroOp) -> None:
    s = w.s
    shape = [1, op.height, op.width, op.channels]
    quant = {"scale": _IN_SCALE, "zero_point": -3} if w.int8 else {}
    a = w.tensor(shape, input=True, **quant)
    b = w.tensor(shape, input=True, **quant)
    y = w.tensor([1, op.height, op.width, 2 * op.channels], output=True, **quant)
    options = s.ConcatenationOptionsT()
    options.axis = 3
    options.fusedActivationFunction = s.ActivationFunctionType.NONE
    w.op("CONCATENATION", [a, b], [y], "ConcatenationOptions", options, version=2 if w.int8 else 1)


def _pad(w: _Writer, op: MicroOp) -> None:
    quant = {"scale": _IN_SCALE, "zero_point": -3} if w.int8 else {}
    x = w.tensor([1, op.height, op.width, op.channels], input=True, **quant)
    paddings = w.constant_ints([[0, 0], [1, 1], [1, 1], [0, 0]])
    y = w.tensor([1, op.height + 2, op.width + 2, op.channels], output=True, **quant)
    w.op("PAD", [x, paddings], [y], "PadOptions", w.s.PadOptionsT(), version=2 if w.int8 else 1)


def _resize_bilinear(w: _Writer, op: MicroOp) -> None:
    quant = {"scale": _IN_SCALE, "zero_point": -3} if w.int8 else {}
    x = w.tensor([1, op.height, op.width, op.channels], input=True, **quant)
    size = w.constant_ints([2 * op.height, 2 * op.width])
    y = w.tensor([1, 2 * op.height, 2 * op.width, op.channels], output=True, **quant)
    w.op("RESIZE_BILINEAR", [x, size], [y], "ResizeBilinearOptions", w.s.ResizeBilinearOptionsT(),
         version=2 if w.int8 else 1)


def _softmax(w: _Writer, op: MicroOp) -> None:
    x = w.activation([1, op.channels], input=True)
    y = w.tensor([1, op.channels], scale=1 / 256 if w.int8 else None, zero_point=-128 if w.int8 else 0,
                 output=True)
    options = w.s.SoftmaxOptionsT()
    options.beta = 1.0
    w.op("SOFTMAX", [x], [y], "SoftmaxOptions", options, version=2 if w.int8 else 1)


_BUILDERS = {
    "conv": _conv,
    "transpose_conv": _transpose_conv,
    "depthwise": _depthwise,
    "fully_connected": _fully_connected,
    "max_pool": _pool("MAX_POOL_2D"),
    "average_pool": _pool("AVERAGE_POOL_2D"),
    "mean": _mean,
    "add": _binary("ADD", "AddOptions", "AddOptionsT"),
    "mul": _binary("MUL", "MulOptions", "MulOptionsT"),
    "hard_swish": _unary("HARD_SWISH"),
    "logistic": _unary("LOGISTIC"),
    "prelu": _prelu,
    "concatenation": _concatenation,
    "pad": _pad,
    "resize_bilinear": _resize_bilinear,
    "softmax": _softmax,
}
KINDS = tuple(_BUILDERS)
