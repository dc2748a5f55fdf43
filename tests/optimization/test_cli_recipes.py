
"""Stages from flags, recipes from files, and a build replayed exactly from its recipe.toml."""

import json

import pytest
from click.testing import CliRunner

from edgekit.cli import cli

SMALL = ["--backbone", "small_cnn", "--image-size", "16", "--epochs", "3", "--fine-tune-epochs", "0",
         "--augment", "none", "--max-accuracy-drop", "1", "--quiet", "--json"]


@pytest.mark.slow
def test_flags_make_stages_and_the_recipe_replays_byte_for_byte(tmp_path, small_digits_dir):
    first = CliRunner().invoke(cli, ["build", str(small_digits_dir), "-t", "edgetpu", "--out", str(tmp_path / "a"),
                                     "--prune", "0.5", "--qat", *SMALL])
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert [s["name"] for s in report["stages"]] == ["prune", "qat"]
    assert report["stages"][1]["details"]["scheme"] == "PQAT"

    replay = CliRunner().invoke(cli, ["build", str(small_digits_dir), "--out", str(tmp_path / "b"),
                                      "--recipe", str(tmp_path / "a" / "recipe.toml"), "--quiet", "--json"])
    assert replay.exit_code == 0, replay.output
    again = json.loads(replay.stdout)
    assert again["target"]["id"] == "edgetpu" and again["recipe"]["stages"] == report["recipe"]["stages"]
    assert again["tflite"]["sha256"] == report["tflite"]["sha256"]


@pytest.mark.slow
def test_command_line_flags_override_the_recipe(tmp_path, small_digits_dir):
    recipe = tmp_path / "small.toml"
    recipe.write_text('backbone = "small_cnn"\nimage_size = 16\nepochs = 9\nfine_tune_epochs = 0\n'
                      'augment = "none"\nmax_accuracy_drop = 1.0\n\n[[stages]]\nkind = "prune"\nm_by_n = "2:4"\n'
                      'epochs = 1\n')
    result = CliRunner().invoke(cli, ["build", str(small_digits_dir), "--out", str(tmp_path / "o"),
                                      "--recipe", str(recipe), "--epochs", "2", "--quiet", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["recipe"]["epochs"] == 2
    assert report["stages"][0]["config"]["m_by_n"] == [2, 4]


def test_bad_recipe_and_flags_exit_nonzero(tmp_path, small_digits_dir):
    recipe = tmp_path / "bad.toml"
    recipe.write_text('[[stages]]\nkind = "cluster"\nclusters = 1\n')
    result = CliRunner().invoke(cli, ["build", str(small_digits_dir), "--out", str(tmp_path / "o"),
                                      "--recipe", str(recipe)])
    assert result.exit_code != 0 and "at least 2 clusters" in result.stderr
    result = CliRunner().invoke(cli, ["build", str(small_digits_dir), "--out", str(tmp_path / "o"), "--prune", "half"])
    assert result.exit_code != 0 and "--prune half" in result.stderr
    assert not (tmp_path / "o").exists()
