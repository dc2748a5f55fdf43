"""A convolution clustered with one codebook keeps one set of int8 codes across its channels."""

import numpy as np
import pytest

from edgekit._tf import keras_module
from edgekit.analyze import read_model
from edgekit.analyze.weights import constant_array
from edgekit.conversion import to_tflite
from edgekit.inference import predict
from edgekit.optimization.codebook import has_shared_codebook
from edgekit.optimization.quantize import quantize_aware
from edgekit.targets import load_target

CODEBOOK = np.array([-0.3, -0.1, 0.0, 0.05, 0.2], dtype=np.float32)


def _clustered_model(rng):
    """Conv -> BN -> ReLU twice; the second kernel drawn from CODEBOOK, its BN scales unlike per channel."""
    keras = keras_module()
    inputs = keras.Input((16, 16, 3))
    x = inputs
    for i, filters in enumerate((8, 16)):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="classifier")(x))
    kernel = model.get_layer("conv1").kernel
    kernel.assign(CODEBOOK[rng.integers(0, len(CODEBOOK), kernel.shape)])
    bn = model.get_layer("bn1")
    gamma, beta, mean, var = bn.get_weights()
    bn.set_weights([rng.uniform(0.2, 3.0, gamma.shape), beta, mean, rng.uniform(0.5, 2.0, var.shape)])
    return model


def _int8_kernel(tflite: bytes, layer: str) -> np.ndarray:
    info = read_model(tflite)
    for tensor in info.main.tensors:
        if f"{layer}/" in tensor.name and tensor.dtype == "INT8" and len(tensor.shape) == 4 and tensor.is_constant:
            return constant_array(tflite, info, 0, tensor.index)
    raise AssertionError(f"no int8 kernel for {layer}")


def _train_and_convert(model, shared, images, labels):
    quantized, _ = quantize_aware(model, "PCQAT", shared)
    quantized.compile(keras_module().optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    quantized.fit(images, labels, epochs=3, batch_size=8, verbose=0)
    tflite = to_tflite(quantized, load_target("cpu").convert, batch_size=1, representative=images[:16])
    return quantized, tflite


@pytest.mark.slow
def test_shared_codebook_survives_training_and_batchnorm_folding():
    rng = np.random.default_rng(0)
    model = _clustered_model(rng)
    assert has_shared_codebook(model.get_layer("conv1"), len(CODEBOOK))
    assert not has_shared_codebook(model.get_layer("conv0"), len(CODEBOOK))
    zeros_before = model.get_layer("conv1").kernel.numpy() == 0
    images = rng.uniform(0, 255, (64, 16, 16, 3)).astype(np.float32)
    labels = rng.integers(0, 3, 64)

    quantized, tflite = _train_and_convert(model, ["conv1"], images, labels)
    kernel = _int8_kernel(tflite, "conv1")
    # TFLite stores (out, h, w, in); Keras (h, w, in, out).
    assert np.array_equal(kernel == 0, np.transpose(zeros_before, (3, 0, 1, 2)))
    assert len(np.unique(kernel)) <= len(CODEBOOK)
    # Every channel uses the same codes, whatever its BatchNorm scale.
    assert {tuple(np.unique(channel)) for channel in kernel} == {tuple(np.unique(kernel))}
    # The int8 model still computes what the QAT model computes.
    got = predict(tflite, images.astype(np.uint8))
    assert np.abs(got - quantized.predict(images, verbose=0)).max() < 0.1

    # tfmot's own cluster-preserving quantizer, for contrast: per-channel ranges scatter the codes.
    _, tflite = _train_and_convert(_clustered_model(np.random.default_rng(0)), [], images, labels)
    assert len(np.unique(_int8_kernel(tflite, "conv1"))) > len(CODEBOOK)
