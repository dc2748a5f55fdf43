"""A small real set and a small space, so that a search of a few trials takes about a minute."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write_digits

# Two backbones at two input sizes each; no stages. small_cnn 1.0@32 is a baseline.
SPACE = """
prune = [0.0]
cluster = [0]
qat = [false]

[backbones.small_cnn]
alpha = [0.5, 1.0]
image_size = [12, 32]

[backbones.mobilenet_v2]
alpha = [0.35]
image_size = [32, 40]
"""
# Build options fixed for every trial: a few short epochs.
FIXED = {"epochs": 3, "fine_tune_epochs": 0, "patience": 2, "screen_epochs": 1}
FIXED_FLAGS = ["--epochs", "3", "--fine-tune-epochs", "0", "--patience", "2", "--screen-epochs", "1"]


@pytest.fixture(scope="session")
def three_digits(tmp_path_factory) -> Path:
    """24 scans of each of the digits 0, 1 and 2."""
    out = tmp_path_factory.mktemp("three_digits")
    write_digits(out, classes=[0, 1, 2], per_class=24)
    return out


@pytest.fixture
def space_file(tmp_path) -> Path:
    path = tmp_path / "space.toml"
    path.write_text(SPACE)
    return path
