from edgekit.analyze import Placement, check


def test_float16_mobilenet_runs_fully_on_the_gpu(mobilenet_float16):
    report = check(mobilenet_float16, "gpu")
    assert report.fully_supported, report.table()
    assert any(op.opcode == "DEQUANTIZE" for op in report.ops)  # float16 weights


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


def test_op_outside_the_list_falls_back_alone(cumsum_model):
    report = check(cumsum_model, "gpu")
    by_op = {op.opcode: op for op in report.ops}
    assert by_op["CUMSUM"].placement == Placement.CPU and "not supported by the GPU delegate" in by_op["CUMSUM"].reason
    # Unlike the Edge TPU, the GPU delegate keeps the ops after an unsupported one.
    assert by_op["RELU"].placement == Placement.TARGET


def test_flex_ops_are_named(flex_model):
    report = check(flex_model, "gpu")
    assert "TensorFlow (Flex) op FlexBincount" in report.ops[0].reason
