"""Conversion of Keras models to TensorFlow Lite for a target profile."""

from edgekit.conversion.tflite import saved_model_to_tflite, to_tflite

__all__ = ["saved_model_to_tflite", "to_tflite"]
