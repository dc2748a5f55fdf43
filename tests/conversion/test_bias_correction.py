"""Bias correction: the shift that rounded weights add is measured exactly and taken out of the bias."""

import numpy as np
import pytest

from edgekit._tf import keras_module
from edgekit.analyze.model import Op
from edgekit.conversion.bias_correction import _output_shift, _taps_mean, _WeightOp
from edgekit.conversion.pipeline import convert
from tests.conversion.cli import convert_with_flag


def _direct(x, weights, stride, dilation, same, depthwise):
    """Every output of a convolution, by loops: weights [out, kh, kw, in] or [1, kh, kw, channels x multiplier]."""
    _, height, width, channels = x.shape
    kh, kw = weights.shape[1:3]
    eff_h, eff_w = (kh - 1) * dilation + 1, (kw - 1) * dilation + 1
    if same:
        out_h, out_w = -(-height // stride), -(-width // stride)
        top = max((out_h - 1) * stride + eff_h - height, 0) // 2
        left = max((out_w - 1) * stride + eff_w - width, 0) // 2
    else:
        out_h, out_w, top, left = (height - eff_h) // stride + 1, (width - eff_w) // stride + 1, 0, 0
    outputs = weights.shape[3] if depthwise else weights.shape[0]
    y = np.zeros((x.shape[0], out_h, out_w, outputs))
    for oy in range(out_h):
        for ox in range(out_w):
            for i in range(kh):
                for j in range(kw):
                    r, c = oy * stride + i * dilation - top, ox * stride + j * dilation - left
                    if not (0 <= r < height and 0 <= c < width):
                        continue
                    if depthwise:
                        y[:, oy, ox] += weights[0, i, j] * np.repeat(x[:, r, c], outputs // channels, axis=-1)
                    else:
                        y[:, oy, ox] += x[:, r, c] @ weights[:, i, j, :].T
    return y


@pytest.mark.parametrize("depthwise, stride, dilation, same", [
    (False, 2, 1, True), (False, 1, 2, False), (False, 2, 1, False), (True, 2, 1, True), (True, 1, 2, True)])
def test_the_output_shift_equals_the_mean_of_a_convolution_by_the_weight_error(depthwise, stride, dilation, same):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (3, 9, 10, 4))
    error = rng.normal(size=(1, 3, 3, 8) if depthwise else (5, 3, 3, 4))
    options = {"strideH": stride, "strideW": stride, "dilationHFactor": dilation, "dilationWFactor": dilation,
               "padding": "SAME" if same else "VALID"}
    opcode = "DEPTHWISE_CONV_2D" if depthwise else "CONV_2D"
    op = Op(index=0, subgraph=0, opcode=opcode, version=1, custom=False, inputs=(), outputs=(), options=options)
    weight_op = _WeightOp("depthwise" if depthwise else "conv", op, error.astype(np.float32))
    expected = _direct(x, error, stride, dilation, same, depthwise).mean(axis=(0, 1, 2))
    np.testing.assert_allclose(_output_shift(weight_op, error, _taps_mean(weight_op, x)), expected, rtol=1e-9)


@pytest.fixture(scope="module")
def rounding_biased_model(tmp_path_factory):
    """A model whose int8 weights round with a bias: each filter has one tap of 1.0 and many
    of 0.003, under half of the int8 step (1/127), which all round to zero; on inputs of
    mean 0.5 each output channel loses about 0.1."""
    keras = keras_module()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((12, 12, 8), name="pixels")
    conv = keras.layers.Conv2D(6, 3, padding="same", name="conv")
    depthwise = keras.layers.DepthwiseConv2D(3, padding="same", name="depthwise")
    h = depthwise(keras.layers.ReLU(name="relu")(conv(inputs)))
    h = keras.layers.GlobalAveragePooling2D(name="pool")(h)
    model = keras.Model(inputs, keras.layers.Dense(3, name="scores")(h))
    kernel = np.full((3, 3, 8, 6), 0.003, np.float32)
    kernel[1, 1, np.arange(6), np.arange(6)] = 1.0
    conv.set_weights([kernel, np.zeros(6, np.float32)])
    taps = np.full((3, 3, 6, 1), 0.004, np.float32)
    taps[1, 1] = 1.0
    depthwise.set_weights([taps, np.zeros(6, np.float32)])
    folder = tmp_path_factory.mktemp("biased")
    path = folder / "biased.keras"
    model.save(path)
    samples = folder / "samples.npy"
    np.save(samples, np.random.default_rng(1).uniform(0, 1, (100, 12, 12, 8)).astype(np.float32))
    return path, samples


@pytest.mark.parametrize("target", ["cpu", "cpu-int16x8"])
def test_bias_correction_takes_out_the_shift_that_rounded_weights_add(rounding_biased_model, tmp_path, target):
    path, samples = rounding_biased_model
    snr = {}
    for corrected in (True, False):
        result = convert(path, target=target, calibration=samples, out=tmp_path / str(corrected), progress=False,
                         bias_correction=corrected, min_snr=0.0)
        [scores] = result.report["verification"]["outputs"]
        snr[corrected] = scores["snr_db"]
        assert result.report["bias_correction"] == (
            {"corrected": 3, "weight_ops": 3, "samples": 64} if corrected else None)
    assert snr[True] > snr[False] + 10, snr


def test_bias_correction_is_a_flag_and_a_recipe_option(rounding_biased_model, tmp_path):
    path, samples = rounding_biased_model
    assert "bias_correction = false" in convert_with_flag(path, samples, tmp_path / "off", "--no-bias-correction")
