"""A LOG's input is computed in float32 in int8 conversions, except for the Edge TPU."""

import numpy as np
import pytest

from edgekit._tf import keras_module, tensorflow
from edgekit.analyze.model import read_model
from edgekit.analyze.weights import constant_array
from edgekit.conversion.float_front_end import front_end_nodes
from edgekit.conversion.pipeline import convert
from tests.conversion.cli import convert_with_flag


@pytest.fixture(scope="module")
def log_spectrum_model(tmp_path_factory):
    """A SavedModel with a built-in front end as audio models have one: a fixed linear
    transform, its square, a LOG; then a small dense head. Its inputs' loudness spans 60 dB,
    so the squares span 120 dB, far more than int8's 48."""
    tf = tensorflow()
    rng = np.random.default_rng(1)

    class LogSpectrum(tf.Module):
        def __init__(self):
            super().__init__()
            self.bank = tf.constant(rng.normal(size=(64, 16)).astype(np.float32) / 8)
            self.hidden = tf.constant(rng.normal(size=(16, 8)).astype(np.float32) / 4)
            self.scores = tf.constant(rng.normal(size=(8, 3)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, 64], tf.float32, name="wave")])
        def __call__(self, wave):
            bands = tf.matmul(wave, self.bank)
            log = tf.math.log(bands * bands + 1e-9)
            return {"scores": tf.matmul(tf.nn.relu(tf.matmul(log, self.hidden) + 1.0), self.scores)}

    folder = tmp_path_factory.mktemp("logspec")
    module = LogSpectrum()
    tf.saved_model.save(module, str(folder / "saved_model"), signatures={"serving_default": module.__call__})
    loudness = 10 ** rng.uniform(-3, 0, (120, 1))
    samples = folder / "samples.npy"
    np.save(samples, (rng.normal(size=(120, 64)) * loudness).astype(np.float32))
    return folder / "saved_model", samples


def _float_op_outputs(path):
    info = read_model(path)
    return [op.opcode for op in info.main.ops if info.main.tensors[op.outputs[0]].dtype == "FLOAT32"]


def test_the_float_front_end_lifts_int8_snr_of_a_log_spectrum_model(log_spectrum_model, tmp_path):
    path, samples = log_spectrum_model
    snr = {}
    for kept in (True, False):
        result = convert(path, target="cpu", calibration=samples, out=tmp_path / str(kept), progress=False,
                         float_front_end=kept, min_snr=0.0)
        [scores] = result.report["verification"]["outputs"]
        snr[kept] = scores["snr_db"]
        floats = _float_op_outputs(result.tflite_path)
        if kept:
            assert "LOG" in floats and "FULLY_CONNECTED" in floats, floats
            front = result.report["float_front_end"]
            assert front["log_ops"] == 1 and 3 <= front["float_ops"] < front["ops"], front
            page = (result.out / "report.html").read_text(encoding="utf-8")
            assert f"{front['float_ops']} of its {front['ops']} ops compute the input of 1 LOG op(s)" in page
        else:
            assert "LOG" not in floats and result.report["float_front_end"] is None
    assert snr[True] > snr[False] + 10, snr


def test_the_edge_tpu_conversion_keeps_its_front_end_int8(log_spectrum_model, tmp_path):
    path, samples = log_spectrum_model
    result = convert(path, target="edgetpu", calibration=samples, out=tmp_path / "tpu", progress=False,
                     min_snr=0.0, allow_cpu_fallback=True)
    assert result.report["float_front_end"] is None
    assert _float_op_outputs(result.tflite_path) == []


def test_front_end_nodes_are_the_log_and_all_it_reads_and_none_after(log_spectrum_model, tmp_path):
    path, samples = log_spectrum_model
    result = convert(path, target="cpu", calibration=samples, out=tmp_path / "f32", progress=False,
                     float_front_end=False, min_snr=0.0)
    info = read_model(result.tflite_path)
    nodes = set(front_end_nodes(info))
    log = next(op for op in info.main.ops if op.opcode == "LOG")
    assert info.main.tensors[log.outputs[0]].name in nodes
    readers = [op for op in info.main.ops if log.outputs[0] in op.inputs]
    assert readers and all(info.main.tensors[t].name not in nodes for op in readers for t in op.outputs)


def test_the_float_front_end_is_a_flag_and_a_recipe_option(log_spectrum_model, tmp_path):
    path, samples = log_spectrum_model
    out = tmp_path / "off"
    assert "float_front_end = false" in convert_with_flag(path, samples, out, "--no-float-front-end")
    assert "LOG" not in _float_op_outputs(out / "model.tflite")


