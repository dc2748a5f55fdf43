"""Which ops of a .tflite the Edge TPU compiler can map, and where it cuts the graph.

Rules from Coral's "TensorFlow models on the Edge TPU" (coral.ai/docs/edgetpu/models-intro):
"Model requirements" (8-bit quantised tensors, constant tensor sizes, constant
parameters, at most 3 dimensions larger than 1) and the "Supported operations" table
with its known limitations. The compiler maps ops in order until the first op it
cannot map; that op and every op after it run on the CPU (one partition only).
"""

from __future__ import annotations

from edgekit.analyze.model import ModelInfo, Op, Tensor
from edgekit.analyze.report import CheckReport, Placement
from edgekit.analyze.rules import HOST_REASON, Rule, by_table, fused_activation, host_by_design, no_masks, report, row
from edgekit.targets import TargetProfile

_INTEGER = {"INT8", "UINT8"}
# Biases are int32 and shape/axis operands are int32 constants in a quantised graph.
_CONSTANT_OK = {"INT8", "UINT8", "INT32", "INT64"}

_no_fused_activation = fused_activation({"NONE"}, "fused {act} activation is not supported on this op")


def _same_dilation(model: ModelInfo, op: Op) -> str | None:
    h, w = op.options.get("dilationHFactor", 1), op.options.get("dilationWFactor", 1)
    return None if h == w else f"dilation differs in x ({w}) and y ({h})"


def _one_dimensional_output(model: ModelInfo, op: Op) -> str | None:
    out = model.tensor(op, op.outputs[0])
    return None if sum(d > 1 for d in out.shape) <= 1 else f"output {list(out.shape)} is not one-dimensional"


def _softmax(model: ModelInfo, op: Op) -> str | None:
    x = model.tensor(op, op.inputs[0])
    if sum(d > 1 for d in x.shape) > 1:
        return f"input {list(x.shape)} is not one-dimensional"
    return None if x.elements <= 16000 else f"input has {x.elements} elements, more than 16,000"


_strided_slice = no_masks("ellipsisMask", "newAxisMask")


def _resize_bilinear(model: ModelInfo, op: Op) -> str | None:
    x = model.tensor(op, op.inputs[0])
    if sum(d > 1 for d in x.shape) > 3:
        return "input must be a 3-dimensional tensor"
    return None


# Op -> extra constraint (None: only the general tensor rules apply). Absent on
# purpose: HARD_SWISH (MobileNetV3; use its minimalistic variant) and LEAKY_RELU,
# which the compiler leaves on the CPU (google-coral/edgetpu issues #272 and #353).
SUPPORTED: dict[str, Rule | None] = {
    "ADD": None, "SUB": None, "MUL": None, "MAXIMUM": None, "MINIMUM": None,
    "SQUARED_DIFFERENCE": None,
    "LOGISTIC": None, "RELU": None, "RELU6": None, "RELU_N1_TO_1": None, "TANH": None, "PRELU": None,
    "AVERAGE_POOL_2D": _no_fused_activation, "MAX_POOL_2D": _no_fused_activation,
    "CONCATENATION": _no_fused_activation,
    "CONV_2D": _same_dilation, "DEPTHWISE_CONV_2D": _same_dilation, "TRANSPOSE_CONV": None,
    "FULLY_CONNECTED": _one_dimensional_output,
    "L2_NORMALIZATION": None, "MEAN": None, "SUM": None, "REDUCE_MAX": None, "REDUCE_MIN": None,
    "PAD": None, "RESHAPE": None, "SQUEEZE": None, "EXPAND_DIMS": None, "TRANSPOSE": None,
    "PACK": None, "SLICE": None, "SPLIT": None, "STRIDED_SLICE": _strided_slice,
    "RESIZE_BILINEAR": _resize_bilinear, "RESIZE_NEAREST_NEIGHBOR": None,
    "SPACE_TO_DEPTH": None, "SOFTMAX": _softmax, "QUANTIZE": None, "RSQRT": None,
    "UNIDIRECTIONAL_SEQUENCE_LSTM": None,
}


def _tensor_problem(op: Op, tensor: Tensor) -> str | None:
    if tensor.is_constant:
        if tensor.dtype not in _CONSTANT_OK:
            return f"not quantised: constant '{tensor.name}' is {tensor.dtype}"
        return None
    if tensor.dtype not in _INTEGER:
        return f"not quantised: tensor '{tensor.name}' is {tensor.dtype}"
    if sum(d > 1 for d in tensor.shape) > 3:
        return f"tensor '{tensor.name}' {list(tensor.shape)} has more than 3 dimensions larger than 1"
    if tensor.dynamic:
        return f"tensor '{tensor.name}' has a dynamic size {list(tensor.shape_signature)}"
    return None


def op_problem(model: ModelInfo, op: Op) -> str | None:
    """Why the compiler would not map ``op``, or None."""
    if op.custom:
        return f"custom op {op.opcode} is not supported"
    if op.opcode not in SUPPORTED:
        return f"{op.opcode} is not an Edge TPU operation"
    return by_table(model, op, SUPPORTED, _tensor_problem)


def check_edgetpu(model: ModelInfo, profile: TargetProfile) -> CheckReport:
    issues = []
    main = model.main
    for index in (*main.inputs, *main.outputs):
        tensor = main.tensors[index]
        if tensor.dynamic:
            issues.append(f"dynamic shape: '{tensor.name}' is {list(tensor.shape_signature)}; the Edge TPU needs "
                          "sizes fixed at compile time (edgetpu_compiler 16 fails on -1): `edgekit convert MODEL "
                          "--target edgetpu` converts with a static batch of 1")
    if len(model.subgraphs) > 1:
        issues.append(f"{len(model.subgraphs)} subgraphs: the compiler maps only the main one "
                      "(control flow and while loops run on the CPU)")

    rows = []
    first_unmapped: Op | None = None
    for position, op in enumerate(main.ops):
        problem = op_problem(model, op)
        if first_unmapped is None and host_by_design(main.ops, position):
            rows.append(row(model, op, Placement.HOST, HOST_REASON))
            continue
        if first_unmapped is not None:
            placement = Placement.CPU
            reason = problem or (f"after {first_unmapped.opcode} #{first_unmapped.index}: the compiler maps "
                                 "only the ops before the first unsupported one")
        elif problem:
            first_unmapped, placement, reason = op, Placement.CPU, problem
        else:
            placement, reason = Placement.TARGET, None
        rows.append(row(model, op, placement, reason,
                        follows_fallback=placement == Placement.CPU and problem is None))
    for sg in model.subgraphs[1:]:
        rows.extend(row(model, op, Placement.CPU, "in a secondary subgraph") for op in sg.ops)

    notes = []
    cache = profile.limits.on_chip_memory_bytes
    params = model.parameter_bytes
    if cache:
        if params > cache:
            notes.append(f"parameters take {params:,} bytes, more than the {cache:,} bytes of on-chip memory: "
                         f"about {params - cache:,} bytes are streamed from the host on every inference (estimate)")
        else:
            notes.append(f"parameters take {params:,} bytes and fit the {cache:,} bytes of on-chip memory (estimate)")
    return report(model, profile, rows, issues, notes)
