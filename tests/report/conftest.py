"""One real build with every stage, one real conversion and one real profile, shared by the report tests."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import edgekit
from edgekit.cli import cli

STAGES = [{"kind": "prune", "sparsity": 0.5, "epochs": 2}, {"kind": "cluster", "clusters": 8, "epochs": 2},
          {"kind": "qat", "epochs": 2}]


@pytest.fixture(scope="session")
def staged_build(small_digits_dir, tmp_path_factory):
    """A small CNN on 300 digits, pruned, clustered and QAT-trained for the CPU: a few of
    its validation images are misclassified, so the page has mistakes to show."""
    out = tmp_path_factory.mktemp("report_build") / "out"
    return edgekit.build(small_digits_dir, backbone="small_cnn", weights="none", image_size=16, epochs=4,
                         fine_tune_epochs=0, augment="none", stages=STAGES, max_accuracy_drop=1.0,
                         max_stage_drop=1.0, out=out, progress=False)


@pytest.fixture(scope="session")
def conversion(tmp_path_factory):
    """A two-input, two-output tf-keras model converted for the CPU from .npz samples."""
    from edgekit._tf import keras_module

    keras = keras_module()
    root = tmp_path_factory.mktemp("report_convert")
    features = keras.Input((12,), name="features")
    image = keras.Input((8, 8, 1), name="image")
    x = keras.layers.Dense(16, activation="relu", name="dense")(features)
    y = keras.layers.Conv2D(8, 3, activation="relu", name="conv")(image)
    y = keras.layers.GlobalAveragePooling2D(name="pool")(y)
    joined = keras.layers.Concatenate(name="join")([x, y])
    model = keras.Model([features, image], [keras.layers.Dense(4, activation="softmax", name="scores")(joined),
                                            keras.layers.Dense(1, name="value")(joined)])
    model.save(root / "two.keras")
    rng = np.random.default_rng(0)
    np.savez(root / "samples.npz", features=rng.normal(size=(200, 12)).astype(np.float32),
             image=rng.normal(size=(200, 8, 8, 1)).astype(np.float32))
    return edgekit.convert(root / "two.keras", calibration=root / "samples.npz", target="cpu", out=root / "out",
                           progress=False)


@pytest.fixture(scope="session")
def profile_page(staged_build, tmp_path_factory):
    """``edgekit profile --html`` comparing the build's .tflite with itself under another name."""
    root = tmp_path_factory.mktemp("report_profile")
    for name in ("a", "b"):
        (root / name).mkdir()
        (root / name / "model.tflite").write_bytes(staged_build.tflite_path.read_bytes())
    page = root / "latency.html"
    result = CliRunner().invoke(cli, ["profile", str(root / "a" / "model.tflite"), str(root / "b" / "model.tflite"),
                                      "--runs", "50", "--warmup", "3", "--html", str(page), "--json"])
    assert result.exit_code == 0, result.output
    return page, json.loads(result.stdout)
