"""TFLite model metadata: what an app's client reads to use a classifier without being told.

MediaPipe Tasks' ImageClassifier, Android Studio's model binding and the LiteRT support
library read the public metadata schema (``metadata_schema.fbs``, file identifier
``M001``, carried by mediapipe and tflite-support): the model's name, version, author
and licence; per input the image properties and normalisation; per output the class
names as a ``TENSOR_AXIS_LABELS`` file and score statistics. The ModelMetadata
flatbuffer lives in a model buffer named by a ``TFLITE_METADATA`` entry, and the
associated files in a zip archive appended to the model file, as the schema's own
populator writes them.

Written here with ``flatbuffers`` directly: the maintained writer (mediapipe's) cannot
share an environment with tensorflow-model-optimization, and tflite-support has no
wheel for current Pythons. Field slots follow the schema's declaration order (a union
takes two: its type, then its value).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import flatbuffers
from flatbuffers import number_types
from flatbuffers.table import Table

from edgekit.errors import ConfigError, ModelFormatError

METADATA_NAME = b"TFLITE_METADATA"
IDENTIFIER = b"M001"
# Only what schema 1.0.0 had is written: image properties, normalisation, stats, files.
MIN_PARSER_VERSION = "1.0.0"
LABELS_FILE = "labels.txt"

_IMAGE_PROPERTIES = 2  # ContentProperties union: FeatureProperties 1, ImageProperties 2, BoundingBoxProperties 3
_FEATURE_PROPERTIES = 1
_BOUNDING_BOX_PROPERTIES = 3
_BOUNDARIES = 1  # BoundingBoxType; CoordinateType RATIO is 0, the default
_TENSOR_VALUE_LABELS = 3
# What a detector's metadata needs: output tensor groups came in schema 1.2.0.
DETECTOR_PARSER_VERSION = "1.2.0"
_NORMALIZATION = 1  # ProcessUnitOptions union: NormalizationOptions 1
_RGB, _GRAYSCALE = 1, 2
_TENSOR_AXIS_LABELS = 2


@dataclass(frozen=True)
class TensorInfo:
    name: str
    description: str = ""
    # An image input: its colour space (RGB or GRAYSCALE) and size (width, height).
    color_space: str | None = None
    size: tuple[int, int] | None = None
    # Float input normalisation: (value - mean) / std per channel; None for none.
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    # Score range of an output.
    score_min: float | None = None
    score_max: float | None = None
    # Class names of an output, packed as labels.txt (TENSOR_AXIS_LABELS; with
    # ``value_labels``, TENSOR_VALUE_LABELS: the tensor holds class indices).
    labels: tuple[str, ...] = ()
    value_labels: bool = False
    # A box output: the positions of (left, top, right, bottom) in each box, as ratios.
    bounding_box: tuple[int, int, int, int] | None = None
    # The dimension (min, max) whose values the content describes: 2 for (1, boxes, 4).
    value_range: tuple[int, int] | None = None


@dataclass(frozen=True)
class ModelInfo:
    name: str
    description: str = ""
    version: str = "1"
    author: str = ""
    license: str = ""
    inputs: tuple[TensorInfo, ...] = ()
    outputs: tuple[TensorInfo, ...] = ()
    # Output tensors read together, by name: a detector's (location, category, score).
    output_groups: tuple[tuple[str, tuple[str, ...]], ...] = ()
    min_parser_version: str = MIN_PARSER_VERSION
    files: dict = field(default_factory=dict)  # associated file name -> bytes, as read back

    def to_dict(self) -> dict:
        import dataclasses

        data = dataclasses.asdict(self)
        data["files"] = sorted(self.files)
        return data


def build_metadata(info: ModelInfo) -> bytes:
    """The ModelMetadata flatbuffer for ``info``."""
    b = flatbuffers.Builder(1024)

    def string(text: str | None) -> int | None:
        return b.CreateString(text) if text else None

    def vector(offsets: Sequence[int]) -> int:
        b.StartVector(4, len(offsets), 4)
        for offset in reversed(offsets):
            b.PrependUOffsetTRelative(offset)
        return b.EndVector()

    def floats(values: Sequence[float]) -> int:
        b.StartVector(4, len(values), 4)
        for value in reversed(values):
            b.PrependFloat32(float(value))
        return b.EndVector()

    def table(slots: int, fields: list[tuple[str, int, Any]]) -> int:
        b.StartObject(slots)
        for kind, slot, value in fields:
            if value is None:
                continue
            if kind == "offset":
                b.PrependUOffsetTRelativeSlot(slot, value, 0)
            elif kind == "byte":
                b.PrependUint8Slot(slot, value, 0)
            elif kind == "uint":
                b.PrependUint32Slot(slot, value, 0)
            elif kind == "int8":
                b.PrependInt8Slot(slot, value, 0)
            elif kind == "int":
                b.PrependInt32Slot(slot, value, 0)
        return b.EndObject()

    def uints(values: Sequence[int]) -> int:
        b.StartVector(4, len(values), 4)
        for value in reversed(values):
            b.PrependUint32(int(value))
        return b.EndVector()

    def associated_file(name: str, description: str, kind: int) -> int:
        # AssociatedFile: name, description, type, locale, version
        return table(5, [("offset", 0, string(name)), ("offset", 1, string(description)), ("byte", 2, kind)])

    def tensor(t: TensorInfo) -> int:
        name, description = string(t.name), string(t.description)
        if t.color_space is not None:
            size = None
            if t.size is not None:
                size = table(2, [("uint", 0, t.size[0]), ("uint", 1, t.size[1])])  # ImageSize: width, height
            space = _RGB if t.color_space == "RGB" else _GRAYSCALE
            properties = table(2, [("byte", 0, space), ("offset", 1, size)])  # ImageProperties
            content = table(3, [("byte", 0, _IMAGE_PROPERTIES), ("offset", 1, properties)])
        else:
            value_range = None
            if t.value_range is not None:
                value_range = table(2, [("int", 0, t.value_range[0]), ("int", 1, t.value_range[1])])  # ValueRange
            if t.bounding_box is not None:
                # BoundingBoxProperties: index, type, coordinate_type (RATIO, the default)
                box = table(3, [("offset", 0, uints(t.bounding_box)), ("int8", 1, _BOUNDARIES)])
                content = table(3, [("byte", 0, _BOUNDING_BOX_PROPERTIES), ("offset", 1, box),
                                    ("offset", 2, value_range)])
            else:
                content = table(3, [("byte", 0, _FEATURE_PROPERTIES), ("offset", 1, table(0, [])),
                                    ("offset", 2, value_range)])
        units = None
        if t.mean is not None and t.std is not None:
            mean, std = floats(t.mean), floats(t.std)
            normalization = table(2, [("offset", 0, mean), ("offset", 1, std)])
            units = vector([table(2, [("byte", 0, _NORMALIZATION), ("offset", 1, normalization)])])
        stats = None
        if t.score_min is not None and t.score_max is not None:
            top, bottom = floats([t.score_max]), floats([t.score_min])
            stats = table(2, [("offset", 0, top), ("offset", 1, bottom)])  # Stats: max, min
        files = None
        if t.labels and t.value_labels:
            files = vector([associated_file(LABELS_FILE, "Class names, one per line, by class index.",
                                            _TENSOR_VALUE_LABELS)])
        elif t.labels:
            files = vector([associated_file(LABELS_FILE, "Class names, one per line, in score order.",
                                            _TENSOR_AXIS_LABELS)])
        # TensorMetadata: name, description, dimension_names, content, process_units, stats, associated_files
        return table(7, [("offset", 0, name), ("offset", 1, description), ("offset", 3, content),
                         ("offset", 4, units), ("offset", 5, stats), ("offset", 6, files)])

    inputs = vector([tensor(t) for t in info.inputs])
    outputs = vector([tensor(t) for t in info.outputs])
    groups = None
    if info.output_groups:
        # TensorGroup: name, tensor_names
        groups = vector([table(2, [("offset", 0, string(name)), ("offset", 1, vector([string(n) for n in names]))])
                         for name, names in info.output_groups])
    subgraph = table(10, [("offset", 2, inputs), ("offset", 3, outputs), ("offset", 8, groups)])  # SubGraphMetadata
    fields = [("offset", 0, string(info.name)), ("offset", 1, string(info.description)),
              ("offset", 2, string(info.version)), ("offset", 3, vector([subgraph])),
              ("offset", 4, string(info.author)), ("offset", 5, string(info.license)),
              ("offset", 7, string(info.min_parser_version))]
    root = table(8, fields)  # ModelMetadata
    b.Finish(root, file_identifier=IDENTIFIER)
    return bytes(b.Output())


def attach(model: bytes, info: ModelInfo) -> bytes:
    """``model`` with ``info``'s metadata and files, replacing any it had.

    The original flatbuffer is kept byte for byte: a new root Model table, its buffers
    and metadata vectors and the metadata buffer are written in front of it, pointing
    into it (flatbuffer offsets are relative, so the original moves as one block), and
    the files are appended as a zip. Only those bytes differ; no operator, tensor or
    weight is rewritten.
    """
    base = _flatbuffer_part(model)
    if base[4:8] != b"TFL3":
        raise ModelFormatError("not a TFLite model (no TFL3 flatbuffer identifier)")
    packed = _prefixed(base, build_metadata(info))
    labelled = [t.labels for t in info.outputs if t.labels]
    files = {LABELS_FILE: "".join(f"{n}\n" for n in labelled[0]).encode()} if labelled else {}
    if not files:
        return packed
    archive = io.BytesIO()
    archive.write(packed)
    # Appended after the flatbuffer: a zip reader finds its directory from the end.
    with zipfile.ZipFile(archive, "a", compression=zipfile.ZIP_STORED) as zipped:
        for name, data in files.items():
            # A fixed date: the same model and names give the same bytes (replays compare hashes).
            zipped.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return archive.getvalue()


# Model table slots (schema.fbs): version, operator_codes, subgraphs, description,
# buffers, metadata_buffer, metadata, signature_defs.
_MODEL_SLOTS = 8
_BUFFERS, _METADATA = 4, 6


def _prefixed(base: bytes, metadata: bytes) -> bytes:
    """A new root in front of ``base`` with one more buffer (``metadata``) and a
    TFLITE_METADATA entry naming it; every other field points into ``base`` unchanged."""
    import struct

    u32 = struct.Struct("<I")

    def read_u32(at: int) -> int:
        return u32.unpack_from(base, at)[0]

    root = read_u32(0)

    def field(slot: int) -> int | None:
        return _field_at(base, root, slot)

    def target(at: int) -> int:
        return at + read_u32(at)

    def vector(slot: int) -> list[int]:
        at = field(slot)
        if at is None:
            return []
        start = target(at)
        return [start + 4 + 4 * i + read_u32(start + 4 + 4 * i) for i in range(read_u32(start))]

    buffers = vector(_BUFFERS)
    entries = []
    for entry in vector(_METADATA):
        name = _string_at(base, entry, slot=0)
        if name != METADATA_NAME:
            entries.append(entry)
    if any(_buffer_offset(base, b) for b in buffers):
        raise ModelFormatError("the model keeps its weights outside the flatbuffer (over 2 GB): metadata is not "
                               "attached to such models")

    out = bytearray(8)  # root offset and identifier, filled at the end
    fixups: list[tuple[int, str, Any]] = []  # (where, kind, what): uoffsets to patch once positions are known

    def align(n: int) -> None:
        out.extend(b"\0" * (-len(out) % n))

    # The new Model table and its vtable.
    align(4)
    vt = len(out)
    present = [slot for slot in range(_MODEL_SLOTS) if slot in (_BUFFERS, _METADATA) or field(slot) is not None]
    out.extend(struct.pack("<HH", 4 + 2 * _MODEL_SLOTS, 4 + 4 * len(present)))
    table = vt + 4 + 2 * _MODEL_SLOTS
    table += -table % 4
    for slot in range(_MODEL_SLOTS):
        offset = 4 + 4 * present.index(slot) if slot in present else 0
        out.extend(struct.pack("<H", offset))
    align(4)
    assert len(out) == table
    out.extend(struct.pack("<i", table - vt))
    for slot in present:
        at = len(out)
        out.extend(b"\0\0\0\0")
        if slot == 0:  # version, a scalar
            out[at:at + 4] = u32.pack(read_u32(field(0)))
        elif slot == _BUFFERS:
            fixups.append((at, "local", "buffers"))
        elif slot == _METADATA:
            fixups.append((at, "local", "metadata"))
        else:
            fixups.append((at, "base", target(field(slot))))
    places: dict[str, int] = {}

    def offsets_vector(name: str, items: list[tuple[str, Any]]) -> None:
        align(4)
        places[name] = len(out)
        out.extend(u32.pack(len(items)))
        for kind, what in items:
            fixups.append((len(out), kind, what))
            out.extend(b"\0\0\0\0")

    offsets_vector("buffers", [("base", b) for b in buffers] + [("local", "metadata_buffer")])
    offsets_vector("metadata", [("base", e) for e in entries] + [("local", "metadata_entry")])

    def small_table(name: str, fields: list[tuple[str, Any]]) -> None:
        # A table of uoffset or uint32 fields, its vtable right before it.
        align(4)
        vt = len(out)
        out.extend(struct.pack("<HH", 4 + 2 * len(fields), 4 + 4 * len(fields)))
        out.extend(b"".join(struct.pack("<H", 4 + 4 * i) for i in range(len(fields))))
        align(4)
        places[name] = len(out)
        out.extend(struct.pack("<i", places[name] - vt))
        for kind, what in fields:
            if kind == "u32":
                out.extend(u32.pack(what))
            else:
                fixups.append((len(out), kind, what))
                out.extend(b"\0\0\0\0")

    # Metadata {name: string, buffer: uint}; Buffer {data: [ubyte] (force_align: 16)}.
    small_table("metadata_entry", [("local", "metadata_name"), ("u32", len(buffers))])
    small_table("metadata_buffer", [("local", "metadata_data")])
    align(4)
    places["metadata_name"] = len(out)
    out.extend(u32.pack(len(METADATA_NAME)) + METADATA_NAME + b"\0")
    out.extend(b"\0" * (-(len(out) + 4) % 16))  # the bytes after the length start 16-aligned
    places["metadata_data"] = len(out)
    out.extend(u32.pack(len(metadata)) + metadata)
    align(16)  # the original block keeps its alignment
    shift = len(out)
    for at, kind, what in fixups:
        destination = places[what] if kind == "local" else shift + what
        out[at:at + 4] = u32.pack(destination - at)
    out[0:4] = u32.pack(table)
    out[4:8] = b"TFL3"
    return bytes(out) + base


def _field_at(data: bytes, table: int, slot: int) -> int | None:
    """Where field ``slot`` of the table at ``table`` lies, or None when it is absent."""
    import struct

    vtable = table - struct.unpack_from("<i", data, table)[0]
    if (struct.unpack_from("<H", data, vtable)[0] - 4) // 2 <= slot:
        return None
    offset = struct.unpack_from("<H", data, vtable + 4 + 2 * slot)[0]
    return table + offset if offset else None


def _string_at(data: bytes, table: int, slot: int) -> bytes | None:
    import struct

    at = _field_at(data, table, slot)
    if at is None:
        return None
    start = at + struct.unpack_from("<I", data, at)[0]
    length = struct.unpack_from("<I", data, start)[0]
    return bytes(data[start + 4:start + 4 + length])


def _buffer_offset(data: bytes, table: int) -> int:
    """A Buffer's ``offset`` field (slot 1, uint64): non-zero where the data lies outside the flatbuffer."""
    import struct

    at = _field_at(data, table, 1)
    return struct.unpack_from("<Q", data, at)[0] if at is not None else 0


