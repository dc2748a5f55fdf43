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

from typing import Callable

from edgekit.analyze.layers import layer_name
from edgekit.analyze.model import ModelInfo, Op
from edgekit.analyze.report import CheckReport, OpCheck, Placement
from edgekit.targets import TargetProfile

_RUNTIME_TYPES = {"FLOAT32", "FLOAT16", "INT8", "UINT8"}
_ACTIVATIONS = {"NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGN_BIT"}

Rule = Callable[[ModelInfo, Op], "str | None"]


def _activation(model: ModelInfo, op: Op) -> str | None:
    act = op.options.get("fusedActivationFunction", "NONE")
    return None if act in _ACTIVATIONS else f"fused activation {act} is not supported"


def _conv(model: ModelInfo, op: Op) -> str | None:
    if op.options.get("strideH", 1) <= 0 or op.options.get("strideW", 1) <= 0:
        return "invalid strides"
    return _activation(model, op)


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


def _strided_slice(model: ModelInfo, op: Op) -> str | None:
    for mask in ("ellipsisMask", "newAxisMask", "shrinkAxisMask"):
        if op.options.get(mask):
            return f"{mask} is not supported"
    return _rank_3_or_4(model, op)


def _rank_3_or_4(model: ModelInfo, op: Op) -> str | None:
    x = model.tensor(op, op.inputs[0])
    return None if len(x.shape) in (3, 4) else f"input rank {len(x.shape)}: only 3 or 4 dimensions"


def _constant_axes(model: ModelInfo, op: Op) -> str | None:
    if len(op.inputs) < 2 or op.inputs[1] < 0:
        return "axes are missing"
    axes = model.tensor(op, op.inputs[1])
    if not axes.is_constant:
        return "axes must be a constant"
    return None if axes.dtype == "INT32" else f"axes must be int32, got {axes.dtype}"


def _two_inputs(model: ModelInfo, op: Op) -> str | None:
    return None if len(op.inputs) == 2 else f"{op.opcode} needs exactly two inputs"


SUPPORTED: dict[str, Rule | None] = {
    "ADD": _two_inputs, "MUL": _two_inputs, "AVERAGE_POOL_2D": _activation, "MAX_POOL_2D": _activation,
    "BATCH_MATMUL": None, "CONCATENATION": None, "CONV_2D": _conv, "DEPTHWISE_CONV_2D": _depthwise,
    "DENSIFY": None, "DEPTH_TO_SPACE": None, "DEQUANTIZE": None, "QUANTIZE": None,
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
    "NOT_EQUAL": None, "POW": None, "SQUARED_DIFFERENCE": None, "SUB": _activation, "CAST": None,
}
_CUSTOM = {"Convolution2DTransposeBias", "MaxPoolingWithArgmax2D", "MaxUnpooling2D", "Resampler"}
_RESOURCE_OPS = {"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE"}
_CONTROL_FLOW = {"WHILE", "IF", "CALL"}


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
    if op.opcode not in SUPPORTED:
        return f"{op.opcode} is not supported by the GPU delegate"
    tensors = model.subgraphs[op.subgraph].tensors
    for index in (*op.inputs, *op.outputs):
        if index < 0:
            continue
        t = tensors[index]
        if t.dtype.startswith("COMPLEX"):
            return f"complex tensor '{t.name}' ({t.dtype}) is not supported"
        if op.opcode == "CAST" and not t.is_constant:
            continue  # CAST is checked on its own below
        if not t.is_constant and t.dtype not in _RUNTIME_TYPES:
            return f"tensor '{t.name}' is {t.dtype}; the GPU runs float32/float16 (or dequantised int8)"
        if not t.is_constant and len(t.shape) > 4:
            return f"tensor '{t.name}' has {len(t.shape)} dimensions; the GPU takes at most 4"
    if op.opcode == "CAST":
        src, dst = model.tensor(op, op.inputs[0]), model.tensor(op, op.outputs[0])
        if not (src.dtype == "BOOL" and dst.dtype in ("FLOAT32", "FLOAT16")):
            return f"CAST {src.dtype} -> {dst.dtype} is not supported (only bool -> float)"
    rule = SUPPORTED[op.opcode]
    return rule(model, op) if rule else None


def check_gpu(model: ModelInfo, profile: TargetProfile) -> CheckReport:
    issues = []
    for index in model.main.inputs:
        tensor = model.main.tensors[index]
        if tensor.dynamic:
            issues.append(f"dynamic shape: '{tensor.name}' is {list(tensor.shape_signature)}; the GPU delegate "
                          "rebuilds its programs on every resize, so fix the shape before allocation")
    rows = []
    for sg in model.subgraphs:
        for op in sg.ops:
            problem = op_problem(model, op)
            if sg.index > 0 and problem is None:
                problem = "in a secondary subgraph, which the GPU delegate does not take"
            rows.append(OpCheck(index=op.index, subgraph=sg.index, opcode=op.opcode, version=op.version,
                                layer=layer_name(model, op),
                                placement=Placement.CPU if problem else Placement.TARGET,
                                reason=problem, macs=op.macs))
    return CheckReport(target=profile.id, kind=profile.kind.value, model=model.source, ops=tuple(rows),
                       model_issues=tuple(issues))
