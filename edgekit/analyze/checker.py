"""``check()``: will this .tflite run fully on the target, and if not, which op breaks it?"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

from edgekit.analyze.compiler import CompilerError, compile_model, find_compiler, install_hint
from edgekit.analyze.cpu import check_cpu
from edgekit.analyze.edgetpu import check_edgetpu
from edgekit.analyze.gpu import check_gpu
from edgekit.analyze.model import ModelInfo, read_model
from edgekit.analyze.report import CheckReport
from edgekit.targets import TargetKind, TargetProfile, load_target


def check(model: str | Path | ModelInfo, target: str | Path | TargetProfile = "cpu", *,
          compile: bool = True, compiled_dir: str | Path | None = None, name: str | None = None) -> CheckReport:
    """Check ``model`` op by op against ``target``.

    For Edge TPU targets, ``edgetpu_compiler`` is run when installed (``compile``), its
    log parsed into the report, and ``<name>_edgetpu.tflite`` left in ``compiled_dir``
    (a temporary folder when not given). ``name`` replaces the file name in the report.
    """
    profile = load_target(target)
    info = model if isinstance(model, ModelInfo) else read_model(model)
    if profile.kind == TargetKind.EDGETPU:
        report = check_edgetpu(info, profile)
        if compile:
            report = _with_compiler(report, info, profile, compiled_dir)
    elif profile.kind == TargetKind.GPU:
        report = check_gpu(info, profile)
    else:
        report = check_cpu(info, profile)
    return report if name is None else dataclasses.replace(report, model=name)


def _with_compiler(report: CheckReport, info: ModelInfo, profile: TargetProfile,
                   compiled_dir: str | Path | None) -> CheckReport:
    runtime = profile.limits.edgetpu_runtime
    if find_compiler() is None or info.source == "<bytes>":
        return dataclasses.replace(report, notes=report.notes + (install_hint(info.source, runtime),))
    with tempfile.TemporaryDirectory() as scratch:
        out_dir = Path(compiled_dir) if compiled_dir is not None else Path(scratch)
        out_dir.mkdir(parents=True, exist_ok=True)
        try:
            result = compile_model(info.source, out_dir, runtime=runtime)
        except CompilerError as exc:
            return dataclasses.replace(report, model_issues=report.model_issues + (str(exc),))
    compiler = {
        "command": list(result.command),
        "ops": [dict(op) for op in result.ops],
        "edgetpu_subgraphs": result.edgetpu_subgraphs,
        "output": result.output if compiled_dir is not None else None,
        "fully_mapped": result.fully_mapped,
    }
    issues = report.model_issues
    if not result.fully_mapped:
        unmapped = sorted({f"{op['op']}: {op['status']}" for op in result.ops if op["status"] != "Mapped to Edge TPU"})
        issues += (f"edgetpu_compiler left ops on the CPU: {'; '.join(unmapped) or 'see its log'}",)
    return dataclasses.replace(report, compiler=compiler, model_issues=issues)