def read_metadata(model: bytes | str | Path) -> ModelInfo | None:
    """The metadata in a .tflite, or None when it has none."""
    data = Path(model).read_bytes() if isinstance(model, (str, Path)) else bytes(model)
    from edgekit.flatbuffer import schema

    s = schema()
    try:
        tree = s.Model.GetRootAsModel(data, 0)
        entries = [tree.Metadata(i) for i in range(tree.MetadataLength())]
    except Exception as exc:  # noqa: BLE001 - a damaged flatbuffer fails in many ways
        raise ModelFormatError(f"cannot read the model's metadata: {exc}") from None
    entry = next((m for m in entries if m.Name() == METADATA_NAME), None)
    if entry is None:
        return None
    raw = tree.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
    if raw[4:8] != IDENTIFIER:
        raise ModelFormatError("the model's TFLITE_METADATA buffer is not ModelMetadata (no M001 identifier)")
    files = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zipped:
            files = {name: zipped.read(name) for name in zipped.namelist()}
    except zipfile.BadZipFile:
        pass
    return _parse(raw, files)


def _parse(raw: bytes, files: dict) -> ModelInfo:
    root = Table(raw, flatbuffers.encode.Get(number_types.UOffsetTFlags.packer_type, raw, 0))

    def field_pos(tab: Table, slot: int) -> int:
        return tab.Offset(4 + 2 * slot)

    def string(tab: Table, slot: int) -> str:
        o = field_pos(tab, slot)
        return tab.String(o + tab.Pos).decode("utf-8") if o else ""

    def child(tab: Table, slot: int) -> Table | None:
        o = field_pos(tab, slot)
        return Table(tab.Bytes, tab.Indirect(o + tab.Pos)) if o else None

    def tables(tab: Table, slot: int) -> list[Table]:
        o = field_pos(tab, slot)
        if not o:
            return []
        start = tab.Vector(o)
        return [Table(tab.Bytes, tab.Indirect(start + 4 * i)) for i in range(tab.VectorLen(o))]

    def floats(tab: Table, slot: int) -> tuple[float, ...]:
        o = field_pos(tab, slot)
        if not o:
            return ()
        start = tab.Vector(o)
        return tuple(tab.Get(number_types.Float32Flags, start + 4 * i) for i in range(tab.VectorLen(o)))

    def byte(tab: Table, slot: int) -> int:
        o = field_pos(tab, slot)
        return tab.Get(number_types.Uint8Flags, o + tab.Pos) if o else 0

    def uint(tab: Table, slot: int) -> int:
        o = field_pos(tab, slot)
        return tab.Get(number_types.Uint32Flags, o + tab.Pos) if o else 0

    def tensor(tab: Table) -> TensorInfo:
        color_space = size = mean = std = score_min = score_max = None
        content = child(tab, 3)
        if content is not None and byte(content, 0) == _IMAGE_PROPERTIES:
            properties = child(content, 1)
            color_space = {_RGB: "RGB", _GRAYSCALE: "GRAYSCALE"}.get(byte(properties, 0), "UNKNOWN")
            image_size = child(properties, 1)
            size = (uint(image_size, 0), uint(image_size, 1)) if image_size is not None else None
        for unit in tables(tab, 4):
            if byte(unit, 0) == _NORMALIZATION:
                options = child(unit, 1)
                mean, std = floats(options, 0), floats(options, 1)
        stats = child(tab, 5)
        if stats is not None and floats(stats, 0) and floats(stats, 1):
            score_max, score_min = floats(stats, 0)[0], floats(stats, 1)[0]
        labels: tuple[str, ...] = ()
        for f in tables(tab, 6):
            if byte(f, 2) in (_TENSOR_AXIS_LABELS, _TENSOR_VALUE_LABELS) and string(f, 0) in files:
                text = files[string(f, 0)].decode("utf-8")
                labels = tuple(line.strip() for line in text.splitlines() if line.strip())
        return TensorInfo(name=string(tab, 0), description=string(tab, 1), color_space=color_space, size=size,
                          mean=mean, std=std, score_min=score_min, score_max=score_max, labels=labels)

    subgraphs = tables(root, 3)
    inputs = tuple(tensor(t) for t in tables(subgraphs[0], 2)) if subgraphs else ()
    outputs = tuple(tensor(t) for t in tables(subgraphs[0], 3)) if subgraphs else ()
    return ModelInfo(name=string(root, 0), description=string(root, 1), version=string(root, 2),
                     author=string(root, 4), license=string(root, 5), inputs=inputs, outputs=outputs,
                     min_parser_version=string(root, 7), files=files)


