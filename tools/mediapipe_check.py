"""An edgekit model run by a real app client: MediaPipe Tasks' ImageClassifier (or ObjectDetector), in its own venv.

MediaPipe pins an absl-py that clashes with tensorflow-model-optimization, so it lives
in a separate virtual environment that this tool creates (mediapipe 0.10.21: its
metadata tools import; later wheels miss a module). The images are resized by
edgekit's own loader first, so both sides see the same pixels and any disagreement is
the client's, not resampling's.

    python tools/mediapipe_check.py build/demo/cpu/model.tflite samples/digits [--venv build/mediapipe-venv]

Prints, for the validation images: whether ImageClassifier returns edgekit's class
names, and how often its top-1 matches edgekit's interpreter and the LiteRT signature
runner.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np

MEDIAPIPE = "mediapipe==0.10.21"
# mediapipe's own pins pull jax and sounddevice, which ImageClassifier does not use.
CLIENT_PACKAGES = ["numpy<2", "absl-py", "attrs", "flatbuffers", "protobuf<5", "opencv-python-headless<4.11",
                   "matplotlib"]

CLIENT = r'''
import json, sys
import numpy as np
import mediapipe as mp
from PIL import Image
from mediapipe.tasks.python import vision
from mediapipe.tasks.python.core import base_options

model, images = sys.argv[1], sys.argv[2:]
options = vision.ImageClassifierOptions(base_options=base_options.BaseOptions(model_asset_path=model),
                                        max_results=1)
out = []
with vision.ImageClassifier.create_from_options(options) as classifier:
    for path in images:
        pixels = np.asarray(Image.open(path).convert("RGB"))
        top = classifier.classify(mp.Image(image_format=mp.ImageFormat.SRGB, data=pixels)).classifications[0]
        best = top.categories[0]
        out.append({"index": best.index, "name": best.category_name, "score": best.score})
print(json.dumps(out))
'''


DETECT_CLIENT = r'''
import json, sys
import numpy as np
import mediapipe as mp
from PIL import Image
from mediapipe.tasks.python import vision
from mediapipe.tasks.python.core import base_options

model, images = sys.argv[1], sys.argv[2:]
options = vision.ObjectDetectorOptions(base_options=base_options.BaseOptions(model_asset_path=model),
                                       max_results=-1, score_threshold=0.0)
out = []
with vision.ObjectDetector.create_from_options(options) as detector:
    for path in images:
        pixels = np.asarray(Image.open(path).convert("RGB"))
        found = detector.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=pixels)).detections
        out.append([{"box": [d.bounding_box.origin_x, d.bounding_box.origin_y, d.bounding_box.width,
                             d.bounding_box.height],
                     "name": d.categories[0].category_name, "score": d.categories[0].score} for d in found])
print(json.dumps(out))
'''


class ClientUnavailable(Exception):
    """MediaPipe could not be installed here; the message says why."""


def mediapipe_python(venv: Path) -> Path:
    """The Python of a venv with MediaPipe Tasks, created on first use."""
    python = venv / "bin" / "python"
    if python.is_file() and _imports(python):
        return python
    steps = [[sys.executable, "-m", "venv", "--clear", str(venv)],
             [str(python), "-m", "pip", "install", "--quiet", "--no-deps", MEDIAPIPE],
             [str(python), "-m", "pip", "install", "--quiet", *CLIENT_PACKAGES]]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode:
            lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
            raise ClientUnavailable(f"{' '.join(step[:4])} failed: {lines[-1] if lines else done.returncode}")
    if not _imports(python):
        raise ClientUnavailable("mediapipe was installed but its ImageClassifier does not import")
    return python


def _imports(python: Path) -> bool:
    code = "from mediapipe.tasks.python import vision"
    return subprocess.run([str(python), "-c", code], capture_output=True).returncode == 0


def classify(python: Path, model: Path, images: list[Path]) -> list[dict]:
    done = subprocess.run([str(python), "-c", CLIENT, str(model), *map(str, images)], capture_output=True,
                          text=True)
    if done.returncode:
        raise RuntimeError(f"ImageClassifier failed: {done.stderr.strip().splitlines()[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def _written(images: np.ndarray) -> Iterator[list[Path]]:
    """The pixels as PNG files the client reads: edgekit's own resizing, so both sides see the same pixels."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as scratch:
        paths = []
        for i, pixels in enumerate(images):
            path = Path(scratch) / f"{i:04d}.png"
            Image.fromarray(pixels).save(path)
            paths.append(path)
        yield paths


