"""The page of ``edgekit profile --html``: each model's latency distribution, and several compared."""

from __future__ import annotations

from pathlib import Path

import edgekit.report.plots as plots
from edgekit.report.html import Page, facts, figure, paragraph, table


def profile_page(measurements: list[dict]) -> Page:
    names = distinct_names([m["model"] for m in measurements])
    first = measurements[0]
    where = first["remote"]["host"] if first.get("remote") else "this machine"
    system = first.get("system") or {}
    page = Page(title="edgekit profile: " + ", ".join(names),
                subtitle=f"measured on {where}: {system.get('board') or system.get('cpu') or system.get('machine')}, "
                         f"{system.get('cores')} cores; {first['runtime']['name']} {first['runtime']['version']}")
    if len(measurements) > 1:
        section = page.section("comparison", "Comparison")
        samples = [m.get("samples_ms") or [m["latency_ms"]["p50"]] for m in measurements]
        section.add(
            figure("comparison", plots.latency_comparison(names, samples, [m["file_bytes"] for m in measurements]),
                   "latency distribution and file size of each model"),
            table(["model", "p50 ms", "p90 ms", "p99 ms", "bytes", "gzip", "p50 ×", "size ×"],
                  [(name, f"{m['latency_ms']['p50']:.3f}", f"{m['latency_ms']['p90']:.3f}",
                    f"{m['latency_ms']['p99']:.3f}", f"{m['file_bytes']:,}", f"{m['gzip_bytes']:,}",
                    f"{m['latency_ms']['p50'] / first['latency_ms']['p50']:.2f}",
                    f"{m['file_bytes'] / first['file_bytes']:.2f}") for name, m in zip(names, measurements)],
                  numeric=(1, 2, 3, 4, 5, 6, 7)),
            paragraph("Ratios are to the first model.", muted=True))
    for n, (name, m) in enumerate(zip(names, measurements)):
        lat = m["latency_ms"]
        section = page.section(f"model-{n}", name)
        accel = m.get("delegate") or (f"{m['accelerator']} accelerator" if m.get("accelerator")
                                      else "XNNPACK on the CPU")
        section.add(facts([("p50", f"{lat['p50']:.3f} ms"), ("p90", f"{lat['p90']:.3f} ms"),
                           ("p99", f"{lat['p99']:.3f} ms"), ("runs", m["runs"]), ("threads", m["threads"]),
                           ("file", f"{m['file_bytes']:,} bytes")]))
        section.add(paragraph(f"{accel}; inputs {m['input_source']}; load {m['load_ms']:.1f} ms, first inference "
                              f"{m['first_inference_ms']:.2f} ms; mean {lat['mean']:.3f} ± {lat['std']:.3f} ms, "
                              f"min {lat['min']:.3f}, max {lat['max']:.3f}."))
        if m.get("samples_ms"):
            section.add(figure(f"latency-{n}", plots.latency_histogram(
                m["samples_ms"], {"p50": lat["p50"], "p90": lat["p90"], "p99": lat["p99"]}),
                f"{m['runs']} timed runs after {m['warmup']} warm-up runs"))
        for warning in m.get("warnings", []):
            section.add(paragraph(f"warning: {warning}"))
    return page


def distinct_names(paths: list[str]) -> list[str]:
    """Each path's shortest tail that tells it from the others: build/cpu/model.tflite and
    build/tpu/model.tflite become cpu/model.tflite and tpu/model.tflite."""
    parts = [Path(p).parts for p in paths]
    for depth in range(1, max(len(p) for p in parts) + 1):
        names = ["/".join(p[-depth:]) for p in parts]
        if len(set(names)) == len(names):
            return names
    return list(paths)
