"""The Optuna study a search lives in: its storage, its workers, and the time it has spent.

The default storage is a journal file in the tune folder, so the same command run
again after Ctrl-C or ``kill -9`` continues the search: Optuna keeps every finished
trial, and a trial left RUNNING by a worker of this machine that no longer exists is
marked failed and enqueued again with its parameters. An RDB storage (PostgreSQL,
MySQL) gets Optuna's own heartbeat, which does the same for workers on other machines.

The time budget counts the whole search: each worker records the span it has run in
the study, and a worker starting later gets what the union of those spans leaves.
"""

from __future__ import annotations

import os
import re
import socket
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit.errors import ConfigError, MissingDependencyError, first_line

JOURNAL = "study.journal"
# The study attribute listing the trials whose worker died (Optuna's public API fails a
# trial, but sets attributes only on one's own).
ABANDONED = "abandoned"
_SESSION = "session "


def optuna_module() -> Any:
    try:
        import optuna
    except ImportError:
        raise MissingDependencyError("edgekit tune needs Optuna: pip install 'edgekit[build]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Multivariate TPE with grouping is marked experimental; it is what handles a space
    # whose dimensions depend on the backbone drawn.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def redacted(url: str) -> str:
    """A storage URL without its password, for messages and reports."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def storage_for(url: str | None, out: Path) -> Any:
    """The Optuna storage: a journal file (``url`` None or a path), or an RDB URL."""
    optuna = optuna_module()
    if url is None or "://" not in url:
        from optuna.storages.journal import JournalFileBackend

        path = out / JOURNAL if url is None else Path(url)
        if not path.parent.is_dir():
            raise ConfigError(f"--storage {path}: folder {path.parent} does not exist")
        return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    # A worker that stops beating for grace_period is failed, and its trial retried once
    # (Optuna 4.9 renamed the callback; pyproject allows 4.0 and later).
    if hasattr(optuna.storages, "RetryHeartbeatStaleTrialCallback"):
        retry = {"heartbeat_stale_trial_callback": optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)}
    else:
        retry = {"failed_trial_callback": optuna.storages.RetryFailedTrialCallback(max_retry=1)}
    for attempt in range(3):
        try:
            return optuna.storages.RDBStorage(url, heartbeat_interval=20, grace_period=90,
                                              engine_kwargs={"pool_pre_ping": True}, **retry)
        except ImportError as exc:
            raise MissingDependencyError(
                f"--storage {redacted(url)}: its database driver is not installed ({first_line(exc)}); for "
                "PostgreSQL: pip install 'psycopg[binary]'") from None
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises per-driver errors
            # Two workers starting together both create Optuna's tables; the loser of that
            # race sees a duplicate key and finds the tables there on a second try.
            if attempt < 2 and "duplicate key" in str(exc).lower():
                time.sleep(1 + attempt)
                continue
            raise ConfigError(f"--storage {redacted(url)}: cannot open it: {first_line(exc, 200)}") from None
    raise AssertionError("unreachable")


def open_study(storage: Any, name: str, *, seed: int, screen_epochs: int) -> Any:
    """The study named ``name`` in ``storage``, created on first use.

    TPE with a constant liar, so parallel workers do not all draw the trial another is
    running; its seed is offset by the trials already there, so a resumed or second
    worker does not repeat the first one's draws. Successive halving on validation
    accuracy by epoch: every trial trains ``screen_epochs`` epochs, then only the best
    third at each rung goes on, up to full training (rungs at 3, 9, 27... epochs), so
    most of a budget goes to the candidates that pay.
    """
    optuna = optuna_module()
    pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=screen_epochs, reduction_factor=3)
    study = optuna.create_study(storage=storage, study_name=name, direction="maximize", pruner=pruner,
                                load_if_exists=True)
    study.sampler = optuna.samplers.TPESampler(
        seed=seed + len(study.get_trials(deepcopy=False)), multivariate=True, group=True, constant_liar=True,
        n_startup_trials=8)
    return study


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def retry_abandoned(study: Any) -> list[int]:
    """Trials a worker did not finish, enqueued again with their parameters and baseline name:
    those left RUNNING by a dead worker of this machine (``kill -9``; marked failed first),
    and those failed by an interrupt (Ctrl-C). Each is retried once. Returns their numbers."""
    optuna = optuna_module()
    host = socket.gethostname()
    done = set(study.user_attrs.get("retried", []))
    retried, abandoned = [], []
    for trial in study.get_trials(deepcopy=False):
        if trial.number in done:
            continue
        if trial.state == optuna.trial.TrialState.RUNNING:
            worker_host, _, pid = str(trial.user_attrs.get("worker", "")).rpartition(":")
            if worker_host != host or not pid.isdigit() or _alive(int(pid)):
                continue
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
            abandoned.append(trial.number)
        elif not (trial.state == optuna.trial.TrialState.FAIL and trial.user_attrs.get("interrupted")):
            continue
        attrs = {"retry_of": trial.number}
        if "baseline" in trial.user_attrs:
            attrs["baseline"] = trial.user_attrs["baseline"]
        study.enqueue_trial(trial.params, user_attrs=attrs)
        retried.append(trial.number)
    if abandoned:
        study.set_user_attr(ABANDONED, sorted(set(study.user_attrs.get(ABANDONED, [])) | set(abandoned)))
    if retried:
        study.set_user_attr("retried", sorted(done | set(retried)))
    return retried


def abandoned_trials(study: Any) -> set[int]:
    """Trials whose worker died: failed by :func:`retry_abandoned` and run again as new trials."""
    return {int(n) for n in study.user_attrs.get(ABANDONED, [])}


@dataclass
class Clock:
    """This worker's share of the search's time budget."""

    study: Any
    budget: float | None
    worker: str
    started: float = 0.0
    spent_before: float = 0.0
    # Seconds kept back for work after the last trial (refitting the chosen model).
    reserve: float = 0.0

    def start(self, at: float | None = None) -> "Clock":
        """Count from ``at`` (the command's start), or from now."""
        self.started = time.time() if at is None else at
        self.spent_before = _union(_sessions(self.study, exclude=self._key()))
        self.mark()
        return self

    def _key(self) -> str:
        return f"{_SESSION}{self.worker} {self.started:.0f}"

    def mark(self) -> None:
        """Record this worker's span so far in the study."""
        self.study.set_user_attr(self._key(), [self.started, time.time()])

    def spent(self) -> float:
        """Seconds of the search so far: earlier spans, plus this worker's."""
        return self.spent_before + (time.time() - self.started)

    def left(self) -> float | None:
        return None if self.budget is None else self.budget - self.spent()

    def out_of_time(self, extra: float = 0.0) -> bool:
        """Too little left beyond the reserve, and beyond ``extra`` seconds still to spend."""
        left = self.left()
        return left is not None and left <= self.reserve + extra


def _sessions(study: Any, exclude: str) -> list[tuple[float, float]]:
    spans = []
    for key, value in study.user_attrs.items():
        if key.startswith(_SESSION) and key != exclude and isinstance(value, list) and len(value) == 2:
            spans.append((float(value[0]), float(value[1])))
    return spans


def _union(spans: list[tuple[float, float]]) -> float:
    total, end = 0.0, -float("inf")
    for start, stop in sorted(spans):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total
