"""End to end: real images on disk, real training, real conversion, real interpreter."""

import json

import numpy as np
import pytest

import edgekit
from edgekit.recipe import load_recipe
from tests.conftest import REPO, write_digits

# The sample's recipe, as `make demo` builds it.
DIGITS_RECIPE = load_recipe(REPO / "samples" / "digits.toml").replace(progress=False)


@pytest.mark.slow
def test_digits_edgetpu_build_is_accurate_and_int8_keeps_it(digits_dir, tmp_path):
    out = tmp_path / "tpu"
    result = edgekit.build(digits_dir, DIGITS_RECIPE, target="edgetpu", out=out)
    report = json.loads((out / "report.json").read_text())
    assert report == json.loads(json.dumps(result.report))

    keras_acc, lite = report["keras"]["accuracy"], report["tflite"]
    assert keras_acc >= 0.93
    assert lite["accuracy"] >= keras_acc - 0.015
    assert lite["evaluated_on"] == report["data"]["validation_images"] == 359
    assert lite["input"]["dtype"] == "uint8" and lite["output"]["dtype"] == "uint8"
    assert lite["input"]["shape"] == [1, 32, 32, 3]

    mistakes = ["mistakes"] if report["validation"]["errors"] else []
    assert sorted(p.name for p in out.iterdir()) == ["labels.txt", *mistakes, "model.keras", "model.tflite",
                                                     "recipe.toml", "report.html", "report.json"]
    assert (out / "labels.txt").read_text().split() == [str(d) for d in range(10)]
    assert lite["bytes"] == (out / "model.tflite").stat().st_size
    assert 0 < lite["gzip_bytes"] < lite["bytes"]
    assert report["recipe"]["backbone"] == "small_cnn" and report["recipe"]["seed"] == 0
    assert report["training"]["phases"][0]["name"] == "scratch"
    assert report["versions"]["tensorflow"].startswith("2.")
    assert sum(report["data"]["train_counts"].values()) + 359 == 1797
    assert report["check"]["fully_supported"] and report["check"]["target"] == "edgetpu"
    assert report["timings_seconds"]["preflight"] < report["timings_seconds"]["train"]

    assert result.tflite_path.read_bytes()[4:8] == b"TFL3"


@pytest.mark.slow
def test_transfer_from_a_saved_model_trains_a_cached_head_then_fine_tunes_and_learns(tmp_path):
    """Features learned on digits 0-4 serve to learn 5-9 from 15 images per class."""
    write_digits(tmp_path / "first", classes=range(5))
    # Split 5-9 by index: the first 15 of each digit train, the next 60 validate.
    import shutil

    write_digits(tmp_path / "all_second", classes=range(5, 10), per_class=75)
    for digit in range(5, 10):
        files = sorted((tmp_path / "all_second" / str(digit)).iterdir())
        for split, chosen in (("second", files[:15]), ("second_val", files[15:])):
            folder = tmp_path / split / str(digit)
            folder.mkdir(parents=True)
            for f in chosen:
                shutil.copy(f, folder / f.name)

    common = DIGITS_RECIPE.replace(target="cpu", augment="none", patience=0)
    pretrained = edgekit.build(tmp_path / "first", common, out=tmp_path / "pre", epochs=12)
    assert pretrained.report["keras"]["accuracy"] > 0.9

    transfer = edgekit.build(tmp_path / "second", common, out=tmp_path / "transfer", val_dir=tmp_path / "second_val",
                             weights=str(pretrained.keras_path), epochs=10, fine_tune_epochs=5, fine_tune_layers=4)
    phases = transfer.report["training"]["phases"]
    # An int8 target: the head then fits the features the int8 backbone computes.
    assert [p["name"] for p in phases] == ["head", "fine_tune", "int8_head"]
    assert [p["cached_features"] for p in phases] == [True, False, True]
    assert [p["epochs_run"] for p in phases] == [10, 5, 10]
    assert transfer.report["data"]["validation_images"] == 300
    assert transfer.report["training"]["learned"][0]["learned"] is True
    # Measured here: 0.77 on 300 validation images of classes the backbone never saw
    # (chance is 0.2). Training from scratch on the same 75 images now reaches 0.91:
    # digits are easy enough that a converged small CNN needs no transfer.
    assert transfer.report["tflite"]["accuracy"] > 0.6


@pytest.mark.slow
def test_arrays_build_for_gpu_is_float16_and_verified(tmp_path):
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images[:300] * (255 / 16)).astype(np.uint8)
    result = edgekit.build(
        (x, digits.target[:300]), target="gpu", out=tmp_path / "gpu", backbone="small_cnn", weights="none",
        image_size=16, epochs=3, fine_tune_epochs=0, augment="none", progress=False,
    )
    lite = result.report["tflite"]
    assert lite["quantization"] == "float16" and lite["input"]["dtype"] == "float32"
    # float16 weights change the scores by a rounding error; near-ties may flip, so the
    # scores are compared, not only the argmax.
    assert lite["max_abs_score_difference"] < 0.01
    assert lite["agreement"] >= 0.9
    assert result.report["data"]["source"] == "arrays"
    assert result.report["data"]["classes"] == [str(d) for d in range(10)]