def detect(python: Path, model: Path, images: list[Path]) -> list[list[dict]]:
    """ObjectDetector's detections of each image: box (x, y, width, height in pixels), class name, score."""
    done = subprocess.run([str(python), "-c", DETECT_CLIENT, str(model), *map(str, images)], capture_output=True,
                          text=True)
    if done.returncode:
        raise RuntimeError(f"ObjectDetector failed: {done.stderr.strip().splitlines()[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare_detections(python: Path, model: Path, images: np.ndarray, labels: list[str]) -> dict:
    """ObjectDetector against LiteRT's run of the same .tflite on the same pixels: the share of
    LiteRT's detections scoring 0.1 or more that ObjectDetector returns with the same class
    name and a box within a pixel and a half."""
    from edgekit.tasks.detection import tflite_detections

    ours = tflite_detections(model, images)
    with _written(images) as paths:
        theirs = detect(python, model, paths)
    matched = total = 0
    height, width = images.shape[1:3]
    for found, client in zip(ours, theirs):
        for box, label, score in zip(found.boxes, found.classes, found.scores):
            if score < 0.1:
                continue
            total += 1
            y0, x0, y1, x1 = np.asarray(box) * [height, width, height, width]
            # ObjectDetector moves an origin outside the image to its edge and keeps the size.
            expected = np.array([max(0.0, x0), max(0.0, y0), x1 - x0, y1 - y0])
            matched += any(c["name"] == labels[int(label)] and abs(c["score"] - score) < 1e-3
                           and np.abs(np.array(c["box"], float) - expected).max() <= 1.5 for c in client)
    return {"images": len(images), "detections": total, "matched": matched,
            "client_names": sorted({c["name"] for found in theirs for c in found})}


def compare(python: Path, model: Path, data: Path, limit: int = 300) -> dict:
    """ImageClassifier against edgekit's interpreter and the signature runner on ``data``."""
    from edgekit.analyze import read_model
    from edgekit.data import load_image_folder
    from edgekit.inference import predict, run_signature
    from edgekit.metadata import read_metadata

    image = read_model(model).main
    shape = image.tensors[image.inputs[0]].shape
    labels = next(t.labels for t in read_metadata(model).outputs if t.labels)
    folder = load_image_folder(data, (shape[1], shape[2]), class_names=labels)
    pick = np.linspace(0, len(folder) - 1, min(limit, len(folder))).astype(int)
    pixels = folder.images[pick]
    with _written(pixels) as paths:
        client = classify(python, model, paths)
    ours = predict(model, pixels).argmax(axis=1)
    signature = run_signature(model, {"image": pixels.astype(np.float32)})["scores"].argmax(axis=1)
    theirs = np.array([c["index"] for c in client])
    return {
        "images": len(pick),
        "class_names_match": all(c["name"] == labels[c["index"]] for c in client),
        "client_names": sorted({c["name"] for c in client}),
        "top1_vs_interpreter": float(np.mean(theirs == ours)),
        "top1_vs_signature_runner": float(np.mean(theirs == signature)),
        "interpreter_accuracy": float(np.mean(ours == folder.labels[pick])),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--venv", type=Path, default=Path("build/mediapipe-venv"))
    args = parser.parse_args()
    try:
        python = mediapipe_python(args.venv)
    except ClientUnavailable as exc:
        print(f"MediaPipe is not available: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(compare(python, args.model, args.data), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
