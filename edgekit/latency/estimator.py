"""``estimate()``: a model's latency on a target from the target's cost model, with a band.

CPU targets sum each op's cost plus one invoke's fixed cost. Edge TPU targets split the
model where ``edgekit check`` places it: ops on the TPU cost MACs at its rate plus the
parameters that miss its on-chip memory, streamed every inference; ops that fall back
cost what the host CPU's coefficients say.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from edgekit.analyze import read_model
from edgekit.analyze.layers import layer_name
from edgekit.analyze.shapes import at_input_shape, parse_shape, require_input_shape
from edgekit.errors import ConfigError
from edgekit.latency.cost_model import CostModel, DType
from edgekit.latency.ops import op_costs
from edgekit.targets import TargetKind, TargetProfile, load_target


@dataclass(frozen=True)
class Estimate:
    model: str
    target: str
    threads: int
    source: str
    estimated_ms: float
    low_ms: float
    high_ms: float
    ops: list  # index, opcode, layer, op_class, dtype, placement, macs, bytes, ms
    notes: list
    # Ops the cost model has no coefficients for: the total leaves them out.
    left_out: int = 0
    # The size given for dynamic inputs (--input-shape), which every op was priced at.
    input_shape: list | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self, where: str = "") -> str:
        """The total (``where``, such as "on rpi4", after it) with its band, and what it
        leaves out: a total that leaves ops out is only a lower bound, which a reader must
        not miss."""
        text = (f"{self.estimated_ms:.3f} ms{' ' + where if where else ''} "
                f"(band {self.low_ms:.3f} - {self.high_ms:.3f} ms)")
        if self.left_out:
            text += (f", leaving out {self.left_out} of {len(self.ops)} ops that the cost model has no "
                     "coefficients for")
        return text

    def render(self) -> str:
        lines = [f"model       {self.model}",
                 *([f"input shape {self.input_shape}"] if self.input_shape else []),
                 f"target      {self.target}, {self.threads} thread(s); cost model: {self.source}",
                 f"estimate    {self.summary()}",
                 f"  {'#':>4}  {'op':<20} {'class':<15} {'type':<7} {'kernel':<8} {'runs on':<8} {'est. ms':>9}  layer"]
        for row in self.ops:
            ms = "-" if row["ms"] is None else f"{row['ms']:.4f}"
            lines.append(f"  {row['index']:>4}  {row['opcode'][:20]:<20} {row['op_class']:<15} {row['dtype']:<7} "
                         f"{row['kernel']:<8} {row['placement']:<8} {ms:>9}  {row['layer'] or '-'}")
        lines += [f"note: {n}" for n in self.notes]
        lines.append("(an estimate from the target's cost model, not a measurement)")
        return "\n".join(lines)


def estimate(model: str | Path, target: str | Path | TargetProfile, *,
             input_shape: Sequence[int] | str | None = None) -> Estimate:
    """Estimated latency of ``model`` on ``target``, per op and in total, with a band.
    A model with a dynamic input size is priced at ``input_shape`` and refused without it."""
    profile = load_target(target)
    costs = profile.cost_model
    if costs is None:
        raise ConfigError(f"target {profile.id} has no [cost_model]: run 'edgekit calibrate' on the device and give "
                          "its file as --target, or use a target that has one")
    shape = parse_shape(input_shape)
    info = read_model(model)
    require_input_shape(info, shape, "a latency estimate")
    info = at_input_shape(info, shape)
    placements = _placements(model, profile, shape)
    builtin = _builtin_ops(model, info, profile)
    notes = []
    rows = []
    tpu_ops = fused = 0
    for op in op_costs(info):
        placement = placements.get(op.index, "target")
        kernel = "built-in" if op.index in builtin else "xnnpack"
        row = {"index": op.index, "opcode": op.opcode, "layer": layer_name(info, info.main.ops[op.index]),
               "op_class": op.op_class.value, "dtype": op.dtype.value, "placement": placement, "kernel": kernel,
               "macs": op.macs, "bytes": op.bytes, "ms": None}
        if op.folded:
            row["ms"] = 0.0
        elif op.fused_into is not None and kernel == "xnnpack" and op.fused_into not in builtin:
            row["ms"] = 0.0
            fused += 1
        elif profile.kind == TargetKind.EDGETPU and placement == "target" and costs.edgetpu is not None:
            row["ms"] = costs.edgetpu.fixed_ms + costs.edgetpu.per_mmac_ms * op.macs / 1e6
            tpu_ops += 1
        else:
            row["ms"] = costs.predict(op, builtin=op.index in builtin)
        rows.append(row)
    if fused:
        notes.append(f"{fused} PAD op(s) cost nothing: XNNPACK merges them into the convolution they feed")
    left_out = [r for r in rows if r["ms"] is None]
    if left_out:
        notes.append(f"no coefficients for {', '.join(sorted({r['opcode'] for r in left_out}))}: left out of the total")
    # Ops on the Edge TPU cost its own coefficients, never the CPU's.
    on_cpu = rows if not tpu_ops else [r for r in rows if r["placement"] != "target"]
    for dtype in (DType.INT8, DType.FLOAT32):
        for on_builtin in (False, True):
            used = any(r["dtype"] == dtype.value and (r["kernel"] == "built-in") == on_builtin and r["ms"]
                       for r in on_cpu)
            if used and costs.borrows(dtype, on_builtin):
                path = "built-in kernel" if on_builtin else "XNNPACK"
                notes.append(f"the cost model has no {dtype.value} {path} coefficients: those ops borrow others")
    total = costs.invoke_ms + sum(r["ms"] or 0.0 for r in rows)
    if tpu_ops:
        total += _off_chip_ms(info, profile, costs, notes)
    band = costs.band
    return Estimate(model=str(model), target=profile.id, threads=costs.threads, source=costs.source,
                    estimated_ms=total, low_ms=total * (1 - band), high_ms=total * (1 + band), ops=rows, notes=notes,
                    left_out=len(left_out), input_shape=list(shape) if shape else None)


def _builtin_ops(model: str | Path, info, profile: TargetProfile) -> set[int]:
    """Ops that stay on TFLite's built-in kernels, as this machine's runtime (the same
    LiteRT as the device's, where versions match) delegates them; custom ops always do."""
    if profile.kind == TargetKind.EDGETPU:
        return set()
    from edgekit.analyze.cpu import delegated_nodes

    try:
        taken = delegated_nodes(model, profile.profile.threads or 1, info.input_shape)
    except Exception:  # noqa: BLE001 - a custom op this runtime lacks: only custom ops are known built-in
        return {op.index for op in info.main.ops if op.custom}
    return {op.index for op in info.main.ops if op.index not in taken}


def _placements(model: str | Path, profile: TargetProfile, input_shape: tuple[int, ...] | None) -> dict[int, str]:
    """Where each main-subgraph op runs, by the rules of ``edgekit check`` (no compiler run)."""
    if profile.kind != TargetKind.EDGETPU:
        return {}
    from edgekit.analyze import check

    report = check(model, profile, compile=False, input_shape=input_shape)
    return {op.index: op.placement.value for op in report.ops if op.subgraph == 0}


def _off_chip_ms(info, profile: TargetProfile, costs: CostModel, notes: list) -> float:
    cache = profile.limits.on_chip_memory_bytes
    params = info.parameter_bytes
    if not cache or params <= cache:
        notes.append(f"parameters ({params:,} bytes) fit the on-chip memory" if cache else
                     "the target gives no on-chip memory size: parameters are taken to fit")
        return 0.0
    streamed = params - cache
    notes.append(f"{streamed:,} bytes of parameters miss the {cache:,}-byte on-chip memory and stream from the "
                 "host on every inference")
    return costs.edgetpu.off_chip_per_mb_ms * streamed / 1e6
