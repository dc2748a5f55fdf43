"""Which ops the LiteRT GPU accelerator / TFLite GPU delegate takes.

Op list and per-op constraints from TensorFlow Lite's
``tensorflow/lite/tools/versioning/gpu_compatibility.cc`` (CheckGpuDelegateCompatibility),
plus the delegate's tensor rule (``IsAllFloatTensors`` in ``delegates/gpu/common/
model_builder.cc``): runtime tensors must be float32 or float16, or int8/uint8 that the
delegate dequantises. Unlike the Edge TPU, the GPU delegate makes several partitions:
an unsupported op falls back alone, at the price of a GPU-CPU copy on each side.

``tf.lite.experimental.Analyzer(gpu_compatibility=True)`` is not used as the
reference: it has been seen passing models with RFFT2D/complex64 and VAR_HANDLE ops.
"""

from __future__ import annotations

from edgekit.analyze.model import ModelInfo, Op, Tensor
from edgekit.analyze.report import CheckReport, Placement
from edgekit.analyze.rules import Rule, all_of, by_table, fused_activation, no_masks, register, report, row
from edgekit.targets import TargetKind, TargetProfile

_RUNTIME_TYPES = {"FLOAT32", "FLOAT16", "INT8", "UINT8"}
_activation = fused_activation({"NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGN_BIT"})


def _positive_strides(model: ModelInfo, op: Op) -> str | None:
    if op.options.get("strideH", 1) <= 0 or op.options.get("strideW", 1) <= 0:
        return "invalid strides"
    return None


_conv = all_of(_positive_strides, _activation)


def _depthwise(model: ModelInfo, op: Op) -> str | None:
    multiplier = op.options.get("depthMultiplier", 1)
    x = model.tensor(op, op.inputs[0])
    if multiplier != 1 and x.shape and x.shape[-1] != 1:
        return "depth_multiplier != 1 with more than one input channel"
    return _conv(model, op)


def _fully_connected(model: ModelInfo, op: Op) -> str | None:
    if op.options.get("weightsFormat", 0) != 0:
        return "shuffled weights format is not supported"
    return _activation(model, op)


def _softmax(model: ModelInfo, op: Op) -> str | None:
    return None if op.options.get("beta", 1.0) == 1.0 else "softmax beta != 1 is not supported"


def _rank_3_or_4(model: ModelInfo, op: Op) -> str | None:
    x = model.tensor(op, op.inputs[0])
    return None if len(x.shape) in (3, 4) else f"input rank {len(x.shape)}: only 3 or 4 dimensions"


_strided_slice = no_masks("ellipsisMask", "newAxisMask", "shrinkAxisMask", then=_rank_3_or_4)


def _constant_axes(model: ModelInfo, op: Op) -> str | None:
    if len(op.inputs) < 2 or op.inputs[1] < 0:
        return "axes are missing"
    axes = model.tensor(op, op.inputs[1])
    if not axes.is_constant:
        return "axes must be a constant"
    return None if axes.dtype == "INT32" else f"axes must be int32, got {axes.dtype}"


def _two_inputs(model: ModelInfo, op: Op) -> str | None:
    return None if len(op.inputs) == 2 else f"{op.opcode} needs exactly two inputs"


def _cast(model: ModelInfo, op: Op) -> str | None:
    src, dst = model.tensor(op, op.inputs[0]), model.tensor(op, op.outputs[0])
    if not (src.dtype == "BOOL" and dst.dtype in ("FLOAT32", "FLOAT16")):
        return f"CAST {src.dtype} -> {dst.dtype} is not supported (only bool -> float)"
    return None


