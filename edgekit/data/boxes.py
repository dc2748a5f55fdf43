"""Object detection data: a COCO, Pascal VOC or YOLO folder read into images and their boxes.

The format is recognised from the folder's layout:

- COCO: ``annotations.json`` (or one ``annotations/*.json``), images beside it or under
  ``images/``; a box is ``[x, y, width, height]`` in pixels.
- Pascal VOC: ``Annotations/*.xml`` and ``JPEGImages/``; a box is ``xmin ymin xmax ymax``
  in pixels, 1-based (the VOC devkit's convention, so 1..width).
- YOLO: ``images/`` and ``labels/*.txt``, one ``class cx cy w h`` line per box in
  fractions of the image, with the class names in ``classes.txt``, ``obj.names`` or
  ``data.yaml``'s ``names``.

Every box is returned in pixels as ``(x0, y0, x1, y1)`` of the image as stored (EXIF
orientation is not applied: the annotation tools draw on the stored pixels). A box
outside its image, of no area, of an unknown class, or on an unreadable image is bad:
it is skipped and listed, or with ``strict`` it fails the read in one line.
"""

from __future__ import annotations

import enum
import json
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from edgekit.data.images import is_image_file
from edgekit.detection_metrics import Truth
from edgekit.errors import DataError

# A box may overhang its image by this many pixels: annotation tools round to whole
# pixels, and VOC's 1-based xmax equals the width for a box on the right edge.
EDGE_SLACK = 1.0


class BoxFormat(enum.Enum):
    COCO = "coco"
    VOC = "voc"
    YOLO = "yolo"


@dataclass(frozen=True)
class Box:
    label: int
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def area(self) -> float:
        return max(0.0, self.x1 - self.x0) * max(0.0, self.y1 - self.y0)


@dataclass(frozen=True)
class AnnotatedImage:
    path: str
    width: int
    height: int
    boxes: tuple[Box, ...]


@dataclass(frozen=True)
class BadBox:
    """A box (or a whole image's boxes) left out, with where it came from and why."""

    image: str
    annotation: str
    box: tuple[float, ...] | None
    reason: str

    def line(self) -> str:
        where = self.annotation if self.annotation == self.image else f"{self.annotation} ({self.image})"
        box = "" if self.box is None else f" box {list(round(v, 2) for v in self.box)}"
        return f"{where}:{box} {self.reason}"


@dataclass(frozen=True)
class DetectionSet:
    format: BoxFormat
    root: str
    class_names: tuple[str, ...]
    images: tuple[AnnotatedImage, ...]
    bad: tuple[BadBox, ...]

    def box_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(self.class_names, 0)
        for image in self.images:
            for box in image.boxes:
                counts[self.class_names[box.label]] += 1
        return counts


