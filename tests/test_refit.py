"""A refit: the shipped model trained again on every image, for the epochs validation chose."""

import pytest

import edgekit

# Small enough to finish in seconds; a prune stage, so stages are replayed too.
OPTIONS = dict(target="cpu", backbone="small_cnn", weights="none", image_size=16, epochs=8, fine_tune_epochs=0,
               patience=2, augment="none", progress=False, max_accuracy_drop=1.0, max_stage_drop=1.0,
               stages=[{"kind": "prune", "sparsity": 0.5, "epochs": 3, "ramp_epochs": 1}])


@pytest.mark.slow
def test_refit_replays_the_chosen_epochs_on_every_image_and_keeps_the_held_out_figures(tmp_path, small_digits_dir):
    plain = edgekit.build(small_digits_dir, out=tmp_path / "plain", **OPTIONS).report
    refit = edgekit.build(small_digits_dir, out=tmp_path / "refit", refit=True, **OPTIONS).report

    data = plain["data"]
    assert refit["refit"]["images"] == data["train_images"] + data["validation_images"] == 300
    # The first run of the refit build is the plain build: its figures are the held-out ones.
    held = refit["refit"]["held_out"]
    assert held["images"] == data["validation_images"]
    assert held["keras_accuracy"] == plain["keras"]["accuracy"]
    assert held["staged_accuracy"] == plain["stages"][-1]["val_accuracy"]
    assert held["tflite_accuracy"] == plain["tflite"]["accuracy"]
    # Each phase and stage runs for the epoch the first run kept, at its learning rates.
    [first], [again] = plain["training"]["phases"], refit["training"]["phases"]
    assert again["epochs_run"] == first["best_epoch"] and again["val_accuracy"] is None
    assert again["history"]["learning_rate"] == first["history"]["learning_rate"][:first["best_epoch"]]
    assert [s["epochs_run"] for s in refit["stages"]] == [s["best_epoch"] for s in plain["stages"]]
    assert refit["stages"][0]["val_accuracy"] is None
    assert refit["recipe"]["refit"] is True and plain["recipe"]["refit"] is False
    assert refit["tflite"]["sha256"] != plain["tflite"]["sha256"]
    assert (tmp_path / "refit" / "report.html").is_file()

    # A refit that replays the plain build's record is the same model, byte for byte: what
    # `edgekit tune` does with its chosen trial instead of training it a second time.
    replayed = edgekit.build(small_digits_dir, out=tmp_path / "replayed", refit=True,
                             refit_from=str(tmp_path / "plain"), **OPTIONS).report
    assert replayed["tflite"]["sha256"] == refit["tflite"]["sha256"]
    assert replayed["refit"]["held_out"]["tflite_accuracy"] == held["tflite_accuracy"]


def test_refit_from_another_recipe_fails_in_one_line_naming_what_differs(tmp_path, small_digits_dir):
    folder = tmp_path / "first"
    folder.mkdir()
    (folder / "report.json").write_text('{"recipe": {"backbone": "mobilenet_v2"}}')
    with pytest.raises(edgekit.ConfigError, match=r"refit_from: .*report.json was built with another recipe "
                                                  r"\(it differs in .*backbone"):
        edgekit.build(small_digits_dir, out=tmp_path / "out", refit=True, refit_from=str(folder), **OPTIONS)
    with pytest.raises(edgekit.ConfigError, match="set refit=True as well"):
        edgekit.build(small_digits_dir, out=tmp_path / "out", refit_from=str(folder), **OPTIONS)
    with pytest.raises(edgekit.ConfigError, match="refit_from: cannot read"):
        edgekit.build(small_digits_dir, out=tmp_path / "out", refit=True, refit_from=str(tmp_path / "nowhere"),
                      **OPTIONS)
    assert not (tmp_path / "out").exists()
