"""The tune folder's report.html: the Pareto front of accuracy against latency, the trials,
the rejections before training, and estimate against measurement for the finalists.

It reads the search's rows (``tuning.results.TrialRow``), the same typed objects that
trials.csv and tune.json are written from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from edgekit.report.html import Page, facts, figure, note, paragraph, table
from edgekit.tuning.results import TrialRow, TrialState, front


def write_tune_html(out: Path, summary: dict, rows: Sequence[TrialRow]) -> Path:
    from edgekit.report import _write, require_plots

    require_plots()
    return _write(tune_page(summary, rows).render(), out / "report.html")


def _num(value: float | None, fmt: str) -> str:
    return "" if value is None else format(value, fmt)


def tune_page(summary: dict, rows: Sequence[TrialRow]) -> Page:
    from edgekit.report.plots import pareto

    limits, target = summary["limits"], summary["target"]
    best = next((r for r in rows if summary["best"] and r.number == summary["best"]["number"]), None)
    page = Page(f"edgekit tune: {target['id']}",
                f"latency limit {limits['max_latency_ms']:g} ms"
                + ("" if limits["max_size_kb"] is None else f", size limit {limits['max_size_kb']:g} KB")
                + f"; latency {target['latency']}")
    overview = page.section("overview", "Overview")
    counted = summary["counts"]
    overview.add(facts([
        ("trials", summary["trials"]),
        ("trained to the end", counted.get(TrialState.COMPLETE.value, 0)),
        ("screened out early", counted.get(TrialState.SCREENED_OUT.value, 0)),
        ("rejected before training", counted.get(TrialState.REJECTED.value, 0)),
        ("search time", f"{summary['budget']['spent_seconds'] / 60:.1f} min"),
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
              r.number == (best.number if best else None), str(r.number)) for r in done],
            max_latency_ms=limits["max_latency_ms"]),
            "Validation accuracy of the .tflite against latency on the target (measured where measured, else "
            "estimated); marker area is file size. Squares are the hand-picked baselines, the line the Pareto "
            "front, the dashed line the latency limit, the ring the chosen trial."))
    rejected = summary["rejected_before_training"]
    if rejected or summary["dropped"]:
        section = page.section("rejected", "Rejected before training")
        if rejected:
            section.add(table(["reason", "candidates"], sorted(rejected.items()), numeric=[1]))
        if summary["dropped"]:
            section.add(paragraph("Backbones the target cannot run, dropped from the space:"),
                        table(["model", "check"], [(d["model"], d["why"]) for d in summary["dropped"]]))
    finalists = [r for r in rows if r.measured_on and r.measured_on != "this machine"]
    if finalists:
        page.section("device", "Estimate against measurement").add(table(
            ["trial", "model", "estimated ms", f"measured ms ({finalists[0].measured_on})", "error"],
            [(r.number, r.model, _num(r.estimated_ms, ".3f"), _num(r.measured_ms, ".3f"),
              "" if r.estimated_ms is None else f"{r.estimated_ms / r.measured_ms - 1:+.0%}") for r in finalists],
            numeric=[0, 2, 3, 4]))
    page.section("trials", "Trials").add(table(
        ["#", "state", "baseline", "model", "lr", "dropout", "stages", "fidelity", "val accuracy", "latency ms",
         "latency", "bytes", "meets", "seconds"],
        [(r.number, r.state.value, r.baseline or "", r.model, _num(r.learning_rate, ".2g"), _num(r.dropout, ".2f"),
          r.stages, r.fidelity, _num(r.val_accuracy, ".4f"), _num(r.latency_ms, ".3f"), r.latency_kind,
          "" if r.size_bytes is None else f"{r.size_bytes:,}", {True: "yes", False: "no", None: ""}[r.meets_limits],
          _num(r.wall_seconds, ".0f")) for r in rows],
        numeric=[0, 8, 9, 11, 13]))
    page.section("space", "Search space").add(table(
        ["dimension", "values"], [(k, str(v)) for k, v in summary["space"].items()]))
    return page
