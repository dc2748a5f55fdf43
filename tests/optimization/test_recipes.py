"""Impossible recipes fail before any training; recipes round-trip through TOML."""

import pytest

import edgekit
from edgekit.config import BuildConfig
from edgekit.errors import ConfigError
from edgekit.optimization import QAT, Cluster, Distill, Prune, stage_from_config, validate_stages
from edgekit.recipe import dump_recipe, load_recipe


@pytest.mark.parametrize(
    "stages, message",
    [
        ([Prune(sparsity=1.0)], r"sparsity must be in \[0, 1\)"),
        ([Prune(sparsity=-0.1)], r"sparsity must be in \[0, 1\)"),
        ([Cluster(clusters=1)], "at least 2 clusters"),
        ([QAT(), QAT()], "quantisation-aware already"),
        ([QAT(), Prune()], "prune must come before"),
        ([Cluster(), Prune()], "prune must come before"),
        ([QAT(), Cluster()], "cluster must come before qat"),
        ([Prune(m_by_n=(4, 2))], "0 < m < n"),
        ([Prune(epochs=0)], "epochs must be at least 1"),
    ],
)
def test_impossible_recipes_are_rejected(stages, message):
    with pytest.raises(ConfigError, match=message):
        validate_stages(stages)


def test_unknown_stage_and_option_are_named():
    with pytest.raises(ConfigError, match="unknown stage kind 'distil'"):
        stage_from_config({"kind": "distil"})
    with pytest.raises(ConfigError, match="unknown key 'prune.sparsty'"):
        stage_from_config({"kind": "prune", "sparsty": 0.5})
    assert stage_from_config({"kind": "prune", "m_by_n": "2:4"}).m_by_n == (2, 4)
    assert stage_from_config({"kind": "cluster", "clusters": 8, "init": "linear"}) == Cluster(clusters=8, init="linear")


def test_build_rejects_a_bad_recipe_before_touching_the_output(tmp_path, small_digits_dir):
    with pytest.raises(ConfigError, match="quantisation-aware already"):
        edgekit.build(small_digits_dir, out=tmp_path / "o", stages=[{"kind": "qat"}, {"kind": "qat"}], progress=False)
    with pytest.raises(ConfigError, match="teacher model .* does not exist"):
        edgekit.build(small_digits_dir, out=tmp_path / "o", distill=Distill(teacher=str(tmp_path / "none.keras")),
                      progress=False)
    with pytest.raises(ConfigError, match="temperature must be positive"):
        Distill(teacher="self", temperature=0).validate()
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_teacher_with_other_classes_is_rejected(tmp_path, small_digits_dir):
    teacher = edgekit.build(small_digits_dir, out=tmp_path / "teacher", backbone="small_cnn", image_size=16,
                            epochs=4, fine_tune_epochs=0, augment="none", progress=False, max_accuracy_drop=1.0)
    (tmp_path / "teacher" / "labels.txt").write_text("".join(f"class{i}\n" for i in range(10)))
    with pytest.raises(ConfigError, match="was trained on classes class0"):
        edgekit.build(small_digits_dir, out=tmp_path / "student", backbone="small_cnn", image_size=16, epochs=1,
                      fine_tune_epochs=0, progress=False, distill={"teacher": str(teacher.keras_path)})
    assert not (tmp_path / "student").exists()


def test_recipe_round_trip_and_unknown_keys(tmp_path):
    config = BuildConfig().replace(
        backbone="small_cnn", image_size=32, epochs=3, augment={"flip": "none", "rotation": 0.1},
        stages=[{"kind": "prune", "sparsity": 0.5}, {"kind": "qat", "epochs": 2}])
    path = tmp_path / "r.toml"
    path.write_text(dump_recipe(config))
    loaded = load_recipe(path)
    assert loaded == config
    assert loaded.model.image_size == (32, 32) and loaded.stages[1] == QAT(epochs=2)
    assert loaded.augment.rotation == 0.1 and loaded.augment.zoom == 0.1
    assert dump_recipe(loaded) == path.read_text()
    path.write_text('backbone = "small_cnn"\nepoch = 3\n')
    with pytest.raises(ConfigError, match="r.toml: unknown key 'epoch'"):
        load_recipe(path)


def test_qat_shared_codebook_option_from_a_recipe():
    from edgekit.optimization import QAT, stage_from_config

    assert stage_from_config({"kind": "qat"}).shared_codebook is True
    assert stage_from_config({"kind": "qat", "shared_codebook": False}) == QAT(shared_codebook=False)
    with pytest.raises(ConfigError, match="'qat.shared_codebook' must be true or false"):
        stage_from_config({"kind": "qat", "shared_codebook": "no"})