SUPPORTED: dict[str, Rule | None] = {
    "ADD": _two_inputs, "MUL": _two_inputs, "AVERAGE_POOL_2D": _activation, "MAX_POOL_2D": _activation,
    "BATCH_MATMUL": None, "CONCATENATION": None, "CONV_2D": _conv, "DEPTHWISE_CONV_2D": _depthwise,
    "DEPTH_TO_SPACE": None, "DEQUANTIZE": None, "QUANTIZE": None,
    "FULLY_CONNECTED": _fully_connected, "HARD_SWISH": None, "LSTM": None, "MEAN": _constant_axes,
    "PACK": None, "PRELU": None, "RESHAPE": None, "SLICE": _rank_3_or_4, "SOFTMAX": _softmax,
    "SPACE_TO_DEPTH": None, "SPLIT": None, "SPLIT_V": None, "STRIDED_SLICE": _strided_slice,
    "TILE": None, "TRANSPOSE": None, "TRANSPOSE_CONV": None, "RESIZE_BILINEAR": None,
    "RESIZE_NEAREST_NEIGHBOR": None, "RELU": None, "RELU6": None, "RELU_N1_TO_1": None, "LEAKY_RELU": None,
    "REDUCE_MAX": _constant_axes, "REDUCE_MIN": _constant_axes, "REDUCE_PROD": _constant_axes,
    "SUM": _constant_axes, "PAD": None, "MIRROR_PAD": None,
    "ABS": None, "COS": None, "ELU": None, "EXP": None, "FLOOR": None, "LOG": None, "LOGISTIC": None,
    "NEG": None, "RSQRT": None, "SIN": None, "SQRT": None, "SQUARE": None, "TANH": None,
    "DIV": _activation, "EQUAL": None, "FLOOR_DIV": None, "FLOOR_MOD": None, "GREATER": None,
    "GREATER_EQUAL": None, "LESS": None, "LESS_EQUAL": None, "MAXIMUM": None, "MINIMUM": None,
    "NOT_EQUAL": None, "POW": None, "SQUARED_DIFFERENCE": None, "SUB": _activation, "CAST": _cast,
}
_CUSTOM = {"Convolution2DTransposeBias", "MaxPoolingWithArgmax2D", "MaxUnpooling2D", "Resampler"}
_RESOURCE_OPS = {"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE"}
_CONTROL_FLOW = {"WHILE", "IF", "CALL"}


def _tensor_problem(op: Op, t: Tensor) -> str | None:
    if t.dtype.startswith("COMPLEX"):
        return f"complex tensor '{t.name}' ({t.dtype}) is not supported"
    if t.is_constant or op.opcode == "CAST":
        return None  # CAST is checked on its own below
    if t.dtype not in _RUNTIME_TYPES:
        return f"tensor '{t.name}' is {t.dtype}; the GPU runs float32/float16 (or dequantised int8)"
    if len(t.shape) > 4:
        return f"tensor '{t.name}' has {len(t.shape)} dimensions; the GPU takes at most 4"
    return None


def op_problem(model: ModelInfo, op: Op) -> str | None:
    if op.custom:
        if op.opcode in _CUSTOM:
            return None
        kind = "TensorFlow (Flex) op" if op.opcode.startswith("Flex") else "custom op"
        return f"{kind} {op.opcode} is not supported"
    if op.opcode in _RESOURCE_OPS:
        return f"{op.opcode}: resource variables are not supported"
    if op.opcode in _CONTROL_FLOW:
        return f"{op.opcode}: control flow is not supported"
    if op.opcode == "DENSIFY":
        # Listed by gpu_compatibility.cc, but measured with LiteRT 2.3's CompiledModel on
        # an NVIDIA GPU: models with DENSIFY (MediaPipe's full-range face and pose
        # detectors) were not fully accelerated.
        return "DENSIFY (sparse weights) is not taken by LiteRT's GPU accelerator: convert without sparsity"
    if op.opcode not in SUPPORTED:
        return f"{op.opcode} is not supported by the GPU delegate"
    return by_table(model, op, SUPPORTED, _tensor_problem)


@register(TargetKind.GPU)
def check_gpu(model: ModelInfo, profile: TargetProfile) -> CheckReport:
    issues = []
    for index in model.main.inputs:
        tensor = model.main.tensors[index]
        # Measured with LiteRT 2.3's CompiledModel on an NVIDIA GPU: an input dynamic in
        # its batch alone ([-1, 76, 32, 1]) was fully accelerated (the batch is fixed at
        # allocation); one dynamic in another dimension ([-1, -1]) did not run.
        if any(d < 0 for d in tensor.shape_signature[1:]):
            issues.append(f"dynamic shape: '{tensor.name}' is {list(tensor.shape_signature)}; the GPU accelerator "
                          "needs every dimension but the batch fixed (edgekit convert fixes the batch; give the "
                          "model fixed sizes for the others)")
    rows = []
    for sg in model.subgraphs:
        for op in sg.ops:
            problem = op_problem(model, op)
            if sg.index > 0 and problem is None:
                problem = "in a secondary subgraph, which the GPU delegate does not take"
            rows.append(row(model, op, Placement.CPU if problem else Placement.TARGET, problem))
    return report(model, profile, rows, issues)
