from edgekit.analyze import Placement, check, read_model


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


def test_each_target_kind_has_one_registered_checker_and_check_uses_it(mobilenet_float32):

    from edgekit.analyze.cpu import check_cpu
    from edgekit.analyze.edgetpu import check_edgetpu
    from edgekit.analyze.gpu import check_gpu
    from edgekit.analyze.rules import checker_for
    from edgekit.targets import TargetKind, load_target

    expected = {TargetKind.CPU: check_cpu, TargetKind.GPU: check_gpu, TargetKind.EDGETPU: check_edgetpu}
    assert {kind: checker_for(kind).check for kind in TargetKind} == expected
    assert checker_for(TargetKind.EDGETPU).confirm is not None and checker_for(TargetKind.GPU).confirm is None
    for target in ("cpu", "gpu", "edgetpu"):
        profile = load_target(target)
        direct = expected[profile.kind](read_model(mobilenet_float32), profile)
        assert check(mobilenet_float32, profile, compile=False) == direct
