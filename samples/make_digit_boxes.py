"""Write a small composite detection set in COCO format: scikit-learn's real handwritten
digit scans pasted, in random colours and sizes, onto crops of scikit-learn's two real
sample photos (a Chinese temple and a flower), with their exact boxes.

    python samples/make_digit_boxes.py samples/digit_boxes

Composite: the objects and backgrounds are real, their placement is not. It is labelled
composite wherever it is used.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

CROP = 160


def write_digit_boxes(out: Path, *, images: int = 120, size: int = 64, digits: tuple[int, ...] = (0, 1, 7),
                      seed: int = 0, shuffle_boxes: bool = False) -> int:
    """Write ``out/images/NNNN.png`` and ``out/annotations.json``; returns the number of boxes.
    ``shuffle_boxes`` gives each image another image's boxes: a set nothing can be learned from."""
    from sklearn.datasets import load_digits, load_sample_images

    rng = np.random.default_rng(seed)
    scans = load_digits()
    photos = [np.asarray(p) for p in load_sample_images().images]
    (out / "images").mkdir(parents=True, exist_ok=True)
    coco: dict = {"images": [], "annotations": [],
                  "categories": [{"id": i + 1, "name": f"digit {d}"} for i, d in enumerate(digits)]}
    boxes_of = []
    for n in range(images):
        photo = photos[n % len(photos)]
        y, x = rng.integers(0, photo.shape[0] - CROP), rng.integers(0, photo.shape[1] - CROP)
        canvas = np.asarray(Image.fromarray(photo[y:y + CROP, x:x + CROP]).resize((size, size))).astype(np.float32)
        placed: list[tuple[int, int, int, int]] = []
        for _ in range(int(rng.integers(1, 4))):
            k = int(rng.integers(len(digits)))
            glyph = scans.images[rng.choice(np.flatnonzero(scans.target == digits[k]))] / 16.0
            side = int(rng.integers(size // 5, size // 2))
            mask = np.asarray(Image.fromarray((glyph * 255).astype(np.uint8)).resize((side, side),
                                                                                     Image.BILINEAR)) / 255.0
            for _ in range(20):
                gy, gx = (int(v) for v in rng.integers(0, size - side, 2))
                if all(gx + side <= px or px + ps <= gx or gy + side <= py or py + ps <= gy
                       for px, py, ps, _ in placed):
                    break
            else:
                continue
            colour = rng.uniform(0, 255, 3)
            region = canvas[gy:gy + side, gx:gx + side]
            canvas[gy:gy + side, gx:gx + side] = region * (1 - mask[..., None]) + colour * mask[..., None]
            placed.append((gx, gy, side, k))
        name = f"{n:04d}.png"
        Image.fromarray(canvas.astype(np.uint8)).save(out / "images" / name)
        coco["images"].append({"id": n + 1, "file_name": name, "width": size, "height": size})
        boxes_of.append(placed)
    if shuffle_boxes:
        boxes_of = [boxes_of[i] for i in rng.permutation(len(boxes_of))]
    for n, placed in enumerate(boxes_of):
        for gx, gy, side, k in placed:
            coco["annotations"].append({"id": len(coco["annotations"]) + 1, "image_id": n + 1, "category_id": k + 1,
                                        "bbox": [gx, gy, side, side], "area": side * side, "iscrowd": 0})
    (out / "annotations.json").write_text(json.dumps(coco), encoding="utf-8")
    return len(coco["annotations"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--size", type=int, default=96)
    args = parser.parse_args()
    boxes = write_digit_boxes(args.out, images=args.images, size=args.size)
    print(f"wrote {args.images} composite images with {boxes} boxes to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
