"""Labelled images in memory: loading a class-per-folder tree or arrays, and splitting them.

Images are decoded once, in parallel, at the model's input size. Decoding up front is
what lets a corrupt file be skipped and reported before the split, so the train and
validation sets (and the report's counts) are exactly what the model saw.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from edgekit.data.images import ImageDecodeError, is_image_file, load_image
from edgekit.errors import DataError
from edgekit.progress import Progress, resolve


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str


@dataclass(frozen=True, eq=False)
class LabelledImages:
    """``images``: (N, H, W, 3) uint8 pixels 0-255; ``labels``: (N,) int class indices."""

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    sources: tuple[str, ...]
    skipped: tuple[SkippedFile, ...] = ()
    ignored: int = 0
    root: str | None = field(default=None)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.images.shape[1]), int(self.images.shape[2])

    def counts(self) -> dict[str, int]:
        per_class = np.bincount(self.labels, minlength=len(self.class_names))
        return {name: int(n) for name, n in zip(self.class_names, per_class)}

    def subset(self, indices: Sequence[int] | np.ndarray) -> "LabelledImages":
        idx = np.asarray(indices, dtype=np.int64)
        return LabelledImages(
            images=self.images[idx],
            labels=self.labels[idx],
            class_names=self.class_names,
            sources=tuple(self.sources[i] for i in idx),
            root=self.root,
        )


def scan_image_folder(root: str | Path, class_names: Sequence[str] | None = None,
                      ) -> tuple[list[str], list[tuple[Path, int]], int]:
    """(class names, (image file, label) pairs, files ignored as not images), without decoding.

    Everything about the folder's layout that can be wrong is found here, in a listing,
    before an image is decoded or a backbone downloaded.
    """
    root = Path(root)
    if not root.exists():
        raise DataError(f"data folder {root} does not exist")
    if not root.is_dir():
        raise DataError(f"data folder {root} is not a folder: give a folder with one sub-folder per class")
    found = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not found:
        hint = " (it holds images directly: move them into one sub-folder per class)" if any(
            is_image_file(p) for p in root.iterdir()
        ) else ""
        raise DataError(f"data folder {root} has no class sub-folders{hint}")
    if class_names is None:
        names = [p.name for p in found]
    else:
        names = list(class_names)
        extra = sorted({p.name for p in found} - set(names))
        if extra:
            raise DataError(f"data folder {root} has classes outside the known ones ({', '.join(names)}): "
                            f"{', '.join(extra)}")

    files: list[tuple[Path, int]] = []
    ignored = 0
    for label, name in enumerate(names):
        folder = root / name
        if not folder.is_dir():
            continue  # a validation folder may lack a class; its counts show 0
        entries = sorted(p for p in folder.rglob("*") if p.is_file())
        images = [p for p in entries if is_image_file(p)]
        ignored += len(entries) - len(images)
        if not images:
            raise DataError(f"class folder {folder} has no images (jpg, png, bmp, gif, webp)")
        files.extend((p, label) for p in images)
    if class_names is None and len(names) < 2:
        raise DataError(f"data folder {root} has a single class ({names[0]}): a classifier needs at least two")

    return names, files, ignored


def load_image_folder(
    root: str | Path,
    image_size: tuple[int, int],
    *,
    strict: bool = False,
    class_names: Sequence[str] | None = None,
    workers: int | None = None,
    progress: bool | Progress | None = None,
) -> LabelledImages:
    """Load ``root/<class>/**/<image>`` into memory at ``image_size`` (height, width).

    ``class_names`` fixes the class order, as for a validation folder that must use
    the training folder's classes; otherwise classes are the sub-folders sorted by name.
    Unreadable images are skipped and listed, or raise with ``strict=True``. ``progress``
    counts the images decoded (a Progress, or True for lines on stderr).
    """
    root = Path(root)
    names, files, ignored = scan_image_folder(root, class_names)
    pixels, skipped = _decode_all([p for p, _ in files], image_size, workers, resolve(progress))
    if skipped and strict:
        first = skipped[0]
        more = f" (and {len(skipped) - 1} more)" if len(skipped) > 1 else ""
        raise DataError(f"cannot read image {first.path}: {first.reason}{more}")
    keep = [i for i, arr in enumerate(pixels) if arr is not None]
    labels = np.array([files[i][1] for i in keep], dtype=np.int64)
    for label, name in enumerate(names):
        if (root / name).is_dir() and not np.any(labels == label):
            raise DataError(f"class folder {root / name} has no readable images")
    height, width = image_size
    stacked = np.stack([pixels[i] for i in keep]) if keep else np.zeros((0, height, width, 3), np.uint8)
    return LabelledImages(
        images=stacked,
        labels=labels,
        class_names=tuple(names),
        sources=tuple(str(files[i][0]) for i in keep),
        skipped=tuple(skipped),
        ignored=ignored,
        root=str(root),
    )


def _decode_all(
    paths: list[Path], size: tuple[int, int], workers: int | None, say: Progress
) -> tuple[list[np.ndarray | None], list[SkippedFile]]:
    def decode(path: Path) -> np.ndarray | SkippedFile:
        try:
            return load_image(path, size)
        except ImageDecodeError as exc:
            return SkippedFile(str(path), str(exc))

    # Pillow releases the GIL while decoding and resizing, so threads scale.
    workers = workers or min(8, (os.cpu_count() or 1) + 2)
    pixels: list[np.ndarray | None] = []
    skipped: list[SkippedFile] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done, result in enumerate(pool.map(decode, paths, chunksize=16), start=1):
            if isinstance(result, SkippedFile):
                skipped.append(result)
                pixels.append(None)
            else:
                pixels.append(result)
            if done % 256 == 0 or done == len(paths):
                say.count("decoded", done, len(paths))
    return pixels, skipped


def from_arrays(
    images: np.ndarray,
    labels: Sequence | np.ndarray,
    *,
    class_names: Sequence[str] | None = None,
    image_size: tuple[int, int] | None = None,
) -> LabelledImages:
    """Wrap arrays as a data set.

    ``images``: (N, H, W), (N, H, W, 1), (N, H, W, 3) or (N, H, W, 4), pixel values
    0-255 (uint8 or float). ``labels``: integer class indices, or class names.
    """
    x = np.asarray(images)
    y = np.asarray(labels)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3, 4):
        raise DataError(f"images must have shape (N, H, W) or (N, H, W, 1|3|4), got {x.shape}")
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise DataError(f"labels must have shape ({x.shape[0]},) to match the images, got {y.shape}")
    if x.shape[0] == 0:
        raise DataError("no images: the arrays are empty")
    if x.dtype != np.uint8:
        if not np.issubdtype(x.dtype, np.number):
            raise DataError(f"images must be numeric, got {x.dtype}")
        lo, hi = float(np.min(x)), float(np.max(x))
        if lo < 0 or hi > 255:
            raise DataError(f"pixel values must lie in 0-255, got {lo:g}..{hi:g}")
        x = np.rint(x).astype(np.uint8)
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    elif x.shape[-1] == 4:
        x = x[..., :3]
    if image_size is not None and tuple(x.shape[1:3]) != tuple(image_size):
        x = _resize_all(x, image_size)

    if np.issubdtype(y.dtype, np.integer):
        n_classes = int(y.max()) + 1
        if y.min() < 0:
            raise DataError("labels must be non-negative class indices")
        names = tuple(class_names) if class_names is not None else tuple(str(i) for i in range(n_classes))
        if len(names) < n_classes:
            raise DataError(f"labels go up to {n_classes - 1} but only {len(names)} class names were given")
        label_idx = y.astype(np.int64)
    else:
        names = tuple(class_names) if class_names is not None else tuple(sorted({str(v) for v in y}))
        lookup = {name: i for i, name in enumerate(names)}
        try:
            label_idx = np.array([lookup[str(v)] for v in y], dtype=np.int64)
        except KeyError as exc:
            raise DataError(f"label {exc.args[0]!r} is not among the class names") from None
    if len(set(label_idx.tolist())) < 2:
        raise DataError("the labels hold a single class: a classifier needs at least two")
    return LabelledImages(
        images=np.ascontiguousarray(x),
        labels=label_idx,
        class_names=names,
        sources=tuple(f"array[{i}]" for i in range(x.shape[0])),
    )


def _resize_all(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    height, width = size
    out = np.empty((x.shape[0], height, width, 3), np.uint8)
    for i, img in enumerate(x):
        out[i] = np.asarray(Image.fromarray(img).resize((width, height), Image.Resampling.BILINEAR))
    return out


def stratified_split(data: LabelledImages, val_fraction: float, seed: int) -> tuple[LabelledImages, LabelledImages]:
    """Hold out ``val_fraction`` of every class (at least one image), reproducibly for ``seed``."""
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"validation fraction must be between 0 and 1, got {val_fraction}")
    rng = np.random.default_rng(seed)
    train_idx: list[int] = []
    val_idx: list[int] = []
    for label, name in enumerate(data.class_names):
        idx = np.flatnonzero(data.labels == label)
        if idx.size < 2:
            where = f" ({data.root}/{name})" if data.root else ""
            raise DataError(
                f"class {name!r}{where} has {idx.size} image(s): at least 2 are needed to hold one out for validation"
            )
        idx = rng.permutation(idx)
        n_val = min(idx.size - 1, max(1, int(round(idx.size * val_fraction))))
        val_idx.extend(idx[:n_val].tolist())
        train_idx.extend(idx[n_val:].tolist())
    return data.subset(sorted(train_idx)), data.subset(sorted(val_idx))
