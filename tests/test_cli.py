"""The CLI as a user meets it: help, a real build, and every bad-data case."""

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from edgekit.cli import cli
from tests.conftest import write_image_folder

# A two-epoch model is near chance, where int8 rounding moves accuracy by several
# points; these tests are about the command, not conversion quality.
FAST = ["--backbone", "small_cnn", "--weights", "none", "--image-size", "16", "--epochs", "2",
        "--fine-tune-epochs", "0", "--augment", "none", "--max-accuracy-drop", "1"]


@pytest.mark.parametrize("args", [["--help"]] + [[name, "--help"] for name in sorted(cli.commands)])
def test_help_of_every_command(args):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_the_help_test_walks_every_command():
    assert {"build", "convert", "check", "profile", "estimate", "calibrate", "eval", "metadata", "report",
            "targets"} <= set(cli.commands)


def test_build_help_explains_the_data_layout_and_targets():
    text = CliRunner().invoke(cli, ["build", "--help"]).output
    assert "one sub-folder of images per class" in text
    assert "edgekit targets" in text


def test_targets_lists_shipped_profiles():
    result = CliRunner().invoke(cli, ["targets"])
    assert result.exit_code == 0
    assert {line.split()[0] for line in result.output.splitlines()} >= {"cpu", "gpu", "edgetpu"}
    as_json = json.loads(CliRunner().invoke(cli, ["targets", "--json"]).output)
    assert {p["id"] for p in as_json} >= {"cpu", "gpu", "edgetpu"}


@pytest.mark.slow
def test_build_succeeds_and_reports_skipped_files(tmp_path, small_digits_dir):
    data = tmp_path / "data"
    shutil.copytree(small_digits_dir, data)
    broken = data / "3" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["build", str(data), "--target", "cpu", "--out", str(out), "--json", *FAST])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["data"]["skipped"] == [{"path": str(broken), "reason": report["data"]["skipped"][0]["reason"]}]
    assert report["data"]["train_images"] + report["data"]["validation_images"] == 300
    assert (out / "model.tflite").stat().st_size == report["tflite"]["bytes"]
    assert f"skipped {broken}" in result.stderr


@pytest.mark.slow
def test_build_prints_a_human_summary(tmp_path, small_digits_dir):
    result = CliRunner().invoke(cli, ["build", str(small_digits_dir), "--out", str(tmp_path / "o"), "-t", "gpu", *FAST])
    assert result.exit_code == 0, result.output
    assert "accuracy  keras" in result.stdout and "model.tflite" in result.stdout
    assert "epoch 2/2" in result.stderr
    quiet = CliRunner().invoke(cli, ["build", str(small_digits_dir), "--out", str(tmp_path / "o"), "-t", "gpu",
                                     "--quiet", *FAST])
    assert quiet.exit_code == 0 and quiet.output == ""


def _bad_layout(root, case):
    if case == "missing":
        return root / "nope"
    if case == "empty_class":
        write_image_folder(root, {"cat": 3})
        (root / "dog").mkdir()
        return root
    if case == "single_class":
        write_image_folder(root, {"cat": 3})
        return root
    if case == "no_images":
        (root / "cat").mkdir(parents=True)
        (root / "dog").mkdir()
        (root / "cat" / "readme.txt").write_text("x")
        return root
    if case == "corrupt_strict":
        write_image_folder(root, {"cat": 3, "dog": 3})
        (root / "dog" / "bad.jpg").write_bytes(b"garbage")
        return root
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing", "does not exist"),
        ("empty_class", "has no images"),
        ("single_class", "single class"),
        ("no_images", "has no images"),
        ("corrupt_strict", "cannot read image"),
    ],
)
def test_bad_data_exits_nonzero_with_a_message_and_no_output(tmp_path, case, expected):
    data = _bad_layout(tmp_path / "data", case)
    out = tmp_path / "builds" / "out"
    args = ["build", str(data), "--out", str(out), *FAST]
    if case == "corrupt_strict":
        args.append("--strict")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0
    assert expected in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()
    leftovers = list((tmp_path / "builds").iterdir()) if (tmp_path / "builds").exists() else []
    assert leftovers == []


def test_unknown_target_is_a_clear_error(tmp_path, small_digits_dir):
    result = CliRunner().invoke(cli, ["build", str(small_digits_dir), "--target", "tpu", "--out", str(tmp_path / "o")])
    assert result.exit_code != 0
    assert "unknown target 'tpu'" in result.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_shuffled_labels_fail_the_build_with_exit_1_and_nothing_written(tmp_path):
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    labels = np.random.default_rng(0).permutation(digits.target[:400])
    for i, label in enumerate(labels):
        folder = tmp_path / "data" / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.rint(digits.images[i] * 255 / 16).astype(np.uint8)).save(folder / f"{i}.png")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["build", str(tmp_path / "data"), "--out", str(out), "--backbone", "small_cnn",
                                      "--image-size", "16", "--epochs", "4", "--fine-tune-epochs", "0",
                                      "--augment", "none"])
    assert result.exit_code == 1
    assert "training: validation accuracy" in result.stderr
    assert "did not learn" in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "data"]


def test_every_option_of_every_command_has_help():
    import click

    missing = [(name, p.opts) for name, command in cli.commands.items() for p in command.params
               if isinstance(p, click.Option) and not p.help]
    assert missing == []
