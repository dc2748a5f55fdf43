"""A model with a dynamic input length: check, estimate and profile take --input-shape and never guess it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from edgekit._tf import tensorflow
from edgekit.analyze import read_model
from edgekit.analyze.shapes import at_input_shape, dynamic_inputs
from edgekit.cli import cli


@pytest.fixture(scope="module")
def waveform_model(tmp_path_factory):
    """[-1, -1] waveform in (batch and length dynamic), a strided 1-D convolution, a mean out:
    its cost grows with the length, like an audio front end's."""
    tf = tensorflow()
    rng = np.random.default_rng(0)
    kernel = tf.constant(rng.normal(size=(9, 1, 16)).astype(np.float32))
    mix = tf.constant(rng.normal(size=(16, 4)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32, name="waveform")])
    def forward(x):
        h = tf.nn.relu(tf.nn.conv1d(tf.expand_dims(x, -1), kernel, stride=2, padding="VALID"))
        return tf.reduce_mean(tf.matmul(h, mix), axis=1)

    converter = tf.lite.TFLiteConverter.from_concrete_functions([forward.get_concrete_function()], forward)
    path = tmp_path_factory.mktemp("dynamic") / "waveform.tflite"
    path.write_bytes(converter.convert())
    return path


def _run(*args):
    return CliRunner().invoke(cli, [*map(str, args)])


def test_the_model_has_a_dynamic_length_and_sizing_it_scales_its_macs(waveform_model):
    info = read_model(waveform_model)
    assert [t.shape_signature for t in dynamic_inputs(info)] == [(-1, -1)]
    short, long = at_input_shape(info, (1, 400)), at_input_shape(info, (1, 4000))
    assert dynamic_inputs(short) and short.input_shape == (1, 400)
    macs = [sum(op.macs or 0 for op in m.main.ops) for m in (short, long)]
    assert macs[1] > 9 * macs[0] > 0


def test_check_without_the_shape_says_so_in_a_note_and_reports_no_model_issue(waveform_model):
    result = _run("check", waveform_model, "--target", "cpu", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["model_issues"] == []
    note = next(n for n in report["notes"] if "not measured" in n)
    assert "'waveform'" in note and "--input-shape" in note
    assert all("XNNPACK" not in (op["detail"] or "") for op in report["ops"])


def test_check_with_the_shape_measures_where_each_op_runs(waveform_model):
    result = _run("check", waveform_model, "--target", "cpu", "--input-shape", "1,400", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert any(op["detail"] == "XNNPACK" for op in report["ops"])
    assert any("run on XNNPACK" in n for n in report["notes"])


def test_check_on_a_target_with_a_cost_model_estimates_only_with_the_shape(waveform_model):
    without = _run("check", waveform_model, "--target", "rpi4")
    assert "estimate: not made" in without.output and "--input-shape" in without.output
    with_shape = json.loads(_run("check", waveform_model, "--target", "rpi4", "--input-shape", "1,400",
                                 "--json").output)
    assert with_shape["estimate"]["input_shape"] == [1, 400]


def test_estimate_prices_the_longer_input_higher_and_states_the_shape(waveform_model):
    figures = {}
    for length in (400, 4000):
        result = _run("estimate", waveform_model, "--target", "rpi4", "--input-shape", f"1,{length}", "--json")
        assert result.exit_code == 0, result.output
        estimate = json.loads(result.output)
        assert estimate["input_shape"] == [1, length]
        figures[length] = estimate["estimated_ms"]
    assert figures[4000] > 2 * figures[400]
    text = _run("estimate", waveform_model, "--target", "rpi4", "--input-shape", "1,400").output
    assert "input shape [1, 400]" in text


def test_estimate_without_the_shape_refuses_in_one_line(waveform_model):
    result = _run("estimate", waveform_model, "--target", "rpi4")
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "'waveform'" in result.output and "--input-shape" in result.output


def test_profile_without_the_shape_names_the_input_and_the_flag_not_a_reshape_error(waveform_model):
    result = _run("profile", waveform_model, "--runs", "3")
    assert result.exit_code == 2
    line = result.output.strip()
    assert len(line.splitlines()) == 1
    assert "'waveform'" in line and "--input-shape" in line and "reshape" not in line
    measured = _run("profile", waveform_model, "--runs", "3", "--warmup", "1", "--input-shape", "1,400", "--json")
    assert measured.exit_code == 0, measured.output


def test_a_shape_that_does_not_fit_the_input_is_named(waveform_model):
    result = _run("estimate", waveform_model, "--target", "rpi4", "--input-shape", "1,400,3")
    assert result.exit_code == 1 and "--input-shape 1,400,3 does not fit" in result.output
    bad = _run("check", waveform_model, "--input-shape", "1,x")
    assert bad.exit_code == 2 and "--input-shape" in bad.output
