"""Sections that a build page and a conversion page share: weights, placement, provenance."""

from __future__ import annotations

from collections import Counter

import edgekit.report.plots as plots
from edgekit.report.document import Check, Kernel, Latency, Op, Provenance
from edgekit.report.html import Page, facts, figure, heading, note, paragraph, pre, table


def weights(page: Page, kernels: tuple[Kernel, ...]) -> None:
    section = page.section("weights", "Per-layer weights")
    if not kernels:
        section.add(paragraph("The .tflite has no convolution or dense kernels to show.", muted=True))
        return
    section.add(
        paragraph("Read from the .tflite, kernel by kernel: the share of exact zeros (what pruning leaves) and "
                  "the number of distinct values (what clustering leaves; int8 allows at most 256)."),
        figure("weights", plots.kernel_weights([k.plain for k in kernels]),
               "zeros and distinct values per kernel of the .tflite"),
        table(["op", "layer", "shape", "type", "zeros", "distinct", "most distinct per channel"],
              [(k.op_index, k.layer or k.tensor, "×".join(str(d) for d in k.shape), k.dtype,
                f"{k.zero_fraction:.1%}", k.distinct_values,
                "" if k.max_distinct_per_channel is None else k.max_distinct_per_channel)
               for k in kernels], numeric=(0, 4, 5, 6)),
    )


def placement(page: Page, check: Check) -> None:
    ops = check.ops
    section = page.section("placement", f"Placement on {check.target}")
    counts = Counter(op.placement for op in ops)
    section.add(facts([("ops on the target", f"{counts.get('target', 0)} of {len(ops)}"),
                       ("fall back to the CPU", counts.get("cpu", 0)),
                       *([("on the host by design", counts["host"])] if counts.get("host") else []),
                       ("unsupported", counts.get("unsupported", 0))]))
    if check.fully_supported:
        section.add(note(f"The whole model runs on {check.target}.", ok=True))
    for issue in check.model_issues:
        section.add(note(issue))
    for line in check.notes:
        section.add(paragraph(line, muted=True))
    if ops:
        section.add(figure("placement", plots.placement_strip([op.placement for op in ops]),
                           "each op in execution order, coloured by where it runs"))
        section.add(table(
            ["#", "op", "runs on", "layer", "why", "MACs"],
            [(f"{op.subgraph}:{op.index}" if op.subgraph else op.index, op.opcode, _where(op, check.target),
              op.layer or "-", op.reason or "", f"{op.macs:,}" if op.macs else "")
             for op in ops],
            numeric=(0, 5), row_classes=[op.placement for op in ops]))
    if check.compiler:
        section.add(heading("edgetpu_compiler"), pre(_compiler_text(check.compiler)))


def latency(page: Page, measured: Latency | None) -> None:
    """Whole-model and per-op latency on the build machine, and the target's estimate."""
    if measured is None:
        return
    from edgekit.profiler.per_op import explain

    section = page.section("latency", "Latency")
    tiles = [(f"p50 on {measured.measured_on}", f"{measured.p50_ms:.3f} ms"), ("threads", measured.threads)]
    estimated = measured.estimate
    if estimated is not None:
        tiles.append((f"estimated on {estimated.target} (not measured)",
                      f"{estimated.estimated_ms:.2f} ms ({estimated.low_ms:.2f}-{estimated.high_ms:.2f})"))
    section.add(facts(tiles))
    if estimated is not None:
        section.add(paragraph(f"The estimate comes from the target's cost model: {estimated.source}.", muted=True))
        if estimated.left_out:
            section.add(paragraph(f"It leaves out {estimated.left_out} of {estimated.op_count} ops, which the "
                                  "cost model has no coefficients for: the true latency is higher.", muted=True))
    if measured.per_op_error:
        section.add(note(f"per-op times not measured: {measured.per_op_error}"))
    elif measured.per_op_ops:
        section.add(figure("op_times", plots.op_times(list(measured.per_op_ops)), "the slowest ops, each timed alone"),
                    paragraph(explain(measured.per_op) + ".", muted=True))


def provenance(page: Page, made: Provenance, recipe_text: str | None) -> None:
    section = page.section("provenance", "Provenance")
    section.add(paragraph(f"Made by edgekit {made.edgekit_version} on {made.created} in {made.wall_seconds:.1f} s."))
    if made.timings:
        section.add(figure("timings", plots.step_times(made.timings), "seconds per step"))
    if recipe_text:
        section.add(heading("recipe.toml (replays this output)"), pre(recipe_text))
    if made.versions:
        section.add(heading("versions"), table(["component", "version"],
                                               [(k, v if v is not None else "not installed")
                                                for k, v in made.versions.items()]))


def _where(op: Op, target: str) -> str:
    where = target if op.placement == "target" else op.placement
    if op.detail:
        where += f" ({op.detail})"
    if op.follows_fallback:
        where += ", after a fallback"
    return where


def _compiler_text(compiler: dict) -> str:
    # The compiler's own facts, whatever it reported, then its log.
    lines = [f"{key}: {value}" for key, value in compiler.items() if key != "log" and value not in (None, "", [])]
    if compiler.get("log"):
        lines += ["", str(compiler["log"])]
    return "\n".join(lines)
