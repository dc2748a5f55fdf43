"""Model files are data: files whose loading would run their own code are refused unless trusted.

Each code-carrying model here would write a marker file when its code runs; the
refusals are checked by that file staying absent, through the real CLI.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgekit._tf import keras_module, tensorflow
from edgekit.cli import cli
from edgekit.model_files import code_in_model_file


def _writer(marker: Path):
    """A lambda that writes ``marker`` when called, its path baked into its bytecode."""
    return eval(f"lambda t: (__import__('pathlib').Path({str(marker)!r}).write_text('ran'), t)[1]")


def _lambda_model(keras, marker: Path):
    inputs = keras.Input((4,), name="x")
    h = keras.layers.Lambda(_writer(marker), name="writes_a_file")(inputs)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="scores")(h))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Models with a file-writing Lambda (tf-keras .h5, Keras 3 .h5 and .keras), a SavedModel
    with a WriteFile op, and calibration samples."""
    root = tmp_path_factory.mktemp("model_files")
    marker = root / "marker.txt"
    tf = tensorflow()
    made = {"marker": marker}
    _lambda_model(keras_module(), marker).save(root / "tf_keras.h5")
    import keras

    keras3 = _lambda_model(keras, marker)
    keras3.save(root / "keras3.h5")
    keras3.save(root / "keras3.keras")
    made.update(tf_keras_h5=root / "tf_keras.h5", keras3_h5=root / "keras3.h5", keras3_keras=root / "keras3.keras")

    class WritesAFile(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def serve(self, x):
            tf.io.write_file(str(marker), tf.strings.as_string(x[0, 0]))
            return {"y": x * 2.0}

    module = WritesAFile()
    tf.saved_model.save(module, str(root / "saved_model"), signatures={"serving_default": module.serve})
    made["saved_model"] = root / "saved_model"
    np.save(root / "calibration.npy", np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32))
    made["calibration"] = root / "calibration.npy"
    marker.unlink(missing_ok=True)  # building the models called the lambdas once
    return made


def _convert(files, model: Path, out: Path, *extra: str):
    return CliRunner().invoke(cli, ["convert", str(model), "--calibration", str(files["calibration"]),
                                    "--target", "cpu", "--out", str(out), "--quiet", *extra])


@pytest.mark.parametrize("kind", ["tf_keras_h5", "keras3_h5"])
def test_an_h5_whose_lambda_writes_a_file_is_refused_and_the_file_not_written(files, kind, tmp_path):
    result = _convert(files, files[kind], tmp_path / "out")
    assert result.exit_code == 1, result.output
    line = result.output.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert str(files[kind]) in line and "'writes_a_file'" in line and "--trust-model-code" in line
    assert not files["marker"].exists()
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind", ["tf_keras_h5", "keras3_h5", "keras3_keras"])
def test_the_same_file_converts_with_trust_model_code_and_the_report_says_so(files, kind, tmp_path):
    result = _convert(files, files[kind], tmp_path / "out", "--trust-model-code", "--allow-cpu-fallback")
    assert result.exit_code == 0, result.output
    # Trusted, the code ran: that is what the flag allows.
    assert files["marker"].read_text() == "ran"
    files["marker"].unlink()
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["source"]["trust_model_code"] is True
    assert (tmp_path / "out" / "model.tflite").stat().st_size > 0


def test_a_keras_file_with_a_lambda_gets_edgekits_message_naming_the_flag(files, tmp_path):
    result = _convert(files, files["keras3_keras"], tmp_path / "out")
    assert result.exit_code == 1
    assert "--trust-model-code" in result.output and "safe_mode" not in result.output
    assert not files["marker"].exists()


def test_a_saved_model_with_a_write_file_op_is_refused(files, tmp_path):
    result = _convert(files, files["saved_model"], tmp_path / "out")
    assert result.exit_code == 1, result.output
    assert "WriteFile" in result.output and "--trust-model-code" in result.output
    assert not files["marker"].exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize("flag", ["--weights", "--distill-from"])
def test_build_refuses_such_a_file_as_weights_or_teacher_before_training(files, flag, small_digits_dir, tmp_path):
    result = CliRunner().invoke(cli, ["build", str(small_digits_dir), "--backbone", "small_cnn",
                                      flag, str(files["keras3_keras"]), "--out", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 1, result.output
    assert flag in result.output and "--trust-model-code" in result.output
    assert not files["marker"].exists() and not (tmp_path / "out").exists()


def test_a_recipe_replay_naming_such_a_teacher_is_refused(files, small_digits_dir, tmp_path):
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(f'backbone = "small_cnn"\n[distill]\nteacher = {json.dumps(str(files["keras3_keras"]))}\n')
    result = CliRunner().invoke(cli, ["build", str(small_digits_dir), "--recipe", str(recipe),
                                      "--out", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 1, result.output
    assert "--distill-from" in result.output and "--trust-model-code" in result.output


def test_the_python_api_given_a_path_refuses_too(files, tmp_path):
    import edgekit

    with pytest.raises(edgekit.WeightsError, match="trust_model_code=True"):
        edgekit.convert(str(files["tf_keras_h5"]), calibration=str(files["calibration"]), out=str(tmp_path / "o"),
                        progress=False)
    assert not files["marker"].exists()


def test_keras_applications_and_plain_layers_carry_no_code(tmp_path):
    keras = keras_module()
    model = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, weights=None, classes=3)
    model.save(tmp_path / "mobilenet.keras")
    model.save(tmp_path / "mobilenet.h5")
    model.save_weights(tmp_path / "weights_only.h5")
    import keras as keras3

    keras3.applications.MobileNetV3Small(input_shape=(32, 32, 3), weights=None, classes=3).save(tmp_path / "v3.keras")
    for name in ("mobilenet.keras", "mobilenet.h5", "weights_only.h5", "v3.keras"):
        assert code_in_model_file(tmp_path / name) == [], name


def test_a_custom_layer_class_is_named_as_code(tmp_path):
    tensorflow()
    import keras

    @keras.saving.register_keras_serializable(package="outside")
    class Doubler(keras.layers.Layer):
        def call(self, x):
            return x * 2

    inputs = keras.Input((4,))
    keras.Model(inputs, Doubler(name="doubler")(inputs)).save(tmp_path / "custom.keras")
    findings = code_in_model_file(tmp_path / "custom.keras")
    assert findings and "doubler" in findings[0].where and "Doubler" in findings[0].what
