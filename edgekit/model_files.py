"""Model files are data: what in a .h5, .keras or SavedModel would run code, found before it loads.

A Keras model file carries its architecture as JSON. Loading it turns that JSON back
into objects, and two kinds of entry run the file's own code while doing so: a
``Lambda`` layer (its function is marshalled Python bytecode in tf-keras' .h5, and
in Keras 3's .h5 and .keras) and a custom object, which Keras imports by the module
the file names. Keras 3 refuses lambdas in .keras files by default since
CVE-2024-3660, but not in .h5 files, and tf-keras' .h5 loader runs them silently.
So edgekit reads the configuration as data first (the h5 ``model_config`` attribute,
the .keras archive's ``config.json``) and refuses such files unless the user says
they trust them.

A SavedModel is a TensorFlow graph: it cannot carry Python, but its ops can touch
files and the process. The graph's ops, in every function of its library, are
listed from ``saved_model.pb`` and checked against :data:`UNSAFE_OPS`.
"""

from __future__ import annotations

import functools
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from edgekit.errors import WeightsError, first_line

TRUST_FLAG = "--trust-model-code"

# Ops that read or write files, list folders or run Python from a graph. The core is
# TensorFlow's own `saved_model_cli scan` denylist (WriteFile, ReadFile, PrintV2 in
# tensorflow/python/tools/saved_model_cli.py) and modelscan's SavedModel operators
# (ReadFile, WriteFile); the rest are the ops those leave out that do the same: Python
# callbacks, folder listing, file-backed readers, datasets and summaries.
UNSAFE_OPS = frozenset({
    "ReadFile", "WriteFile", "PrintV2", "MatchingFiles", "MatchingFilesDataset",
    "PyFunc", "PyFuncStateless", "EagerPyFunc",
    "WholeFileReader", "WholeFileReaderV2", "TextLineReader", "TextLineReaderV2", "TFRecordReader",
    "TFRecordReaderV2", "FixedLengthRecordReader", "FixedLengthRecordReaderV2", "IdentityReader",
    "TFRecordDataset", "TFRecordDatasetV2", "TextLineDataset", "FixedLengthRecordDataset",
    "FixedLengthRecordDatasetV2", "SaveDataset", "SaveDatasetV2", "LoadDataset", "DatasetToTFRecord",
    "CreateSummaryFileWriter", "WriteSummary", "WriteScalarSummary", "WriteHistogramSummary",
    "WriteImageSummary", "WriteAudioSummary", "WriteGraphSummary", "WriteRawProtoSummary",
    "ImmutableConst", "Save", "SaveSlices", "Restore", "RestoreSlice",
})

# tf-keras wraps TensorFlow functions called on Keras tensors in these layers, named by
# their API path; the ones below reach files or Python.
_OP_LAYERS = ("TFOpLambda", "SlicingOpLambda")
_UNSAFE_API_PREFIXES = ("io.", "compat.v1.io.", "py_function", "numpy_function", "compat.v1.py_func",
                        "print", "summary.", "debugging.", "data.")
_MODEL_CLASSES = {"Functional", "Sequential", "Model"}
_KERAS_MODULES = ("keras", "tf_keras")


@dataclass(frozen=True)
class CodeFinding:
    """One thing in a model file that would run code when loaded."""

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def code_in_model_file(path: str | Path) -> list[CodeFinding]:
    """What in the model at ``path`` (.h5, .keras or a SavedModel folder) would run code; [] when nothing."""
    path = Path(path)
    if path.is_dir():
        return _saved_model_findings(path)
    return _config_findings(_keras_config(path))


def refuse_code(path: str | Path, *, trust: bool, role: str = "model") -> None:
    """Raise WeightsError naming the file, the first finding and the flag, unless ``trust``."""
    if trust:
        return
    findings = code_in_model_file(path)
    if findings:
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        raise WeightsError(f"{role} {path}: {findings[0]}{more}: edgekit does not run a model file's code; "
                           f"pass {TRUST_FLAG} (Python: trust_model_code=True) only if you trust its author")


def load_keras_model(path: str | Path, *, trust: bool, role: str, what: str = "model") -> Any:
    """A tf-keras model file loaded for edgekit's own use (a backbone, a teacher), after
    :func:`refuse_code`; Keras' safe mode stays on unless ``trust``."""
    from edgekit._tf import keras_module

    refuse_code(path, trust=trust, role=role)
    try:
        return keras_module().models.load_model(path, compile=False, safe_mode=not trust)
    except Exception as exc:  # noqa: BLE001 - load_model raises many types
        raise WeightsError(f"cannot load {what} {path}: {first_line(exc)}") from None


