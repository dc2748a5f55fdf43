"""Calibrate on a tiny op set, write a profile, estimate with it; malformed cost models fail cleanly."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

from edgekit.cli import cli
from edgekit.latency import estimate
from edgekit.latency.api import calibrate, write_profile
from edgekit.targets import load_target


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """A quick calibration of this machine, written as a profile inheriting cpu."""
    out = tmp_path_factory.mktemp("calibrated") / "here.toml"
    result = calibrate(quick=True)
    write_profile(result, out)
    return out, result


def _small_keras_model():
    from edgekit._tf import keras_module

    keras = keras_module()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="stem")(inputs)
    x = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    x = keras.layers.Conv2D(32, 1, name="pw")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(10, name="fc")(x))


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    from edgekit.conversion import to_tflite
    from edgekit.targets import ConvertSettings

    path = tmp_path_factory.mktemp("estimate") / "small.tflite"
    path.write_bytes(to_tflite(_small_keras_model(), ConvertSettings(), batch_size=1))
    return path


@pytest.fixture(scope="module")
def small_int8_model(tmp_path_factory):
    import numpy as np

    from edgekit.conversion import to_tflite

    path = tmp_path_factory.mktemp("estimate") / "small_int8.tflite"
    samples = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype(np.float32)
    path.write_bytes(to_tflite(_small_keras_model(), load_target("edgetpu").convert, batch_size=1,
                               representative=samples))
    return path


def test_a_quick_calibration_writes_a_profile_that_loads_and_inherits(calibrated):
    path, result = calibrated
    profile = load_target(str(path))
    assert profile.id == "here" and profile.kind.value == "cpu"
    model = profile.cost_model
    assert model.float32.conv1x1 is not None and model.int8.depthwise is not None
    assert model.builtin_float32 is not None and model.invoke_ms > 0
    assert 0.1 <= model.band < 1
    # The fit predicts micro-benchmarks it was not fitted on: a broken fit (wrong op classes,
    # a unit slip) is off by far more than this, even timed on a loaded machine.
    errors = list(result.fit.errors.values())
    assert errors and all(np.isfinite(e) for e in errors)
    assert result.median_error < 1.0


def test_a_calibration_is_taken_for_this_machine_only_where_it_was_made(calibrated, tmp_path):
    path, _ = calibrated
    assert load_target(str(path)).cost_model.calibrated_here()
    # The same file as if made by `edgekit calibrate` on a Pi and copied here.
    text = path.read_text()
    assert 'machine = "' in text
    elsewhere = tmp_path / "pi.toml"
    elsewhere.write_text(re.sub(r'machine = ".*"', 'machine = "raspberrypi, Raspberry Pi 4 Model B, 4 cores"', text))
    assert not load_target(str(elsewhere)).cost_model.calibrated_here()
    # A published cost model names no machine.
    assert not load_target("rpi4").cost_model.calibrated_here()


def test_an_estimate_has_a_band_around_it_and_a_row_per_op(calibrated, small_model):
    path, _ = calibrated
    result = estimate(small_model, str(path))
    assert result.low_ms < result.estimated_ms < result.high_ms
    assert [r["opcode"] for r in result.ops] == ["CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "MEAN",
                                                 "FULLY_CONNECTED"]
    assert [r["op_class"] for r in result.ops][:3] == ["conv", "depthwise", "conv1x1"]
    assert all(r["ms"] > 0 for r in result.ops)
    assert result.estimated_ms == pytest.approx(
        load_target(str(path)).cost_model.invoke_ms + sum(r["ms"] for r in result.ops))


def test_a_zero_pad_feeding_a_valid_convolution_costs_nothing_and_any_other_pad_costs_time(calibrated, tmp_path):
    from edgekit._tf import keras_module
    from edgekit.conversion import to_tflite
    from edgekit.targets import ConvertSettings

    keras = keras_module()
    inputs = keras.Input((24, 24, 8))
    # Wider than SAME padding, so the converter keeps the PAD op.
    padded = keras.layers.ZeroPadding2D(3, name="pad_for_conv")(inputs)
    x = keras.layers.Conv2D(8, 3, padding="valid", name="valid_conv")(padded)
    y = keras.layers.ZeroPadding2D(1, name="pad_alone")(x)
    model = keras.Model(inputs, keras.layers.Activation("relu", name="relu")(y))
    path = tmp_path / "pads.tflite"
    path.write_bytes(to_tflite(model, ConvertSettings(), batch_size=1))
    result = estimate(path, str(calibrated[0]))
    pads = [r["ms"] for r in result.ops if r["opcode"] == "PAD"]
    assert len(pads) == 2 and pads[0] == 0.0 and pads[1] > 0, result.ops
    assert any("1 PAD op(s) cost nothing" in n for n in result.notes)


def test_estimate_cli_gives_the_total_and_band_as_json(calibrated, small_model):
    path, _ = calibrated
    done = CliRunner().invoke(cli, ["estimate", str(small_model), "--target", str(path), "--json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["low_ms"] < data["estimated_ms"] < data["high_ms"]
    text = CliRunner().invoke(cli, ["estimate", str(small_model), "--target", str(path)]).stdout
    assert "estimate" in text and "not a measurement" in text and "stem" in text


def test_check_shows_the_estimate_beside_the_op_table(calibrated, small_model):
    path, _ = calibrated
    done = CliRunner().invoke(cli, ["check", str(small_model), "--target", str(path), "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["estimate"]["estimated_ms"] > 0
    text = CliRunner().invoke(cli, ["check", str(small_model), "--target", str(path)]).stdout
    assert "estimate:" in text and "not measured" in text
    plain = json.loads(CliRunner().invoke(cli, ["check", str(small_model), "--target", "cpu", "--json"]).stdout)
    assert plain["estimate"] is None


def test_the_edge_tpu_estimate_counts_parameters_that_miss_the_on_chip_memory(tmp_path, small_int8_model):
    from edgekit.analyze import read_model

    small_model = small_int8_model
    target = tmp_path / "tiny_tpu.toml"
    target.write_text('inherits = "edgetpu"\n[limits]\non_chip_memory_bytes = 1000\n'
                      "[cost_model]\nsource = \"a test\"\n"
                      "[cost_model.edgetpu]\nfixed_ms = 0.01\nper_mmac_ms = 0.001\noff_chip_per_mb_ms = 100.0\n")
    result = estimate(small_model, str(target))
    streamed = read_model(small_model).parameter_bytes - 1000
    assert any("stream from the host" in n for n in result.notes)
    assert all(r["placement"] == "target" for r in result.ops)
    on_chip = sum(r["ms"] for r in result.ops)
    assert on_chip == pytest.approx(sum(0.01 + 0.001 * r["macs"] / 1e6 for r in result.ops if r["ms"]))
    assert result.estimated_ms == pytest.approx(on_chip + 100.0 * streamed / 1e6)
    # Nothing runs on the CPU, so nothing borrows CPU coefficients and nothing is left out.
    assert result.left_out == 0 and not any("borrow" in n for n in result.notes), result.notes


def test_ops_the_edge_tpu_leaves_to_a_cpu_without_coefficients_are_counted_out_aloud(tmp_path):
    import numpy as np

    from edgekit._tf import keras_module
    from edgekit.conversion import to_tflite

    keras = keras_module()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, name="on_tpu")(inputs)
    x = keras.layers.LeakyReLU(0.1, name="leaky")(x)  # not an Edge TPU op: it and all after run on the CPU
    x = keras.layers.Conv2D(8, 3, name="after_leaky")(x)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D(name="gap")(x))
    path = tmp_path / "leaky.tflite"
    samples = np.random.default_rng(0).uniform(0, 255, (8, 16, 16, 3)).astype(np.float32)
    path.write_bytes(to_tflite(model, load_target("edgetpu").convert, batch_size=1, representative=samples))
    target = tmp_path / "tpu_only.toml"
    target.write_text('inherits = "edgetpu"\n[cost_model]\nsource = "a test"\n'
                      "[cost_model.edgetpu]\nfixed_ms = 0.01\nper_mmac_ms = 0.001\noff_chip_per_mb_ms = 1.0\n")
    result = estimate(path, str(target))
    cpu_rows = [r for r in result.ops if r["placement"] != "target"]
    assert cpu_rows and any(r["opcode"] == "LEAKY_RELU" for r in cpu_rows)
    assert result.left_out == sum(r["ms"] is None for r in cpu_rows) > 0
    assert f"leaving out {result.left_out} of {len(result.ops)} ops" in result.summary()
    text = CliRunner().invoke(cli, ["check", str(path), "--target", str(target)]).stdout
    assert f"leaving out {result.left_out} of {len(result.ops)} ops" in text, text


def test_the_coral_dev_board_ships_an_edge_tpu_cost_model_that_prices_a_tpu_model(small_int8_model):
    board = load_target("coral-devboard").cost_model
    assert board.edgetpu is not None and "coral.ai/docs/edgetpu/benchmarks" in board.source
    result = estimate(small_int8_model, "coral-devboard")
    assert all(r["placement"] == "target" for r in result.ops) and result.left_out == 0
    tpu = board.edgetpu
    assert result.estimated_ms == pytest.approx(sum(tpu.fixed_ms + tpu.per_mmac_ms * r["macs"] / 1e6
                                                    for r in result.ops if r["ms"]))


@pytest.mark.parametrize("table, message", [
    ('[cost_model.float32.conv]\nper_mmac_ms = "fast"\n', "'cost_model.float32.conv.per_mmac_ms' must be a number"),
    ("[cost_model.float32.conv]\nper_mmac_ms = -1.0\n", "'cost_model.float32.conv.per_mmac_ms' must be a non-neg"),
    ("[cost_model.float32.conv]\nchannel_tile = 0\n", "'cost_model.float32.conv.channel_tile' must be at least 1"),
    ("[cost_model.float32.winograd]\nfixed_ms = 1.0\n", "unknown key 'cost_model.float32.winograd'"),
    ("[cost_model]\nband = 1.5\n[cost_model.int8.conv]\nfixed_ms = 1.0\n", "'cost_model.band' must be below 1"),
    ('[cost_model]\nsource = "empty"\n', "'cost_model' has no coefficients"),
])
def test_a_malformed_cost_model_in_a_target_file_is_one_line_naming_the_key(tmp_path, small_model, table, message):
    target = tmp_path / "bad.toml"
    target.write_text('inherits = "cpu"\n' + table)
    done = CliRunner().invoke(cli, ["estimate", str(small_model), "--target", str(target)])
    assert done.exit_code == 2 and message in done.stderr, done.output
    assert "Traceback" not in done.output


def test_estimate_with_a_target_without_a_cost_model_says_how_to_get_one(small_model):
    done = CliRunner().invoke(cli, ["estimate", str(small_model), "--target", "cpu"])
    assert done.exit_code == 1 and "edgekit calibrate" in done.stderr


def test_calibrate_cli_writes_the_profile_and_refuses_bad_flags_first(tmp_path):
    done = CliRunner().invoke(cli, ["calibrate", "--quick", "--out", str(tmp_path / "box.toml"), "--id", "box"])
    assert done.exit_code == 0, done.output
    assert load_target(str(tmp_path / "box.toml")).id == "box" and "leave-one-out" in done.stdout
    for args, flag in ((["--out", str(tmp_path / "no" / "x.toml")], "--out"), (["--out", str(tmp_path / "x.txt")],
                       "--out"), (["--out", str(tmp_path / "y.toml"), "--threads", "0"], "--threads"),
                       (["--out", str(tmp_path / "z.toml"), "--inherits", "nowhere"], "--inherits")):
        bad = CliRunner().invoke(cli, ["calibrate", *args])
        assert bad.exit_code == 2 and flag in bad.stderr, bad.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["box.toml"]


def test_shipped_cost_models_cite_the_published_figures_they_were_fitted_to(small_model):
    from edgekit.targets import shipped_targets

    with_models = {t: load_target(t).cost_model for t in shipped_targets() if load_target(t).cost_model}
    assert "rpi4" in with_models
    for target, model in with_models.items():
        assert model.source.startswith("fitted to published latencies: "), target
    rpi4 = with_models["rpi4"]
    assert "XNNPACK README" in rpi4.source and rpi4.threads == 4 and rpi4.float32 is not None
    result = estimate(small_model, "rpi4")
    assert result.target == "rpi4" and result.low_ms < result.estimated_ms < result.high_ms
