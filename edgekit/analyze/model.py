"""What a .tflite file holds: subgraphs, ops, tensors, quantisation, parameter sizes.

Read straight from the flatbuffer (no interpreter, no TensorFlow), so it works for
models a runtime cannot load: custom ops, Flex ops, Edge TPU packages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.analyze.macs import estimate_macs
from edgekit.errors import ModelFormatError, first_line
from edgekit.flatbuffer import enum_names, schema

_IDENTIFIER = b"TFL3"


@dataclass(frozen=True)
class Quantization:
    scales: tuple[float, ...]
    zero_points: tuple[int, ...]
    axis: int

    @property
    def per_channel(self) -> bool:
        return len(self.scales) > 1


@dataclass(frozen=True)
class Tensor:
    index: int
    name: str
    dtype: str  # schema name: FLOAT32, INT8, UINT8, ...
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...]  # -1 marks a dynamic dimension
    quantization: Quantization | None
    constant_bytes: int  # bytes of data stored in the file; 0 for activations
    is_variable: bool
    # The model's buffer holding the data; tensors may share one (0: none).
    buffer: int = 0

    @property
    def is_constant(self) -> bool:
        return self.constant_bytes > 0

    @property
    def dynamic(self) -> bool:
        return any(d < 0 for d in self.shape_signature)

    @property
    def elements(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1


@dataclass(frozen=True)
class Op:
    index: int
    subgraph: int
    opcode: str  # builtin name (CONV_2D), or CUSTOM name for custom ops (Flex ops start with "Flex")
    version: int
    custom: bool
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict = field(default_factory=dict, compare=False, hash=False)
    macs: int | None = None  # an estimate; None where edgekit has no formula


@dataclass(frozen=True)
class Subgraph:
    index: int
    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    tensors: tuple[Tensor, ...]
    ops: tuple[Op, ...]


# Ops that only unpack constant weights (float16 or int8 to float, sparse to dense).
_WEIGHT_UNPACKING = ("DEQUANTIZE", "DENSIFY")


def unpacked_weights(subgraph: Subgraph) -> set[int]:
    """Indices of the ops that unpack constant weights (a DEQUANTIZE or DENSIFY of a
    constant, or of another such op's output). They run once, not per inference: TFLite's
    kernels cache their output after the first invoke, and XNNPACK unpacks such weights
    when it is set up and runs their consumer on dense static weights."""
    ops, constant = set(), set()
    for op in subgraph.ops:
        reads = [t for t in op.inputs if t >= 0]
        if op.opcode in _WEIGHT_UNPACKING and reads and all(
                t in constant or subgraph.tensors[t].is_constant for t in reads):
            ops.add(op.index)
            constant.update(op.outputs)
    return ops


def pads_fused_into_convolutions(subgraph: Subgraph) -> dict[int, int]:
    """PAD ops that XNNPACK removes, each with the convolution that absorbs it.

    XNNPACK's subgraph optimiser folds a constant pad into a [depthwise] convolution when
    the pad is zero (the zero point for int8), touches only height and width, its output
    has that convolution as its one consumer, and the convolution has explicit (VALID)
    padding (``xnn_subgraph_fusion``, "fuse Constant Pad Node into Convolution 2D Node").
    """
    consumers: dict[int, list[Op]] = {}
    for op in subgraph.ops:
        for t in op.inputs:
            if t >= 0:
                consumers.setdefault(t, []).append(op)
    fused = {}
    for op in subgraph.ops:
        if op.opcode != "PAD" or not op.inputs or len(op.outputs) != 1:
            continue
        before, after = subgraph.tensors[op.inputs[0]].shape, subgraph.tensors[op.outputs[0]].shape
        readers = consumers.get(op.outputs[0], [])
        spatial = len(before) == len(after) == 4 and before[0] == after[0] and before[3] == after[3]
        if (spatial and len(readers) == 1 and readers[0].opcode in ("CONV_2D", "DEPTHWISE_CONV_2D")
                and readers[0].inputs[0] == op.outputs[0] and readers[0].options.get("padding") == "VALID"
                and op.outputs[0] not in subgraph.outputs):
            fused[op.index] = readers[0].index
    return fused


@dataclass(frozen=True)
class ModelInfo:
    source: str
    file_bytes: int
    schema_version: int
    description: str
    subgraphs: tuple[Subgraph, ...]
    signatures: tuple[str, ...]
    # The shape given for dynamic inputs, when the main subgraph's shapes were sized to it
    # (analyze.shapes.at_input_shape); None: the shapes as the file stores them.
    input_shape: tuple[int, ...] | None = None

    @property
    def main(self) -> Subgraph:
        return self.subgraphs[0]

    @property
    def ops(self) -> list[Op]:
        return [op for sg in self.subgraphs for op in sg.ops]

    def tensor(self, op: Op, index: int) -> Tensor:
        return self.subgraphs[op.subgraph].tensors[index]

    @property
    def parameter_count(self) -> int:
        return sum(t.elements for sg in self.subgraphs for t in sg.tensors if t.is_constant)

    @property
    def parameter_bytes(self) -> int:
        # By buffer, not by tensor: the converter lets tensors share one constant buffer,
        # which the file (and the Edge TPU's parameter cache) holds once.
        buffers = {t.buffer: t.constant_bytes for sg in self.subgraphs for t in sg.tensors if t.is_constant}
        return sum(buffers.values())

    @property
    def estimated_macs(self) -> int:
        return sum(op.macs or 0 for op in self.ops)


def read_model(model: str | Path | bytes) -> ModelInfo:
    """Parse a .tflite; raises :class:`ModelFormatError` with a one-line reason for anything unreadable."""
    if isinstance(model, (bytes, bytearray)):
        data, source = bytes(model), "<bytes>"
    else:
        path = Path(model)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ModelFormatError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise ModelFormatError(f"{path}: is a folder, not a .tflite file") from None
        except OSError as exc:
            raise ModelFormatError(f"{path}: cannot read: {exc.strerror or exc}") from None
        source = str(path)
    if not data:
        raise ModelFormatError(f"{source}: empty file")
    if len(data) < 8 or data[4:8] != _IDENTIFIER:
        raise ModelFormatError(f"{source}: not a TFLite model (no TFL3 flatbuffer identifier)")
    try:
        return _parse(data, source)
    except ModelFormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - a truncated flatbuffer fails in struct, index or decode errors
        raise ModelFormatError(f"{source}: corrupt or truncated TFLite flatbuffer ({first_line(exc)})") from None


def _parse(data: bytes, source: str) -> ModelInfo:
    s = schema()
    model = s.Model.GetRootAs(data, 0)
    builtin_names = enum_names("BuiltinOperator")
    dtype_names = enum_names("TensorType")
    opcodes = []
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        # Newer files store codes > 127 in BuiltinCode; older ones only in the deprecated byte.
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        name = builtin_names.get(builtin, f"BUILTIN_{builtin}")
        custom = name == "CUSTOM"
        if custom:
            raw = code.CustomCode()
            name = raw.decode("utf-8", "replace") if raw else "CUSTOM"
        opcodes.append((name, code.Version(), custom))

    buffer_sizes = []
    for i in range(model.BuffersLength()):
        buf = model.Buffers(i)
        # Models over 2 GB keep buffers after the flatbuffer (offset/size) instead of inline.
        size = buf.DataLength() or (buf.Size() if buf.Offset() > 1 else 0)
        if buf.Offset() > 1 and buf.Offset() + buf.Size() > len(data):
            raise ModelFormatError(f"{source}: truncated (a weight buffer lies past the end of the file)")
        buffer_sizes.append(size)

    subgraphs = []
    for g in range(model.SubgraphsLength()):
        sg = model.Subgraphs(g)
        tensors = tuple(_tensor(sg.Tensors(t), t, buffer_sizes, dtype_names) for t in range(sg.TensorsLength()))
        ops = []
        for o in range(sg.OperatorsLength()):
            op = sg.Operators(o)
            name, version, custom = opcodes[op.OpcodeIndex()]
            inputs = tuple(int(v) for v in op.InputsAsNumpy()) if op.InputsLength() else ()
            outputs = tuple(int(v) for v in op.OutputsAsNumpy()) if op.OutputsLength() else ()
            options = _options(s, op)
            ops.append(Op(
                index=o, subgraph=g, opcode=name, version=version, custom=custom,
                inputs=inputs, outputs=outputs, options=options,
                macs=estimate_macs(name, [tensors[i] if i >= 0 else None for i in inputs],
                                   [tensors[i] for i in outputs if i >= 0], options),
            ))
        subgraphs.append(Subgraph(
            index=g,
            name=(sg.Name() or b"").decode("utf-8", "replace"),
            inputs=tuple(int(v) for v in sg.InputsAsNumpy()) if sg.InputsLength() else (),
            outputs=tuple(int(v) for v in sg.OutputsAsNumpy()) if sg.OutputsLength() else (),
            tensors=tensors,
            ops=tuple(ops),
        ))
    if not subgraphs:
        raise ModelFormatError(f"{source}: the model has no subgraphs")
    signatures = tuple(
        (model.SignatureDefs(i).SignatureKey() or b"").decode("utf-8", "replace")
        for i in range(model.SignatureDefsLength())
    )
    return ModelInfo(
        source=source,
        file_bytes=len(data),
        schema_version=model.Version(),
        description=(model.Description() or b"").decode("utf-8", "replace"),
        subgraphs=tuple(subgraphs),
        signatures=signatures,
    )


def _tensor(t: Any, index: int, buffer_sizes: list[int], dtype_names: dict[int, str]) -> Tensor:
    shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
    signature = tuple(int(d) for d in t.ShapeSignatureAsNumpy()) if t.ShapeSignatureLength() else shape
    q = t.Quantization()
    quant = None
    if q is not None and q.ScaleLength():
        quant = Quantization(
            scales=tuple(float(v) for v in q.ScaleAsNumpy()),
            zero_points=tuple(int(v) for v in q.ZeroPointAsNumpy()) if q.ZeroPointLength() else (0,),
            axis=int(q.QuantizedDimension()),
        )
    buffer = t.Buffer()
    return Tensor(
        index=index,
        name=(t.Name() or b"").decode("utf-8", "replace"),
        dtype=dtype_names.get(t.Type(), f"TYPE_{t.Type()}"),
        shape=shape,
        shape_signature=signature,
        quantization=quant,
        constant_bytes=buffer_sizes[buffer] if 0 < buffer < len(buffer_sizes) else 0,
        is_variable=bool(t.IsVariable()),
        buffer=int(buffer),
    )


_SCALAR = (int, float, bool, str)


def _options(s: Any, op: Any) -> dict:
    """Scalar builtin options (strides, padding, fused activation...) by schema name."""
    kind = op.BuiltinOptionsType()
    table = op.BuiltinOptions()
    if not kind or table is None:
        return {}
    try:
        obj = s.BuiltinOptionsCreator(kind, table)
    except Exception:  # noqa: BLE001 - an options type newer than these bindings
        return {}
    if obj is None:
        return {}
    out = {}
    for key, value in vars(obj).items():
        if isinstance(value, _SCALAR):
            out[key] = value
    if "fusedActivationFunction" in out:
        out["fusedActivationFunction"] = enum_names("ActivationFunctionType").get(out["fusedActivationFunction"], "?")
    if "padding" in out:
        out["padding"] = enum_names("Padding").get(out["padding"], "?")
    return out
