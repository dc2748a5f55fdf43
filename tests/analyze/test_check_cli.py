"""`edgekit check` exit codes and output, on real models."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from edgekit.cli import cli


def test_fully_supported_exits_0(mobilenet_int8):
    result = CliRunner().invoke(cli, ["check", str(mobilenet_int8), "--target", "edgetpu", "--no-compile"])
    assert result.exit_code == 0, result.output
    assert "runs fully on edgetpu" in result.stdout


def test_fallback_exits_1_with_the_table(leaky_relu_int8):
    result = CliRunner().invoke(cli, ["check", str(leaky_relu_int8), "-t", "edgetpu", "--no-compile"])
    assert result.exit_code == 1
    assert "LEAKY_RELU is not an Edge TPU operation" in result.stdout
    assert "does NOT run fully on edgetpu" in result.stdout


def test_json_has_every_op(leaky_relu_int8):
    result = CliRunner().invoke(cli, ["check", str(leaky_relu_int8), "-t", "edgetpu", "--json", "--no-compile"])
    report = json.loads(result.stdout)
    assert result.exit_code == 1
    assert report["target"] == "edgetpu" and len(report["ops"]) > 3
    assert report["fully_supported"] is False
    assert {"opcode", "placement", "reason", "layer"} <= set(report["ops"][0])


@pytest.mark.parametrize("content", [b"", b"not a model", b"\x00" * 3 + b"xTFL3" + b"\x01" * 64, "random"])
def test_unreadable_file_exits_2_with_one_line(tmp_path, content):
    path = tmp_path / "m.tflite"
    path.write_bytes(np.random.default_rng(0).bytes(2048) if content == "random" else content)
    result = CliRunner().invoke(cli, ["check", str(path)])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and str(path) in result.stderr
    assert "Traceback" not in result.output


def test_truncated_model_exits_2(tmp_path, mobilenet_int8):
    path = tmp_path / "cut.tflite"
    path.write_bytes(mobilenet_int8.read_bytes()[:5000])
    result = CliRunner().invoke(cli, ["check", str(path), "-t", "edgetpu"])
    assert result.exit_code == 2 and "corrupt or truncated" in result.stderr


def test_unknown_target_exits_2(mobilenet_int8):
    result = CliRunner().invoke(cli, ["check", str(mobilenet_int8), "-t", "npu"])
    assert result.exit_code == 2 and "unknown target 'npu'" in result.stderr
