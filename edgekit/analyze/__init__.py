"""Reading .tflite files and checking them against targets, without TensorFlow."""

from edgekit.analyze.checker import check
from edgekit.analyze.model import ModelFormatError, ModelInfo, Op, Quantization, Subgraph, Tensor, read_model
from edgekit.analyze.report import CheckReport, OpCheck, Placement

__all__ = [
    "CheckReport",
    "ModelFormatError",
    "ModelInfo",
    "Op",
    "OpCheck",
    "Placement",
    "Quantization",
    "Subgraph",
    "Tensor",
    "check",
    "read_model",
]
