import numpy as np

from edgekit.inference import dequantize, quantize


def test_quantize_uses_the_tensor_parameters_and_saturates():
    detail = {"dtype": np.int8, "quantization": (0.5, -10)}
    q = quantize(np.array([0.0, 1.0, 1000.0, -1000.0], np.float32), detail)
    assert q.tolist() == [-10, -8, 127, -128]
    np.testing.assert_allclose(dequantize(q[:2], detail), [0.0, 1.0])


def test_float_tensors_pass_through():
    detail = {"dtype": np.float32, "quantization": (0.0, 0)}
    values = np.array([1.5, -2.0], np.float32)
    np.testing.assert_array_equal(quantize(values, detail), values)
    np.testing.assert_array_equal(dequantize(values, detail), values)
