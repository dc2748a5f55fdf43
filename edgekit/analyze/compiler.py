"""Running ``edgetpu_compiler`` when it is installed, and reading its log.

The compiler is an x86-64 Debian/Ubuntu binary (coral.ai/docs/edgetpu/compiler); on
other machines edgekit says what to run where it is available.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from edgekit.errors import CompilerError

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
