"""Single-op models cut from a .tflite, to time each op alone with the real runtime.

An op keeps its own operator table (options, custom data, version), its tensors with
their quantisation and sparsity, and the constant buffers it reads; the tensors it
computes from become the model's inputs. Written with the schema's object API, which
the light runtime ships, so cutting needs no TensorFlow and runs on a Pi.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from edgekit.analyze.model import Subgraph, read_model, unpacked_weights
from edgekit.flatbuffer import pack, schema, unpack

# Ops that call other subgraphs: cut alone, they would call nothing.
_CONTROL_FLOW = {"WHILE", "IF", "CALL_ONCE", "CALL", "STABLEHLO_WHILE", "STABLEHLO_CASE", "STABLEHLO_COMPOSITE"}
FOLDED = "unpacks constant weights once, when first run: no cost per inference"


@dataclass(frozen=True)
class Piece:
    """One op of the model's main subgraph, as a model of its own (or why it cannot be)."""

    index: int
    opcode: str
    # The tensor indices (in the whole model) the piece takes as inputs, in order.
    inputs: tuple[int, ...]
    data: bytes | None
    reason: str | None = None


def cut_ops(data: bytes, shapes: Mapping[int, Sequence[int]] | None = None,
            values: Mapping[int, np.ndarray] | None = None,
            evaluate: Callable[[bytes], list[np.ndarray]] | None = None) -> list[Piece]:
    """Every op of the main subgraph as a one-op model. ``shapes``: the concrete shape of
    each tensor index as the whole model was allocated (dynamic dimensions resolved).

    Weights that ops unpack from constants (analyze.model.unpacked_weights) are baked
    into their consumer's piece as constants, as the runtime treats them: taken from
    ``values`` (tensor values of a run of the whole model), else computed by ``evaluate``
    (runs a one-op model with constant inputs, returns its outputs)."""
    s = schema()
    model = unpack(data)
    main, info = model.subgraphs[0], read_model(bytes(data)).main
    values = values or {}
    unpacking = unpacked_weights(info)
    folded: dict[int, np.ndarray] = {}
    pieces = []
    for op_info, op in zip(info.ops, main.operators or []):
        code = model.operatorCodes[op.opcodeIndex]
        reads = [t for t in op_info.inputs if t >= 0]
        if op_info.index in unpacking:
            outputs = list(op_info.outputs)
            if any(out not in values for out in outputs) and evaluate is not None:
                computed = evaluate(_one_op_model(s, model, info, op, code, shapes or {}, folded))
                values = {**values, **dict(zip(outputs, computed))}
            for out in outputs:
                if out in values:
                    folded[out] = values[out]
            pieces.append(Piece(op_info.index, op_info.opcode, (), None, FOLDED))
            continue
        inputs = tuple(t for t in reads if _is_activation(info, t) and t not in folded)
        if op_info.opcode in _CONTROL_FLOW:
            pieces.append(Piece(op_info.index, op_info.opcode, inputs, None, "calls other subgraphs (control flow)"))
            continue
        pieces.append(Piece(op_info.index, op_info.opcode, inputs,
                            _one_op_model(s, model, info, op, code, shapes or {}, folded)))
    return pieces


def _one_op_model(s, model, info: Subgraph, op, code, shapes: Mapping[int, Sequence[int]],
                  folded: Mapping[int, np.ndarray]) -> bytes:
    main = model.subgraphs[0]
    used = [int(t) for t in [*_ints(op.inputs), *_ints(op.outputs), *_ints(op.intermediates)] if t >= 0]
    order = list(dict.fromkeys(used))
    remap = {old: new for new, old in enumerate(order)}
    buffers = [s.BufferT()]  # buffer 0 is the empty one by convention
    tensors = []
    for old in order:
        tensor = copy.copy(main.tensors[old])
        if old in shapes:
            tensor.shape = [int(d) for d in shapes[old]]
            tensor.shapeSignature = None
        if old in folded:
            baked = s.BufferT()
            baked.data = np.frombuffer(np.ascontiguousarray(folded[old]).tobytes(), dtype=np.uint8)
            buffers.append(baked)
            tensor.buffer = len(buffers) - 1
        elif info.tensors[old].is_constant:
            buffers.append(model.buffers[tensor.buffer])
            tensor.buffer = len(buffers) - 1
        else:
            tensor.buffer = 0
        tensors.append(tensor)
    piece = copy.copy(op)
    piece.opcodeIndex = 0
    piece.inputs = [remap[int(t)] if t >= 0 else -1 for t in _ints(op.inputs)]
    piece.outputs = [remap[int(t)] for t in _ints(op.outputs)]
    if op.intermediates is not None:
        piece.intermediates = [remap[int(t)] for t in _ints(op.intermediates)]
    subgraph = s.SubGraphT()
    subgraph.tensors = tensors
    subgraph.operators = [piece]
    subgraph.inputs = [remap[int(t)] for t in _ints(op.inputs)
                       if t >= 0 and _is_activation(info, int(t)) and int(t) not in folded]
    subgraph.outputs = list(piece.outputs)
    subgraph.name = "piece"
    # A signature: LiteRT's CompiledModel API (the GPU and NPU accelerators) runs only by one.
    signature = s.SignatureDefT()
    signature.signatureKey = "piece"
    signature.subgraphIndex = 0
    signature.inputs = [_tensor_map(s, f"in{n}", t) for n, t in enumerate(subgraph.inputs)]
    signature.outputs = [_tensor_map(s, f"out{n}", t) for n, t in enumerate(subgraph.outputs)]
    out = s.ModelT()
    out.signatureDefs = [signature]
    out.version = model.version
    out.operatorCodes = [code]
    out.subgraphs = [subgraph]
    out.buffers = buffers
    out.description = "one op cut by edgekit"
    return pack(out)


def _tensor_map(s, name: str, index: int):
    mapping = s.TensorMapT()
    mapping.name = name
    mapping.tensorIndex = index
    return mapping


def _is_activation(info: Subgraph, index: int) -> bool:
    """A tensor the op reads at run time (computed or fed), not a constant or a variable."""
    tensor = info.tensors[index]
    return not (tensor.is_constant or tensor.is_variable)


def _ints(values) -> list[int]:
    return [] if values is None else [int(v) for v in values]
