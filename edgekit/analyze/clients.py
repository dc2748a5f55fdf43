"""What apps' clients will make of a model: a lint on its metadata and I/O types."""

from __future__ import annotations

from typing import Any

from edgekit.metadata import read_metadata


def client_notes(model: Any) -> list[str]:
    """What an app's client (MediaPipe Tasks, Android model binding) will make of this
    model's metadata and I/O types, for an image model; nothing for other models.

    MediaPipe Tasks takes uint8 or float32 image inputs, and a float32 one only with
    NormalizationOptions metadata ("requires specifying NormalizationOptions metadata").
    """
    if not model.source or model.source == "<bytes>":
        return []
    main = model.main
    if len(main.inputs) != 1:
        return []
    image = main.tensors[main.inputs[0]]
    if len(image.shape) != 4 or image.shape[-1] not in (1, 3):
        return []
    metadata = read_metadata(model.source)
    notes = []
    if metadata is None:
        notes.append("no TFLite metadata: MediaPipe Tasks and Android model binding need it "
                     "(edgekit metadata MODEL --labels labels.txt adds it)")
    else:
        labels = next((t.labels for t in metadata.outputs if t.labels), ())
        notes.append(f"metadata: {metadata.name!r} version {metadata.version}, {len(labels)} class names")
    if image.dtype not in ("UINT8", "FLOAT32"):
        notes.append(f"{image.dtype.lower()} input: MediaPipe Tasks takes uint8 or float32 images, so this model "
                     "runs only where its target needs these I/O types")
    elif image.dtype == "FLOAT32" and metadata is not None and not any(t.mean for t in metadata.inputs):
        notes.append("float32 input without normalisation metadata: MediaPipe's ImageClassifier refuses it")
    return notes
