import numpy as np
import pytest

from edgekit.analyze import Placement, check, read_model
from tests.analyze.conftest import convert_function


def test_float16_mobilenet_runs_fully_on_the_gpu(mobilenet_float16):
    report = check(mobilenet_float16, "gpu")
    assert report.fully_supported, report.table()
    assert any(op.opcode == "DEQUANTIZE" for op in report.ops)  # float16 weights


def test_an_int8_model_gets_a_note_that_the_gpu_runs_it_dequantised(mobilenet_int8, mobilenet_float16):
    assert any("int8 model" in note for note in check(mobilenet_int8, "gpu").notes)
    assert not any("int8 model" in note for note in check(mobilenet_float16, "gpu").notes)


def test_resource_variables_are_flagged(resource_variable_model):
    report = check(resource_variable_model, "android-gpu")
    reasons = {op.opcode: op.reason for op in report.fallback_ops}
    assert "resource variables are not supported" in reasons["VAR_HANDLE"]
    assert "resource variables" in reasons["READ_VARIABLE"] and "resource variables" in reasons["ASSIGN_VARIABLE"]
    assert not report.fully_supported


def test_complex_numbers_are_flagged(complex_model):
    report = check(complex_model, "gpu")
    rfft = next(op for op in report.ops if op.opcode == "RFFT2D")
    assert rfft.placement == Placement.CPU
    abs_op = next(op for op in report.ops if op.opcode == "COMPLEX_ABS")
    assert abs_op.placement == Placement.CPU
    assert not report.fully_supported


def test_op_outside_the_list_falls_back_alone(log_softmax_model):
    report = check(log_softmax_model, "gpu")
    by_op = {op.opcode: op for op in report.ops}
    assert by_op["LOG_SOFTMAX"].placement == Placement.CPU
    assert "not supported by the GPU delegate" in by_op["LOG_SOFTMAX"].reason
    # Unlike the Edge TPU, the GPU delegate keeps the ops after an unsupported one.
    assert by_op["RELU"].placement == Placement.TARGET


def test_flex_ops_are_named(flex_model):
    report = check(flex_model, "gpu")
    assert "TensorFlow (Flex) op FlexBincount" in report.ops[0].reason


def test_each_target_kind_has_one_registered_checker_and_check_uses_it(mobilenet_float32):

    from edgekit.analyze.checkers import checker_for
    from edgekit.analyze.cpu import check_cpu
    from edgekit.analyze.edgetpu import check_edgetpu
    from edgekit.analyze.gpu import check_gpu
    from edgekit.targets import TargetKind, load_target

    expected = {TargetKind.CPU: check_cpu, TargetKind.GPU: check_gpu, TargetKind.EDGETPU: check_edgetpu}
    assert {kind: checker_for(kind).check for kind in TargetKind} == expected
    assert checker_for(TargetKind.EDGETPU).confirm is not None and checker_for(TargetKind.GPU).confirm is None
    for target in ("cpu", "gpu", "edgetpu"):
        profile = load_target(target)
        direct = expected[profile.kind](read_model(mobilenet_float32), profile)
        checked = check(mobilenet_float32, profile, compile=False)
        # check() adds what an app's client will make of the model after the checker's own notes.
        assert checked.ops == direct.ops and checked.model_issues == direct.model_issues
        assert checked.notes[:len(direct.notes)] == direct.notes


def _float_tflite(model, tf, **converter_settings):
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    for key, value in converter_settings.items():
        setattr(converter, key, value)
    return bytes(converter.convert())


@pytest.mark.parametrize("case, fully", [("batch_dynamic", True), ("time_dynamic", False), ("densify", False)])
def test_gpu_verdicts_match_what_litert_gpu_accelerator_did(tmp_path, case, fully):
    """The three cases measured with LiteRT 2.3's CompiledModel on an NVIDIA GPU: a dynamic
    batch alone is fine at batch 1, any other dynamic dimension is not, DENSIFY is not taken."""
    from edgekit._tf import keras_module, tensorflow

    tf, keras = tensorflow(), keras_module()
    if case == "batch_dynamic":
        inputs = keras.Input((76, 32, 1))  # batch -1, as the audio embedding model measured
        model = keras.Model(inputs, keras.layers.Conv2D(4, 3)(inputs))
        data = _float_tflite(model, tf)
    elif case == "time_dynamic":
        inputs = keras.Input((None,))  # [-1, -1]
        model = keras.Model(inputs, keras.layers.Activation("relu")(inputs))
        data = _float_tflite(model, tf)
    else:
        inputs = keras.Input((64,))
        dense = keras.layers.Dense(64, use_bias=False)
        model = keras.Model(inputs, dense(inputs))
        kernel = np.random.default_rng(0).normal(size=(64, 64)).astype(np.float32)
        kernel[np.abs(kernel) < 1.5] = 0  # 87% zeros: the converter stores it sparse
        dense.set_weights([kernel])
        data = _float_tflite(model, tf, optimizations=[tf.lite.Optimize.EXPERIMENTAL_SPARSITY])
    path = tmp_path / f"{case}.tflite"
    path.write_bytes(data)
    report = check(path, "gpu")
    assert report.fully_supported is fully, report.table()
    if case == "densify":
        assert "DENSIFY" in [op.opcode for op in report.fallback_ops]
    if case == "time_dynamic":
        assert report.model_issues[0].startswith("dynamic shape")
    if case == "batch_dynamic":
        assert any("batch 1 only" in note for note in report.notes)


