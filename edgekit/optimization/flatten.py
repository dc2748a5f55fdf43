"""One flat functional model from a model with nested models (edgekit's classifier wraps its backbone).

tensorflow-model-optimization wraps layers one by one through ``clone_model``, which
sees a nested model as a single layer it cannot prune, cluster or quantise. Inlining
re-calls the very same layer objects on new tensors, so weights are shared, not copied.
"""

from __future__ import annotations

from typing import Any

from edgekit._tf import keras_module, tensorflow


def flatten_model(model: Any) -> Any:
    keras = keras_module()
    inputs = [keras.Input(t.shape[1:], dtype=t.dtype, name=t.name.split(":")[0].split("/")[0])
              for t in model.inputs]
    outputs = _inline(model, inputs)
    return keras.Model(inputs, outputs, name=model.name)


def _is_functional(layer: Any) -> bool:
    return hasattr(layer, "_nodes_by_depth") and hasattr(layer, "_tensor_usage_count") and bool(layer.layers)


def _inline(model: Any, inputs: list) -> list:
    # The same walk as tf_keras' Functional._run_internal_graph, recursing into nested models.
    tf = tensorflow()
    usage = model._tensor_usage_count  # noqa: SLF001 - the graph bookkeeping Keras itself walks
    tensors: dict[str, list] = {}
    for reference, value in zip(model.inputs, inputs):
        tensors[str(id(reference))] = [value] * usage[str(id(reference))]
    for depth in sorted(model._nodes_by_depth, reverse=True):  # noqa: SLF001
        for node in model._nodes_by_depth[depth]:  # noqa: SLF001
            if node.is_input or any(t not in tensors for t in node.flat_input_ids):
                continue
            args, kwargs = node.map_arguments(tensors)
            layer = node.layer
            if _is_functional(layer):
                # kwargs such as training=False are dropped: the flat model's layers follow
                # the caller's mode (BatchNorm is frozen by trainable=False instead).
                outputs = _inline(layer, tf.nest.flatten(args))
            else:
                outputs = layer(*args, **kwargs)
            for tensor_id, value in zip(node.flat_output_ids, tf.nest.flatten(outputs)):
                tensors[tensor_id] = [value] * usage[tensor_id]
    return [tensors[str(id(t))].pop() for t in model.outputs]
