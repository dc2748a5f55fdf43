import gzip

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
