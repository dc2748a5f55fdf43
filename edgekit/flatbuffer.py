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


def unpack(data: bytes) -> Any:
    """.tflite bytes as the schema's object API (``ModelT``), to edit and :func:`pack` again."""
    try:
        from ai_edge_litert.tools.flatbuffer_utils import convert_bytearray_to_object
    except ImportError:  # tflite_runtime or TensorFlow's bindings: the same call, by hand
        return schema().ModelT.InitFromPackedBuf(bytearray(data), 0)
    return convert_bytearray_to_object(bytearray(data))


def pack(model: Any) -> bytes:
    """A ``ModelT`` as .tflite bytes, by LiteRT's own flatbuffer utilities where installed."""
    try:
        from ai_edge_litert.tools.flatbuffer_utils import convert_object_to_bytearray
    except ImportError:  # tflite_runtime or TensorFlow's bindings: the same calls, by hand
        import flatbuffers

        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())
    return bytes(convert_object_to_bytearray(model))
