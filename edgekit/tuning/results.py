"""What a search found: one row per trial, the Pareto front, the chosen trial, trials.csv.

Rows are plain frozen objects built from the study's trials, so the CSV, the JSON
summary and report.html all read the same fields.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import dataclass
from typing import Any, Iterable

from edgekit._compat import StrEnum


class TrialState(StrEnum):
    COMPLETE = "complete"
    SCREENED_OUT = "screened out"  # stopped by successive halving
    CUT = "cut by the time budget"
    # Not started: its first epochs would have taken too much of the time left.
    TOO_SLOW = "too slow for the time left"
    REJECTED = "rejected before training"
    FAILED = "failed"
    RUNNING = "running"
    # Enqueued (a baseline, a retry) and not started when the search ended.
    QUEUED = "queued, not run"


@dataclass(frozen=True)
class TrialRow:
    number: int
    state: TrialState
    baseline: str | None
    model: str
    backbone: str
    weights: str
    alpha: float | None
    image_size: int | None
    learning_rate: float | None
    dropout: float | None
    augment: str | None
    stages: str
    fidelity: str
    # Validation accuracy: the .tflite's for a complete trial, the Keras model's at its
    # last epoch for one stopped early.
    val_accuracy: float | None
    keras_accuracy: float | None
    estimated_ms: float | None
    measured_ms: float | None
    measured_on: str | None
    size_bytes: int | None
    meets_limits: bool | None
    wall_seconds: float | None
    reason: str | None
    folder: str | None
    worker: str | None

    @property
    def latency_ms(self) -> float | None:
        """Measured where measured, else estimated."""
        return self.measured_ms if self.measured_ms is not None else self.estimated_ms

    @property
    def latency_kind(self) -> str:
        if self.measured_ms is not None:
            return f"measured on {self.measured_on}"
        return "estimated" if self.estimated_ms is not None else "unknown"

    def to_dict(self) -> dict:
        row = dataclasses.asdict(self)
        row["state"] = self.state.value
        row["latency_ms"] = self.latency_ms
        row["latency_kind"] = self.latency_kind
        return row


CSV_FIELDS = [f.name for f in dataclasses.fields(TrialRow)] + ["latency_ms", "latency_kind"]


def rows_of(study: Any, *, max_latency_ms: float, max_bytes: float | None,
            device_ms: dict[int, float] | None = None, device: str | None = None) -> list[TrialRow]:
    """One row per trial of ``study``; ``device_ms``: finalists measured on ``device``."""
    from optuna.trial import TrialState as Optuna

    from edgekit.tuning.study import abandoned_trials

    device_ms = device_ms or {}
    abandoned = abandoned_trials(study)
    rows = []
    for trial in study.get_trials(deepcopy=False):
        attrs = trial.user_attrs
        if trial.number in abandoned:
            state, reason = TrialState.FAILED, "its worker died; retried as a new trial"
        elif trial.state == Optuna.COMPLETE:
            state, reason = TrialState.COMPLETE, None
        elif trial.state == Optuna.PRUNED and "rejected" in attrs:
            state, reason = TrialState.REJECTED, attrs["rejected"]
        elif trial.state == Optuna.PRUNED and "too_slow" in attrs:
            state, reason = TrialState.TOO_SLOW, attrs["too_slow"]
        elif trial.state == Optuna.PRUNED and "stopped" in attrs:
            state, reason = TrialState.CUT, attrs["stopped"]
        elif trial.state == Optuna.PRUNED:
            state, reason = TrialState.SCREENED_OUT, "successive halving: below the best third at its rung"
        elif trial.state == Optuna.RUNNING:
            state, reason = TrialState.RUNNING, None
        elif trial.state == Optuna.WAITING:
            state, reason = TrialState.QUEUED, "the search ended before it started"
        else:
            state, reason = TrialState.FAILED, attrs.get("error", "failed")
        measured_ms, measured_on = attrs.get("measured_ms"), attrs.get("measured_on")
        if trial.number in device_ms:
            measured_ms, measured_on = device_ms[trial.number], device
        value = trial.value if state == TrialState.COMPLETE else attrs.get("last_val_accuracy")
        size = attrs.get("size_bytes")
        row = TrialRow(
            number=trial.number, state=state, baseline=attrs.get("baseline"), model=attrs.get("model", ""),
            backbone=attrs.get("backbone", ""), weights=attrs.get("weights", ""), alpha=attrs.get("alpha"),
            image_size=attrs.get("image_size"), learning_rate=attrs.get("learning_rate"),
            dropout=attrs.get("dropout"), augment=attrs.get("augment"), stages=attrs.get("stages", ""),
            fidelity=attrs.get("fidelity", ""),
            val_accuracy=value, keras_accuracy=attrs.get("keras_accuracy"),
            estimated_ms=attrs.get("estimated_ms"), measured_ms=measured_ms, measured_on=measured_on,
            size_bytes=size, meets_limits=None, wall_seconds=attrs.get("wall_seconds"), reason=reason,
            folder=attrs.get("folder"), worker=attrs.get("worker"))
        if state == TrialState.COMPLETE:
            latency = row.latency_ms
            meets = (latency is not None and latency <= max_latency_ms
                     and (max_bytes is None or (size is not None and size <= max_bytes)))
            row = dataclasses.replace(row, meets_limits=meets)
        rows.append(row)
    return rows


def chosen(rows: Iterable[TrialRow]) -> TrialRow | None:
    """The most accurate complete trial on validation that meets the limits (the faster, then
    the smaller, of equals)."""
    meeting = [r for r in rows if r.state == TrialState.COMPLETE and r.meets_limits]
    if not meeting:
        return None
    return max(meeting, key=lambda r: (r.val_accuracy, -(r.latency_ms or 0), -(r.size_bytes or 0)))


def front(rows: Iterable[TrialRow]) -> list[TrialRow]:
    """Complete trials that no other beats on both validation accuracy and latency, fastest first."""
    done = [r for r in rows if r.state == TrialState.COMPLETE and r.latency_ms is not None
            and r.val_accuracy is not None]
    kept = []
    for r in done:
        beaten = any(o.val_accuracy >= r.val_accuracy and o.latency_ms <= r.latency_ms
                     and (o.val_accuracy > r.val_accuracy or o.latency_ms < r.latency_ms) for o in done)
        if not beaten:
            kept.append(r)
    return sorted(kept, key=lambda r: (r.latency_ms, -r.val_accuracy))


def counts(rows: Iterable[TrialRow]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows:
        out[r.state.value] = out.get(r.state.value, 0) + 1
    return out


def rejected_reasons(rows: Iterable[TrialRow]) -> dict[str, int]:
    """Rejections before training by kind (latency, size, fallback)."""
    out: dict[str, int] = {}
    for r in rows:
        if r.state == TrialState.REJECTED and r.reason:
            kind = r.reason.split(":", 1)[0]
            out[kind] = out.get(kind, 0) + 1
    return out


def to_csv(rows: Iterable[TrialRow]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in r.to_dict().items()})
    return buffer.getvalue()
