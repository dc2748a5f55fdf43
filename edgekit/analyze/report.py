"""The result of checking a model against a target: one row per op, plus model-level findings."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from edgekit._compat import StrEnum


class Placement(StrEnum):
    TARGET = "target"  # runs on the target's accelerator (or, for cpu, on the CPU kernels)
    CPU = "cpu"  # falls back to the host CPU
    # Runs on the host CPU by design, as in the target maker's own models: a detector's
    # final box decoding and NMS (TFLite_Detection_PostProcess). Not a fallback.
    HOST = "host"
    UNSUPPORTED = "unsupported"  # no runtime kernel at all: the model will not load


@dataclass(frozen=True)
class OpCheck:
    index: int
    subgraph: int
    opcode: str
    version: int
    layer: str | None  # the Keras layer the converter named the op after, where it kept one
    placement: Placement
    reason: str | None = None
    detail: str | None = None  # e.g. which CPU kernel (XNNPACK or built-in) runs it
    macs: int | None = None
    # On the CPU only because an earlier op broke the partition, not for its own sake.
    follows_fallback: bool = False


@dataclass(frozen=True)
class CheckReport:
    target: str
    kind: str
    model: str
    ops: tuple[OpCheck, ...]
    # Problems with the whole model (dynamic shapes, several subgraphs): any one stops
    # it from running fully on the target.
    model_issues: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    compiler: dict | None = field(default=None)

    @property
    def fallback_ops(self) -> list[OpCheck]:
        return [op for op in self.ops if op.placement not in (Placement.TARGET, Placement.HOST)]

    @property
    def fully_supported(self) -> bool:
        return not self.model_issues and not self.fallback_ops

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["fully_supported"] = self.fully_supported
        out["summary"] = self.summary()
        return out

    def summary(self) -> str:
        on_target = sum(op.placement == Placement.TARGET for op in self.ops)
        text = f"{on_target} of {len(self.ops)} ops run on {self.target}"
        host = [op.opcode for op in self.ops if op.placement == Placement.HOST]
        if host:
            text += f", {len(host)} on the host by design ({', '.join(dict.fromkeys(host))})"
        if self.model_issues:
            text += f"; {len(self.model_issues)} model issue(s)"
        return text

    def table(self, *, causes_only: bool = False) -> str:
        """A fixed-width table for people; --json has the same content.

        ``causes_only`` keeps the ops that fall back for their own reasons, leaving out
        those that follow them and those on the target.
        """
        rows = [("#", "op", "where", "layer", "why")]
        for op in self.ops:
            if causes_only and (op.placement in (Placement.TARGET, Placement.HOST) or op.follows_fallback):
                continue
            where = {Placement.TARGET: self.target, Placement.HOST: "host (by design)"}.get(op.placement,
                                                                                           op.placement.value)
            if op.detail:
                where += f" ({op.detail})"
            rows.append((f"{op.subgraph}:{op.index}" if op.subgraph else str(op.index), op.opcode, where,
                         op.layer or "-", op.reason or ""))
        widths = [min(max(len(r[i]) for r in rows), 48) for i in range(4)]
        lines = []
        for r in rows:
            cells = [r[i][: widths[i]].ljust(widths[i]) for i in range(4)]
            lines.append("  ".join(cells + [r[4]]).rstrip())
        for issue in self.model_issues:
            lines.append(f"model: {issue}")
        for note in self.notes:
            lines.append(f"note: {note}")
        if causes_only:
            following = sum(op.follows_fallback for op in self.ops)
            if following:
                lines.append(f"(and {following} later ops that follow them onto the CPU)")
        verdict = "runs fully on" if self.fully_supported else "does NOT run fully on"
        lines.append(f"{self.summary()}: {self.model} {verdict} {self.target}")
        return "\n".join(lines)
