"""Which ops XNNPACK takes on the CPU and which stay on TFLite's built-in kernels.

The answer comes from the runtime itself: the interpreter is built with its default
delegates (XNNPACK), and each DELEGATE node's partition is traced back through the
graph. Built-in kernels still run on the CPU, only slower, so they are not a failure;
an op the runtime has no kernel for is (the model will not load).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from edgekit.analyze.model import ModelInfo
from edgekit.analyze.report import CheckReport, Placement
from edgekit.analyze.rules import report, row
from edgekit.analyze.shapes import dynamic_inputs, resize_dynamic_inputs, unsized_message
from edgekit.errors import first_line
from edgekit.runtime import find_runtime
from edgekit.targets import TargetProfile


def delegated_nodes(model_path: str | Path, num_threads: int = 1,
                    input_shape: Sequence[int] | None = None) -> set[int]:
    """Indices of main-subgraph nodes that the default delegates (XNNPACK) replaced, with
    dynamic inputs at ``input_shape`` (a dynamic batch alone at 1)."""
    runtime = find_runtime()
    interpreter = runtime.interpreter(model_path=model_path, num_threads=num_threads)
    resize_dynamic_inputs(interpreter, input_shape)
    interpreter.allocate_tensors()
    nodes = interpreter._get_ops_details()  # noqa: SLF001 - the only view of delegation the Python API gives
    original = [n for n in nodes if n["op_name"] != "DELEGATE"]
    producer = {int(t): n["index"] for n in original for t in n["outputs"]}
    inputs_of = {n["index"]: [int(t) for t in n["inputs"]] for n in original}
    taken: set[int] = set()
    for node in nodes:
        if node["op_name"] != "DELEGATE":
            continue
        boundary = {int(t) for t in node["inputs"]}
        stack = [int(t) for t in node["outputs"]]
        seen: set[int] = set()
        while stack:
            tensor = stack.pop()
            if tensor in seen or tensor in boundary or tensor not in producer:
                continue
            seen.add(tensor)
            index = producer[tensor]
            if index not in taken:
                taken.add(index)
                stack.extend(inputs_of[index])
    return taken


def check_cpu(model: ModelInfo, profile: TargetProfile) -> CheckReport:
    notes = []
    dynamic = dynamic_inputs(model) if model.input_shape is None else []
    taken, load_error = set(), None
    if dynamic:
        # Not a model issue: at any real size it may well run; which kernels take it depends on the size.
        notes.append(f"runtime placement not measured: {unsized_message(dynamic, 'which kernels run it')}")
    else:
        try:
            taken = delegated_nodes(model.source, profile.profile.threads or 1, model.input_shape)
        except Exception as exc:  # noqa: BLE001 - the runtime raises RuntimeError/ValueError with its log
            load_error = first_line(exc)
    rows = []
    for sg in model.subgraphs:
        for op in sg.ops:
            if dynamic:
                placement, reason, detail = Placement.TARGET, None, "not measured: dynamic input size"
            elif load_error and op.custom:
                placement, reason, detail = Placement.UNSUPPORTED, f"the runtime cannot load it: {load_error}", None
            elif load_error:
                placement, reason, detail = Placement.TARGET, None, "not measured: the model did not load"
            else:
                placement, reason = Placement.TARGET, None
                detail = "XNNPACK" if sg.index == 0 and op.index in taken else "built-in kernel"
            rows.append(row(model, op, placement, reason, detail=detail))
    issues = []
    if load_error and not any(r.placement == Placement.UNSUPPORTED for r in rows):
        issues.append(f"the runtime cannot load the model: {load_error}")
    if not load_error and not dynamic:
        on_xnnpack = sum(r.detail == "XNNPACK" for r in rows)
        notes.append(f"{on_xnnpack} of {len(rows)} ops run on XNNPACK, the rest on built-in kernels")
    return report(model, profile, rows, issues, notes)
