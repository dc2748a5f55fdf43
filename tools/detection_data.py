"""Detection sets for tools/bench_detect.py, each written as train / val / test COCO folders.

- ``digits``: composite. samples/make_digit_boxes.py's real digit scans pasted on real
  photos; split by image.
- ``nuclei``: real. The 512x512 fluorescence image of cell nuclei with its 125-instance
  mask that the stardist wheel ships (fetched with ``pip download --no-deps``, only the
  two image files read). Each nucleus's box is exact, from its mask. Crops are tiled from
  three vertical bands that never overlap (train: the left 60%, val: the next 20%, test:
  the last 20%), so no test pixel was ever trained on.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SPLITS = ("train", "val", "test")


def digits(work: Path, images: int = 500, size: int = 96) -> Path:
    root = work / "digits"
    if (root / "test" / "annotations.json").is_file():
        return root
    spec = importlib.util.spec_from_file_location("make_digit_boxes", REPO / "samples" / "make_digit_boxes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    counts = {"train": int(images * 0.6), "val": int(images * 0.2), "test": images - int(images * 0.8)}
    for seed, (split, n) in enumerate(counts.items()):
        # Separate seeds: no image appears in two splits.
        module.write_digit_boxes(root / split, images=n, size=size, seed=100 + seed)
    return root


def nuclei(work: Path, crop: int = 96, stride: int = 24) -> Path:
    root = work / "nuclei"
    if (root / "test" / "annotations.json").is_file():
        return root
    image, mask = _stardist_images(work)
    pixels = _to_rgb(image)
    width = pixels.shape[1]
    bands = {"train": (0, int(width * 0.6)), "val": (int(width * 0.6), int(width * 0.8)),
             "test": (int(width * 0.8), width)}
    for split, (left, right) in bands.items():
        _write_crops(root / split, pixels, mask, left, right, crop, stride)
    return root


def _write_crops(out: Path, pixels: np.ndarray, mask: np.ndarray, left: int, right: int, crop: int,
                 stride: int) -> None:
    (out / "images").mkdir(parents=True, exist_ok=True)
    coco: dict = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "nucleus"}]}
    band = right - left
    xs = range(left, right - crop + 1, stride) if band >= crop else [left]
    for y in range(0, pixels.shape[0] - crop + 1, stride):
        for x in xs:
            n = len(coco["images"]) + 1
            name = f"{n:04d}.png"
            Image.fromarray(pixels[y:y + crop, x:x + crop]).save(out / "images" / name)
            coco["images"].append({"id": n, "file_name": name, "width": crop, "height": crop})
            window = mask[y:y + crop, x:x + crop]
            for label in np.unique(window):
                if label == 0:
                    continue
                whole = np.argwhere(mask == label)
                inside = np.argwhere(window == label)
                # A nucleus cut by the crop counts while most of it is in view.
                if len(inside) < 0.5 * len(whole):
                    continue
                (y0, x0), (y1, x1) = inside.min(axis=0), inside.max(axis=0) + 1
                coco["annotations"].append({"id": len(coco["annotations"]) + 1, "image_id": n, "category_id": 1,
                                            "bbox": [int(x0), int(y0), int(x1 - x0), int(y1 - y0)],
                                            "area": int((x1 - x0) * (y1 - y0)), "iscrowd": 0})
    (out / "annotations.json").write_text(json.dumps(coco), encoding="utf-8")


def _stardist_images(work: Path) -> tuple[np.ndarray, np.ndarray]:
    folder = work / "stardist"
    wheels = sorted(folder.glob("stardist-*.whl"))
    if not wheels:
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "stardist", "-d",
                        str(folder)], check=True)
        wheels = sorted(folder.glob("stardist-*.whl"))
    with zipfile.ZipFile(wheels[-1]) as wheel, tempfile.TemporaryDirectory() as scratch:
        for name in ("img2d.tif", "mask2d.tif"):
            wheel.extract(f"stardist/data/images/{name}", scratch)
        base = Path(scratch) / "stardist" / "data" / "images"
        return (np.asarray(Image.open(base / "img2d.tif")), np.asarray(Image.open(base / "mask2d.tif")))


def _to_rgb(image: np.ndarray) -> np.ndarray:
    # The 16-bit fluorescence image holds 0-235: stretched to 8 bits, grey as RGB.
    low, high = np.percentile(image, (0.5, 99.8))
    grey = np.clip((image.astype(np.float64) - low) / max(high - low, 1) * 255, 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)


SETS = {"digits": digits, "nuclei": nuclei}
