"""What the weights in a .tflite really are: zeros and distinct values per kernel and per channel.

Read from the file, not from the Keras model, so the figures prove that pruning and
clustering survived stripping, quantisation-aware training and conversion. int8 kernels
are quantised per output channel, so 16 clusters are up to 16 values in each channel
(with a scale of its own); only when the channels share one codebook and one range (the
QAT stage's default after clustering) are they 16 values in the whole tensor.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit.analyze.layers import layer_name
from edgekit.analyze.model import ModelInfo, read_model
from edgekit.flatbuffer import schema

_DTYPES = {"FLOAT32": np.float32, "FLOAT16": np.float16, "INT8": np.int8, "UINT8": np.uint8,
           "INT16": np.int16, "INT32": np.int32, "INT64": np.int64}
# Op -> (input index of the kernel, axis of its output channels in TFLite's layout).
_KERNELS = {"CONV_2D": (1, 0), "FULLY_CONNECTED": (1, 0), "DEPTHWISE_CONV_2D": (1, 3), "TRANSPOSE_CONV": (1, 0)}


@dataclass(frozen=True)
class KernelStats:
    op_index: int
    opcode: str
    layer: str | None
    tensor: str
    shape: tuple[int, ...]
    dtype: str
    zero_fraction: float
    distinct_values: int
    max_distinct_per_channel: int

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def constant_array(data: bytes, info: ModelInfo, subgraph: int, tensor_index: int) -> np.ndarray | None:
    """The stored values of a constant tensor, shaped; None for an activation."""
    s = schema()
    model = s.Model.GetRootAs(data, 0)
    tensor_fb = model.Subgraphs(subgraph).Tensors(tensor_index)
    buffer = model.Buffers(tensor_fb.Buffer())
    tensor = info.subgraphs[subgraph].tensors[tensor_index]
    dtype = _DTYPES.get(tensor.dtype)
    if dtype is None:
        return None
    if buffer.DataLength():
        raw = buffer.DataAsNumpy().tobytes()
    elif buffer.Offset() > 1:
        raw = data[buffer.Offset(): buffer.Offset() + buffer.Size()]
    else:
        return None
    return np.frombuffer(raw, dtype=dtype).reshape(tensor.shape)


def kernel_stats(model: str | Path) -> list[KernelStats]:
    """One row per convolution / fully-connected kernel stored in ``model``."""
    data = Path(model).read_bytes()
    info = read_model(data)
    info = dataclasses.replace(info, source=str(model))
    rows = []
    for op in info.main.ops:
        if op.opcode not in _KERNELS or len(op.inputs) < 2:
            continue
        position, axis = _KERNELS[op.opcode]
        index = op.inputs[position]
        values = constant_array(data, info, 0, index) if index >= 0 else None
        if values is None:
            continue
        tensor = info.main.tensors[index]
        channels = np.moveaxis(values, axis, 0).reshape(values.shape[axis], -1)
        rows.append(KernelStats(
            op_index=op.index,
            opcode=op.opcode,
            layer=layer_name(info, op),
            tensor=tensor.name,
            shape=tuple(values.shape),
            dtype=tensor.dtype,
            zero_fraction=float(np.mean(values == 0)),
            distinct_values=int(np.unique(values).size),
            max_distinct_per_channel=int(max(np.unique(c).size for c in channels)),
        ))
    return rows
