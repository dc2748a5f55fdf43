"""Models with dynamic inputs: which size a verdict, an estimate or a measurement is for.

A dynamic batch is taken as 1, as every runtime does by default. Any other dynamic
dimension (an audio model's waveform length, a sequence model's tokens) is never
guessed: ``check``, ``estimate`` and ``profile`` take ``--input-shape`` (``input_shape=``
in Python) and apply it before the runtime allocates; without it, what needs a size
says so in one line (:func:`require_input_shape`) instead of a delegate's reshape error.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

from edgekit.analyze.macs import estimate_macs
from edgekit.analyze.model import ModelInfo, Tensor
from edgekit.errors import ConfigError, first_line

FLAG = "--input-shape"

HELP = ("Concrete shape for the model's dynamic inputs, e.g. 1,16000 or 1,224,224,3, applied before the runtime "
        "allocates. A dynamic batch alone is taken as 1; any other dynamic dimension is never guessed: without "
        "this option profile and estimate refuse such a model, and check leaves its runtime placement and "
        "estimate unmeasured, each saying so in one line.")


def parse_shape(text: str | Sequence[int] | None) -> tuple[int, ...] | None:
    """``"1,224,224,3"`` (or a sequence of ints) -> (1, 224, 224, 3)."""
    if text is None:
        return None
    if not isinstance(text, str):
        shape = tuple(int(d) for d in text)
    else:
        try:
            shape = tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
        except ValueError:
            raise ConfigError(f"{FLAG} {text!r}: expected integers like 1,224,224,3") from None
    if not shape or any(d < 1 for d in shape):
        raise ConfigError(f"{FLAG} {text!r}: every dimension must be at least 1")
    return shape


def dynamic_inputs(info: ModelInfo) -> list[Tensor]:
    """The main subgraph's inputs with a dynamic dimension other than the batch."""
    inputs = [info.main.tensors[i] for i in info.main.inputs]
    return [t for t in inputs if any(d < 0 for d in t.shape_signature[1:])]


def describe(tensor: Tensor) -> str:
    return f"input {tensor.name!r} {list(tensor.shape_signature)}"


def require_input_shape(info: ModelInfo, input_shape: Sequence[int] | None, what: str) -> None:
    """ConfigError naming the dynamic input and the flag when ``what`` needs a size nobody gave."""
    dynamic = dynamic_inputs(info)
    if dynamic and input_shape is None:
        raise ConfigError(unsized_message(dynamic, what))


def unsized_message(dynamic: list[Tensor], what: str) -> str:
    return (f"{describe(dynamic[0])} has a dynamic size, and {what} holds only for a stated one: "
            f"give {FLAG} with a size for each -1")


def resize_dynamic_inputs(interpreter: Any, input_shape: Sequence[int] | None) -> None:
    """Give each input with a dynamic dimension ``input_shape``, or 1 for a dynamic batch."""
    for d in interpreter.get_input_details():
        signature = [int(v) for v in d["shape_signature"]]
        if any(v < 0 for v in signature):
            shape = list(input_shape) if input_shape else [1 if v < 0 else v for v in signature]
            interpreter.resize_tensor_input(d["index"], shape, strict=False)


def check_fits(info: ModelInfo, input_shape: Sequence[int]) -> None:
    """The shape has each dynamic input's rank and keeps its static dimensions."""
    for i in info.main.inputs:
        tensor = info.main.tensors[i]
        signature = tensor.shape_signature
        if not any(d < 0 for d in signature):
            continue
        if len(signature) != len(input_shape) or any(s >= 0 and s != d for s, d in zip(signature, input_shape)):
            raise ConfigError(f"{FLAG} {','.join(map(str, input_shape))} does not fit {describe(tensor)}: "
                              "same rank, and only its -1 dimensions may change")


def at_input_shape(info: ModelInfo, input_shape: Sequence[int] | None) -> ModelInfo:
    """``info`` with every main-subgraph tensor at the shape the runtime gives it for
    ``input_shape`` (shapes and MACs recomputed), or unchanged when None."""
    if input_shape is None:
        return info
    input_shape = tuple(input_shape)
    check_fits(info, input_shape)
    from edgekit.runtime import find_runtime

    try:
        interpreter = find_runtime().interpreter(model_path=info.source)
        resize_dynamic_inputs(interpreter, input_shape)
        interpreter.allocate_tensors()
    except Exception as exc:  # noqa: BLE001 - the runtime raises ValueError/RuntimeError with its log
        raise ConfigError(f"{FLAG} {','.join(map(str, input_shape))}: the runtime cannot size the model at it: "
                          f"{first_line(exc)}") from None
    shapes = {int(d["index"]): tuple(int(v) for v in d["shape"]) for d in interpreter.get_tensor_details()}
    main = info.main
    tensors = tuple(dataclasses.replace(t, shape=shapes.get(t.index, t.shape)) for t in main.tensors)
    ops = tuple(dataclasses.replace(op, macs=estimate_macs(
        op.opcode, [tensors[i] if i >= 0 else None for i in op.inputs], [tensors[i] for i in op.outputs if i >= 0],
        op.options)) for op in main.ops)
    sized = dataclasses.replace(main, tensors=tensors, ops=ops)
    return dataclasses.replace(info, subgraphs=(sized, *info.subgraphs[1:]), input_shape=input_shape)
