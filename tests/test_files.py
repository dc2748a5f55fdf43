import gzip
from pathlib import Path

import pytest

from edgekit.errors import ConfigError
from edgekit.files import atomic_output_dir, file_facts


def test_file_facts_measure_the_real_file(tmp_path):
    path = tmp_path / "m.bin"
    path.write_bytes(b"abc" * 1000)
    facts = file_facts(path)
    assert facts["bytes"] == 3000
    assert facts["gzip_bytes"] == len(gzip.compress(b"abc" * 1000, compresslevel=9, mtime=0))
    assert len(facts["sha256"]) == 64


def test_success_publishes_and_failure_leaves_nothing(tmp_path):
    out = tmp_path / "build"
    with pytest.raises(RuntimeError):
        with atomic_output_dir(out) as tmp:
            (tmp / "report.json").write_text("{}")
            raise RuntimeError("interrupted")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []

    with atomic_output_dir(out) as tmp:
        (tmp / "report.json").write_text("1")
    assert (out / "report.json").read_text() == "1"


def test_previous_build_is_replaced_but_kept_on_failure(tmp_path):
    out = tmp_path / "build"
    with atomic_output_dir(out) as tmp:
        (tmp / "report.json").write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_output_dir(out) as tmp:
            (tmp / "report.json").write_text("new")
            raise KeyboardInterrupt
    assert (out / "report.json").read_text() == "old"
    with atomic_output_dir(out) as tmp:
        (tmp / "report.json").write_text("new")
    assert (out / "report.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build"]


def test_foreign_folder_is_never_replaced(tmp_path):
    out = tmp_path / "photos"
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(ConfigError, match="not empty and holds no edgekit build"):
        with atomic_output_dir(out):
            pass
    assert (out / "holiday.jpg").exists()


def test_a_previous_build_is_swapped_out_in_one_step(tmp_path, monkeypatch):
    """The new folder takes the old one's place by one exchange: at no moment is there
    no output folder, and no second rename is attempted."""
    import edgekit.files as files

    out = tmp_path / "out"
    with files.atomic_output_dir(out) as work:
        (work / "report.json").write_text("old")
    renames = []
    real_rename = Path.rename
    monkeypatch.setattr(Path, "rename", lambda self, target: renames.append((self, target)) or real_rename(
        self, target))
    with files.atomic_output_dir(out) as work:
        (work / "report.json").write_text("new")
    assert (out / "report.json").read_text() == "new"
    assert renames == []  # renameat2's exchange, not rename-aside then rename-in
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_build_interrupted_between_two_renames_is_restored_first(tmp_path):
    """Where the exchange is not available the old output is set aside first; if the
    process dies there, the next build puts it back before anything else."""
    from edgekit.files import atomic_output_dir

    aside = tmp_path / ".out.old-abc123"
    aside.mkdir()
    (aside / "report.json").write_text("previous")
    with pytest.raises(RuntimeError), atomic_output_dir(tmp_path / "out"):
        raise RuntimeError("this build fails too")
    assert (tmp_path / "out" / "report.json").read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_labels_are_read_one_per_line_without_blanks(tmp_path):
    from edgekit.files import read_labels, write_labels

    write_labels(tmp_path / "labels.txt", ["cat", "dog"])
    (tmp_path / "padded.txt").write_text("cat\n\n  dog  \n")
    assert read_labels(tmp_path / "labels.txt") == read_labels(tmp_path / "padded.txt") == ["cat", "dog"]
    (tmp_path / "empty.txt").write_text("\n")
    with pytest.raises(ConfigError, match="empty.txt is empty"):
        read_labels(tmp_path / "empty.txt")
