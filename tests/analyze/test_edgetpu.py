import pytest

from edgekit.analyze import Placement, check
from edgekit.analyze.compiler import parse_log


def test_int8_mobilenet_maps_completely(mobilenet_int8):
    report = check(mobilenet_int8, "edgetpu", compile=False)
    assert report.fully_supported, report.table()
    assert all(op.placement == Placement.TARGET for op in report.ops)
    assert any("fit the 8,000,000 bytes" in note for note in report.notes)
    # Ops carry the Keras layer they came from.
    assert any(op.layer and "block_1_depthwise" in op.layer for op in report.ops)


def test_float32_model_is_not_quantised(mobilenet_float32):
    report = check(mobilenet_float32, "edgetpu", compile=False)
    assert not report.fully_supported
    first = report.ops[0]
    assert first.placement == Placement.CPU and first.reason.startswith("not quantised")
    assert all(op.placement == Placement.CPU for op in report.ops)


def test_unsupported_op_in_the_middle_splits_the_graph(leaky_relu_int8):
    report = check(leaky_relu_int8, "edgetpu", compile=False)
    ops = list(report.ops)
    cut = next(i for i, op in enumerate(ops) if op.opcode == "LEAKY_RELU")
    assert 0 < cut < len(ops) - 1
    assert all(op.placement == Placement.TARGET for op in ops[:cut])
    assert ops[cut].placement == Placement.CPU and "LEAKY_RELU is not an Edge TPU operation" in ops[cut].reason
    assert ops[cut].layer == "leaky"
    assert all(op.placement == Placement.CPU and op.follows_fallback for op in ops[cut + 1:])
    assert "after LEAKY_RELU" in ops[cut + 1].reason
    causes = report.table(causes_only=True)
    assert "LEAKY_RELU" in causes and "third_conv" not in causes


def test_dynamic_batch_is_rejected_and_the_fix_is_named(dynamic_batch_int8):
    report = check(dynamic_batch_int8, "edgetpu", compile=False)
    assert not report.fully_supported
    issues = [i for i in report.model_issues if i.startswith("dynamic shape")]
    assert issues and all("edgekit convert MODEL --target edgetpu" in i and "static batch of 1" in i for i in issues)


def test_without_compiler_the_report_says_what_to_run(mobilenet_int8, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    report = check(mobilenet_int8, "coral-usb")
    assert report.compiler is None
    assert any(f"edgetpu_compiler -s -m 13 {mobilenet_int8}" in note for note in report.notes)


# The format of the compiler's report, as edgetpu_compiler 16 prints it.
COMPILER_LOG = """Edge TPU Compiler version 16.0.384591198
Started a compilation timeout timer of 180 seconds.

Model compiled successfully in 329 ms.

Input model: quant.tflite
Input size: 8.38MiB
Output model: quant_edgetpu.tflite
Output size: 8.40MiB
On-chip memory used for caching model parameters: 1.84MiB
On-chip memory remaining for caching model parameters: 256.75KiB
Off-chip memory used for streaming uncached model parameters: 5.64MiB
Number of Edge TPU subgraphs: 1
Total number of operations: 25
Operation log: quant_edgetpu.log

Operator                       Count      Status

CONCATENATION                  1          More than one subgraph is not supported
MAX_POOL_2D                    6          Mapped to Edge TPU
RESIZE_NEAREST_NEIGHBOR        1          Operation version not supported
CONV_2D                        11         Mapped to Edge TPU
QUANTIZE                       1          Operation is otherwise supported, but not mapped due to some unspecified limitation
"""


def test_compiler_log_is_parsed():
    parsed = parse_log(COMPILER_LOG)
    assert parsed["edgetpu_subgraphs"] == 1
    assert parsed["ops"][1] == {"op": "MAX_POOL_2D", "count": 6, "status": "Mapped to Edge TPU"}
    assert parsed["ops"][2]["status"] == "Operation version not supported"
    assert len(parsed["ops"]) == 5


@pytest.fixture
def fake_compiler(tmp_path, monkeypatch):
    """An edgetpu_compiler stand-in on PATH that records its arguments and prints the real log format."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "edgetpu_compiler"
    script.write_text(f"""#!/bin/sh
echo "$@" > {tmp_path}/args
out=""; prev=""
for a in "$@"; do [ "$prev" = "-o" ] && out="$a"; prev="$a"; model="$a"; done
name=$(basename "$model" .tflite)
cp "$model" "$out/${{name}}_edgetpu.tflite"
cat <<'LOG'
Edge TPU Compiler version 16.0.384591198
Number of Edge TPU subgraphs: 1

Operator                       Count      Status

CONV_2D                        3          Mapped to Edge TPU
LEAKY_RELU                     1          Operation not supported
LOG
""")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return tmp_path


def test_compiler_runs_with_the_profile_runtime_and_its_verdict_counts(leaky_relu_int8, fake_compiler):
    out = fake_compiler / "compiled"
    report = check(leaky_relu_int8, "coral-usb", compiled_dir=out)
    args = (fake_compiler / "args").read_text().split()
    assert args[:2] == ["-s", "-o"] and args[args.index("-m") + 1] == "13"
    assert (out / "leaky_edgetpu.tflite").is_file()
    assert report.compiler["edgetpu_subgraphs"] == 1 and not report.compiler["fully_mapped"]
    assert any("LEAKY_RELU: Operation not supported" in issue for issue in report.model_issues)


def test_a_failing_compiler_is_reported_not_raised(mobilenet_int8, tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "edgetpu_compiler").write_text("#!/bin/sh\necho 'Internal compiler error. Aborting!' >&2\nexit 1\n")
    (bin_dir / "edgetpu_compiler").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    report = check(mobilenet_int8, "edgetpu")
    assert not report.fully_supported
    assert any("exit 1" in issue and "Internal compiler error" in issue for issue in report.model_issues)