def test_bad_options_fail_before_any_output(tmp_path, small_digits_dir):
    with pytest.raises(edgekit.ConfigError, match="'backbone' is 'resnet'; use one of"):
        edgekit.build(small_digits_dir, out=tmp_path / "o", backbone="resnet", progress=False)
    with pytest.raises(edgekit.ConfigError, match="nothing would be trained"):
        edgekit.build(small_digits_dir, out=tmp_path / "o", weights="none", epochs=0, fine_tune_epochs=0,
                      progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_same_seed_gives_the_same_model(tmp_path, small_digits_dir):
    options = dict(target="cpu", backbone="small_cnn", weights="none", image_size=16, epochs=2,
                   fine_tune_epochs=0, augment="rotation=0.1,noise=4", progress=False,
                   # Two epochs leave the model near chance, where int8 rounding moves
                   # accuracy by several points; this test is about reproducibility.
                   max_accuracy_drop=1.0)
    first = edgekit.build(small_digits_dir, out=tmp_path / "a", seed=7, **options)
    second = edgekit.build(small_digits_dir, out=tmp_path / "b", seed=7, **options)
    assert first.report["tflite"]["sha256"] == second.report["tflite"]["sha256"]
    first_phase, second_phase = first.report["training"]["phases"][0], second.report["training"]["phases"][0]
    assert first_phase["val_accuracy"] == second_phase["val_accuracy"]


def test_impossible_backbone_for_the_target_fails_before_training(tmp_path, small_digits_dir):
    """MobileNetV3's hard-swish cannot run on the Edge TPU: the pre-flight check says so."""
    with pytest.raises(edgekit.ConversionError) as err:
        edgekit.build(small_digits_dir, target="coral-usb", out=tmp_path / "out", backbone="mobilenet_v3_small",
                      alpha=0.75, weights="none", image_size=32, epochs=50, progress=False)
    message = str(err.value)
    assert message.startswith("pre-flight: the untrained model does not run fully on coral-usb")
    assert "HARD_SWISH is not an Edge TPU operation" in message and "--allow-cpu-fallback" in message
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_cpu_fallback_can_be_allowed_and_is_reported(tmp_path, small_digits_dir):
    # A user's board file: an Edge TPU profile converted to float16, which the TPU cannot run.
    board = tmp_path / "float-tpu.toml"
    board.write_text('id = "float-tpu"\ninherits = "edgetpu"\n[convert]\nquantization = "float16"\n'
                     'input_type = "float32"\noutput_type = "float32"\n')
    options = dict(target=board, backbone="small_cnn", image_size=16, epochs=4, fine_tune_epochs=0,
                   augment="none", progress=False)
    with pytest.raises(edgekit.ConversionError, match="not quantised"):
        edgekit.build(small_digits_dir, out=tmp_path / "refused", **options)
    result = edgekit.build(small_digits_dir, out=tmp_path / "out", allow_cpu_fallback=True, **options)
    check = result.report["check"]
    assert check["target"] == "float-tpu" and not check["fully_supported"]
    assert any((op["reason"] or "").startswith("not quantised") for op in check["ops"])
    assert result.report["recipe"]["allow_cpu_fallback"] is True


@pytest.mark.slow
def test_a_recipe_with_python_overrides_replays_and_records_only_what_replays(tmp_path, small_digits_dir):
    """build(data, config, **overrides) from Python, a user's target file recorded by
    its path, a separate validation folder left out of the recipe."""
    import shutil

    from edgekit.recipe import load_recipe

    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "cpu.toml").write_text('inherits = "cpu"\n[profile]\nthreads = 2\n')
    val = tmp_path / "val"
    shutil.copytree(small_digits_dir, val)
    recipe = tmp_path / "base.toml"
    recipe.write_text('backbone = "small_cnn"\nimage_size = 16\nepochs = 3\nmax_accuracy_drop = 1.0\n')
    first = edgekit.build(small_digits_dir, load_recipe(recipe), target=str(tmp_path / "targets" / "cpu.toml"),
                          val_dir=val, out=tmp_path / "first", progress=False)
    recorded = (first.out / "recipe.toml").read_text()
    assert f'target = "{tmp_path / "targets" / "cpu.toml"}"' in recorded
    assert "val_dir" not in recorded and first.report["data"]["validation"] == str(val)
    assert first.report["target"]["id"] == "cpu" and first.report["target"]["profile"]["threads"] == 2

    replay = edgekit.build(small_digits_dir, load_recipe(first.out / "recipe.toml"), out=tmp_path / "replay",
                           progress=False)
    assert (replay.out / "recipe.toml").read_text() == recorded
    assert replay.report["target"]["profile"]["threads"] == 2
    assert replay.report["data"]["validation"] == "stratified split"


def test_preflight_alone_resolves_the_defaults_and_needs_no_tensorflow(small_digits_dir, tmp_path):
    import subprocess
    import sys

    code = f"""
import sys
from edgekit.builder import preflight
from edgekit.config import BuildConfig
plan = preflight({str(small_digits_dir)!r}, BuildConfig().replace(backbone="small_cnn", target="edgetpu",
                                                                 out={str(tmp_path / "o")!r}))
assert plan.weights.kind.value == "none" and plan.image_size == (32, 32), plan
assert plan.config.training.fine_tune_learning_rate == plan.config.training.learning_rate / 10
assert plan.profile.id == "edgetpu"
assert "tensorflow" not in sys.modules
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr
    assert not (tmp_path / "o").exists()
