"""QAT wraps every backbone the builder offers: unknown layers are handled and listed, never a crash."""

import numpy as np
import pytest

from edgekit._tf import keras_module
from edgekit.models import Backbone, WeightsSpec, build_backbone, build_classifier
from edgekit.optimization.flatten import flatten_model
from edgekit.optimization.quantize import quantize_aware
from edgekit.optimization.tfmot import tfmot


@pytest.mark.parametrize("backbone", list(Backbone))
@pytest.mark.slow
def test_quantize_aware_on_every_backbone(backbone):
    alpha = 1.0 if backbone == Backbone.EFFICIENTNET_B0 else 0.35 if backbone != Backbone.SMALL_CNN else 0.5
    if backbone in (Backbone.MOBILENET_V3_SMALL, Backbone.MOBILENET_V3_LARGE):
        alpha = 0.75  # keras.applications' smallest MobileNetV3 width
    model = build_classifier(build_backbone(backbone, (32, 32), alpha=alpha, weights=WeightsSpec.parse("none")), 3)
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    flat = flatten_model(model)
    np.testing.assert_allclose(flat.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-5)
    quantized, handled = quantize_aware(flat, "QAT")
    scores = quantized.predict(images, verbose=0)
    assert scores.shape == (2, 3) and np.all(np.isfinite(scores))

    # Handled: exactly the layers tfmot's registry refuses, except BatchNorm right after a
    # convolution (tfmot folds that pair itself). Every backbone has at least its preprocessing.
    keras = keras_module()
    registry = tfmot().quantization.keras.default_8bit.Default8BitQuantizeRegistry()

    def after_convolution(layer):
        inbound = layer._inbound_nodes[0].inbound_layers
        return isinstance(inbound, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))

    refused = {layer.name for layer in flat.layers if not isinstance(layer, keras.layers.InputLayer)
               and not registry.supports(layer)
               and not (isinstance(layer, keras.layers.BatchNormalization) and after_convolution(layer))}
    assert set(handled) == refused and "preprocess" in refused
    # Each is wrapped with an output quantizer, or (a TF-function layer) left as it was.
    names = {layer.name for layer in quantized.layers}
    assert all(f"quant_{name}" in names or name in names for name in handled)


@pytest.mark.slow
@pytest.mark.parametrize("backbone", [Backbone.MOBILENET_V3_SMALL])  # the hard case: hard-swish as TF ops
def test_qat_backbone_converts_to_int8_that_agrees(backbone):
    from edgekit.conversion import to_tflite
    from edgekit.inference import predict
    from edgekit.targets import load_target

    alpha = 0.75 if backbone == Backbone.MOBILENET_V3_SMALL else 1.0
    model = build_classifier(build_backbone(backbone, (32, 32), alpha=alpha, weights=WeightsSpec.parse("none")), 3)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (32, 32, 32, 3)).astype(np.float32)
    quantized, _ = quantize_aware(flatten_model(model), "QAT")
    # A few training steps let the fake-quant ranges see real activations.
    quantized.compile("adam", "sparse_categorical_crossentropy")
    quantized.fit(images, rng.integers(0, 3, 32), epochs=2, verbose=0)
    tflite = to_tflite(quantized, load_target("cpu").convert, batch_size=1, representative=images[:16])
    expected = quantized.predict(images, verbose=0)
    got = predict(tflite, images.astype(np.uint8))
    assert np.abs(got - expected).max() < 0.15
