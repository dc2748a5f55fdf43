"""``check()``: will this .tflite run fully on the target, and if not, which op breaks it?"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

from edgekit.analyze.checkers import checker_for
from edgekit.analyze.clients import client_notes
from edgekit.analyze.model import ModelInfo, read_model
from edgekit.analyze.report import CheckReport
from edgekit.analyze.shapes import at_input_shape, parse_shape
from edgekit.targets import TargetProfile, load_target


def check(model: str | Path | ModelInfo, target: str | Path | TargetProfile = "cpu", *,
          compile: bool = True, compiled_dir: str | Path | None = None, name: str | None = None,
          input_shape: Sequence[int] | None = None) -> CheckReport:
    """Check ``model`` op by op against ``target``.

    The checker is the one registered for the profile's kind. For Edge TPU targets,
    ``edgetpu_compiler`` confirms it when installed (``compile``), its
    log parsed into the report, and ``<name>_edgetpu.tflite`` left in ``compiled_dir``
    (a temporary folder when not given). ``name`` replaces the file's path in the report,
    its notes included (a build checks its model in a scratch folder that then moves).
    ``input_shape`` sizes dynamic inputs for what runs the model (see analyze.shapes).
    """
    profile = load_target(target)
    info = at_input_shape(model if isinstance(model, ModelInfo) else read_model(model), parse_shape(input_shape))
    checker = checker_for(profile.kind)
    report = checker.check(info, profile)
    if compile and checker.confirm is not None:
        report = checker.confirm(report, info, profile, compiled_dir)
    report = dataclasses.replace(report, notes=report.notes + tuple(client_notes(info)))
    if name is None:
        return report
    return dataclasses.replace(report, model=name,
                               notes=tuple(note.replace(str(info.source), name) for note in report.notes))
