"""The part of report.json every action writes the same way, built once.

A build's and a conversion's reports share their header: what wrote it and when, the
target, the .tflite (its file facts and every input and output by name), what the one
conversion did, the one verification, the target check, the weights and the versions.
Each action adds its own sections after it (a build's data and training, a
conversion's source and calibration). ``schema_version`` follows report/schema.json,
which ships in the package and which the tests hold every report to.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
from pathlib import Path
from typing import Any

import numpy as np

SCHEMA_VERSION = 2
SCHEMA = Path(__file__).with_name("schema.json")


def target_summary(profile: Any) -> dict:
    """The target profile as plain JSON values."""
    return json.loads(json.dumps(dataclasses.asdict(profile), default=str))


def io_summary(path: Path, runtime: Any = None) -> dict:
    """Every input and output of the .tflite's signature by name: dtype, shape (-1 dynamic), quantisation."""
    from edgekit.runtime import find_runtime

    runner = (runtime or find_runtime()).interpreter(model_path=path).get_signature_runner()

    def describe(details: dict) -> list:
        return [{"name": name, "dtype": np.dtype(d["dtype"]).name, "shape": [int(x) for x in d["shape_signature"]],
                 "scale": float(d["quantization"][0]), "zero_point": int(d["quantization"][1])}
                for name, d in details.items()]

    return {"inputs": describe(runner.get_input_details()), "outputs": describe(runner.get_output_details())}


def report_header(kind: str, profile: Any, converted: Any, verification: Any, gates: Any, target_check: Any,
                  runtime: Any = None, default_snr: bool = True) -> dict:
    """report.json's shared sections for ``kind`` ("build" or "convert"); ``default_snr``:
    whether the quantisation's least SNR gated the verification when none was given."""
    from edgekit._version import __version__
    from edgekit.analyze.weights import kernel_stats
    from edgekit.files import file_facts
    from edgekit.provenance import versions
    from edgekit.verification import least_snr

    path = converted.path
    quantization = profile.convert.quantization
    return {
        "kind": kind,
        "schema_version": SCHEMA_VERSION,
        "edgekit_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "target": target_summary(profile),
        "tflite": {"file": path.name, "quantization": quantization.value, **io_summary(path, runtime),
                   **file_facts(path)},
        **converted.to_dict(),
        "verification": {**verification.to_dict(),
                         "min_snr_db": least_snr(gates.min_snr, quantization if default_snr else None),
                         "min_agreement": gates.min_agreement},
        "check": target_check.to_dict(),
        "weights": [k.to_dict() for k in kernel_stats(path)],
        "versions": versions(runtime),
    }
