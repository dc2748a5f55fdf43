"""The tune folder's report.html: the Pareto front of accuracy against latency, the trials,
the rejections before training, and estimate against measurement for the finalists.

It reads the search's rows (``tuning.results.TrialRow``), the same typed objects that
trials.csv and tune.json are written from, and the search's facts (:class:`Search`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from edgekit.report.html import Page, facts, figure, note, paragraph, table
from edgekit.tuning.results import TrialRow, TrialState, front


@dataclass(frozen=True)
class Search:
    target: str
    # How the latency that judges the limits was had (measured here, estimated...).
    latency: str
    max_latency_ms: float
    max_size_kb: float | None
    spent_seconds: float
    rejected: dict[str, int]
    dropped: tuple[tuple[str, str], ...]
    space: dict
    best: int | None


def write_tune_html(out: Path, search: Search, rows: Sequence[TrialRow]) -> Path:
    from edgekit.report import _write, require_plots

    require_plots()
    return _write(tune_page(search, rows).render(), out / "report.html")


def _num(value: float | None, fmt: str) -> str:
    return "" if value is None else format(value, fmt)


def tune_page(search: Search, rows: Sequence[TrialRow]) -> Page:
    from edgekit.report.plots import pareto

    best = next((r for r in rows if r.number == search.best), None)
    page = Page(f"edgekit tune: {search.target}",
                f"latency limit {search.max_latency_ms:g} ms"
                + ("" if search.max_size_kb is None else f", size limit {search.max_size_kb:g} KB")
                + f"; latency {search.latency}")
    overview = page.section("overview", "Overview")
    states = [r.state for r in rows]
    overview.add(facts([
        ("trials", len(rows)),
        ("trained to the end", states.count(TrialState.COMPLETE)),
        ("screened out early", states.count(TrialState.SCREENED_OUT)),
        ("rejected before training", states.count(TrialState.REJECTED)),
        ("too slow for the time left", states.count(TrialState.TOO_SLOW)),
        ("search time", f"{search.spent_seconds / 60:.1f} min"),
    ]))
    if best is None:
        overview.add(note("No trial that trained to the end meets the limits: best/ is empty."))
    else:
        overview.add(note(
            f"Chosen: trial {best.number}, {best.model}, validation accuracy {best.val_accuracy:.4f}, "
            f"{best.latency_ms:.3f} ms ({best.latency_kind}), {best.size_bytes:,} bytes; built in full in best/.",
            ok=True))
    done = [r for r in rows if r.state == TrialState.COMPLETE and r.latency_ms is not None]
    if done:
        kept = {r.number for r in front(rows)}
        overview.add(figure("pareto", pareto(
            [(r.latency_ms, r.val_accuracy, r.size_bytes or 0, r.number in kept, bool(r.baseline),
              r.number == search.best, str(r.number)) for r in done],
            max_latency_ms=search.max_latency_ms),
            "Validation accuracy of the .tflite against latency on the target (measured where measured, else "
            "estimated); marker area is file size. Squares are the hand-picked baselines, the line the Pareto "
            "front, the dashed line the latency limit, the ring the chosen trial."))
    if search.rejected or search.dropped:
        section = page.section("rejected", "Rejected before training")
        if search.rejected:
            section.add(table(["reason", "candidates"], sorted(search.rejected.items()), numeric=[1]))
        if search.dropped:
            section.add(paragraph("Backbones dropped from the space before any trial: the target cannot run "
                                  "them, or they miss the limits even at their narrowest and smallest."),
                        table(["model", "why"], list(search.dropped)))
    finalists = [r for r in rows if r.measured_on and r.measured_on != "this machine"]
    if finalists:
        page.section("device", "Estimate against measurement").add(table(
            ["trial", "model", "estimated ms", f"measured ms ({finalists[0].measured_on})", "error"],
            [(r.number, r.model, _num(r.estimated_ms, ".3f"), _num(r.measured_ms, ".3f"),
              "" if r.estimated_ms is None else f"{r.estimated_ms / r.measured_ms - 1:+.0%}") for r in finalists],
            numeric=[0, 2, 3, 4]))
    page.section("trials", "Trials").add(table(
        ["#", "state", "baseline", "model", "lr", "dropout", "augment", "stages", "fidelity", "val accuracy",
         "latency ms", "latency", "bytes", "meets", "seconds"],
        [(r.number, r.state.value, r.baseline or "", r.model, _num(r.learning_rate, ".2g"), _num(r.dropout, ".2f"),
          r.augment or "", r.stages, r.fidelity, _num(r.val_accuracy, ".4f"), _num(r.latency_ms, ".3f"),
          r.latency_kind, "" if r.size_bytes is None else f"{r.size_bytes:,}",
          {True: "yes", False: "no", None: ""}[r.meets_limits], _num(r.wall_seconds, ".0f")) for r in rows],
        numeric=[0, 9, 10, 12, 14]))
    page.section("space", "Search space").add(table(
        ["dimension", "values"], [(k, str(v)) for k, v in search.space.items()]))
    return page
