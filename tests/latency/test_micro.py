"""Micro-benchmark models written without TensorFlow: they load, run and compute the right thing."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.analyze import read_model
from edgekit.latency.micro import KINDS, MicroOp, build
from edgekit.latency.ops import op_costs
from edgekit.latency.suite import suite
from edgekit.runtime import find_runtime


def _run(data: bytes, *feeds):
    interpreter = find_runtime().interpreter(model_content=data)
    interpreter.allocate_tensors()
    for detail, value in zip(interpreter.get_input_details(), feeds):
        interpreter.set_tensor(detail["index"], value.astype(detail["dtype"]))
    interpreter.invoke()
    return interpreter, interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def test_a_micro_pointwise_convolution_computes_what_numpy_computes():
    interpreter, out = _run(build(MicroOp("conv", "float32", 4, 4, 8, filters=6)),
                            x := np.random.default_rng(1).normal(size=(1, 4, 4, 8)))
    details = interpreter.get_tensor_details()
    kernel = next(interpreter.get_tensor(d["index"]) for d in details if list(d["shape"]) == [6, 1, 1, 8])
    expected = np.clip(np.einsum("nhwc,oc->nhwo", x, kernel[:, 0, 0, :]), 0, 6)  # RELU6, zero bias
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


def test_a_micro_transposed_convolution_computes_what_numpy_computes():
    # Kernel 2, stride 2: every input position writes its own 2x2 block of the output.
    interpreter, out = _run(build(MicroOp("transpose_conv", "float32", 3, 3, 4, filters=2, kernel=2, stride=2)),
                            x := np.random.default_rng(2).normal(size=(1, 3, 3, 4)))
    kernel = next(interpreter.get_tensor(d["index"]) for d in interpreter.get_tensor_details()
                  if list(d["shape"]) == [2, 2, 2, 4])
    expected = np.einsum("nhwc,oijc->nhiwjo", x, kernel).reshape(1, 6, 6, 2)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_every_micro_benchmark_kind_loads_and_runs(dtype):
    for kind in KINDS:
        op = MicroOp(kind, dtype, 8, 8, 16, filters=16, kernel=3 if kind in ("conv", "depthwise") else 2,
                     stride=2 if kind.endswith("pool") else 1)
        data = build(op)
        _, out = _run(data, *[np.ones(d) for d in _input_shapes(data)])
        assert out.size > 0, kind


def _input_shapes(data: bytes):
    info = read_model(data)
    return [info.main.tensors[i].shape for i in info.main.inputs]


def test_the_suite_covers_every_class_and_both_types_as_the_estimator_classifies_them():
    seen = set()
    for op in suite():
        [cost] = op_costs(read_model(build(op)))
        seen.add((cost.op_class.value, cost.dtype.value))
    classes = {"conv1x1", "conv", "transpose_conv", "depthwise", "fully_connected", "pool", "elementwise", "movement"}
    assert seen == {(c, d) for c in classes for d in ("int8", "float32")}
