"""What the target checkers share: op rules and the one way a row is made.

A checker turns a model and a profile into a :class:`CheckReport`; analyze.checkers
says which checker judges which :class:`~edgekit.targets.TargetKind`. Per-op constraints are :data:`Rule`
functions, looked up by opcode in a checker's table of supported ops.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from edgekit.analyze.layers import layer_name
from edgekit.analyze.model import ModelInfo, Op, Tensor
from edgekit.analyze.report import CheckReport, OpCheck, Placement
from edgekit.targets import TargetProfile

# Why ``op`` cannot run on the target, or None.
Rule = Callable[[ModelInfo, Op], "str | None"]
Checker = Callable[[ModelInfo, TargetProfile], CheckReport]


@dataclass(frozen=True)
class Registered:
    check: Checker
    # Runs after ``check`` where a real tool can confirm it (edgetpu_compiler).
    confirm: Callable[..., CheckReport] | None = None


# A detector's box decoding and NMS: Coral's detection models end with it, and it runs on
# the host CPU (Coral's answer in google-coral/edgetpu#515 on ssd_mobilenet_v2_coco_quant_
# postprocess_edgetpu.tflite), where pycoral's detect.get_objects reads its four outputs.
# A GPU delegate leaves it to the CPU in the same way and runs the rest ("98 operations will
# run on the GPU, and the remaining 1 operations will run on the CPU", asus4/tf-lite-unity-
# sample#66), which is how MediaPipe's ObjectDetector runs an SSD on a GPU.
HOST_OPS = {"TFLite_Detection_PostProcess"}
HOST_REASON = ("the detection post-processing (box decoding and NMS) runs on the host CPU after the rest, as in "
               "Coral's and MediaPipe's detectors")


def host_by_design(ops: list[Op], position: int) -> bool:
    """The op at ``position`` is a host op ending the graph: only host ops follow it."""
    return ops[position].opcode in HOST_OPS and all(op.opcode in HOST_OPS for op in ops[position:])


def row(model: ModelInfo, op: Op, placement: Placement = Placement.TARGET, reason: str | None = None, *,
        detail: str | None = None, follows_fallback: bool = False) -> OpCheck:
    """The table row for ``op``: where it runs and why, with its Keras layer and MACs."""
    return OpCheck(index=op.index, subgraph=op.subgraph, opcode=op.opcode, version=op.version,
                   layer=layer_name(model, op), placement=placement, reason=reason, detail=detail,
                   macs=op.macs, follows_fallback=follows_fallback)


def report(model: ModelInfo, profile: TargetProfile, rows: Iterable[OpCheck], issues: Iterable[str] = (),
           notes: Iterable[str] = ()) -> CheckReport:
    return CheckReport(target=profile.id, kind=profile.kind.value, model=model.source, ops=tuple(rows),
                       model_issues=tuple(issues), notes=tuple(notes))


def by_table(model: ModelInfo, op: Op, supported: dict[str, Rule | None],
             tensor_rule: Callable[[Op, Tensor], str | None]) -> str | None:
    """The shared order of checks: the op is in the table, each of its tensors passes
    ``tensor_rule``, then the op's own rule."""
    tensors = model.subgraphs[op.subgraph].tensors
    for index in (*op.inputs, *op.outputs):
        if index >= 0:
            problem = tensor_rule(op, tensors[index])
            if problem:
                return problem
    rule = supported[op.opcode]
    return rule(model, op) if rule else None


def fused_activation(allowed: set[str], message: str = "fused activation {act} is not supported") -> Rule:
    """A rule on an op's fused activation."""
    def check(model: ModelInfo, op: Op) -> str | None:
        act = op.options.get("fusedActivationFunction", "NONE")
        return None if act in allowed else message.format(act=act)
    return check


def no_masks(*masks: str, then: Rule | None = None) -> Rule:
    """STRIDED_SLICE without the given masks set."""
    def check(model: ModelInfo, op: Op) -> str | None:
        set_masks = [m for m in masks if op.options.get(m)]
        if set_masks:
            return f"{' and '.join(set_masks)} {'is' if len(set_masks) == 1 else 'are'} not supported"
        return then(model, op) if then else None
    return check


def all_of(*rules: Rule) -> Rule:
    def check(model: ModelInfo, op: Op) -> str | None:
        for rule in rules:
            problem = rule(model, op)
            if problem:
                return problem
        return None
    return check