def detect_format(root: str | Path) -> BoxFormat:
    """Which layout ``root`` has; a folder that has none fails naming what was looked for."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"detection data {root} is not a folder")
    if _coco_file(root) is not None:
        return BoxFormat.COCO
    if (root / "Annotations").is_dir():
        return BoxFormat.VOC
    if (root / "labels").is_dir() and (root / "images").is_dir():
        return BoxFormat.YOLO
    raise DataError(f"{root} holds no detection data: expected annotations.json (COCO), Annotations/ and "
                    "JPEGImages/ (Pascal VOC), or images/ and labels/ (YOLO)")


def read_boxes(root: str | Path, *, strict: bool = False) -> DetectionSet:
    """Every image of the detection folder ``root`` with its good boxes, and the bad ones listed."""
    root = Path(root)
    kind = detect_format(root)
    reader = {BoxFormat.COCO: _read_coco, BoxFormat.VOC: _read_voc, BoxFormat.YOLO: _read_yolo}[kind]
    names, raw = reader(root)
    images, bad = [], []
    for entry in raw:
        kept, dropped = _judge(entry, names, root)
        if strict and dropped:
            raise DataError(f"bad box in {dropped[0].line()} (drop --strict to skip bad boxes)")
        bad.extend(dropped)
        if kept is not None:
            images.append(kept)
    if not images:
        raise DataError(f"{root}: no readable image with a box ({kind.value} format)")
    return DetectionSet(kind, str(root), tuple(names), tuple(images), tuple(bad))


@dataclass(frozen=True)
class _Raw:
    """An image and its boxes as the annotation file gives them: class names or indices,
    pixel corners, and the size the annotation states (None when it states none)."""

    image: Path
    annotation: Path
    boxes: tuple[tuple[Any, float, float, float, float], ...]
    size: tuple[int, int] | None = None
    # Set when the annotation itself cannot be used.
    problem: str | None = None


def _judge(entry: _Raw, names: list[str], root: Path) -> tuple[AnnotatedImage | None, list[BadBox]]:
    image, annotation = _shown(entry.image, root), _shown(entry.annotation, root)
    if entry.problem is not None:
        return None, [BadBox(image, annotation, None, entry.problem)]
    size = _image_size(entry.image)
    if size is None:
        return None, [BadBox(image, annotation, None, "image missing or unreadable")]
    width, height = size
    kept, bad = [], []
    for label, x0, y0, x1, y1 in entry.boxes:
        corners = (x0, y0, x1, y1)
        index = _class_index(label, names)
        if index is None:
            bad.append(BadBox(image, annotation, corners, f"unknown class {label!r}"))
        elif not (x1 > x0 and y1 > y0):
            bad.append(BadBox(image, annotation, corners, "zero area"))
        elif x0 < -EDGE_SLACK or y0 < -EDGE_SLACK or x1 > width + EDGE_SLACK or y1 > height + EDGE_SLACK:
            bad.append(BadBox(image, annotation, corners, f"outside the {width}x{height} image"))
        else:
            kept.append(Box(index, max(0.0, x0), max(0.0, y0), min(float(width), x1), min(float(height), y1)))
    return AnnotatedImage(str(entry.image), width, height, tuple(kept)), bad


def _class_index(label: Any, names: list[str]) -> int | None:
    if isinstance(label, int):
        return label if 0 <= label < len(names) else None
    return names.index(label) if label in names else None


def _image_size(path: Path) -> tuple[int, int] | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as picture:
            picture.verify()
            return picture.size
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError):
        return None


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


# COCO ---------------------------------------------------------------------------------

def _coco_file(root: Path) -> Path | None:
    if (root / "annotations.json").is_file():
        return root / "annotations.json"
    found = sorted((root / "annotations").glob("*.json")) if (root / "annotations").is_dir() else []
    if len(found) > 1:
        raise DataError(f"{root / 'annotations'} holds {len(found)} .json files: keep one, or name it "
                        f"{root / 'annotations.json'}")
    return found[0] if found else None


def _read_coco(root: Path) -> tuple[list[str], list[_Raw]]:
    path = _coco_file(root)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        categories = sorted(data["categories"], key=lambda c: c["id"])
        names = [str(c["name"]) for c in categories]
        by_id = {c["id"]: str(c["name"]) for c in categories}
        images = {i["id"]: i for i in data["images"]}
        annotations = data.get("annotations", [])
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: not a COCO annotation file ({type(exc).__name__}: {exc})") from None
    folder = root / "images" if (root / "images").is_dir() else root
    boxes: dict[Any, list] = {image_id: [] for image_id in images}
    problems: dict[Any, str] = {}
    for annotation in annotations:
        image_id = annotation.get("image_id")
        if image_id not in images:
            continue
        try:
            x, y, w, h = (float(v) for v in annotation["bbox"])
        except (KeyError, TypeError, ValueError):
            problems[image_id] = f"annotation {annotation.get('id')} has no [x, y, width, height] bbox"
            continue
        category = annotation.get("category_id")
        boxes[image_id].append((by_id.get(category, f"category id {category}"), x, y, x + w, y + h))
    return names, [_Raw(folder / str(image["file_name"]), path, tuple(boxes[image_id]),
                        problem=problems.get(image_id)) for image_id, image in images.items()]


# Pascal VOC ---------------------------------------------------------------------------

def _read_voc(root: Path) -> tuple[list[str], list[_Raw]]:
    files = sorted((root / "Annotations").glob("*.xml"))
    if not files:
        raise DataError(f"{root / 'Annotations'} holds no .xml annotation")
    raw, seen = [], []
    for path in files:
        try:
            tree = ElementTree.parse(path).getroot()
            filename = tree.findtext("filename") or f"{path.stem}.jpg"
            boxes = []
            for obj in tree.iter("object"):
                name = (obj.findtext("name") or "").strip()
                box = obj.find("bndbox")
                corners = [float(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")]
                # 1-based inclusive pixel indices to 0-based corners.
                boxes.append((name, corners[0] - 1, corners[1] - 1, corners[2], corners[3]))
                if name not in seen:
                    seen.append(name)
        except (ElementTree.ParseError, AttributeError, TypeError, ValueError) as exc:
            raw.append(_Raw(root / "JPEGImages" / f"{path.stem}.jpg", path, (),
                            problem=f"not a VOC annotation ({type(exc).__name__})"))
            continue
        raw.append(_Raw(root / "JPEGImages" / filename, path, tuple(boxes)))
    names = _class_list(root) or sorted(seen)
    return names, raw


# YOLO ---------------------------------------------------------------------------------

def _read_yolo(root: Path) -> tuple[list[str], list[_Raw]]:
    names = _class_list(root)
    if not names:
        raise DataError(f"{root}: a YOLO folder needs its class names in classes.txt, obj.names or data.yaml")
    raw = []
    for image in sorted(p for p in (root / "images").rglob("*") if p.is_file() and is_image_file(p)):
        label_file = (root / "labels" / image.relative_to(root / "images")).with_suffix(".txt")
        size = _image_size(image)
        boxes, problem = [], None
        if label_file.is_file() and size is not None:
            width, height = size
            for number, line in enumerate(label_file.read_text(encoding="utf-8").splitlines(), 1):
                parts = line.split()
                if not parts:
                    continue
                try:
                    label = int(parts[0])
                    cx, cy, w, h = (float(v) for v in parts[1:5])
                    if len(parts) < 5:
                        raise ValueError
                except ValueError:
                    problem = f"line {number} is not 'class cx cy w h'"
                    break
                boxes.append((label, (cx - w / 2) * width, (cy - h / 2) * height,
                              (cx + w / 2) * width, (cy + h / 2) * height))
        raw.append(_Raw(image, label_file if label_file.is_file() else image, tuple(boxes), problem=problem))
    return names, raw


def _class_list(root: Path) -> list[str]:
    for name in ("classes.txt", "obj.names", "labels.txt"):
        if (root / name).is_file():
            return [line.strip() for line in (root / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    if (root / "data.yaml").is_file():
        import yaml

        try:
            names = (yaml.safe_load((root / "data.yaml").read_text(encoding="utf-8")) or {}).get("names")
        except yaml.YAMLError as exc:
            raise DataError(f"{root / 'data.yaml'}: not YAML ({exc})") from None
        if isinstance(names, dict):
            return [str(names[k]) for k in sorted(names)]
        if isinstance(names, list):
            return [str(n) for n in names]
        raise DataError(f"{root / 'data.yaml'}: needs a 'names' list")
    return []


# Images at a model's size with their boxes as fractions ----------------------------------

@dataclass(frozen=True)
class BoxedImages:
    """Images at the model's input size with their true boxes (fractions of the image)."""

    images: np.ndarray
    truth: tuple[Truth, ...]
    class_names: tuple[str, ...]
    sources: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, indices: Sequence[int]) -> "BoxedImages":
        idx = list(indices)
        return BoxedImages(self.images[idx], tuple(self.truth[i] for i in idx), self.class_names,
                           tuple(self.sources[i] for i in idx))

    def box_counts(self) -> dict[str, int]:
        counts = np.bincount(np.concatenate([t.classes for t in self.truth] + [np.zeros(0, int)]).astype(int),
                             minlength=len(self.class_names))
        return {name: int(n) for name, n in zip(self.class_names, counts)}


