"""Running ``edgetpu_compiler`` when it is installed, and reading its log.

The compiler is an x86-64 Debian/Ubuntu binary (coral.ai/docs/edgetpu/compiler); on
other machines edgekit says what to run where it is available.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from edgekit.analyze.model import ModelInfo
from edgekit.analyze.report import CheckReport
from edgekit.errors import CompilerError
from edgekit.targets import TargetProfile

_OP_LINE = re.compile(r"^(?P<op>[A-Z][A-Z0-9_]*)\s+(?P<count>\d+)\s+(?P<status>\S.*?)\s*$")
_MAPPED = "Mapped to Edge TPU"


@dataclass(frozen=True)
class CompilerResult:
    command: tuple[str, ...]
    returncode: int
    log: str
    output: str | None
    edgetpu_subgraphs: int | None
    ops: tuple[dict, ...] = field(default=())

    @property
    def fully_mapped(self) -> bool:
        return bool(self.ops) and all(op["status"] == _MAPPED for op in self.ops)


def find_compiler() -> str | None:
    return shutil.which("edgetpu_compiler")


def install_hint(model: str, runtime: int | None) -> str:
    flag = f" -m {runtime}" if runtime else ""
    return ("edgetpu_compiler is not installed here (it runs on x86-64 Debian/Ubuntu: apt-get install "
            f"edgetpu-compiler from Coral's package repository); on such a machine run: "
            f"edgetpu_compiler -s{flag} {model}")


def compile_model(model: str | Path, out_dir: str | Path, *, runtime: int | None = None,
                  timeout: float = 600, compiler: str | None = None) -> CompilerResult:
    """Compile ``model`` into ``out_dir``/<name>_edgetpu.tflite; raises CompilerError on failure."""
    compiler = compiler or find_compiler()
    if compiler is None:
        raise CompilerError(install_hint(str(model), runtime))
    command = [compiler, "-s", "-o", str(out_dir)]
    if runtime:
        command += ["-m", str(runtime)]
    command.append(str(model))
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise CompilerError(f"edgetpu_compiler did not finish within {timeout:.0f}s") from None
    except OSError as exc:
        raise CompilerError(f"cannot run {compiler}: {exc}") from None
    log = done.stdout + done.stderr
    if done.returncode != 0:
        last = [line for line in log.splitlines() if line.strip()][-1:] or ["no output"]
        raise CompilerError(f"edgetpu_compiler failed (exit {done.returncode}): {last[0].strip()}")
    output = Path(out_dir) / f"{Path(model).stem}_edgetpu.tflite"
    return CompilerResult(
        command=tuple(command),
        returncode=done.returncode,
        log=log,
        output=str(output) if output.is_file() else None,
        **parse_log(log),
    )


def parse_log(log: str) -> dict:
    """The operator table (op, count, status) and the number of Edge TPU subgraphs."""
    ops = []
    in_table = False
    subgraphs = None
    for line in log.splitlines():
        stripped = line.strip()
        match = re.match(r"Number of Edge TPU subgraphs:\s*(\d+)", stripped)
        if match:
            subgraphs = int(match.group(1))
        if stripped.startswith("Operator") and "Status" in stripped:
            in_table = True
            continue
        if in_table:
            op = _OP_LINE.match(stripped)
            if op:
                ops.append({"op": op["op"], "count": int(op["count"]), "status": op["status"]})
    return {"edgetpu_subgraphs": subgraphs, "ops": tuple(ops)}


def confirm_with_compiler(report: CheckReport, info: ModelInfo, profile: TargetProfile,
                          compiled_dir: str | Path | None) -> CheckReport:
    """The rule-based report with edgetpu_compiler's own verdict added, where it is installed."""
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
        unmapped = sorted({f"{op['op']}: {op['status']}" for op in result.ops if op["status"] != _MAPPED})
        issues += (f"edgetpu_compiler left ops on the CPU: {'; '.join(unmapped) or 'see its log'}",)
    return dataclasses.replace(report, compiler=compiler, model_issues=issues)