def _keras_config(path: Path) -> Any:
    try:
        if path.suffix == ".keras":
            with zipfile.ZipFile(path) as archive:
                return json.loads(archive.read("config.json"))
        import h5py

        with h5py.File(path, "r") as handle:
            raw = handle.attrs.get("model_config")
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise WeightsError(f"cannot read model {path}: {first_line(exc)}") from None
    if raw is None:
        # A weights-only .h5 (save_weights) holds arrays and no architecture: nothing to run.
        return {}
    try:
        return json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except ValueError as exc:
        raise WeightsError(f"cannot read model {path}: its model_config is not JSON ({first_line(exc)})") from None


def _config_findings(config: Any) -> list[CodeFinding]:
    known = _known_layers()
    findings = []
    for entry, is_layer in _objects(config, is_layer=True):
        cls = entry["class_name"]
        name = entry.get("config", {}).get("name") if isinstance(entry.get("config"), dict) else None
        where = f"layer {name!r}" if is_layer and name else f"{cls}"
        module = entry.get("module")
        registered = entry.get("registered_name")
        if cls in ("Lambda", "__lambda__"):
            findings.append(CodeFinding(where if is_layer else "a lambda", "a Lambda layer's Python function"))
        elif cls in _OP_LAYERS:
            function = str(entry.get("config", {}).get("function", ""))
            if function.startswith(_UNSAFE_API_PREFIXES):
                findings.append(CodeFinding(where, f"calls tf.{function}"))
        elif isinstance(module, str) and not module.startswith(_KERAS_MODULES):
            findings.append(CodeFinding(where, f"custom object {cls} imported from module {module!r}"))
        elif isinstance(registered, str) and ">" in registered:
            findings.append(CodeFinding(where, f"custom object {registered}"))
        elif is_layer and cls not in known:
            findings.append(CodeFinding(where, f"layer class {cls} that is not part of Keras"))
    return findings


def _objects(node: Any, *, is_layer: bool) -> Iterator[tuple[dict, bool]]:
    """Every serialized object in a Keras config, and whether it stands where a layer does."""
    if isinstance(node, list):
        for item in node:
            yield from _objects(item, is_layer=is_layer)
    elif isinstance(node, dict):
        if isinstance(node.get("class_name"), str) and node["class_name"] != "__keras_tensor__":
            yield node, is_layer
            if node["class_name"] == "Lambda":
                return  # its function is the finding; Keras 3 nests it as a __lambda__ object
        for key, value in node.items():
            if key in ("inbound_nodes", "input_layers", "output_layers", "build_config", "compile_config"):
                continue
            # A model's layers and a wrapper's (TimeDistributed, Bidirectional) stand where layers do.
            yield from _objects(value, is_layer=key in ("layers", "layer", "forward_layer", "backward_layer"))


@functools.cache
def _known_layers() -> frozenset[str]:
    from edgekit._tf import keras_module

    names = set(_MODEL_CLASSES) | {"InputLayer", "TensorFlowOpLayer"} | set(_OP_LAYERS)
    names |= {n for n in dir(keras_module().layers) if n[:1].isupper()}
    try:
        import keras

        names |= {n for n in dir(keras.layers) if n[:1].isupper()}
    except ImportError:
        pass
    return frozenset(names)


def _saved_model_findings(folder: Path) -> list[CodeFinding]:
    from edgekit._tf import tensorflow

    tensorflow()
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    try:
        proto.ParseFromString((folder / "saved_model.pb").read_bytes())
    except Exception as exc:  # noqa: BLE001 - an unreadable file (OSError) or protobuf's own DecodeError
        raise WeightsError(f"cannot read SavedModel {folder}: {first_line(exc)}") from None
    findings = []
    for graph in proto.meta_graphs:
        nodes = [("the graph", node) for node in graph.graph_def.node]
        for function in graph.graph_def.library.function:
            nodes += [(f"function {function.signature.name}", node) for node in function.node_def]
        for where, node in nodes:
            if node.op in UNSAFE_OPS:
                findings.append(CodeFinding(f"{where}, node {node.name!r}",
                                            f"op {node.op}, which touches files or runs Python"))
    return findings