def _flatbuffer_part(model: bytes) -> bytes:
    """The model without files appended after it by an earlier attach (the zip is ignored
    by the flatbuffer reader, but is dropped so files are not appended twice)."""
    try:
        with zipfile.ZipFile(io.BytesIO(model)) as zipped:
            first = min((info.header_offset for info in zipped.infolist()), default=len(model))
            return model[:first]
    except zipfile.BadZipFile:
        return model


def classifier_info(model: bytes, *, name: str, labels: Sequence[str], description: str = "", version: str = "1",
                    author: str = "", license: str = "", input_name: str = "image",
                    output_name: str = "scores") -> ModelInfo:
    """Metadata for an image classifier: RGB input, class-score output with its labels.

    edgekit classifiers take 0-255 pixels with their preprocessing inside the model, so
    a float input's normalisation is mean 0, std 1; a uint8 input needs none.
    """
    inputs, outputs = _io_tensors(_flatbuffer_part(model))
    if len(inputs) != 1 or len(outputs) != 1:
        raise ConfigError("classifier metadata needs a model with one input and one output")
    (image_shape, image_dtype), (scores_shape, _) = inputs[0], outputs[0]
    if len(image_shape) != 4 or image_shape[-1] not in (1, 3):
        raise ConfigError(f"classifier metadata needs an image input (N, H, W, 1 or 3); this one is "
                          f"{list(image_shape)}")
    classes = scores_shape[-1]
    if labels and len(labels) != classes:
        raise ConfigError(f"{len(labels)} labels for a model with {classes} class scores")
    return ModelInfo(
        name=name, description=description, version=version, author=author, license=license,
        inputs=(_image_input(image_shape, image_dtype, input_name),),
        outputs=(TensorInfo(name=output_name, description="Probability of each class.", score_min=0.0,
                            score_max=1.0, labels=tuple(labels)),),
    )


