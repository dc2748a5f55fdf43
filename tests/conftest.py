"""Shared fixtures: real image folders written to disk from scikit-learn's digits."""

from __future__ import annotations

import getpass
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]

# Tests run the builder in-process; keep TensorFlow's start-up chatter out of the log.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _load_sample(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "samples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


write_digits = _load_sample("make_digits").write_digits
write_digit_boxes = _load_sample("make_digit_boxes").write_digit_boxes


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


SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    """An OpenSSH server on 127.0.0.1 whose far side is this machine's Python: (user@host:port, SshSettings)."""
    from edgekit.profiler import SshSettings

    if SSHD is None or shutil.which("ssh-keygen") is None:
        pytest.skip("openssh-server is not installed (make test installs it with apt-get when run as root)")
    home = tmp_path_factory.mktemp("sshd")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(home / "host_key")], check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(home / "client_key")], check=True)
    shutil.copy(home / "client_key.pub", home / "authorized_keys")
    port = free_ports()[0]
    (home / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {home / 'host_key'}\n"
        f"AuthorizedKeysFile {home / 'authorized_keys'}\nPidFile {home / 'sshd.pid'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        "PermitRootLogin prohibit-password\n"
        # Keep the test's PATH and Python on the far side.
        "PermitUserEnvironment no\n"
    )
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
    server = subprocess.Popen([SSHD, "-D", "-e", "-f", str(home / "sshd_config")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 15
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        if server.poll() is not None:
            pytest.fail(f"sshd did not start: {server.stderr.read()}")
        time.sleep(0.1)
    settings = SshSettings(
        connect_timeout=5,
        identity=str(home / "client_key"),
        options=("StrictHostKeyChecking=no", f"UserKnownHostsFile={home / 'known_hosts'}", "LogLevel=ERROR"),
        # The far side is this machine: the Python that has this edgekit installed.
        python=sys.executable,
    )
    yield f"{getpass.getuser()}@127.0.0.1:{port}", settings
    server.terminate()
    server.wait(timeout=10)
