"""Every bad input a new user is likely to give `edgekit build`: one line naming the file,
key or flag, exit status 1, no traceback, and nothing written where the output would go."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from edgekit.cli import cli
from tests.conftest import write_image_folder

# Valid flags that keep a build short, for the cases whose failure comes after training starts.
FAST = ["--backbone", "small_cnn", "--image-size", "16", "--epochs", "1"]


def _recipe(text: str):
    def make(tmp: Path, data: Path) -> list[str]:
        path = tmp / "recipe.toml"
        path.write_text(text)
        return [str(data), "--recipe", str(path)]
    return make


def _target(text: str, name: str = "board.toml"):
    def make(tmp: Path, data: Path) -> list[str]:
        (tmp / name).write_text(text)
        return [str(data), "--target", str(tmp / name), *FAST]
    return make


def _flags(*flags: str):
    return lambda tmp, data: [str(data), *flags]


def _data(layout):
    def make(tmp: Path, data: Path) -> list[str]:
        root = tmp / "bad_data"
        layout(root)
        return [str(root), *FAST]
    return make


def _file(name: str, content: bytes, *args: str):
    """A file of ``content`` in the test's folder, put where FILE stands in ``args``."""
    def make(tmp: Path, data: Path) -> list[str]:
        (tmp / name).write_bytes(content)
        args_ = [str(data), *args] if args[0] != "FILE" else list(args)
        return [a.replace("FILE", str(tmp / name)) for a in args_]
    return make


def _single_class(root: Path) -> None:
    write_image_folder(root, {"cat": 3})


def _empty_class(root: Path) -> None:
    write_image_folder(root, {"cat": 3})
    (root / "dog").mkdir()


def _images_at_top(root: Path) -> None:
    write_image_folder(root / "x", {"cat": 2})
    for image in (root / "x" / "cat").iterdir():
        image.rename(root / image.name)
    (root / "x" / "cat").rmdir()
    (root / "x").rmdir()


def _corrupt(root: Path) -> None:
    write_image_folder(root, {"cat": 3, "dog": 3})
    (root / "dog" / "bad.jpg").write_bytes(b"garbage")


def _out_is_a_file(tmp: Path, data: Path) -> list[str]:
    (tmp / "out").write_text("not a folder")
    return [str(data), *FAST]


def _out_holds_other_files(tmp: Path, data: Path) -> list[str]:
    (tmp / "out").mkdir()
    (tmp / "out" / "thesis.tex").write_text("precious")
    return [str(data), *FAST]


def _out_under_a_file(tmp: Path, data: Path) -> list[str]:
    (tmp / "plain").write_text("a file")
    return [str(data), "--out", str(tmp / "plain" / "out"), *FAST]


