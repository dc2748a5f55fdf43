"""Shared fixtures: real image folders written to disk from scikit-learn's digits."""

from __future__ import annotations

import importlib.util
import os
import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]

# Tests run the builder in-process; keep TensorFlow's start-up chatter out of the log.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _load_sample_writer():
    spec = importlib.util.spec_from_file_location("make_digits", REPO / "samples" / "make_digits.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_digits


write_digits = _load_sample_writer()


def free_ports(count: int = 1) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 (all held open until all are chosen)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@pytest.fixture(scope="session")
def digits_dir(tmp_path_factory) -> Path:
    """The bundled sample: all 1,797 digits, one folder per class."""
    out = tmp_path_factory.mktemp("digits")
    write_digits(out)
    return out


@pytest.fixture(scope="session")
def small_digits_dir(tmp_path_factory) -> Path:
    """30 images of each digit: enough for a build that finishes in seconds."""
    out = tmp_path_factory.mktemp("digits_small")
    write_digits(out, per_class=30)
    return out


def write_image_folder(root: Path, classes: dict[str, int], size: int = 16, seed: int = 0) -> Path:
    """Random RGB PNGs, ``classes[name]`` of each, under ``root/<name>/``."""
    rng = np.random.default_rng(seed)
    for name, count in classes.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{i}.png")
    return root


def validate_report(report: dict) -> None:
    """``report`` (a build's or a conversion's report.json) against the schema the package ships."""
    import json

    import jsonschema

    from edgekit.report.header import SCHEMA

    jsonschema.validate(report, json.loads(SCHEMA.read_text(encoding="utf-8")))


@pytest.fixture(autouse=True)
def every_report_follows_the_schema(request):
    """After each test that wrote into its tmp_path, every report.json there of a build or
    a conversion is held to report/schema.json."""
    folder = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    if folder is None:
        return
    import json

    for path in folder.rglob("report.json"):
        if ".partial" in str(path):
            continue
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue  # a test's own broken report.json, written to see it refused
        # Only reports edgekit wrote: a test's hand-made fake carries no edgekit_version.
        if isinstance(report, dict) and report.get("kind") in ("build", "convert") and "edgekit_version" in report:
            validate_report(report)