def boxed(found: DetectionSet, class_names: Sequence[str], image_size: tuple[int, int]) -> BoxedImages:
    """``found``'s images at ``image_size`` with their boxes as fractions, classes by ``class_names``."""
    index = [list(class_names).index(name) for name in found.class_names]
    images = np.stack([load_stored(image.path, image_size) for image in found.images])
    truth = tuple(Truth(
        width=image.width, height=image.height,
        boxes=np.asarray([(b.y0 / image.height, b.x0 / image.width, b.y1 / image.height, b.x1 / image.width)
                          for b in image.boxes], np.float32).reshape(-1, 4),
        classes=np.asarray([index[b.label] for b in image.boxes], np.int64)) for image in found.images)
    return BoxedImages(images, truth, tuple(class_names), tuple(image.path for image in found.images))


def load_stored(path: str, size: tuple[int, int]) -> np.ndarray:
    """The image as stored (no EXIF rotation: annotation tools draw on the stored pixels),
    as RGB at ``size`` (height, width)."""
    from PIL import Image

    with Image.open(path) as picture:
        rgb = picture.convert("RGB")
        if rgb.size != (size[1], size[0]):
            rgb = rgb.resize((size[1], size[0]), Image.Resampling.BILINEAR)
        return np.asarray(rgb, dtype=np.uint8)
