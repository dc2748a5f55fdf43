"""Decoding one image file into the RGB uint8 array a model sees. Pillow only, no TensorFlow."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from edgekit.errors import first_line

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"})


class ImageDecodeError(Exception):
    """One file could not be decoded; the message says why."""


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def load_image(path: str | Path, size: tuple[int, int]) -> np.ndarray:
    """Read ``path`` as an RGB uint8 array of shape ``(height, width, 3)``.

    EXIF orientation is applied first so a phone photo taken in portrait is not
    trained on its side; grayscale, palette and alpha images become RGB (alpha is
    composited on white, as a viewer shows it).
    """
    height, width = size
    try:
        with warnings.catch_warnings():
            # A truncated file or a decompression-bomb warning must become a skip, not noise.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()
                img = ImageOps.exif_transpose(img)
                img = _to_rgb(img)
                if img.size != (width, height):
                    img = img.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=3.0)
                return np.asarray(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
        raise ImageDecodeError(_describe(exc)) from None


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode == "RGB":
        return img
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGB", img.size, (255, 255, 255))
        background.paste(img.convert("RGBA"), mask=img.convert("RGBA").getchannel("A"))
        return background
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit grayscale (medical, depth): scale to 8 bits instead of clipping.
        arr = np.asarray(img, dtype=np.float64)
        top = arr.max() or 1.0
        img = Image.fromarray((arr * (255.0 / top)).astype(np.uint8))
    return img.convert("RGB")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, UnidentifiedImageError):
        return "not a recognised image format"
    return first_line(exc)
