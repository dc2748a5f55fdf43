"""Calibration and verification samples for a model's inputs, by input name.

From a folder of images (one image input; pixels scaled as the model expects), from
``.npy`` (one input) or ``.npz`` (one array per input, by name or in input order), or
from Python: an array, a list or dict of arrays, or a ``tf.data.Dataset``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from edgekit.conversion.source import Port
from edgekit.data.images import ImageDecodeError, is_image_file, load_image
from edgekit.errors import DataError

Samples = dict[str, np.ndarray]


def load_samples(data: Any, inputs: Sequence[Port], *, mean: float = 0.0, std: float = 1.0,
                 limit: int = 1000) -> Samples:
    """At most ``limit`` samples for ``inputs``; image pixels become ``(pixel - mean) / std``."""
    if isinstance(data, (str, Path)):
        path = Path(data)
        if not path.exists():
            raise DataError(f"calibration data {path} does not exist")
        if path.is_dir():
            return _images(path, inputs, mean, std, limit)
        if path.suffix == ".npy":
            return _check(_arrays([np.load(path)], inputs, str(path)), inputs, str(path), limit)
        if path.suffix == ".npz":
            with np.load(path) as archive:
                named = {key: archive[key] for key in archive.files}
            return _check(_named(named, inputs, str(path)), inputs, str(path), limit)
        raise DataError(f"calibration data {path}: expected a folder of images, a .npy or a .npz file")
    if isinstance(data, np.ndarray):
        return _check(_arrays([data], inputs, "the array"), inputs, "the array", limit)
    if isinstance(data, dict):
        return _check(_named(data, inputs, "the arrays"), inputs, "the arrays", limit)
    if isinstance(data, (list, tuple)):
        return _check(_arrays(list(data), inputs, "the arrays"), inputs, "the arrays", limit)
    if type(data).__name__.endswith("Dataset"):
        return _check(_dataset(data, inputs, limit), inputs, "the dataset", limit)
    raise DataError(f"calibration data must be a folder, .npy/.npz, arrays or a tf.data.Dataset, "
                    f"not {type(data).__name__}")


def split(samples: Samples, held_back: int) -> tuple[Samples, Samples]:
    """(calibration, verification): ``held_back`` samples spread evenly over the set (sorted
    image folders group by class; a tail would be one class) are never calibrated on."""
    count = len(next(iter(samples.values())))
    verify = held_back_indices(count, held_back)
    calibrate = np.setdiff1d(np.arange(count), verify)
    return ({k: v[calibrate] for k, v in samples.items()}, {k: v[verify] for k, v in samples.items()})


def held_back_indices(count: int, held_back: int) -> np.ndarray:
    held_back = min(held_back, count - 1)
    if held_back < 1:
        raise DataError(f"{count} sample(s): at least 2 are needed, one to calibrate and one to verify")
    return np.unique(np.linspace(0, count - 1, held_back).round().astype(int))


def _images(folder: Path, inputs: Sequence[Port], mean: float, std: float, limit: int) -> Samples:
    images = [p for p in folder.rglob("*") if is_image_file(p)]
    if not images:
        raise DataError(f"calibration folder {folder} has no images (jpg, png, bmp, gif, webp)")
    if len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].shape[-1] not in (1, 3):
        raise DataError(f"calibration images need a model with one image input (N, H, W, 1 or 3); this one takes "
                        f"{', '.join(f'{p.name} {list(p.shape)}' for p in inputs)}: give a .npz of arrays")
    port = inputs[0]
    height, width, channels = port.shape[1:]
    if height is None or width is None:
        raise DataError(f"input {port.name} has a dynamic size {list(port.shape)}: give a .npz of arrays")
    # Spread over the whole folder (sorted paths group by class), reproducibly.
    chosen = sorted(images)
    if len(chosen) > limit:
        chosen = [chosen[i] for i in np.linspace(0, len(chosen) - 1, limit).astype(int)]
    pixels = []
    for path in chosen:
        try:
            pixels.append(load_image(path, (height, width)))
        except ImageDecodeError:
            continue  # a bad file among calibration images is not worth stopping for
    if not pixels:
        raise DataError(f"calibration folder {folder}: no image could be read")
    batch = np.stack(pixels).astype(np.float32)
    if channels == 1:
        batch = batch.mean(axis=-1, keepdims=True)
    return {port.name: ((batch - mean) / std).astype(port.dtype)}


def _arrays(arrays: list, inputs: Sequence[Port], where: str) -> Samples:
    if len(arrays) != len(inputs):
        raise DataError(f"{where}: {len(arrays)} array(s) for a model with {len(inputs)} input(s) "
                        f"({', '.join(p.name for p in inputs)})")
    return {port.name: np.asarray(a) for port, a in zip(inputs, arrays)}


def _named(named: dict, inputs: Sequence[Port], where: str) -> Samples:
    names = [p.name for p in inputs]
    if set(names) <= set(named):
        return {name: np.asarray(named[name]) for name in names}
    positional = [f"arr_{i}" for i in range(len(inputs))]
    if set(positional) <= set(named):
        return {name: np.asarray(named[key]) for name, key in zip(names, positional)}
    raise DataError(f"{where}: arrays {', '.join(sorted(named))} do not name the model's inputs "
                    f"({', '.join(names)}); use those names or arr_0, arr_1, ... in input order")


def _dataset(dataset: Any, inputs: Sequence[Port], limit: int) -> Samples:
    parts: dict[str, list] = {p.name: [] for p in inputs}
    taken = 0
    for element in dataset:
        # (features, labels) pairs: the features only.
        x = element[0] if isinstance(element, tuple) and len(element) == 2 and len(inputs) == 1 else element
        values = _named(dict(x), inputs, "the dataset") if isinstance(x, dict) else _arrays(
            list(x) if isinstance(x, (list, tuple)) else [x], inputs, "the dataset")
        for name, value in values.items():
            parts[name].append(np.asarray(value))
        taken += len(next(iter(values.values())))
        if taken >= limit:
            break
    if not taken:
        raise DataError("the dataset is empty")
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}


def _check(samples: Samples, inputs: Sequence[Port], where: str, limit: int) -> Samples:
    counts = {len(v) for v in samples.values()}
    if len(counts) != 1 or 0 in counts:
        raise DataError(f"{where}: every input needs the same, non-zero number of samples")
    out = {}
    for port in inputs:
        value = samples[port.name]
        expected = port.shape[1:]
        if value.ndim != len(port.shape) or any(e is not None and e != d for e, d in zip(expected, value.shape[1:])):
            raise DataError(f"{where}: input {port.name} takes {list(port.shape)}, the samples are "
                            f"{list(value.shape)}")
        if not np.all(np.isfinite(value.astype(np.float64))):
            raise DataError(f"{where}: samples for {port.name} hold NaN or infinite values")
        out[port.name] = value[:limit].astype(port.dtype)
    return out


def calibration_draw(images: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``count`` of ``images`` drawn at random, in their order, as float32: the calibration
    set of a build. Drawn across the whole training split (not its first N files, which sort
    by class) so every class contributes to the activation ranges."""
    rng = np.random.default_rng(seed)
    take = rng.permutation(len(images))[: max(1, min(count, len(images)))]
    return images[np.sort(take)].astype(np.float32)
