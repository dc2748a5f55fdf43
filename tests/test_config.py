"""BuildConfig: the one definition of every build option, fed by recipes, flags and keywords."""

import dataclasses
import subprocess
import sys

import pytest
from click.testing import CliRunner

from edgekit.cli import cli
from edgekit.config import BuildConfig, TrainingConfig, option_fields, option_owners
from edgekit.errors import ConfigError, OptionError
from edgekit.optimization import QAT, Prune
from edgekit.recipe import dump_recipe, load_recipe, recipe_keys


def test_every_option_has_one_name_across_the_sections():
    names = [name for name, _, _ in BuildConfig().options()]
    assert len(names) == len(set(names)) == len(option_owners())


def test_every_option_but_the_tables_is_a_build_flag_with_its_help():
    help_text = CliRunner().invoke(cli, ["build", "--help"], terminal_width=200).output
    for name, f in option_fields().items():
        if name in ("stages", "distill", "progress"):
            continue  # --prune/--cluster/--qat, --distill-from, --quiet
        if name in ("refit_from", "preflight_conversion"):
            # Python only: what tune's best/ replays, and tune's trials, whose candidates it
            # has converted and checked already.
            assert f.metadata["cli"] is False and f.metadata["recipe"] is False
            continue
        assert f"--{name.replace('_', '-')}" in help_text, name
        assert f.metadata["help"].split()[0] in help_text, name


def test_construction_checks_types_and_ranges_naming_the_key():
    with pytest.raises(OptionError, match="'epochs' must be an integer, got 'ten'"):
        BuildConfig().replace(epochs="ten")
    with pytest.raises(OptionError, match="'epochs' must be an integer, got 2.5"):
        TrainingConfig(epochs=2.5)
    with pytest.raises(OptionError, match=r"'val_split' must be in \(0, 1\)"):
        BuildConfig().replace(val_split=1.0)
    with pytest.raises(ConfigError, match="unknown option 'epoch'"):
        BuildConfig().replace(epoch=3)
    with pytest.raises(OptionError, match="'exclude' must be a list, got 'conv1'"):
        Prune(exclude="conv1")


def test_spellings_a_person_writes_are_normalised():
    config = BuildConfig().replace(image_size=32, augment="flip=none,rotation=0.1", distill="self",
                                   stages=[{"kind": "prune", "m_by_n": "2:4"}, QAT()], backbone="small_cnn")
    assert config.model.image_size == (32, 32)
    assert config.augment.rotation == 0.1 and config.augment.zoom == 0.1
    assert config.distill.teacher == "self" and config.distill.temperature == 4.0
    assert config.stages == (Prune(m_by_n=(2, 4)), QAT())
    assert config.model.backbone.value == "small_cnn"


def test_a_recipe_loads_over_a_base_and_writes_back_exactly(tmp_path):
    config = BuildConfig().replace(target="edgetpu", backbone="small_cnn", weights="none", image_size=(16, 24),
                                   fine_tune_learning_rate=3e-5, augment="default", distill="self",
                                   stages=[{"kind": "prune", "sparsity": 0.6}, {"kind": "qat"}])
    path = tmp_path / "r.toml"
    path.write_text(dump_recipe(config))
    assert load_recipe(path) == config
    # Run options stay out: a recipe replays on other data, into another folder.
    assert not {"out", "val_dir", "progress"} & recipe_keys()
    run = config.replace(out="elsewhere", val_dir="v", progress=False)
    assert dump_recipe(run) == path.read_text()
    # A recipe over a base: its keys win, the base's others stay.
    base = BuildConfig().replace(epochs=3, out="x")
    path.write_text("epochs = 5\n")
    loaded = load_recipe(path, base)
    assert loaded.training.epochs == 5 and loaded.output.out == "x"


@pytest.mark.slow
def test_flags_override_the_recipe_and_defaults_do_not(tmp_path, small_digits_dir):
    recipe = tmp_path / "r.toml"
    recipe.write_text('backbone = "small_cnn"\nimage_size = 16\nepochs = 2\nseed = 4\nmax_accuracy_drop = 1.0\n')
    result = CliRunner().invoke(cli, ["build", str(small_digits_dir), "--recipe", str(recipe), "--epochs", "1",
                                      "--out", str(tmp_path / "o"), "--quiet", "--json"])
    assert result.exit_code == 0, result.output
    written = load_recipe(tmp_path / "o" / "recipe.toml")
    assert written.training.epochs == 1 and written.training.seed == 4 and written.model.image_size == (16, 16)


@pytest.mark.parametrize("module", ["edgekit.config", "edgekit.recipe", "edgekit.builder", "edgekit.cli",
                                    "edgekit.targets", "edgekit.optimization.stages"])
def test_each_module_imports_first_without_a_cycle_or_tensorflow(module):
    code = f"import sys, {module}; assert 'tensorflow' not in sys.modules, 'tensorflow imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_sections_are_frozen():
    config = BuildConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.training.epochs = 3
