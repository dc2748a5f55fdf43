"""The one place TensorFlow and Keras 2 are imported.

tensorflow-model-optimization works only with Keras 2 (the ``tf_keras`` package), and
TensorFlow picks its Keras once, on first import, from ``TF_USE_LEGACY_KERAS``. So the
variable is set here, right before TensorFlow is first imported, and only when a
caller asks for TensorFlow: importing edgekit itself changes nothing.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any

from edgekit.errors import MissingDependencyError

_INSTALL_HINT = 'the builder needs TensorFlow: pip install "edgekit[build]"'


@functools.cache
def tensorflow() -> Any:
    if "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
        # TensorFlow's C++ start-up chatter (CUDA probing, oneDNN notices) is not for users.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise MissingDependencyError(f"{_INSTALL_HINT} ({exc})") from None
    return tf


@functools.cache
def keras_module() -> Any:
    tensorflow()
    try:
        import tf_keras
    except ImportError as exc:
        raise MissingDependencyError(f"{_INSTALL_HINT} (tf-keras is missing: {exc})") from None
    return tf_keras