def detector_info(model: bytes, *, name: str, labels: Sequence[str], description: str = "", version: str = "1",
                  author: str = "", license: str = "", input_name: str = "image") -> ModelInfo:
    """Metadata for a detector ending in TFLite_Detection_PostProcess, as MediaPipe Tasks'
    ObjectDetector reads it (its writer's ``create_for_models_with_nms``): the image input as
    for a classifier; outputs location (boxes as (top, left, bottom, right) ratios, so the
    index of left, top, right, bottom is 1, 0, 3, 2), category (class indices, the labels as
    TENSOR_VALUE_LABELS), score and number of detections, the first three grouped."""
    inputs, outputs = _io_tensors(_flatbuffer_part(model))
    if len(inputs) != 1 or len(outputs) != 4:
        raise ConfigError("detector metadata needs a model with one input and the post-process op's four outputs")
    return ModelInfo(
        name=name, description=description, version=version, author=author, license=license,
        inputs=(_image_input(*inputs[0], input_name),),
        outputs=(TensorInfo(name="location", description="The locations of the detected boxes.",
                            bounding_box=(1, 0, 3, 2), value_range=(2, 2)),
                 TensorInfo(name="category", description="The categories of the detected boxes.",
                            labels=tuple(labels), value_labels=True, value_range=(2, 2)),
                 TensorInfo(name="score", description="The scores of the detected boxes.", value_range=(2, 2)),
                 TensorInfo(name="number of detections", description="The number of the detected boxes.")),
        output_groups=(("detection_result", ("location", "category", "score")),),
        min_parser_version=DETECTOR_PARSER_VERSION,
    )


