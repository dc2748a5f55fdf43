"""edgekit profile --per-op: each op cut from the model and timed alone, with the real runtime."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from edgekit.cli import cli
from edgekit.profiler import profile
from edgekit.profiler.cut import cut_ops


def _convert(model, settings=None):
    from edgekit.conversion import to_tflite
    from edgekit.targets import ConvertSettings

    return to_tflite(model, settings or ConvertSettings(), batch_size=1)


@pytest.fixture(scope="module")
def one_heavy_op(tmp_path_factory):
    """Cheap ops around one 3x3 convolution with 100 times their arithmetic, by construction."""
    from edgekit._tf import keras_module

    keras = keras_module()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 8), name="pixels")
    x = keras.layers.Conv2D(8, 1, name="cheap_in")(inputs)
    x = keras.layers.Conv2D(256, 3, padding="same", name="heavy")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Conv2D(4, 1, name="cheap_out")(x)
    path = tmp_path_factory.mktemp("per_op") / "heavy.tflite"
    path.write_bytes(_convert(keras.Model(inputs, x)))
    return path


def test_the_op_that_dominates_by_construction_tops_the_per_op_table(one_heavy_op):
    m = profile(one_heavy_op, runs=20, per_op=True)
    rows = m.per_op["ops"]
    top = max(rows, key=lambda r: r["ms"])
    assert top["opcode"] == "CONV_2D" and top["layer"] == "heavy" and top["how"] == "measured"
    assert top["share"] > 0.5
    assert all(r["how"] == "measured" for r in rows)
    assert [r["index"] for r in rows] == list(range(len(rows)))


def test_the_parts_sum_to_within_a_sane_ratio_of_the_whole(one_heavy_op):
    m = profile(one_heavy_op, runs=30, per_op=True)
    ratio = m.per_op["sum_ms"] / m.latency_ms.p50
    assert 0.5 < ratio < 2.0, m.per_op
    assert m.per_op["whole_p50_ms"] == m.latency_ms.p50


def test_float16_weights_are_unpacked_once_and_their_convolution_timed_on_static_weights(tmp_path):
    from edgekit._tf import keras_module
    from edgekit.targets import ConvertSettings, Quantization

    keras = keras_module()
    inputs = keras.Input((16, 16, 16))
    outputs = keras.layers.Conv2D(32, 3, padding="same", name="half")(inputs)
    path = tmp_path / "f16.tflite"
    path.write_bytes(_convert(keras.Model(inputs, outputs), ConvertSettings(quantization=Quantization.FLOAT16)))
    pieces = cut_ops(path.read_bytes(), evaluate=_evaluate_here)
    [conv] = [p for p in pieces if p.opcode == "CONV_2D"]
    # The dequantized kernel and bias are baked in: the piece's one input is the image.
    assert len(conv.inputs) == 1
    rows = profile(path, runs=10, per_op=True).per_op["ops"]
    assert {r["opcode"]: r["how"] for r in rows} == {"DEQUANTIZE": "folded", "CONV_2D": "measured"}
    assert all(r["ms"] == 0 for r in rows if r["how"] == "folded")


def test_a_pad_that_xnnpack_merges_into_its_convolution_is_timed_with_it_not_alone(tmp_path):
    from edgekit._tf import keras_module

    keras = keras_module()
    inputs = keras.Input((24, 24, 8))
    # Wider than SAME padding, so the converter keeps the PAD op.
    x = keras.layers.ZeroPadding2D(3, name="wide_pad")(inputs)
    outputs = keras.layers.Conv2D(8, 3, padding="valid", name="after_pad")(x)
    path = tmp_path / "pad.tflite"
    path.write_bytes(_convert(keras.Model(inputs, outputs)))
    rows = profile(path, runs=10, per_op=True).per_op["ops"]
    assert [(r["opcode"], r["how"]) for r in rows] == [("PAD", "fused"), ("CONV_2D", "measured")]
    assert rows[0]["ms"] == 0 and rows[0]["note"] == "merged into op 1 by XNNPACK"


def _evaluate_here(piece: bytes):
    from edgekit.profiler.per_op import _evaluate
    from edgekit.runtime import find_runtime

    return _evaluate(piece, find_runtime())


def test_control_flow_cannot_be_cut_and_is_an_estimate_labelled_as_one(tmp_path):
    from edgekit._tf import tensorflow

    tf = tensorflow()

    @tf.function(input_signature=[tf.TensorSpec([1, 64], tf.float32)])
    def loop(x):
        y = tf.matmul(x, tf.ones([64, 64]))
        _, y = tf.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, tf.nn.relu(v) * 0.5), (0, y))
        return tf.matmul(y, tf.ones([64, 8]))

    converter = tf.lite.TFLiteConverter.from_concrete_functions([loop.get_concrete_function()], loop)
    path = tmp_path / "loop.tflite"
    path.write_bytes(converter.convert())
    rows = profile(path, runs=10, per_op=True).per_op["ops"]
    [while_op] = [r for r in rows if r["opcode"] == "WHILE"]
    assert while_op["how"] == "estimate" and "control flow" in while_op["note"]
    assert any(r["how"] == "measured" and r["opcode"] == "FULLY_CONNECTED" for r in rows)


def test_per_op_in_the_cli_table_and_json(one_heavy_op):
    text = CliRunner().invoke(cli, ["profile", str(one_heavy_op), "--runs", "10", "--per-op"])
    assert text.exit_code == 0, text.output
    assert "per-op" in text.stdout and "heavy" in text.stdout and "sum of the parts" in text.stdout
    data = json.loads(CliRunner().invoke(cli, ["profile", str(one_heavy_op), "--runs", "10", "--per-op",
                                               "--json"]).stdout)
    assert data["per_op"]["measured_ops"] == len(data["per_op"]["ops"]) == 4
