"""Entry point of the measuring child process: ``python -m edgekit.profiler.child REQUEST.json``.

The request's task is the whole model's measurement, or ``per_op`` (each op alone).

Writes ``{"result": ...}`` or ``{"error": ...}`` to the file named in the request and
exits 0 or 2; anything else (a signal, another exit code) means the runtime crashed.
"""

from __future__ import annotations

import json
import sys

from edgekit.errors import EdgekitError
from edgekit.profiler.measure import measure
from edgekit.profiler.options import ProfileOptions


def main(argv: list[str]) -> int:
    with open(argv[0], encoding="utf-8") as f:
        request = json.load(f)
    options = ProfileOptions.from_dict(request["options"])
    try:
        if request.get("task") == "per_op":
            from edgekit.profiler.per_op import measure_ops

            result = {"result": measure_ops(request["model"], options, request.get("whole_p50_ms"))}
        else:
            result = {"result": measure(request["model"], options)}
        code = 0
    except EdgekitError as exc:
        result, code = {"error": str(exc)}, 2
    with open(request["reply"], "w", encoding="utf-8") as f:
        json.dump(result, f)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
