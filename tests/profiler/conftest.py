"""Real .tflite models for the profiler tests, written once per session."""

from __future__ import annotations

import pytest

from tests.analyze.conftest import (  # noqa: F401 - shared session fixtures
    dynamic_batch_int8,
    flex_model,
    leaky_relu_int8,
)


@pytest.fixture(scope="session")
def small_float_model(tmp_path_factory):
    from edgekit._tf import keras_module
    from edgekit.conversion import to_tflite
    from edgekit.targets import ConvertSettings

    keras = keras_module()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((24, 24, 3))
    x = keras.layers.Conv2D(16, 3, activation="relu")(inputs)
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(5, activation="softmax")(x))
    path = tmp_path_factory.mktemp("profile_models") / "small.tflite"
    path.write_bytes(to_tflite(model, ConvertSettings(), batch_size=1))
    return path
