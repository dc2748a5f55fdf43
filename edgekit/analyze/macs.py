"""Multiply-accumulate counts per op, estimated from tensor shapes.

An estimate: it counts the arithmetic the op's definition implies, not what a
kernel executes (padding, Winograd, im2col and fused activations all differ).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def _n(shape: Sequence[int]) -> int:
    return int(np.prod(shape)) if shape else 1


def estimate_macs(opcode: str, inputs: Sequence[Any], outputs: Sequence[Any], options: dict) -> int | None:
    if not outputs:
        return None
    out = outputs[0]
    out_elems = _n(out.shape)
    weights = inputs[1] if len(inputs) > 1 else None
    if opcode == "CONV_2D" and weights is not None and len(weights.shape) == 4:
        # OHWI kernel: each output element sums kh * kw * (input channels per group).
        _, kh, kw, ci = weights.shape
        return out_elems * kh * kw * ci
    if opcode == "DEPTHWISE_CONV_2D" and weights is not None and len(weights.shape) == 4:
        _, kh, kw, _ = weights.shape
        return out_elems * kh * kw
    if opcode == "TRANSPOSE_CONV" and len(inputs) > 2 and inputs[1] is not None and inputs[2] is not None:
        _, kh, kw, _ = inputs[1].shape if len(inputs[1].shape) == 4 else (0, 0, 0, 0)
        return _n(inputs[2].shape) * kh * kw * (out.shape[-1] if out.shape else 1)
    if opcode == "Convolution2DTransposeBias" and weights is not None and len(weights.shape) == 4 and inputs[0]:
        # MediaPipe's custom transposed convolution (x, OHWI kernel, bias): every input
        # element is spread over kh * kw positions of each output channel.
        co, kh, kw, _ = weights.shape
        return _n(inputs[0].shape) * kh * kw * co
    if opcode == "CONV_3D" and weights is not None and len(weights.shape) == 5:
        kd, kh, kw, ci, _ = weights.shape
        return out_elems * kd * kh * kw * ci
    if opcode == "FULLY_CONNECTED" and weights is not None and len(weights.shape) == 2:
        return out_elems * weights.shape[1]
    if opcode == "BATCH_MATMUL" and len(inputs) > 1 and inputs[0] is not None and len(inputs[0].shape) >= 2:
        adj_x = options.get("adjX", False)
        k = inputs[0].shape[-2] if adj_x else inputs[0].shape[-1]
        return out_elems * k
    if opcode in ("AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D"):
        return out_elems * int(options.get("filterHeight", 1)) * int(options.get("filterWidth", 1))
    if opcode == "MEAN" and inputs and inputs[0] is not None:
        return _n(inputs[0].shape)
    if opcode in ("ADD", "SUB", "MUL", "DIV", "SQUARED_DIFFERENCE", "MAXIMUM", "MINIMUM", "PRELU"):
        return out_elems
    return 0 if opcode in ("RESHAPE", "SQUEEZE", "EXPAND_DIMS", "QUANTIZE", "DEQUANTIZE") else None
