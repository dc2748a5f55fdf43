"""The Keras layers behind a TFLite op, recovered from the names the converter keeps."""

from __future__ import annotations

import re

from edgekit.analyze.model import ModelInfo, Op

# Suffixes TensorFlow appends to uniquify names inside tf.function traces ("conv0_1").
_UNIQUIFIED = re.compile(r"_\d+$")
_GENERIC = ("StatefulPartitionedCall", "PartitionedCall", "serving_default", "tfl.")


def _layer_path(name: str) -> tuple[str, ...] | None:
    parts = [p for p in name.split("/") if p and not p.startswith(_GENERIC)]
    if len(parts) < 3 or parts[-1].startswith("ReadVariableOp"):
        # model/layer/op at the least: anything shorter names no layer. Variable
        # reads are plumbing, not the layer's computation.
        return None
    # Drop the model's own name and the TF op at the end: what remains are layers.
    return tuple(_UNIQUIFIED.sub("", p) for p in parts[1:-1])


def layer_name(model: ModelInfo, op: Op) -> str | None:
    """``backbone/small_cnn/conv0+bn0+relu0`` for a CONV_2D the converter fused from three layers.

    A fused op's output name lists every source op, separated by ';', last first.
    """
    for index in op.outputs:
        name = model.subgraphs[op.subgraph].tensors[index].name
        paths: list[tuple[str, ...]] = []
        for part in reversed(name.split(";")):
            path = _layer_path(part)
            if path and path not in paths:
                paths.append(path)
        if not paths:
            continue
        prefix = paths[0][:-1]
        if all(p[:-1] == prefix for p in paths):
            return "/".join(prefix + ("+".join(p[-1] for p in paths),))
        return "/".join(paths[0])
    return None
