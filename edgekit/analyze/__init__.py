"""Reading .tflite files and checking them against targets, without TensorFlow."""

from edgekit.analyze.checker import check
from edgekit.analyze.model import ModelInfo, Op, Quantization, Subgraph, Tensor, read_model
from edgekit.analyze.report import CheckReport, OpCheck, Placement
from edgekit.errors import ModelFormatError

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
