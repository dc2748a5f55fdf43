"""The ops that compute a LOG's input stay float32 in an int8 conversion.

Audio models often carry their own front end: a spectrogram (STFT or constant-Q
convolutions, a magnitude) and then a LOG, so that quiet bins count as much as loud ones.
int8 gives each tensor 256 uniform steps between its calibrated extremes, so every value
more than about 48 dB below a tensor's maximum rounds to zero or one step, and the LOG
turns that rounding into the largest error of the whole model. Measured on basic-pitch's
note-transcription model (tools/bench_convert.py, with bias correction): int8 throughout,
9.9-11.3 dB SNR per output; with its constant-Q front end float, 25.5-33.3 dB. The ops
after the LOG see values on a log scale and quantise well.

The ops are kept float the way TensorFlow Lite's QuantizationDebugger keeps the nodes it
is told to deny (``denylisted_nodes``): the converter calibrates only, and the MLIR
quantiser skips those nodes (tensorflow/lite/tools/optimize/debugging/python/debugger.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from edgekit.analyze.model import ModelInfo, read_model

# Ops whose input range a log scale exposes.
_LOG_OPS = ("LOG",)


@dataclass(frozen=True)
class FrontEnd:
    """What a converted model computes in float32 to feed its ``logs`` LOG ops: ``ops`` of its
    ``total`` ops, reading ``constants`` float32 constants."""

    ops: int
    total: int
    logs: int
    constants: int

    def to_dict(self) -> dict:
        return {"float_ops": self.ops, "ops": self.total, "log_ops": self.logs, "float32_constants": self.constants}


def front_end_nodes(model: bytes | ModelInfo) -> tuple[str, ...]:
    """The output tensor names of each LOG op of the main subgraph and of every op its
    input depends on, in the order the ops run."""
    info = model if isinstance(model, ModelInfo) else read_model(model)
    graph = info.main
    producer = {t: op for op in graph.ops for t in op.outputs}
    kept: set[int] = set()
    stack = [op for op in graph.ops if op.opcode in _LOG_OPS]
    while stack:
        op = stack.pop()
        if op.index in kept:
            continue
        kept.add(op.index)
        stack.extend(producer[t] for t in op.inputs if t in producer)
    return tuple(graph.tensors[t].name for op in graph.ops if op.index in kept for t in op.outputs)


def front_end(converted: bytes) -> FrontEnd:
    """What a converted model computes in float32 to feed its LOG ops, as read back from it.
    The DEQUANTIZE ops that unpack float16 weights count as weights, not as ops."""
    info = read_model(converted)
    tensors = info.main.tensors
    names = set(front_end_nodes(info))
    ops = [op for op in info.main.ops if op.opcode != "DEQUANTIZE"
           and any(tensors[t].name in names and tensors[t].dtype == "FLOAT32" for t in op.outputs)]
    constants = {t for op in ops for t in op.inputs if t >= 0 and tensors[t].is_constant
                 and tensors[t].dtype == "FLOAT32"}
    return FrontEnd(len(ops), len(info.main.ops), sum(1 for op in info.main.ops if op.opcode in _LOG_OPS),
                    len(constants))
