"""What an op costs is told by its class, its type and its sizes: MACs, bytes moved, and
the rows and channels of its output.

Classes follow how CPU kernels behave: a 1x1 convolution is a matrix multiply and
reaches the most MACs per second; a k x k one adds im2col-like work; a depthwise
convolution does a few MACs per byte it loads, so it is bound by memory; pooling,
elementwise and data-movement ops are bound by the bytes they touch.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgekit.analyze.model import ModelInfo, Op, pads_fused_into_convolutions, unpacked_weights
from edgekit.latency.cost_model import DType, OpClass

_CONV = {"CONV_2D", "CONV_3D"}
_TRANSPOSE_CONV = {"TRANSPOSE_CONV", "Convolution2DTransposeBias"}
_FULLY_CONNECTED = {"FULLY_CONNECTED", "BATCH_MATMUL"}
_POOL = {"AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D", "MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD"}
_MOVEMENT = {"RESHAPE", "SQUEEZE", "EXPAND_DIMS", "CONCATENATION", "PAD", "PADV2", "MIRROR_PAD", "RESIZE_BILINEAR",
             "RESIZE_NEAREST_NEIGHBOR", "TRANSPOSE", "DEPTH_TO_SPACE", "SPACE_TO_DEPTH", "STRIDED_SLICE", "SLICE",
             "SPLIT", "SPLIT_V", "PACK", "UNPACK", "GATHER", "GATHER_ND", "TILE", "BROADCAST_TO", "SHAPE"}
_BYTES = {"FLOAT32": 4, "FLOAT16": 2, "INT8": 1, "UINT8": 1, "INT16": 2, "INT32": 4, "INT64": 8, "BOOL": 1}


@dataclass(frozen=True)
class OpCost:
    """The facts about one op that its cost depends on."""

    index: int
    opcode: str
    op_class: OpClass
    dtype: DType
    macs: int
    # Activation bytes read and written, and constant bytes (weights) read, per invoke.
    bytes: int
    # Unpacks constant weights (DEQUANTIZE, DENSIFY of constants): done once, not per inference.
    folded: bool = False
    # The first output's positions (its elements over its last dimension) and channels.
    rows: int = 0
    channels: int = 0
    # A zero PAD of height and width that XNNPACK merges into the convolution reading it.
    fused_into: int | None = None


def op_costs(info: ModelInfo) -> list[OpCost]:
    """The main subgraph's ops with their class, type, MACs and bytes."""
    main = info.main
    costs, unpacked, fused = [], unpacked_weights(main), pads_fused_into_convolutions(main)
    for op in main.ops:
        tensors = [main.tensors[t] for t in (*op.inputs, *op.outputs) if t >= 0]
        moved = sum(t.elements * _BYTES.get(t.dtype, 4) for t in tensors if not t.is_variable)
        rows, channels = _rows_and_channels([main.tensors[t] for t in op.outputs if t >= 0])
        costs.append(OpCost(op.index, op.opcode, classify(info, op), _dtype(info, op), op.macs or 0, int(moved),
                            op.index in unpacked, rows, channels, fused.get(op.index)))
    return costs


def _rows_and_channels(outputs: list) -> tuple[int, int]:
    if not outputs or not outputs[0].shape:
        return 0, 0
    channels = max(1, int(outputs[0].shape[-1]))
    return max(0, outputs[0].elements) // channels, channels


def classify(info: ModelInfo, op: Op) -> OpClass:
    if op.opcode == "CONV_2D" and len(op.inputs) > 1 and op.inputs[1] >= 0:
        shape = info.tensor(op, op.inputs[1]).shape
        if len(shape) == 4 and shape[1] == shape[2] == 1:
            return OpClass.CONV1X1
        return OpClass.CONV
    if op.opcode in _CONV:
        return OpClass.CONV
    if op.opcode in _TRANSPOSE_CONV:
        return OpClass.TRANSPOSE_CONV
    if op.opcode == "DEPTHWISE_CONV_2D":
        return OpClass.DEPTHWISE
    if op.opcode in _FULLY_CONNECTED:
        return OpClass.FULLY_CONNECTED
    if op.opcode in _POOL:
        return OpClass.POOL
    if op.opcode in _MOVEMENT:
        return OpClass.MOVEMENT
    return OpClass.ELEMENTWISE


def _dtype(info: ModelInfo, op: Op) -> DType:
    """int8 when the op computes on 8-bit integers (read from its first activation input)."""
    for t in (*op.inputs, *op.outputs):
        if t < 0:
            continue
        tensor = info.tensor(op, t)
        if not tensor.is_constant:
            return DType.INT8 if tensor.dtype in ("INT8", "UINT8") else DType.FLOAT32
    return DType.FLOAT32
