"""A measurement as an object, and its human rendering."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Latency:
    mean: float
    std: float
    min: float
    p50: float
    p90: float
    p99: float
    max: float


@dataclass(frozen=True)
class Measurement:
    """Every figure of one profile; ``to_dict()`` is what ``--json`` prints."""

    model: str
    file_bytes: int
    gzip_bytes: int
    sha256: str
    runtime: dict
    delegate: str | None
    accelerator: str | None
    fully_accelerated: bool | None
    threads: int
    inputs: list
    input_source: str
    load_ms: float
    first_inference_ms: float
    warmup: int
    runs: int
    latency_ms: Latency
    throughput_per_s: float | None
    memory: dict
    system: dict
    ops: list
    ops_note: str
    warnings: list
    remote: dict | None = field(default=None)
    # Each timed run's latency, in order (empty from an edgekit too old to send them).
    samples_ms: list = field(default_factory=list)
    # Each op timed alone (profiler.per_op), or {"error": ...} when that failed; None unless asked.
    per_op: dict | None = None
    # The GPU accelerator in float32 arithmetic (--gpu-f32); False from an older edgekit.
    gpu_f32: bool = False

    @classmethod
    def from_dict(cls, data: dict) -> "Measurement":
        data = dict(data)
        data["latency_ms"] = Latency(**data["latency_ms"])
        return cls(**data)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _mib(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**20:.1f} MiB"


def render(m: Measurement) -> str:
    lat = m.latency_ms
    where = m.remote["host"] if m.remote else "this machine"
    system = m.system
    accel = m.delegate or (f"{m.accelerator} accelerator" if m.accelerator else "default (XNNPACK on the CPU)")
    if m.gpu_f32:
        accel += " in float32"
    if m.fully_accelerated is not None:
        accel += ", fully accelerated" if m.fully_accelerated else ", NOT fully accelerated (CPU fallback)"
    condition = [system.get("board") or system.get("cpu") or system.get("machine"), f"{system.get('cores')} cores"]
    if system.get("governor"):
        condition.append(f"governor {system['governor']}")
    if system.get("temperature_c") is not None:
        condition.append(f"{system['temperature_c']} C")
    lines = [
        f"model       {m.model}  ({m.file_bytes:,} bytes, {m.gzip_bytes:,} gzipped)",
        f"measured on {where}: {', '.join(str(c) for c in condition)}",
        f"runtime     {m.runtime['name']} {m.runtime['version']} ({m.runtime['api']}), {m.threads} thread(s), {accel}",
        f"inputs      {', '.join(str(tuple(i['shape'])) + ' ' + i['dtype'] for i in m.inputs)} ({m.input_source})",
        f"load        {m.load_ms:.1f} ms, first inference {m.first_inference_ms:.2f} ms",
        f"latency     {m.runs} runs after {m.warmup} warm-up: p50 {lat.p50:.3f} ms, p90 {lat.p90:.3f}, "
        f"p99 {lat.p99:.3f}, min {lat.min:.3f}, max {lat.max:.3f}, mean {lat.mean:.3f} ± {lat.std:.3f}",
        f"throughput  {m.throughput_per_s:,.1f} inferences/s" if m.throughput_per_s else "throughput  -",
        f"memory      peak RSS {_mib(m.memory['peak_rss_bytes'])}, "
        f"+{_mib(m.memory['growth_bytes'])} over the process before loading the model",
        f"ops         ({m.ops_note})",
    ]
    for row in m.ops:
        macs = "?" if row["estimated_macs"] is None else f"{row['estimated_macs']:,}"
        lines.append(f"  {row['op']:<24} x{row['count']:<4} {macs:>14} MACs  {row['share']:6.1%}")
    lines += [f"warning: {w}" for w in m.warnings]
    if m.per_op is not None:
        lines += ["", *render_per_op(m.per_op)]
    return "\n".join(lines)


def render_per_op(per_op: dict) -> list[str]:
    from edgekit.profiler.per_op import explain

    if "error" in per_op:
        return [f"per-op      not measured: {per_op['error']}"]
    lines = [f"per-op      ({per_op['note']})",
             f"  {'#':>4}  {'op':<22} {'ms':>9} {'share':>6}  {'how':<9} layer"]
    for row in per_op["ops"]:
        ms = "-" if row["ms"] is None else f"{row['ms']:.4f}"
        how = row["how"]
        layer = row["layer"] or "-"
        if row["note"]:
            layer += f"  ({row['note']})"
        lines.append(f"  {row['index']:>4}  {row['opcode'][:22]:<22} {ms:>9} {row['share']:6.1%}  {how:<9} {layer}")
    lines.append(f"  {explain(per_op)}")
    return lines


def render_comparison(measurements: list[Measurement]) -> str:
    base = measurements[0]
    header = f"{'model':<40} {'p50 ms':>9} {'p90 ms':>9} {'bytes':>12} {'gzip':>12} {'p50 x':>7} {'size x':>7}"
    lines = [header]
    for m in measurements:
        name = m.model if len(m.model) <= 40 else "..." + m.model[-37:]
        lines.append(
            f"{name:<40} {m.latency_ms.p50:>9.3f} {m.latency_ms.p90:>9.3f} {m.file_bytes:>12,} {m.gzip_bytes:>12,} "
            f"{m.latency_ms.p50 / base.latency_ms.p50:>7.2f} {m.file_bytes / base.file_bytes:>7.2f}"
        )
    lines.append("ratios are to the first model")
    return "\n".join(lines)
