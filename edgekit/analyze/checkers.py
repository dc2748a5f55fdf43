"""Which checker judges which kind of target: one table, read by :func:`~edgekit.analyze.check`."""

from __future__ import annotations

from edgekit.analyze.compiler import confirm_with_compiler
from edgekit.analyze.cpu import check_cpu
from edgekit.analyze.edgetpu import check_edgetpu
from edgekit.analyze.gpu import check_gpu
from edgekit.analyze.rules import Registered
from edgekit.targets import TargetKind

CHECKERS: dict[TargetKind, Registered] = {
    TargetKind.CPU: Registered(check_cpu),
    TargetKind.GPU: Registered(check_gpu),
    # edgetpu_compiler confirms the rules where it is installed.
    TargetKind.EDGETPU: Registered(check_edgetpu, confirm_with_compiler),
}


def checker_for(kind: TargetKind) -> Registered:
    return CHECKERS[kind]
