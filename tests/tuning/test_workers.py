"""Real worker processes on one study: resumed after kill -9, and shared by two workers
through a journal file and through a PostgreSQL server started here."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import free_ports
from tests.tuning.conftest import FIXED_FLAGS

pytestmark = pytest.mark.slow


def _command(data: Path, space: Path, out: Path, trials: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "edgekit", "tune", str(data), "--target", "rpi4", "--max-latency-ms", "1",
            "--trials", str(trials), "--space", str(space), "--out", str(out), *FIXED_FLAGS, *extra]


def _study(storage: str | Path):
    import optuna
    from optuna.storages.journal import JournalFileBackend

    if "://" in str(storage):
        backend = optuna.storages.RDBStorage(str(storage))
    else:
        backend = optuna.storages.JournalStorage(JournalFileBackend(str(storage)))
    return optuna.load_study(study_name="edgekit-tune", storage=backend)


def _wait_for(path: Path, text: str, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        if process.poll() is not None:
            raise AssertionError(f"the worker ended first:\n{path.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)
    raise AssertionError(f"no {text!r} within {timeout}s")


def test_a_killed_worker_resumes_keeping_finished_trials_and_retrying_the_interrupted_one(
        three_digits, space_file, tmp_path):
    from optuna.trial import TrialState

    out = tmp_path / "tune"
    log = tmp_path / "first.log"
    with open(log, "w") as stderr:
        first = subprocess.Popen(_command(three_digits, space_file, out, 3), stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            # Trial 0 (the baseline) finishes; the next trial that trains is killed mid-epoch.
            _wait_for(log, "trials trained 1/3", first)
            _wait_for(log, "scratch epoch 1/", first)
            text = log.read_text()
            while "scratch epoch" not in text.split("trials trained 1/3", 1)[1]:
                _wait_for(log, "scratch epoch 2/", first)
                text = log.read_text()
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
    study = _study(out / "study.journal")
    done = {t.number: t for t in study.trials if t.state == TrialState.COMPLETE}
    running = [t for t in study.trials if t.state == TrialState.RUNNING]
    assert 0 in done and len(running) == 1
    killed = running[0]
    kept = (out / "trials" / "0000" / "model.tflite").read_bytes()

    second = subprocess.run(_command(three_digits, space_file, out, 3), capture_output=True, text=True)
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"trial {killed.number} was interrupted: it runs again" in second.stderr
    study = _study(out / "study.journal")
    by_number = {t.number: t for t in study.trials}
    # The finished trial is kept, not redone.
    assert by_number[0].state == TrialState.COMPLETE
    assert (out / "trials" / "0000" / "model.tflite").read_bytes() == kept
    assert sum(1 for t in study.trials if t.params == by_number[0].params) == 1
    # The interrupted one failed and ran again with the same parameters.
    assert by_number[killed.number].state == TrialState.FAIL
    retries = [t for t in study.trials if t.user_attrs.get("retry_of") == killed.number]
    assert len(retries) == 1 and retries[0].params == killed.params and retries[0].state != TrialState.RUNNING
    assert study.user_attrs["abandoned"] == [killed.number]
    trained = [t for t in study.trials if t.user_attrs.get("trained") and t.number != killed.number]
    assert len(trained) == 3
    assert (out / "best" / "model.tflite").is_file()


def _two_workers(three_digits: Path, space_file: Path, out: Path, trials: int, *extra: str) -> None:
    workers = [subprocess.Popen(_command(three_digits, space_file, out, trials, *extra), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    errors = [w.communicate(timeout=900)[1] for w in workers]
    for worker, error in zip(workers, errors):
        assert worker.returncode == 0, error[-3000:]


def _assert_shared(study, trials: int) -> None:
    trained = [t for t in study.trials if t.user_attrs.get("trained")]
    # Each worker checks the count before it starts a trial: together they may start one more.
    assert trials <= len(trained) <= trials + 1
    workers = {t.user_attrs["worker"] for t in trained}
    assert len(workers) == 2
    assert len({t.number for t in study.trials}) == len(study.trials)


def test_two_workers_share_one_search_through_a_journal_file(three_digits, space_file, tmp_path):
    out = tmp_path / "tune"
    _two_workers(three_digits, space_file, out, 4)
    _assert_shared(_study(out / "study.journal"), 4)
    assert (out / "best" / "model.tflite").is_file()


def _postgres_bin() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").is_file():
            return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@pytest.fixture
def postgres_url():
    """A PostgreSQL server of its own on a free port, stopped and removed at the end."""
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'edgekit[postgres]')")
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (make test installs it with apt-get when run as root)")
    run_as: list[str] = []
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root: its own user runs it, in a folder it can reach
        # (pytest's temporary folders are private to root).
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL as")
        run_as = ["runuser", "-u", "postgres", "--"]
    with tempfile.TemporaryDirectory(prefix="edgekit-postgres-") as scratch:
        os.chmod(scratch, 0o755)
        data = Path(scratch) / "data"
        data.mkdir()
        if run_as:
            shutil.chown(data, "postgres")
        port = free_ports()[0]
        subprocess.run([*run_as, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"],
                       check=True, capture_output=True)
        subprocess.run([*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(data / "log"), "-w", "-o",
                        f"-p {port} -k {data} -c listen_addresses=127.0.0.1", "start"],
                       check=True, capture_output=True)
        try:
            subprocess.run([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                            "edgekit"], check=True, capture_output=True)
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/edgekit"
        finally:
            subprocess.run([*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                           capture_output=True)


def test_two_workers_share_one_search_through_postgresql(three_digits, space_file, tmp_path, postgres_url):
    out = tmp_path / "tune"
    _two_workers(three_digits, space_file, out, 3, "--storage", postgres_url)
    _assert_shared(_study(postgres_url), 3)
    assert not (out / "study.journal").exists()
    assert (out / "best" / "model.tflite").is_file()


def test_a_storage_that_cannot_be_reached_gets_one_line(three_digits, space_file, tmp_path):
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'edgekit[postgres]')")
    port = free_ports()[0]
    run = subprocess.run(_command(three_digits, space_file, tmp_path / "t", 2, "--storage",
                                  f"postgresql+psycopg://edgekit:secret@127.0.0.1:{port}/edgekit"),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"Error: --storage postgresql+psycopg://edgekit:***@127.0.0.1:{port}/edgekit: cannot open it: ")
    assert "secret" not in run.stderr
    assert not (tmp_path / "t").exists()
