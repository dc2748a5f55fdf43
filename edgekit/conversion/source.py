"""A model someone else trained, as edgekit converts it: a tf-keras or Keras 3 model, or a SavedModel.

Whatever the format, the model is exported to a SavedModel whose ``serving_default``
signature takes and returns named tensors with the batch the target needs; the
converter reads that. Keras 3 models go through Keras 3's own export
(``keras.export.ExportArchive``): traced by tf.function directly, their variables are
not captured and the .tflite computes garbage (seen here: 8.9e32 for a 0.4 output).
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgekit._compat import StrEnum
from edgekit._tf import keras_module, tensorflow
from edgekit.errors import WeightsError, first_line
from edgekit.model_files import refuse_code


class SourceKind(StrEnum):
    TF_KERAS = "tf_keras"
    KERAS3 = "keras3"
    SAVED_MODEL = "saved_model"


@dataclass(frozen=True)
class Port:
    """One named input or output: its shape (None for a dynamic dimension) and dtype."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str


@dataclass
class Source:
    path: str
    kind: SourceKind
    model: Any
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]
    # A Rescaling or Normalization layer right after the input: the model scales its own pixels.
    preprocessing: str | None = None
    # A detector's: its outputs (box encodings, class scores) -> the post-process op's four
    # outputs by name (conversion.postprocess), which ``outputs`` then name.
    postprocess: Callable[[Any, Any], dict] | None = None

    def __call__(self, arrays: dict[str, np.ndarray], batch_size: int = 32) -> dict[str, np.ndarray]:
        """The source model's outputs, by name, for inputs given by name."""
        count = len(next(iter(arrays.values())))
        parts: dict[str, list] = {port.name: [] for port in self.outputs}
        for start in range(0, count, batch_size):
            chunk = {name: value[start:start + batch_size] for name, value in arrays.items()}
            for name, value in self._run(chunk).items():
                parts[name].append(np.asarray(value))
        return {name: np.concatenate(chunks) for name, chunks in parts.items()}

    def _run(self, chunk: dict[str, np.ndarray]) -> dict[str, Any]:
        tf = tensorflow()
        if self.kind == SourceKind.SAVED_MODEL:
            signature = self.model.signatures["serving_default"]
            return {name: value.numpy() for name, value in signature(
                **{name: tf.constant(value) for name, value in chunk.items()}).items()}
        ordered = [chunk[port.name] for port in self.inputs]
        result = self.model(ordered if len(ordered) > 1 else ordered[0], training=False)
        result = result if isinstance(result, (list, tuple)) else [result]
        return {port.name: np.asarray(value) for port, value in zip(self.outputs, result)}

    def _specs(self, batch_size: int) -> list:
        """The named input signature, with ``batch_size`` (0: dynamic) for the batch."""
        tf = tensorflow()
        return [tf.TensorSpec([batch_size or None, *port.shape[1:]], tf.as_dtype(port.dtype), name=port.name)
                for port in self.inputs]

    def _serve(self, *tensors: Any) -> dict:
        """The model on its inputs in order, its outputs by name: the function a signature serves."""
        names = [port.name for port in self.outputs]
        if self.kind == SourceKind.SAVED_MODEL:
            out = self.model.signatures["serving_default"](**{port.name: t for port, t in zip(self.inputs, tensors)})
            return {name: out[name] for name in names}
        result = self.model(list(tensors) if len(tensors) > 1 else tensors[0], training=False)
        if self.postprocess is not None:
            out = self.postprocess(*result)
            return {name: out[name] for name in names}
        return dict(zip(names, result if isinstance(result, (list, tuple)) else [result]))

    def converter(self, folder: str | Path, batch_size: int) -> Callable[[Any], Any]:
        """A function of the tensorflow module giving a TFLiteConverter for this model with
        inputs of ``batch_size`` (0: dynamic). A tf-keras model outside a distribution
        strategy is traced directly, which is several times faster than writing a
        SavedModel; any other model is exported to ``folder`` first (Keras 3 must be: see the
        module's docstring; under a strategy, a SavedModel reads each distributed variable
        as one plain variable)."""
        tf = tensorflow()
        if self.kind == SourceKind.TF_KERAS and not tf.distribute.has_strategy():
            function = tf.function(self._serve, input_signature=self._specs(batch_size)).get_concrete_function()
            return lambda tf: self._custom_ops(tf.lite.TFLiteConverter.from_concrete_functions([function], self.model))
        exported = self.export(folder, batch_size)
        return lambda tf: self._custom_ops(tf.lite.TFLiteConverter.from_saved_model(exported))

    def _custom_ops(self, converter: Any) -> Any:
        # Only a detector's post-process op may be custom: any other op the converter
        # cannot map must still fail the conversion.
        converter.allow_custom_ops = self.postprocess is not None
        return converter

    def export(self, folder: str | Path, batch_size: int) -> str:
        """A SavedModel of this model at ``folder`` whose inputs have ``batch_size`` (0: dynamic)."""
        tf = tensorflow()
        specs, serve = self._specs(batch_size), self._serve
        folder = str(folder)
        if self.kind == SourceKind.KERAS3:
            import keras

            archive = keras.export.ExportArchive()
            archive.track(self.model)
            archive.add_endpoint(name="serving_default", fn=serve, input_signature=specs)
            archive.write_out(folder, verbose=False)
        else:
            module = tf.Module()
            module.model = self.model
            module.serve = tf.function(serve, input_signature=specs)
            tf.saved_model.save(module, folder, signatures={"serving_default": module.serve})
        return folder


