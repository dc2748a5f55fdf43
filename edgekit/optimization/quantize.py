"""Quantisation-aware training on real backbones: every layer annotated, none crashing tfmot.

tensorflow-model-optimization quantises the layers its registry knows and raises on any
other (Rescaling, Normalization, TFOpLambda slicing and multiplies, UpSampling2D, ...: a
long-standing complaint in its issue tracker). Such layers get an output-only quantize
config here: their own arithmetic stays float in training, and a fake-quant on their
output gives the converter the int8 range it needs there. (A config with no quantizer
at all leaves the converter without a range for that tensor, and the int8 model
collapses to a constant output.) BatchNormalization right after a convolution is left
to tfmot's own Conv+BN(+ReLU) folding. The report lists the layers handled this way.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any, Sequence

from edgekit._tf import keras_module
from edgekit.optimization.codebook import shared_codebook_quantizer
from edgekit.optimization.tfmot import tfmot


def _output_only_config() -> type:
    quant = tfmot().quantization.keras

    class OutputQuantize(quant.QuantizeConfig):
        """Fake-quantise the layer's output only (8 bits, per tensor, asymmetric)."""

        def get_weights_and_quantizers(self, layer):
            return []

        def get_activations_and_quantizers(self, layer):
            return []

        def set_quantize_weights(self, layer, quantize_weights):
            pass

        def set_quantize_activations(self, layer, quantize_activations):
            pass

        def get_output_quantizers(self, layer):
            return [quant.quantizers.MovingAverageQuantizer(num_bits=8, per_axis=False, symmetric=False,
                                                           narrow_range=False)]

        def get_config(self):
            return {}

    return OutputQuantize


_UNWRAPPABLE = {"TFOpLambda", "SlicingOpLambda"}


def _follows_convolution(layer: Any) -> bool:
    keras = keras_module()
    for node in layer._inbound_nodes:  # noqa: SLF001 - the layer's place in the functional graph
        for parent in node.inbound_layers if isinstance(node.inbound_layers, list) else [node.inbound_layers]:
            if isinstance(parent, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
                return True
    return False


def quantize_aware(model: Any, scheme: str, shared_codebook: Sequence[str] = ()) -> tuple[Any, list[str]]:
    """(the QAT model, names of layers tfmot cannot quantise itself) for a flat functional ``model``.

    ``scheme``: QAT, PQAT (keep pruning's zeros), CQAT (keep clusters) or PCQAT (both).
    ``shared_codebook``: Conv2D layers clustered with one codebook, trained and quantised
    so that every output channel keeps the same int8 codes (see edgekit.optimization.codebook).
    """
    keras = keras_module()
    quant = tfmot().quantization.keras
    registry = quant.default_8bit.Default8BitQuantizeRegistry()
    output_only = _output_only_config()
    handled: list[str] = []

    def annotate(layer):
        if isinstance(layer, keras.layers.InputLayer):
            return layer
        if type(layer).__name__ in _UNWRAPPABLE:
            # tfmot's wrapper passes a TF-function layer's arguments as one list, which
            # breaks ops called with constants (MobileNetV3's hard-swish: x + 3.0). Left
            # float and unwrapped, the converter calibrates it from the representative images.
            handled.append(layer.name)
            return layer
        if registry.supports(layer) or (
                isinstance(layer, keras.layers.BatchNormalization) and _follows_convolution(layer)):
            return quant.quantize_annotate_layer(layer)
        handled.append(layer.name)
        return quant.quantize_annotate_layer(layer, quantize_config=output_only())

    annotated = keras.models.clone_model(model, clone_function=annotate)
    with quant.quantize_scope({"OutputQuantize": output_only}), warnings.catch_warnings():
        # tfmot's cluster-preserving registry visits every Conv2D and Dense, clustered or
        # not, and warns about each one left dense on purpose (the classifier, by default).
        warnings.filterwarnings("ignore", message="(?s)No clustering performed on layer .*Too many centroids",
                                category=UserWarning)
        quantized = quant.quantize_apply(annotated, scheme=_scheme(scheme, frozenset(shared_codebook)))
    return quantized, handled


def _scheme(name: str, shared_codebook: frozenset[str]) -> Any:
    combine = tfmot().experimental.combine
    if name == "PQAT":
        return combine.Default8BitPrunePreserveQuantizeScheme()
    if name in ("CQAT", "PCQAT"):
        return _per_layer_cluster_scheme(combine, shared_codebook)(preserve_sparsity=name == "PCQAT")
    return tfmot().quantization.keras.default_8bit.Default8BitQuantizeScheme()


def _per_layer_cluster_scheme(combine: Any, shared_codebook: frozenset[str]) -> type:
    """The cluster-preserving scheme, with one weight quantizer per layer.

    tfmot 0.8's cluster-preserve registry hands every layer of a class (every Conv2D, say)
    the same weight-quantizer object, and that quantizer switches sparsity preservation
    off for good when it meets a layer without zeros. The first convolution is never
    pruned, so every later convolution lost its zeros under PCQAT. A copy of the config
    per layer keeps the decision per layer. The layers named in ``shared_codebook`` get
    edgekit's shared-codebook weight quantizer instead of tfmot's.
    """

    class PerLayerClusterPreserveScheme(combine.Default8BitClusterPreserveQuantizeScheme):
        def get_quantize_registry(self):
            registry = super().get_quantize_registry()
            shared = registry.get_quantize_config
            preserve_sparsity = self.preserve_sparsity

            def per_layer(layer):
                config = copy.deepcopy(shared(layer))
                if layer.name in shared_codebook:
                    config.weight_quantizer = shared_codebook_quantizer(preserve_sparsity)
                return config

            registry.get_quantize_config = per_layer
            return registry

    return PerLayerClusterPreserveScheme
