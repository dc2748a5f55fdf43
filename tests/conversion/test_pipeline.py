"""edgekit convert on models the tests save themselves: tf-keras, Keras 3, SavedModel, several inputs and outputs."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from edgekit._tf import keras_module, tensorflow
from edgekit.cli import cli
from edgekit.conversion.pipeline import convert
from edgekit.errors import ConversionError
from tests.conftest import write_digits


@pytest.fixture(scope="module")
def tf_keras_classifier(tmp_path_factory):
    """A small digits classifier trained a little, with its own pixel scaling, saved by tf-keras."""
    from sklearn.datasets import load_digits

    keras = keras_module()
    keras.utils.set_random_seed(0)
    digits = load_digits()
    x = np.repeat(np.kron(digits.images, np.ones((2, 2)))[..., None] * 16, 3, axis=-1).astype(np.float32)
    inputs = keras.Input((16, 16, 3), name="image")
    h = keras.layers.Rescaling(1 / 255.0, name="scale")(inputs)
    h = keras.layers.Conv2D(8, 3, activation="relu")(h)
    h = keras.layers.Flatten()(keras.layers.MaxPooling2D()(h))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="scores")(h))
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    # Trained well past chance: near-uniform scores would flip their argmax under any rounding.
    history = model.fit(x, digits.target, epochs=25, batch_size=64, verbose=0)
    assert history.history["accuracy"][-1] > 0.8
    path = tmp_path_factory.mktemp("tfk") / "classifier.keras"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def digit_images(tmp_path_factory):
    root = tmp_path_factory.mktemp("calibration")
    write_digits(root, per_class=12)
    return root


@pytest.fixture(scope="module")
def keras3_two_in_two_out(tmp_path_factory):
    """Keras 3 (not tf-keras): features and a spectrogram-like input, class scores and a regression out."""
    tensorflow()
    import keras

    keras.utils.set_random_seed(0)
    features = keras.Input((6,), name="features")
    spectrogram = keras.Input((12, 8, 1), name="spectrogram")
    h = keras.layers.Concatenate()([features, keras.layers.Flatten()(keras.layers.Conv2D(4, 3)(spectrogram))])
    h = keras.layers.Dense(16, activation="relu")(h)
    model = keras.Model([features, spectrogram], [keras.layers.Dense(3, activation="softmax", name="kind")(h),
                                                  keras.layers.Dense(1, name="level")(h)])
    path = tmp_path_factory.mktemp("k3") / "two.keras"
    model.save(path)
    rng = np.random.default_rng(0)
    data = path.with_name("samples.npz")
    np.savez(data, features=rng.normal(size=(120, 6)).astype(np.float32),
             spectrogram=rng.normal(size=(120, 12, 8, 1)).astype(np.float32))
    return path, data


@pytest.mark.parametrize("target, quantization, least_snr", [("cpu", "int8", 15), ("edgetpu", "int8", 15),
                                                               ("gpu", "float16", 40)])
def test_a_tf_keras_classifier_converts_for_each_target_and_is_verified(tf_keras_classifier, digit_images,
                                                                        tmp_path, target, quantization,
                                                                        least_snr):
    (tmp_path / "labels.txt").write_text("".join(f"digit {d}\n" for d in range(10)))
    result = convert(tf_keras_classifier, target=target, calibration=digit_images, out=tmp_path / "o",
                     labels=tmp_path / "labels.txt", progress=False)
    report = result.report
    assert report["source"]["kind"] == "tf_keras" and report["source"]["preprocessing"] == "scale"
    assert report["tflite"]["quantization"] == quantization
    [scores] = report["verification"]["outputs"]
    assert scores["name"] == "scores" and scores["snr_db"] >= least_snr and scores["top1_agreement"] >= 0.9
    assert report["calibration"]["verified_on"] == 24 and report["calibration"]["calibrated_on"] == 96
    assert report["check"]["fully_supported"], report["check"]
    [image] = report["tflite"]["inputs"]
    assert image["shape"] == [1, 16, 16, 3]
    assert image["dtype"] == {"cpu": "float32", "edgetpu": "uint8", "gpu": "float32"}[target]
    assert sorted(p.name for p in result.out.iterdir()) == ["model.tflite", "recipe.toml", "report.html", "report.json"]
    from edgekit.metadata import read_metadata

    metadata = read_metadata(result.tflite_path)
    assert metadata.name == "classifier" and metadata.inputs[0].color_space == "RGB"
    assert metadata.inputs[0].size == (16, 16) and metadata.outputs[0].labels == tuple(f"digit {d}" for d in range(10))


def test_int16_activations_come_closer_to_the_source_model_than_int8(tf_keras_classifier, digit_images, tmp_path):
    from edgekit.analyze import read_model

    snr = {}
    for target in ("cpu", "cpu-int16x8"):
        result = convert(tf_keras_classifier, target=target, calibration=digit_images, out=tmp_path / target,
                         progress=False)
        [scores] = result.report["verification"]["outputs"]
        snr[target] = scores["snr_db"]
        activations = {t.dtype for t in read_model(result.tflite_path).main.tensors if not t.is_constant}
        assert ("INT16" in activations) == (target == "cpu-int16x8"), activations
    assert result.report["tflite"]["quantization"] == "int16x8"
    assert [i["dtype"] for i in result.report["tflite"]["inputs"]] == ["float32"]
    assert snr["cpu-int16x8"] > snr["cpu"] + 4, snr


def test_a_keras3_model_with_two_inputs_and_two_outputs_converts_by_name(keras3_two_in_two_out, tmp_path):
    model, samples = keras3_two_in_two_out
    result = CliRunner().invoke(cli, ["convert", str(model), "--calibration", str(samples), "--target", "cpu",
                                      "--out", str(tmp_path / "o"), "--quiet", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["source"]["kind"] == "keras3"
    outputs = {o["name"]: o for o in report["verification"]["outputs"]}
    assert set(outputs) == {"kind", "level"}
    assert outputs["kind"]["top1_agreement"] >= 0.9 and outputs["level"]["top1_agreement"] is None
    assert min(o["snr_db"] for o in outputs.values()) >= 15
    assert {i["name"] for i in report["tflite"]["inputs"]} == {"features", "spectrogram"}

    # The .tflite's signature runs by name, as an app would call it, and matches Keras 3.
    import keras

    from edgekit.inference import run_signature

    source = keras.saving.load_model(model)
    with np.load(samples) as arrays:
        x = {name: arrays[name][-5:] for name in ("features", "spectrogram")}
    expected = source([x["features"], x["spectrogram"]])
    got = run_signature(tmp_path / "o" / "model.tflite", x)
    np.testing.assert_allclose(got["level"], np.asarray(expected[1]), atol=0.15)


def test_a_dynamic_batch_becomes_the_static_batch_the_edge_tpu_needs(tmp_path):
    keras = keras_module()
    inputs = keras.Input((8, 8, 3))  # batch None
    model = keras.Model(inputs, keras.layers.Dense(4)(keras.layers.Flatten()(inputs)))
    tf = tensorflow()
    tf.saved_model.save(model, str(tmp_path / "sm"))
    np.save(tmp_path / "x.npy", np.random.default_rng(0).uniform(0, 1, (40, 8, 8, 3)).astype(np.float32))
    result = convert(tmp_path / "sm", target="edgetpu", calibration=tmp_path / "x.npy", out=tmp_path / "o",
                     progress=False)
    assert result.report["source"]["kind"] == "saved_model"
    assert result.report["source"]["inputs"][0]["shape"][0] is None
    assert result.report["tflite"]["inputs"][0]["shape"] == [1, 8, 8, 3]
    assert result.report["check"]["fully_supported"]


def test_calibration_that_misses_the_real_range_fails_with_nothing_written(tf_keras_classifier, digit_images,
                                                                          tmp_path):
    """Calibrated on dark frames only, verified on the real digits held back: the int8
    ranges clip every real activation, and the gate refuses the model."""
    from edgekit.conversion.samples import held_back_indices, load_samples
    from edgekit.conversion.source import load_source

    source = load_source(tf_keras_classifier)
    real = load_samples(digit_images, source.inputs)["image"]
    broken = np.zeros_like(real)
    verify = held_back_indices(len(real), 24)  # --verify-samples 24, a fifth of 120
    broken[verify] = real[verify]
    np.save(tmp_path / "broken.npy", broken)
    result = CliRunner().invoke(cli, ["convert", str(tf_keras_classifier), "--calibration",
                                      str(tmp_path / "broken.npy"), "--verify-samples", "24", "--out",
                                      str(tmp_path / "o"), "--quiet"])
    assert result.exit_code == 1
    assert "dB from the source model" in result.stderr and result.stderr.count("\n") == 1
    assert "--target cpu-int16x8" in result.stderr
    assert not (tmp_path / "o").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["broken.npy"]
    with pytest.raises(ConversionError, match="dB from the source model"):
        convert(tf_keras_classifier, calibration=tmp_path / "broken.npy", verify_samples=24, out=tmp_path / "p",
                progress=False)
    with pytest.raises(ConversionError, match="a target file that inherits 'rpi4' and sets .convert. quantization"):
        convert(tf_keras_classifier, target="rpi4", calibration=tmp_path / "broken.npy", verify_samples=24,
                out=tmp_path / "q", progress=False)


def test_a_recipe_replays_the_conversion(tf_keras_classifier, digit_images, tmp_path):
    first = CliRunner().invoke(cli, ["convert", str(tf_keras_classifier), "-c", str(digit_images), "--target",
                                     "edgetpu", "--min-snr", "12", "--out", str(tmp_path / "a"), "--quiet"])
    assert first.exit_code == 0, first.output
    second = CliRunner().invoke(cli, ["convert", str(tf_keras_classifier), "-c", str(digit_images), "--recipe",
                                      str(tmp_path / "a" / "recipe.toml"), "--out", str(tmp_path / "b"), "--quiet"])
    assert second.exit_code == 0, second.output
    assert (tmp_path / "a" / "recipe.toml").read_text() == (tmp_path / "b" / "recipe.toml").read_text()
    assert (tmp_path / "a" / "model.tflite").read_bytes() == (tmp_path / "b" / "model.tflite").read_bytes()
    assert 'target = "edgetpu"' in (tmp_path / "a" / "recipe.toml").read_text()


@pytest.mark.parametrize("args, message", [
    (["nowhere.keras", "-c", "."], "model nowhere.keras does not exist"),
    (["MODEL", "-c", "nowhere"], "calibration data nowhere does not exist"),
    (["MODEL", "-c", "DATA", "--std", "0"], "--std must be positive"),
    (["MODEL", "-c", "DATA", "--mean", "127.5"], "the model scales its own pixels (layer scale)"),
    (["MODEL", "-c", "DATA", "--target", "tpu"], "unknown target 'tpu'"),
])
def test_bad_convert_inputs_get_one_line_and_exit_1(tf_keras_classifier, digit_images, tmp_path, args, message):
    args = [str(tf_keras_classifier) if a == "MODEL" else str(digit_images) if a == "DATA" else a for a in args]
    result = CliRunner().invoke(cli, ["convert", *args, "--out", str(tmp_path / "o"), "--quiet"])
    assert result.exit_code == 1 and message in result.stderr and result.stderr.count("\n") == 1, result.output
    assert not (tmp_path / "o").exists()
