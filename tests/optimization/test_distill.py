"""Distillation: a small student learns more from a strong teacher than from the labels alone."""

import shutil

import pytest

import edgekit
from tests.conftest import write_digits


@pytest.mark.slow
def test_distilled_student_beats_the_same_student_on_labels_alone(tmp_path, digits_dir):
    teacher = edgekit.build(digits_dir, target="cpu", out=tmp_path / "teacher", backbone="small_cnn", image_size=16,
                            epochs=15, fine_tune_epochs=0, augment="none", progress=False)
    assert teacher.report["keras"]["accuracy"] > 0.93

    # The student sees 8 images of each digit; both runs validate on the same other images.
    write_digits(tmp_path / "pool", per_class=80)
    for digit in range(10):
        files = sorted((tmp_path / "pool" / str(digit)).iterdir())
        for split, chosen in (("few", files[:8]), ("val", files[8:])):
            folder = tmp_path / split / str(digit)
            folder.mkdir(parents=True)
            for f in chosen:
                shutil.copy(f, folder / f.name)
    student = dict(target="cpu", backbone="small_cnn", alpha=0.5, image_size=16, epochs=30, fine_tune_epochs=0,
                   augment="rotation=0.05,zoom=0.1,translation=0.1,flip=none", batch_size=16, learning_rate=3e-3,
                   patience=0, val_dir=tmp_path / "val", progress=False, max_accuracy_drop=1.0, seed=3)
    alone = edgekit.build(tmp_path / "few", out=tmp_path / "alone", **student)
    taught = edgekit.build(tmp_path / "few", out=tmp_path / "taught", **student,
                           distill={"teacher": str(teacher.keras_path), "temperature": 4.0, "alpha": 0.1})
    a, t = alone.report["keras"]["accuracy"], taught.report["keras"]["accuracy"]
    assert taught.report["recipe"]["distill"]["teacher"] == str(teacher.keras_path)
    # Measured here: distilled 0.796, labels alone 0.736.
    assert t > a + 0.03, f"distilled {t:.3f} vs labels alone {a:.3f}"


@pytest.mark.slow
def test_float_model_teaches_the_stages(tmp_path, small_digits_dir):
    options = dict(target="edgetpu", backbone="small_cnn", image_size=16, epochs=4, fine_tune_epochs=0,
                   learning_rate=3e-3, progress=False, max_accuracy_drop=1.0, max_stage_drop=1.0,
                   stages=[{"kind": "qat", "epochs": 2}])
    result = edgekit.build(small_digits_dir, out=tmp_path / "o", distill={"teacher": "self"}, **options)
    plain = edgekit.build(small_digits_dir, out=tmp_path / "plain", **options)
    assert result.report["recipe"]["distill"] == {"teacher": "self", "temperature": 4.0, "alpha": 0.1}
    assert [s["name"] for s in result.report["stages"]] == ["qat"]
    # The same seed and data: only the teacher's loss can make the stage train differently.
    def trained(build):
        return [(p["val_accuracy"], p["best_epoch"]) for p in build.report["training"]["phases"]]

    assert trained(result) == trained(plain)
    # Same seed, data and starting weights: without the teacher's term in the loss the two
    # stages' first epochs would log the same training loss. With it (0.9 of the loss, a
    # KL divergence scaled by T^2 = 16 against the float model) they are far apart.
    first = [build.report["stages"][0]["history"]["loss"][0] for build in (result, plain)]
    assert abs(first[0] - first[1]) > 0.5 * max(first), first
    with pytest.raises(edgekit.ConfigError, match="teaches the optimisation stages"):
        edgekit.build(small_digits_dir, out=tmp_path / "p", distill={"teacher": "self"}, progress=False)
