"""The one import of tensorflow-model-optimization, after TensorFlow has been set to Keras 2."""

from __future__ import annotations

import functools
from typing import Any

from edgekit._tf import keras_module
from edgekit.errors import MissingDependencyError


@functools.cache
def tfmot() -> Any:
    keras_module()
    try:
        import tensorflow_model_optimization as module
    except ImportError as exc:
        raise MissingDependencyError(
            f'optimisation stages need tensorflow-model-optimization: pip install "edgekit[build]" ({exc})'
        ) from None
    return module
