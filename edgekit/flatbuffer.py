"""The TFLite flatbuffer schema bindings, from whichever package carries them.

ai-edge-litert (the light install) ships them; TensorFlow does too. No interpreter
is created, so reading a model never depends on which ops a runtime was built with.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

from edgekit.errors import MissingDependencyError

_MODULES = ("ai_edge_litert.schema_py_generated", "tensorflow.lite.python.schema_py_generated")


@functools.cache
def schema() -> Any:
    for name in _MODULES:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise MissingDependencyError("reading .tflite files needs the TFLite schema: pip install ai-edge-litert")


@functools.cache
def enum_names(enum_name: str) -> dict[int, str]:
    """Value -> name for a schema enum class such as BuiltinOperator or TensorType."""
    enum = getattr(schema(), enum_name)
    return {value: key for key, value in vars(enum).items() if not key.startswith("_") and isinstance(value, int)}


def pack(model: Any, size_hint: int = 1024) -> bytes:
    """A TFLite model object (the schema's object API, ``ModelT``) as .tflite bytes."""
    import flatbuffers

    builder = flatbuffers.Builder(size_hint)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())

