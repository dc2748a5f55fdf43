"""report.json read into typed objects: the pages' one reader of its keys."""

from __future__ import annotations

import json
import shutil

from click.testing import CliRunner

from edgekit.cli import cli
from edgekit.report.document import BuildReport, ConvertReport, Phase, read_build, read_convert


def test_a_build_report_reads_into_typed_objects_that_hold_its_figures(staged_build):
    data = json.loads((staged_build.out / "report.json").read_text())
    report = read_build(data)
    assert isinstance(report, BuildReport)
    assert report.shared.tflite.accuracy == data["tflite"]["accuracy"]
    assert report.shared.tflite.bytes == (staged_build.out / "model.tflite").stat().st_size
    assert [p.name for p in report.stages] == ["stage prune", "stage cluster", "stage qat"]
    assert all(isinstance(p, Phase) for p in (*report.phases, *report.stages))
    assert report.stages[0].weights.gzip_bytes == data["stages"][0]["weights"]["gzip_bytes"]
    assert report.shared.check.on_target() == sum(op["placement"] == "target" for op in data["check"]["ops"])
    assert report.latency.p50_ms == data["latency"]["p50_ms"]
    assert len(report.validation.mistakes) == len(data["validation"]["mistakes"])


def test_a_conversion_report_reads_into_typed_objects(conversion):
    data = json.loads((conversion.out / "report.json").read_text())
    report = read_convert(data)
    assert isinstance(report, ConvertReport)
    assert [o.name for o in report.shared.outputs] == [o["name"] for o in data["verification"]["outputs"]]
    assert report.calibration.verified_on == data["calibration"]["verified_on"]


def test_a_report_missing_a_key_the_page_needs_is_one_line_naming_the_key(staged_build, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(staged_build.out, copy)
    report = json.loads((copy / "report.json").read_text())
    del report["check"]["ops"][0]["opcode"]
    (copy / "report.json").write_text(json.dumps(report))
    result = CliRunner().invoke(cli, ["report", str(copy)])
    assert result.exit_code == 1
    assert result.output.strip() == (f"Error: {copy / 'report.json'} is not a complete build report "
                                      "(KeyError: 'opcode')")
