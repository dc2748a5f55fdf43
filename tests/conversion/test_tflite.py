"""Each quantization mode converted for real and run in the LiteRT interpreter against Keras."""

import numpy as np
import pytest

from edgekit.conversion import to_tflite
from edgekit.errors import ConfigError
from edgekit.inference import predict
from edgekit.models import WeightsSpec, build_backbone, build_classifier
from edgekit.runtime import find_runtime
from edgekit.targets import ConvertSettings, Quantization, TensorType, load_target


@pytest.fixture(scope="module")
def model_and_images():
    from edgekit._tf import keras_module

    keras_module().utils.set_random_seed(0)
    model = build_classifier(build_backbone("small_cnn", (16, 16), alpha=0.5, weights=WeightsSpec.parse("none")), 4)
    images = np.random.default_rng(1).integers(0, 256, (24, 16, 16, 3), dtype=np.uint8)
    return model, images


@pytest.mark.parametrize(
    "quantization, tolerance",
    [(Quantization.FLOAT32, 1e-5), (Quantization.FLOAT16, 5e-3), (Quantization.DYNAMIC_RANGE, 5e-2)],
)
def test_float_outputs_match_keras(model_and_images, quantization, tolerance):
    model, images = model_and_images
    tflite = to_tflite(model, ConvertSettings(quantization=quantization), batch_size=1)
    expected = model.predict(images.astype(np.float32), verbose=0)
    np.testing.assert_allclose(predict(tflite, images), expected, atol=tolerance)


def test_int8_for_edgetpu_is_uint8_io_batch_one_and_close_to_keras(model_and_images):
    model, images = model_and_images
    settings = load_target("edgetpu").convert
    tflite = to_tflite(model, settings, batch_size=1, representative=images.astype(np.float32))
    interpreter = find_runtime().interpreter(model_content=tflite)
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    assert inp["dtype"] == np.uint8 and out["dtype"] == np.uint8
    assert inp["shape_signature"].tolist() == [1, 16, 16, 3]
    # Every op's tensors are integer: nothing float left for the CPU.
    interpreter.allocate_tensors()
    float_tensors = [t["name"] for t in interpreter.get_tensor_details() if t["dtype"] == np.float32]
    assert float_tensors == []
    expected = model.predict(images.astype(np.float32), verbose=0)
    np.testing.assert_allclose(predict(tflite, images), expected, atol=0.05)


def test_dynamic_batch_is_kept_when_asked(model_and_images):
    model, images = model_and_images
    tflite = to_tflite(model, ConvertSettings(), batch_size=0)
    interpreter = find_runtime().interpreter(model_content=tflite)
    assert interpreter.get_input_details()[0]["shape_signature"].tolist() == [-1, 16, 16, 3]
    expected = model.predict(images.astype(np.float32), verbose=0)
    np.testing.assert_allclose(predict(tflite, images, batch_size=10), expected, atol=1e-5)


def test_integer_io_without_int8_is_refused(model_and_images):
    with pytest.raises(ConfigError, match="needs int8"):
        to_tflite(model_and_images[0], ConvertSettings(input_type=TensorType.UINT8), batch_size=1)
    with pytest.raises(ConfigError, match="representative"):
        to_tflite(model_and_images[0], ConvertSettings(quantization=Quantization.INT8), batch_size=1)
