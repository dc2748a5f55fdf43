"""One conversion and one verification: build and convert agree, and edgekit.verify judges any .tflite."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import edgekit
from edgekit._tf import keras_module
from edgekit.cli import cli
from edgekit.data import load_image_folder
from edgekit.inference import run_signature


def _tiny_model(seed: int):
    keras = keras_module()
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6,), name="x")
    h = keras.layers.Dense(16, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="scores")(h))


@pytest.fixture(scope="module")
def converted_tiny(tmp_path_factory):
    model = _tiny_model(0)
    x = np.random.default_rng(0).normal(size=(200, 6)).astype(np.float32)
    out = tmp_path_factory.mktemp("tiny") / "out"
    result = edgekit.convert(model, target="gpu", calibration=x, out=str(out), progress=False)
    return model, x, result


def test_verify_reports_one_vocabulary_for_a_faithful_conversion(converted_tiny):
    model, x, result = converted_tiny
    labels = model.predict(x, verbose=0).argmax(axis=1)
    v = edgekit.verify(result.tflite_path, "gpu", reference=model, inputs=x, labels=labels)
    (scores,) = v.outputs
    assert scores.snr_db > 30 and scores.cosine > 0.999 and scores.top1_agreement > 0.95
    assert v.accuracy.before == 1.0 and v.accuracy.drop < 0.05
    assert set(v.to_dict()) == {"samples", "outputs", "accuracy"} and v.samples == len(x)


def test_verify_fails_a_tflite_that_is_not_the_models_conversion(converted_tiny):
    _, x, result = converted_tiny
    with pytest.raises(edgekit.ConversionError, match="least allowed 30"):
        edgekit.verify(result.tflite_path, "gpu", reference=_tiny_model(1), inputs=x)
    # Without a target nothing sets a least SNR; a given one still gates.
    edgekit.verify(result.tflite_path, reference=_tiny_model(1), inputs=x)
    with pytest.raises(edgekit.ConversionError, match="--min-snr"):
        edgekit.verify(result.tflite_path, reference=_tiny_model(1), inputs=x, min_snr=10)


def test_verify_takes_outputs_computed_elsewhere(converted_tiny):
    model, x, result = converted_tiny
    expected = {"scores": model.predict(x, verbose=0)}
    v = edgekit.verify(result.tflite_path, "gpu", reference=expected, inputs={"x": x})
    assert v.outputs[0].name == "scores" and v.outputs[0].snr_db > 30


@pytest.mark.slow
def test_a_build_and_a_convert_of_its_model_give_the_same_outputs(small_digits_dir, tmp_path):
    """build --target gpu used to ship the plain float16 conversion, convert edgekit's own."""
    build = tmp_path / "build"
    result = CliRunner().invoke(cli, ["build", str(small_digits_dir), "--target", "gpu", "--backbone", "small_cnn",
                                      "--image-size", "16", "--epochs", "8", "--out", str(build), "--quiet"])
    assert result.exit_code == 0, result.output
    images = load_image_folder(small_digits_dir, image_size=(16, 16)).images[:100].astype(np.float32)
    np.save(tmp_path / "images.npy", images)
    converted = tmp_path / "converted"
    result = CliRunner().invoke(cli, ["convert", str(build / "model.keras"), "--target", "gpu", "--calibration",
                                      str(tmp_path / "images.npy"), "--out", str(converted), "--quiet"])
    assert result.exit_code == 0, result.output
    built = next(iter(run_signature(build / "model.tflite", {"image": images}).values()))
    again = next(iter(run_signature(converted / "model.tflite", {"image": images}).values()))
    assert np.array_equal(built, again)
    report = json.loads((build / "report.json").read_text())
    assert report["float16_kept_float32"] is not None
    # A build reports the SNR and gates accuracy; an SNR floor only when one is given.
    assert report["verification"]["outputs"][0]["snr_db"] > 30 and report["verification"]["min_snr_db"] is None
    strict = CliRunner().invoke(cli, ["build", str(small_digits_dir), "--target", "gpu", "--backbone", "small_cnn",
                                      "--image-size", "16", "--epochs", "8", "--min-snr", "200",
                                      "--out", str(tmp_path / "strict"), "--quiet"])
    assert strict.exit_code == 1 and "least allowed 200" in strict.output
    assert not (tmp_path / "strict").exists()
