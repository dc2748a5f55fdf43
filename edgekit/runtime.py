"""Choosing a TFLite runtime without importing TensorFlow unless nothing else is there.

Order: ai_edge_litert (LiteRT, maintained), tflite_runtime (legacy, numpy<2, what
older Coral images carry), then tensorflow.lite (deprecated, and 2 GB).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit._compat import StrEnum
from edgekit.errors import MissingDependencyError


class RuntimeName(StrEnum):
    """The TFLite runtimes edgekit can load models with, in the order it tries them."""

    AI_EDGE_LITERT = "ai_edge_litert"
    TFLITE_RUNTIME = "tflite_runtime"
    TENSORFLOW = "tensorflow"


_CANDIDATES = (
    ("ai_edge_litert", "ai_edge_litert.interpreter"),
    ("tflite_runtime", "tflite_runtime.interpreter"),
    ("tensorflow", "tensorflow.lite"),
)


@dataclass(frozen=True)
class Runtime:
    name: str
    version: str
    module: Any

    def interpreter(self, *, model_path: str | Path | None = None, model_content: bytes | None = None,
                    num_threads: int | None = None, **kwargs: Any) -> Any:
        cls = self.module.Interpreter
        return cls(model_path=str(model_path) if model_path is not None else None,
                   model_content=model_content, num_threads=num_threads, **kwargs)


def find_runtime(prefer: str | None = None) -> Runtime:
    """The first importable runtime, or ``prefer`` (one of ai_edge_litert, tflite_runtime, tensorflow)."""
    errors = []
    for name, module_name in _CANDIDATES:
        if prefer is not None and name != prefer:
            continue
        if name == "tensorflow" and prefer is None:
            # Reached only when no light runtime is installed.
            from edgekit._tf import tensorflow

            try:
                tf = tensorflow()
            except MissingDependencyError as exc:
                errors.append(f"tensorflow: {exc}")
                continue
            return Runtime(name, tf.__version__, tf.lite)
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # noqa: BLE001 - tflite_runtime raises AttributeError on numpy 2
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        return Runtime(name, _version(name), module)
    raise MissingDependencyError(
        "no TFLite runtime could be imported (pip install ai-edge-litert): " + "; ".join(errors)
    )


def _version(distribution: str) -> str:
    from edgekit.provenance import installed_version

    dist = {"ai_edge_litert": "ai-edge-litert", "tflite_runtime": "tflite-runtime"}.get(distribution, distribution)
    return installed_version(dist) or "unknown"