def test_a_model_without_log_converts_as_it_did_without_the_front_end_step(tmp_path):
    keras = keras_module()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((10,), name="features")
    model = keras.Model(inputs, keras.layers.Dense(3, name="scores")(keras.layers.Dense(6, name="hidden")(inputs)))
    path = tmp_path / "plain.keras"
    model.save(path)
    samples = tmp_path / "samples.npy"
    np.save(samples, np.random.default_rng(0).normal(size=(60, 10)).astype(np.float32))
    results = [convert(path, target="cpu", calibration=samples, out=tmp_path / str(kept), progress=False,
                       float_front_end=kept) for kept in (True, False)]
    ours, theirs = (read_model(r.tflite_path) for r in results)
    assert results[0].report["float_front_end"] == {"float_ops": 0, "ops": len(theirs.main.ops), "log_ops": 0,
                                                    "float32_constants": 0}
    assert [(t.name, t.dtype, t.shape, t.quantization) for t in ours.main.tensors] == [
        (t.name, t.dtype, t.shape, t.quantization) for t in theirs.main.tensors]
    snr = [r.report["verification"]["outputs"][0]["snr_db"] for r in results]
    assert snr[0] == pytest.approx(snr[1])


def test_float16_keeps_the_front_end_and_its_epsilon_float32(log_spectrum_model, tmp_path):
    path, samples = log_spectrum_model
    snr, kept, bank = {}, {}, {}
    for front_end in (True, False):
        result = convert(path, target="gpu", calibration=samples, out=tmp_path / str(front_end), progress=False,
                         float_front_end=front_end, min_snr=0.0)
        [scores] = result.report["verification"]["outputs"]
        snr[front_end], kept[front_end] = scores["snr_db"], result.report["float16_kept_float32"]
        info = read_model(result.tflite_path)
        # log(x + 1e-9): float16 rounds the epsilon to zero, so it stays float32 either way.
        scalars = [constant_array(result.tflite_path.read_bytes(), info, 0, t.index) for t in info.main.tensors
                   if t.is_constant and t.shape == ()]
        assert any(v.dtype == np.float32 and v == np.float32(1e-9) for v in scalars), scalars
        # The filter bank (64 x 16, the one constant too large to count as small) feeds the LOG.
        bank[front_end] = [t.dtype for t in info.main.tensors if t.is_constant and t.shape == (16, 64)]
        assert all(op.opcode != "DEQUANTIZE" or info.main.tensors[op.inputs[0]].dtype == "FLOAT16"
                   for op in info.main.ops)
        readers = {t for op in info.main.ops for t in op.inputs}
        assert all(t.index in readers for t in info.main.tensors if t.dtype == "FLOAT16")
        page = (result.out / "report.html").read_text(encoding="utf-8")
        assert f"{kept[front_end]} constant(s) were kept float32 rather than float16" in page
    assert bank == {True: ["FLOAT32"], False: ["FLOAT16"]}
    assert kept[True] == kept[False] + 1
    assert snr[True] > snr[False] + 1, snr


def test_float16_keeps_small_constants_and_what_a_select_reads_float32(tmp_path):
    """Biases and other constants under 1024 values cost under 2 KB as float32; a constant
    a comparison reads stays float32 at any size (LiteRT's GPU accelerator miscomputed one)."""
    tf = tensorflow()
    rng = np.random.default_rng(0)

    class Gate(tf.Module):
        def __init__(self):
            super().__init__()
            self.kernel = tf.constant(rng.normal(size=(64, 64)).astype(np.float32))
            self.bias = tf.constant(rng.normal(size=(64,)).astype(np.float32))
            self.floor = tf.constant(rng.normal(size=(64, 64)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([1, 64, 64], tf.float32, name="x")])
        def __call__(self, x):
            y = tf.matmul(x, self.kernel) + self.bias
            return {"y": tf.where(y > self.floor, y, 0.0)}

    module = Gate()
    saved = tmp_path / "saved_model"
    tf.saved_model.save(module, str(saved), signatures={"serving_default": module.__call__})
    samples = tmp_path / "samples.npy"
    np.save(samples, rng.normal(size=(20, 64, 64)).astype(np.float32))
    result = convert(saved, target="gpu", calibration=samples, out=tmp_path / "out", progress=False, min_snr=0.0)
    info = read_model(result.tflite_path)
    by_shape = {}
    for t in info.main.tensors:
        if t.is_constant and t.shape in ((64, 64), (64,)):
            by_shape.setdefault(t.shape, set()).add(t.dtype)
    # The kernel (4096 values, read by a matmul) stays float16; the floor (4096, read by
    # GREATER) and the bias (64) are float32.
    assert by_shape[(64,)] == {"FLOAT32"}
    assert by_shape[(64, 64)] == {"FLOAT16", "FLOAT32"}, by_shape
    assert result.report["float16_kept_float32"] == 3  # with the 0.0 that tf.where selects


def test_a_float16_twin_is_found_by_value_and_by_name_only_among_equals():
    from edgekit.conversion.float16_constants import _twin

    tiny, zero = np.float32(1e-10), np.float32(0.0)
    twins = {(): [("a/add/y", np.array(tiny)), ("b/zero", np.array(zero))],
             (2,): [("w", np.array([1.0, 2.0], np.float32))]}
    assert _twin(np.array(0.0, np.float16), "a/add/y", twins) == tiny
    assert _twin(np.array(0.0, np.float16), "c/other", twins) is None
    np.testing.assert_array_equal(_twin(np.array([1.0, 2.0], np.float16), "anything", twins), [1.0, 2.0])
    assert _twin(np.array([1.0, 3.0], np.float16), "w", twins) is None