# Each built the way tools/bench_gpu_rules.py built the case it measured on LiteRT 2.3's GPU
# accelerator, with what the accelerator did: True where it took every op.
_MEASURED = {
    "gelu": (lambda tf: (lambda x: tf.nn.gelu(x, approximate=True)), [[1, 16, 16, 8]], True),
    "cumsum": (lambda tf: (lambda x: tf.math.cumsum(x, axis=2)), [[1, 16, 16, 8]], True),
    "bool_select": (lambda tf: (lambda x: tf.where(x > 0.5, x, -x)), [[1, 16, 16, 8]], True),
    "int32_cast": (lambda tf: (lambda x: tf.cast(x, tf.float32) * 2.0), [([1, 16], "int32")], True),
    "batch_matmul_of_itself": (lambda tf: (lambda x: tf.matmul(x, x, transpose_b=True)), [[1, 16, 16, 8]], False),
    "batch_matmul_of_two": (lambda tf: (lambda x, y: tf.matmul(x, y, transpose_b=True)),
                            [[1, 16, 16, 8], [1, 16, 16, 8]], True),
    "int64_arg_max": (lambda tf: (lambda x: tf.argmax(x, axis=-1)), [[1, 16, 16, 8]], False),
    "reshape_to_a_fed_shape": (lambda tf: (lambda x, s: tf.reshape(x, s)), [[1, 64], ([2], "int32")], False),
}


@pytest.mark.parametrize("case", sorted(_MEASURED))
def test_gpu_verdicts_match_the_ops_litert_gpu_accelerator_took(tmp_path, case):
    from edgekit._tf import tensorflow

    tf = tensorflow()
    make, shapes, fully = _MEASURED[case]
    specs = [tf.TensorSpec(s, tf.float32) if isinstance(s, list) else tf.TensorSpec(s[0], getattr(tf, s[1]))
             for s in shapes]
    path = tmp_path / f"{case}.tflite"
    path.write_bytes(convert_function(make(tf), specs))
    report = check(path, "gpu")
    assert report.fully_supported is fully, report.table()
    if case == "batch_matmul_of_itself":
        assert "same tensor" in report.fallback_ops[0].reason
    if case == "reshape_to_a_fed_shape":
        assert "computed at run time" in report.fallback_ops[0].reason


@pytest.mark.parametrize("kernel, stride, int8, wrong", [(1, 2, True, True), (1, 1, True, False),
                                                         (3, 2, True, False), (1, 2, False, False)])
def test_only_an_int8_strided_1x1_convolution_is_said_to_be_computed_wrongly(tmp_path, kernel, stride, int8, wrong):
    """As measured on LiteRT 2.3's GPU accelerator: int8 1x1 stride 2 came out wrong; int8
    1x1 stride 1, int8 3x3 stride 2 and float 1x1 stride 2 matched the CPU."""
    from edgekit._tf import tensorflow

    tf = tensorflow()
    rng = np.random.default_rng(0)
    weights = tf.constant(rng.normal(size=(kernel, kernel, 8, 16)).astype(np.float32))
    samples = [[rng.uniform(-1, 1, (1, 16, 16, 8)).astype(np.float32)] for _ in range(8)] if int8 else None
    path = tmp_path / "conv.tflite"
    path.write_bytes(convert_function(lambda x: tf.nn.conv2d(x, weights, stride, "SAME"),
                                      [tf.TensorSpec((1, 16, 16, 8), tf.float32)], int8_samples=samples))
    report = check(path, "gpu")
    said = [issue for issue in report.model_issues if issue.startswith("computed wrongly")]
    assert bool(said) is wrong, report.model_issues
    assert not report.fallback_ops  # the GPU takes it either way
    assert report.fully_supported is not wrong