# (case, how to make the command line, what the one line must say)
CASES = [
    # recipes: keys, types and values
    ("recipe unknown key", _recipe("epoch = 3\n"), "recipe.toml: unknown key 'epoch'"),
    ("recipe epochs a string", _recipe('epochs = "ten"\n'), "'epochs' must be an integer, got 'ten'"),
    ("recipe epochs a fraction", _recipe("epochs = 2.5\n"), "'epochs' must be an integer, got 2.5"),
    ("recipe clusters a fraction", _recipe('[[stages]]\nkind = "cluster"\nclusters = 16.5\n'),
     "stage 1: 'cluster.clusters' must be an integer, got 16.5"),
    ("recipe exclude a string", _recipe('[[stages]]\nkind = "prune"\nexclude = "conv1"\n'),
     "'prune.exclude' must be a list, got 'conv1'"),
    ("recipe unknown augment key", _recipe("[augment]\nblur = 1\n"), "unknown key 'augment.blur'"),
    ("recipe unknown distill key", _recipe('[distill]\nteacher = "self"\ntemp = 2\n'),
     "unknown key 'distill.temp'"),
    ("recipe augment out of range", _recipe("[augment]\nrotation = 2\n"),
     "'augment.rotation' must be in [0, 1), got 2.0"),
    ("recipe unknown backbone", _recipe('backbone = "resnet"\n'), "'backbone' is 'resnet'; use one of"),
    ("recipe val_split 1.5", _recipe("val_split = 1.5\n"), "'val_split' must be in (0, 1), got 1.5"),
    ("recipe image_size of one", _recipe("image_size = [32]\n"), "'image_size' must be a list of 2"),
    ("recipe strict a string", _recipe('strict = "yes"\n'), "'strict' must be true or false, got 'yes'"),
    ("recipe dropout a bool", _recipe("dropout = true\n"), "'dropout' must be a number, got True"),
    ("recipe stage kind unknown", _recipe('[[stages]]\nkind = "distil"\n'), "stage 1: unknown stage kind 'distil'"),
    ("recipe stages not tables", _recipe("stages = 3\n"), "'stages' must be a list of stages, got 3"),
    ("recipe with out", _recipe('out = "elsewhere"\n'), "unknown key 'out'"),
    ("recipe not TOML", _recipe("epochs = \n"), "recipe.toml: not valid TOML"),
    ("recipe missing", lambda tmp, data: [str(data), "--recipe", str(tmp / "none.toml")], "none.toml: no such file"),
    # target profiles
    ("target unknown id", _flags("--target", "tpu"), "unknown target 'tpu'"),
    ("target file missing", _flags("--target", "missing.toml"), "target profile missing.toml: no such file"),
    ("target unknown key", _target('id = "b"\nkind = "cpu"\nthreds = 4\n'), "board.toml: unknown key 'threds'"),
    ("target threads a string", _target('id = "b"\nkind = "cpu"\n[profile]\nthreads = "four"\n'),
     "'profile.threads' must be an integer, got 'four'"),
    ("target inherits itself", _target('inherits = "board.toml"\n'), "'inherits' forms a cycle"),
    # data folders and images
    # The default backbone: the folder is found missing before an ImageNet download is tried.
    ("data missing", lambda tmp, data: [str(tmp / "nowhere")], "nowhere does not exist"),
    ("data a file", _file("data.zip", b"PK", "FILE", *FAST), "data.zip is not a folder"),
    ("data one class", _data(_single_class), "has a single class (cat)"),
    ("data empty class", _data(_empty_class), "class folder"),
    ("data images not in class folders", _data(_images_at_top), "move them into one sub-folder per class"),
    ("data unreadable image, strict", lambda tmp, data: [*_data(_corrupt)(tmp, data), "--strict"],
     "bad.jpg: not a recognised image format"),
    ("val-dir missing", _flags("--val-dir", "/nonexistent/val", *FAST), "validation folder (--val-dir) /nonexistent"),
    # weights files
    ("weights missing", _flags("--weights", "/nonexistent/w.h5"), "weights file /nonexistent/w.h5 does not exist"),
    ("weights of another kind", _file("w.txt", b"x", "--weights", "FILE"), "expected a .h5 weights file or a .keras"),
    ("weights a corrupt .keras", _file("w.keras", b"not a zip", "--weights", "FILE"), "cannot read model"),
    ("imagenet for small_cnn", _flags("--backbone", "small_cnn", "--weights", "imagenet"),
     "small_cnn has no ImageNet weights"),
    ("teacher missing", _flags("--distill-from", "/nonexistent/t.keras", *FAST), "teacher model"),
    # flags
    ("epochs negative", _flags("--epochs", "-1"), "--epochs must not be negative, got -1"),
    ("nothing to train", _flags("--epochs", "0", "--fine-tune-epochs", "0"), "nothing would be trained"),
    ("max-accuracy-drop 2", _flags("--max-accuracy-drop", "2"), "--max-accuracy-drop must be in [0, 1], got 2.0"),
    ("alpha 0", _flags("--alpha", "0"), "--alpha must be in (0, 2], got 0.0"),
    ("image too small", _flags("--backbone", "small_cnn", "--image-size", "4"), "needs images of at least 8x8"),
    ("prune not a number", _flags("--prune", "half"), "--prune half: give a sparsity like 0.5"),
    ("one cluster", _flags("--cluster", "1"), "at least 2 clusters are needed"),
    ("augment unknown key", _flags("--augment", "blur=1"), "augmentation 'blur=1'"),
    ("self-distillation without stages", _flags("--distill-from", "self"), "give at least one stage"),
    ("multiworker without TF_CONFIG", _flags("--strategy", "multiworker"), "needs TF_CONFIG"),
    # the output folder
    ("out is a file", _out_is_a_file, "exists and is not a folder"),
    ("out holds other files", _out_holds_other_files, "is not empty and holds no edgekit build"),
    ("out under a file", _out_under_a_file, "plain is not a folder"),
]


@pytest.mark.parametrize("make, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_input_gets_one_line_naming_it_exit_1_and_nothing_written(tmp_path, small_digits_dir, make,
                                                                         expected, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    args = make(tmp_path, small_digits_dir)
    if "--out" not in args:
        args += ["--out", str(tmp_path / "out")]
    before = sorted(p.name for p in tmp_path.iterdir())
    result = CliRunner().invoke(cli, ["build", *args, "--quiet"])
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before