def _image_input(shape: Sequence[int], dtype: str, name: str) -> TensorInfo:
    """An edgekit model's image input: 0-255 pixels with the preprocessing inside the model,
    so a float input's normalisation is mean 0, std 1 and a uint8 input needs none."""
    float_input, channels = dtype == "FLOAT32", shape[-1]
    return TensorInfo(name=name, description="Pixels 0-255; the model does its own preprocessing.",
                      color_space="RGB" if channels == 3 else "GRAYSCALE", size=(int(shape[2]), int(shape[1])),
                      mean=(0.0,) * channels if float_input else None, std=(1.0,) * channels if float_input else None)


def _io_tensors(data: bytes) -> tuple[list, list]:
    """(shape, dtype name) of the main subgraph's inputs and outputs, read from the flatbuffer."""
    from edgekit.flatbuffer import enum_names, schema

    try:
        graph = schema().Model.GetRootAsModel(data, 0).Subgraphs(0)
    except Exception as exc:  # noqa: BLE001 - a damaged flatbuffer fails in many ways
        raise ModelFormatError(f"cannot read the model: {exc}") from None
    names = enum_names("TensorType")

    def tensor(index: int) -> tuple:
        t = graph.Tensors(int(index))
        return tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else (), names.get(t.Type(), "")

    return ([tensor(i) for i in graph.InputsAsNumpy()] if graph.InputsLength() else [],
            [tensor(i) for i in graph.OutputsAsNumpy()] if graph.OutputsLength() else [])
