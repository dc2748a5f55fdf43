"""`edgekit check --target gpu` against LiteRT's GPU accelerator itself, where a GPU is present.

Marked ``gpu``: CI and most machines have no GPU, and the test skips there, saying so.
On a machine with one, each model's verdict must match what the accelerator does:
fully accelerated exactly when check says it runs fully on the GPU.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgekit._tf import tensorflow
from edgekit.analyze import check

_GPU_DEVICES = ("/dev/nvidia0", "/dev/dri/renderD128", "/dev/kgsl-3d0", "/dev/mali0")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not any(Path(d).exists() for d in _GPU_DEVICES),
                       reason="no GPU on this machine (none of " + ", ".join(_GPU_DEVICES) + ")"),
]


def _convert(fn, shape):
    tf = tensorflow()
    concrete = tf.function(fn, input_signature=[tf.TensorSpec(shape, tf.float32)]).get_concrete_function()
    return bytes(tf.lite.TFLiteConverter.from_concrete_functions([concrete]).convert())


def _models() -> dict:
    tf = tensorflow()
    rng = np.random.default_rng(0)
    kernel = tf.constant(rng.normal(size=(3, 3, 3, 8)).astype(np.float32))
    dense = tf.constant(rng.normal(size=(8, 4)).astype(np.float32))
    return {
        # Convolution, ReLU, pooling, a matrix product: the GPU delegate's core ops.
        "conv_net": _convert(lambda x: tf.matmul(tf.reduce_mean(tf.nn.relu(
            tf.nn.conv2d(x, kernel, 1, "SAME")), axis=[1, 2]), dense), (1, 16, 16, 3)),
        # A running sum along the channels: no GPU kernel in the rules.
        "cumsum": _convert(lambda x: tf.math.cumsum(x, axis=-1), (1, 8, 8, 3)),
    }


@pytest.mark.parametrize("name", ["conv_net", "cumsum"])
def test_the_gpu_verdict_matches_the_gpu_accelerator(name, tmp_path):
    import edgekit

    path = tmp_path / f"{name}.tflite"
    path.write_bytes(_models()[name])
    verdict = check(path, "gpu").fully_supported
    measured = edgekit.profile(path, accelerator="gpu", runs=3, warmup=1)
    assert measured.fully_accelerated is not None
    assert verdict == measured.fully_accelerated, (name, verdict, measured.fully_accelerated)