def load_source(path: str | Path, *, trust_model_code: bool = False) -> Source:
    """Load ``path`` (.keras, .h5 or a SavedModel folder), choosing Keras 2 or 3 by what wrote it.
    A file that carries code (see edgekit.model_files) is refused unless ``trust_model_code``."""
    path = Path(path)
    if not path.exists():
        raise WeightsError(f"model {path} does not exist")
    if path.is_dir():
        if not (path / "saved_model.pb").is_file():
            raise WeightsError(f"model {path} is a folder without saved_model.pb: give a .keras, .h5 or SavedModel")
        refuse_code(path, trust=trust_model_code)
        return _saved_model(path)
    if path.suffix not in (".keras", ".h5", ".hdf5"):
        raise WeightsError(f"model {path}: expected a .keras or .h5 file, or a SavedModel folder")
    refuse_code(path, trust=trust_model_code)
    if _written_by_keras3(path):
        return _keras3(path, trust_model_code)
    return _tf_keras(path, trust_model_code)


def _written_by_keras3(path: Path) -> bool:
    """Keras 3 writes its version into the file: metadata.json in a .keras zip, an HDF5 attribute in .h5."""
    try:
        if path.suffix == ".keras":
            with zipfile.ZipFile(path) as archive:
                version = json.loads(archive.read("metadata.json")).get("keras_version", "")
        else:
            import h5py

            with h5py.File(path, "r") as handle:
                version = handle.attrs.get("keras_version", "")
                version = version.decode() if isinstance(version, bytes) else str(version)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise WeightsError(f"cannot read model {path}: {first_line(exc)}") from None
    return str(version).startswith("3.")


def _tf_keras(path: Path, trust: bool) -> Source:
    keras = keras_module()
    try:
        model = keras.models.load_model(path, compile=False, safe_mode=not trust)
    except Exception as exc:  # noqa: BLE001 - load_model raises many types
        raise WeightsError(f"cannot load model {path}: {first_line(exc)}") from None
    return source_from_model(model, path)


def _keras3(path: Path, trust: bool) -> Source:
    tensorflow()  # Keras 3 runs on TensorFlow here; set the legacy flag for tf-keras first
    import keras

    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=not trust)
    except Exception as exc:  # noqa: BLE001 - load_model raises many types
        raise WeightsError(f"cannot load Keras 3 model {path}: {first_line(exc)}") from None
    return source_from_model(model, path)


def source_from_model(model: Any, path: str | Path = "<in memory>") -> Source:
    """A loaded Keras model (tf-keras or Keras 3, told apart by its class) as a Source."""
    if type(model).__module__.startswith("keras."):
        import keras

        kind = SourceKind.KERAS3
    else:
        keras = keras_module()
        kind = SourceKind.TF_KERAS
    scaling = (keras.layers.Rescaling, keras.layers.Normalization)
    inputs = tuple(Port(_name(getattr(t, "name", f"input_{i}"), f"input_{i}"), _shape(t.shape), _dtype(t.dtype))
                   for i, t in enumerate(model.inputs))
    names = list(getattr(model, "output_names", None) or [])
    outputs = tuple(Port(_name(names[i] if i < len(names) else "", f"output_{i}"), _shape(t.shape), _dtype(t.dtype))
                    for i, t in enumerate(model.outputs))
    preprocessing = None
    for layer in model.layers[:3]:
        if isinstance(layer, scaling):
            preprocessing = layer.name
            break
    return Source(str(path), kind, model, _unique(inputs), _unique(outputs), preprocessing)


def _saved_model(path: Path) -> Source:
    tf = tensorflow()
    try:
        loaded = tf.saved_model.load(str(path))
        signature = loaded.signatures["serving_default"]
    except KeyError:
        raise WeightsError(f"SavedModel {path} has no serving_default signature") from None
    except Exception as exc:  # noqa: BLE001 - the loader raises many types
        raise WeightsError(f"cannot load SavedModel {path}: {first_line(exc)}") from None
    specs = signature.structured_input_signature[1]
    inputs = tuple(Port(name, _shape(spec.shape), spec.dtype.name) for name, spec in sorted(specs.items()))
    outputs = tuple(Port(name, _shape(spec.shape), spec.dtype.name)
                    for name, spec in sorted(signature.structured_outputs.items()))
    return Source(str(path), SourceKind.SAVED_MODEL, loaded, inputs, outputs)


def _shape(shape: Any) -> tuple[int | None, ...]:
    return tuple(None if d is None else int(d) for d in (shape.as_list() if hasattr(shape, "as_list") else shape))


def _dtype(dtype: Any) -> str:
    return getattr(dtype, "name", str(dtype))


def _name(name: str, fallback: str) -> str:
    # Signature keys become Python keyword arguments of LiteRT's signature runner.
    name = str(name).split(":")[0].split("/")[0]
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else fallback


def _unique(ports: tuple[Port, ...]) -> tuple[Port, ...]:
    seen: set[str] = set()
    out = []
    for i, port in enumerate(ports):
        name = port.name if port.name not in seen else f"{port.name}_{i}"
        seen.add(name)
        out.append(Port(name, port.shape, port.dtype))
    return tuple(out)
