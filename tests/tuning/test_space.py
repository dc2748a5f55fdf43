"""The search space and tune's options: checked before anything heavy is imported."""

from __future__ import annotations

import subprocess
import sys

import pytest

from edgekit.config import BuildConfig
from edgekit.errors import ConfigError, OptionError
from edgekit.models.backbones import Backbone
from edgekit.tuning.config import TuneConfig, parse_duration
from edgekit.tuning.space import default_space, load_space, narrowed


def test_a_space_file_replaces_only_the_keys_it_holds(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text("learning_rate = [0.001, 0.01]\n[backbones.small_cnn]\nimage_size = [16, 24]\n")
    space = load_space(path)
    assert space.learning_rate == (0.001, 0.01)
    assert [b for b, _ in space.backbones] == [Backbone.SMALL_CNN]
    assert space.widths[Backbone.SMALL_CNN].image_size == (16, 24)
    assert space.widths[Backbone.SMALL_CNN].alpha == default_space().widths[Backbone.SMALL_CNN].alpha
    assert space.dropout == default_space().dropout


def test_augmentation_is_searched_unless_the_caller_fixes_it(tmp_path):
    from edgekit.tuning.space import Architecture, Choice

    path = tmp_path / "space.toml"
    path.write_text("augment = ['none', 'flip=none,rotation=0.1']\n")
    space = load_space(path)
    assert space.augment == ("none", "flip=none,rotation=0.1")
    choice = Choice(Architecture(Backbone.SMALL_CNN, 1.0, 32), 1e-3, 0.2, augment="flip=none,rotation=0.1")
    assert space.params(choice)["augment"] == "flip=none,rotation=0.1" and space.contains(choice)
    # What a trial's build receives reads as the build's own --augment would.
    augment = BuildConfig().replace(**choice.build_options()).augment
    assert augment.flip.value == "none" and augment.rotation == 0.1 and augment.zoom == 0.1
    assert space.no_augment == "none"
    fixed = narrowed(space, BuildConfig().replace(augment="default"), ("augment",))
    assert not fixed.search_augment and fixed.no_augment is None and fixed.to_dict()["augment"] == "fixed"
    assert "augment" not in fixed.params(Choice(choice.architecture, 1e-3, 0.2))


@pytest.mark.parametrize("text, named", [
    ("learning_rat = [0.001, 0.01]\n", "'learning_rat'"),
    ("[backbones.resnet50]\nalpha = [1.0]\n", "'backbones.resnet50'"),
    ("[backbones.small_cnn]\nalhpa = [1.0]\n", "'backbones.small_cnn.alhpa'"),
    ("learning_rate = [0.01, 0.001]\n", "'learning_rate'"),
    ("dropout = [0.2, 1.5]\n", "'dropout'"),
    ("[backbones.mobilenet_v2]\nimage_size = [16]\n", "'backbones.mobilenet_v2.image_size'"),
    ("cluster = [1]\n", "'cluster'"),
    ("augment = ['none', 'flip=sideways']\n", "'augment'"),
])
def test_a_bad_space_key_is_named_with_the_file(tmp_path, text, named):
    path = tmp_path / "space.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_space(path)
    message = str(caught.value)
    assert message.startswith(f"space {path}: ") and named in message and "\n" not in message


def test_cli_names_an_unknown_space_key_in_one_line_before_importing_tensorflow(tmp_path, small_digits_dir):
    path = tmp_path / "space.toml"
    path.write_text("backbone = ['small_cnn']\n")
    probe = ("import sys; from edgekit.cli import main; sys.argv = ['edgekit', 'tune', sys.argv[1], '--target', "
             "'rpi4', '--max-latency-ms', '5', '--trials', '2', '--space', sys.argv[2], '--out', sys.argv[3]]\n"
             "try:\n    main()\nexcept SystemExit as e:\n"
             "    print('tensorflow' in sys.modules, file=sys.stderr); raise")
    run = subprocess.run([sys.executable, "-c", probe, str(small_digits_dir), str(path), str(tmp_path / "out")],
                         capture_output=True, text=True)
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert lines[0] == f"Error: space {path}: unknown key 'backbone' (known: backbones, learning_rate, dropout, " \
                       "augment, prune, cluster, qat)"
    assert lines[1] == "False"
    assert not (tmp_path / "out").exists()


def test_build_options_given_to_tune_are_fixed_and_narrow_the_space():
    config = TuneConfig().replace(target="rpi4", max_latency_ms=5, backbone="small_cnn", image_size=24,
                                  learning_rate=0.003, epochs=7)
    assert config.fixed == ("backbone", "image_size", "learning_rate", "epochs")
    assert config.build.training.epochs == 7
    space = narrowed(default_space(), config.build, config.fixed)
    assert space.backbones[0][0] == Backbone.SMALL_CNN and len(space.backbones) == 1
    assert space.widths[Backbone.SMALL_CNN].image_size == (24,)
    assert space.learning_rate == (0.003, 0.003)


def test_an_option_neither_tune_nor_build_knows_is_named():
    with pytest.raises(ConfigError, match="unknown option 'max_latency'"):
        TuneConfig().replace(max_latency=5)


def test_tune_needs_a_latency_limit_and_an_end():
    with pytest.raises(OptionError, match="--max-latency-ms is required"):
        TuneConfig().replace(trials=3).require_limits()
    with pytest.raises(ConfigError, match="--trials N or --time-budget"):
        TuneConfig().replace(max_latency_ms=3).require_limits()


@pytest.mark.parametrize("text, seconds", [("90", 90), ("90s", 90), ("30m", 1800), ("1h30m", 5400), (45, 45)])
def test_durations_read_as_people_write_them(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "0", "-5m", "1d"])
def test_a_bad_duration_is_refused(text):
    with pytest.raises(OptionError, match="time_budget"):
        parse_duration(text)


def test_weights_file_adds_its_backbone_pretrained_beside_the_others(tmp_path):
    weights = tmp_path / "w.h5"
    weights.write_bytes(b"")
    build = BuildConfig().replace(weights=str(weights), backbone="mobilenet_v2", alpha=0.35)
    space = narrowed(default_space(), build, ("weights",))
    models = space.models()
    assert "mobilenet_v2+weights" in models and "small_cnn" in models and "mobilenet_v2" in models
    arch = space.architecture("mobilenet_v2+weights", None, 96)
    assert (arch.alpha, arch.weights, arch.image_size) == (0.35, str(weights), 96)
