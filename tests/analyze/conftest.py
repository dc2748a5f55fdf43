"""Models with known answers, made here with TensorFlow and written as real .tflite files."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit._tf import keras_module, tensorflow
from edgekit.conversion import to_tflite
from edgekit.targets import ConvertSettings, Quantization, TensorType, load_target

INT8_UINT8_IO = load_target("edgetpu").convert


def _calibration(shape, n=8):
    return np.random.default_rng(0).uniform(0, 255, (n, *shape)).astype(np.float32)


def write(tmp_path_factory, name: str, data: bytes):
    path = tmp_path_factory.mktemp("models") / f"{name}.tflite"
    path.write_bytes(data)
    return path


def mobilenet_like():
    """MobileNetV2 (alpha 0.35, 32x32) with a softmax head: the classic Edge TPU model."""
    keras = keras_module()
    keras.utils.set_random_seed(0)
    base = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, include_top=False, weights=None)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(base(x))
    return keras.Model(inputs, keras.layers.Dense(4, activation="softmax", name="head")(x))


@pytest.fixture(scope="session")
def mobilenet_int8(tmp_path_factory):
    model = mobilenet_like()
    return write(tmp_path_factory, "mobilenet_int8",
                 to_tflite(model, INT8_UINT8_IO, batch_size=1, representative=_calibration((32, 32, 3))))


@pytest.fixture(scope="session")
def mobilenet_float32(tmp_path_factory):
    return write(tmp_path_factory, "mobilenet_f32", to_tflite(mobilenet_like(), ConvertSettings(), batch_size=1))


@pytest.fixture(scope="session")
def mobilenet_float16(tmp_path_factory):
    settings = ConvertSettings(quantization=Quantization.FLOAT16)
    return write(tmp_path_factory, "mobilenet_f16", to_tflite(mobilenet_like(), settings, batch_size=1))


@pytest.fixture(scope="session")
def leaky_relu_int8(tmp_path_factory):
    """conv -> conv -> LeakyReLU -> conv -> pool -> dense: LEAKY_RELU is not an Edge TPU op."""
    keras = keras_module()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu", name="first_conv")(inputs)
    x = keras.layers.Conv2D(8, 3, name="second_conv")(x)
    x = keras.layers.LeakyReLU(0.1, name="leaky")(x)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="third_conv")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    return write(tmp_path_factory, "leaky",
                 to_tflite(model, INT8_UINT8_IO, batch_size=1, representative=_calibration((16, 16, 3))))


@pytest.fixture(scope="session")
def dynamic_batch_int8(tmp_path_factory):
    keras = keras_module()
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    settings = ConvertSettings(quantization=Quantization.INT8, input_type=TensorType.INT8, output_type=TensorType.INT8)
    return write(tmp_path_factory, "dynamic",
                 to_tflite(model, settings, batch_size=0, representative=_calibration((8, 8, 3))))


def convert_function(fn, signature, *, resource_variables=False, select_tf_ops=False, trackable=None,
                     int8_samples=None) -> bytes:
    """``fn`` traced at ``signature`` and converted; ``int8_samples`` (lists of inputs):
    fully int8, calibrated on them."""
    tf = tensorflow()
    concrete = tf.function(fn).get_concrete_function(*signature)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], trackable)
    if int8_samples is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: iter(int8_samples)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if resource_variables:
        converter.experimental_enable_resource_variables = True
    if select_tf_ops:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    return converter.convert()


@pytest.fixture(scope="session")
def resource_variable_model(tmp_path_factory):
    tf = tensorflow()

    class Counter(tf.Module):
        def __init__(self):
            self.total = tf.Variable(tf.zeros([4]))

        def __call__(self, x):
            self.total.assign_add(x[0])
            return self.total * 2.0

    module = Counter()
    data = convert_function(module.__call__, [tf.TensorSpec([1, 4], tf.float32)], resource_variables=True,
                            trackable=module)
    return write(tmp_path_factory, "variables", data)


@pytest.fixture(scope="session")
def complex_model(tmp_path_factory):
    tf = tensorflow()
    data = convert_function(lambda x: tf.abs(tf.signal.rfft2d(x)), [tf.TensorSpec([1, 8, 8], tf.float32)])
    return write(tmp_path_factory, "rfft", data)


@pytest.fixture(scope="session")
def cumsum_model(tmp_path_factory):
    tf = tensorflow()
    data = convert_function(lambda x: tf.nn.relu(tf.math.cumsum(x, axis=1)), [tf.TensorSpec([1, 16], tf.float32)])
    return write(tmp_path_factory, "cumsum", data)


@pytest.fixture(scope="session")
def log_softmax_model(tmp_path_factory):
    """LOG_SOFTMAX, which LiteRT's GPU accelerator was measured leaving to the CPU, then a RELU."""
    tf = tensorflow()
    data = convert_function(lambda x: tf.nn.relu(tf.nn.log_softmax(x)), [tf.TensorSpec([1, 16], tf.float32)])
    return write(tmp_path_factory, "log_softmax", data)


@pytest.fixture(scope="session")
def flex_model(tmp_path_factory):
    """A TensorFlow (Flex) op: LiteRT's interpreter has no kernel for it."""
    tf = tensorflow()
    data = convert_function(lambda x: tf.raw_ops.Bincount(arr=x, size=4, weights=tf.constant([], tf.float32)),
                            [tf.TensorSpec([6], tf.int32)], select_tf_ops=True)
    return write(tmp_path_factory, "flex", data)
