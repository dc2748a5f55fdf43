from edgekit.analyze import Placement, check
from edgekit.analyze.cpu import delegated_nodes


def test_xnnpack_takes_the_float_model(mobilenet_float32):
    report = check(mobilenet_float32, "rpi4")
    assert report.fully_supported
    convs = [op for op in report.ops if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D")]
    assert convs and all(op.detail == "XNNPACK" for op in convs)
    assert report.notes[0].endswith("the rest on built-in kernels")


def test_ops_xnnpack_lacks_stay_on_builtin_kernels(cumsum_model):
    report = check(cumsum_model, "cpu")
    by_op = {op.opcode: op for op in report.ops}
    assert by_op["CUMSUM"].detail == "built-in kernel"
    assert by_op["CUMSUM"].placement == Placement.TARGET  # still the CPU: slower, not a failure
    assert report.fully_supported
    assert delegated_nodes(cumsum_model) <= {1}


def test_a_flex_op_cannot_load(flex_model):
    report = check(flex_model, "cpu")
    assert not report.fully_supported
    assert report.ops[0].placement == Placement.UNSUPPORTED
    assert "cannot load" in report.ops[0].reason
