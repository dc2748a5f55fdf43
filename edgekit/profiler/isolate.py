"""Measuring in a child process: a malformed model or a crashing delegate gives an error, not a dead caller."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from edgekit.errors import ProfileError
from edgekit.profiler.options import ProfileOptions


def measure_isolated(model: str | Path, options: ProfileOptions, task: str = "measure", **extra) -> dict:
    """The child's result for ``task`` (``measure``, or ``per_op`` with ``whole_p50_ms``)."""
    with tempfile.TemporaryDirectory(prefix="edgekit-profile-") as scratch:
        request = Path(scratch) / "request.json"
        reply = Path(scratch) / "reply.json"
        request.write_text(json.dumps({"model": str(model), "options": options.to_dict(), "reply": str(reply),
                                       "task": task, **extra}))
        try:
            done = subprocess.run(
                [sys.executable, "-m", "edgekit.profiler.child", str(request)],
                capture_output=True, text=True, timeout=options.timeout, check=False,
            )
        except subprocess.TimeoutExpired:
            raise ProfileError(f"{model}: did not finish within {options.timeout:g}s (hung load or run?); "
                               "raise --timeout if the model is really that slow") from None
        if done.returncode in (0, 2) and reply.is_file():
            answer = json.loads(reply.read_text())
            if "error" in answer:
                raise ProfileError(answer["error"] + _runtime_log_hint(done.stderr))
            return answer["result"]
        raise ProfileError(_crash_message(model, done))


def _runtime_log_hint(stderr: str) -> str:
    """The runtime's own last complaint: LiteRT puts the reason (no GPU adapter, a missing
    library) in its log, not in the exception."""
    keys = ("No adapters", "Couldn't load", "Failed to", "not found", "cannot open")
    lines = [line.strip() for line in stderr.splitlines() if any(k in line for k in keys)]
    return f" (runtime log: {lines[-1][:200]})" if lines else ""


def _crash_message(model: str | Path, done: subprocess.CompletedProcess) -> str:
    if done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        what = f"the runtime crashed ({name})"
    else:
        what = f"the measuring process failed (exit {done.returncode})"
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip() and not line.startswith("INFO")]
    tail = f": {lines[-1][:300]}" if lines else ""
    return f"{model}: {what} while loading or running the model{tail}"
