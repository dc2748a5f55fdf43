"""Conversion of Keras models to TensorFlow Lite for a target profile."""

from edgekit.convert.tflite import to_tflite

__all__ = ["to_tflite"]
