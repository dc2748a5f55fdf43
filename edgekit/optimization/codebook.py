"""Quantisation-aware training that keeps a clustered convolution's one codebook in int8.

Clustering a kernel with one codebook gives every output channel the same 16 values.
tensorflow-model-optimization's cluster-preserving QAT breaks that twice for a Conv2D:
it trains the centroids of each output channel separately whenever the channels hold
about the same number of values (so the channels drift apart), and it gives each
channel an int8 range of its own (so the same centroid becomes a different int8 code in
every channel). The .tflite then stores up to 16 codes per channel but dozens across the
tensor, and gzip, which codes bytes, sees all of them.

Here the kernel is rebuilt on every step from one trainable codebook and fixed indices
(the zero centroid stays zero when pruning ran before), and every channel's fake-quant
range is the whole tensor's: so every channel holds the same <= 16 int8 codes. The file
stays per-channel quantised (the converter folds each channel's BatchNorm scale into its
quantisation scale, not into the codes). One range for the tensor costs no precision
that clustering had not already given up: 16 levels sit far apart on a 255-level grid.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from edgekit._tf import keras_module, tensorflow
from edgekit.optimization.tfmot import tfmot


def has_shared_codebook(layer: Any, max_values: int) -> bool:
    """A Conv2D whose kernel holds at most ``max_values`` distinct values: it was clustered per tensor."""
    keras = keras_module()
    if type(layer) is not keras.layers.Conv2D:
        return False
    return len(np.unique(layer.kernel.numpy())) <= max_values


def shared_codebook_quantizer(preserve_sparsity: bool) -> Any:
    return _quantizer_class()(preserve_sparsity)


@functools.cache
def _quantizer_class() -> type:
    tf = tensorflow()
    keras = keras_module()
    quantizers = tfmot().quantization.keras.quantizers

    class SharedCodebookQuantizer(quantizers.Quantizer):
        """8-bit symmetric, narrow range; one trainable codebook and one range for the whole kernel."""

        def __init__(self, preserve_sparsity: bool):
            self.preserve_sparsity = preserve_sparsity

        def build(self, tensor_shape, name, layer):
            kernel = getattr(layer.layer, name).numpy()
            values, index = np.unique(kernel, return_inverse=True)
            limit = float(np.abs(values).max())
            channels = int(tensor_shape[-1])
            keep = (values != 0) if self.preserve_sparsity else np.ones_like(values, dtype=bool)
            return {
                "centroids": layer.add_weight(f"{name}_centroids", shape=values.shape, trainable=True,
                                              initializer=keras.initializers.Constant(values)),
                "indices": layer.add_weight(f"{name}_indices", shape=kernel.shape, dtype=tf.int32, trainable=False,
                                            initializer=keras.initializers.Constant(index.reshape(kernel.shape))),
                "keep": tf.constant(keep.astype(np.float32)),
                "min_var": layer.add_weight(f"{name}_min", shape=(channels,), trainable=False,
                                            initializer=keras.initializers.Constant(-limit)),
                "max_var": layer.add_weight(f"{name}_max", shape=(channels,), trainable=False,
                                            initializer=keras.initializers.Constant(limit)),
            }

        def __call__(self, inputs, training, weights, **kwargs):
            kernel = tf.gather(weights["centroids"] * weights["keep"], weights["indices"])
            low, high = weights["min_var"], weights["max_var"]
            if training:
                limit = tf.reduce_max(tf.abs(kernel)) * tf.ones_like(high)
                low = tf.compat.v1.assign(low, -limit)
                high = tf.compat.v1.assign(high, limit)
            return tf.quantization.fake_quant_with_min_max_vars_per_channel(kernel, low, high, num_bits=8,
                                                                            narrow_range=True)

        def get_config(self):
            return {"preserve_sparsity": self.preserve_sparsity}

        def __eq__(self, other):
            return isinstance(other, SharedCodebookQuantizer) and other.preserve_sparsity == self.preserve_sparsity

        def __ne__(self, other):
            return not self.__eq__(other)

    return SharedCodebookQuantizer
