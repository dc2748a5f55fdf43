"""Data sets: image folders or arrays, decoded with Pillow, split, augmented, fed by tf.data."""

from edgekit.data.augment import Augmentation, Flip
from edgekit.data.dataset import LabelledImages, SkippedFile, from_arrays, load_image_folder, stratified_split
from edgekit.data.images import IMAGE_SUFFIXES, ImageDecodeError, load_image

__all__ = [
    "IMAGE_SUFFIXES",
    "Augmentation",
    "Flip",
    "ImageDecodeError",
    "LabelledImages",
    "SkippedFile",
    "from_arrays",
    "load_image",
    "load_image_folder",
    "stratified_split",
]
