"""What report.json records for the page, and what report.html contains, without a browser."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from edgekit.cli import cli
from edgekit.evaluation import mistakes

BUILD_FIGURES = ["training", "confusion", "per_class", "weights", "placement", "op_times", "progression",
                 "timings"]


def _figures(page: str) -> list[str]:
    return re.findall(r'data-figure="([^"]+)"', page)


def test_a_build_records_each_epoch_of_each_phase_and_stage(staged_build):
    report = staged_build.report
    phases = report["training"]["phases"] + report["stages"]
    assert [p["name"] for p in phases] == ["scratch", "prune", "cluster", "qat"]
    for phase in phases:
        history = phase["history"]
        assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(history)
        assert len(history["val_accuracy"]) == phase["epochs_run"]
        assert 1 <= phase["best_epoch"] <= phase["epochs_run"]


def test_a_build_records_the_tflite_confusion_matrix_and_its_worst_mistakes_as_images(staged_build):
    report, out = staged_build.report, staged_build.out
    validation = report["validation"]
    confusion = np.array(validation["confusion"])
    assert confusion.sum() == report["data"]["validation_images"]
    assert np.trace(confusion) / confusion.sum() == report["tflite"]["accuracy"]
    assert validation["errors"] == confusion.sum() - np.trace(confusion)
    shown = validation["mistakes"]
    assert len(shown) == min(24, validation["errors"])
    assert [m["score"] for m in shown] == sorted((m["score"] for m in shown), reverse=True)
    for m in shown:
        assert m["true"] != m["predicted"] and (out / m["image"]).is_file()
        assert m["source"].endswith(".png")


def test_the_progression_has_sizes_for_float_prune_and_cluster_and_pruning_shows_in_gzip(staged_build):
    report = staged_build.report
    float_size = report["keras"]["weights"]
    prune, cluster, qat = report["stages"]
    assert prune["weights"]["bytes"] == float_size["bytes"] == cluster["weights"]["bytes"]
    assert prune["weights"]["gzip_bytes"] < 0.8 * float_size["gzip_bytes"]
    assert cluster["weights"]["gzip_bytes"] < prune["weights"]["gzip_bytes"]
    assert qat["weights"] == {}


def test_a_build_times_its_tflite_whole_and_op_by_op_on_the_build_machine(staged_build):
    latency = staged_build.report["latency"]
    per_op = latency["per_op"]
    assert latency["p50_ms"] > 0 and latency["estimate"] is None  # the cpu profile carries no cost model
    assert per_op["measured_ops"] + per_op["folded_ops"] + per_op["estimated_ops"] == len(per_op["ops"])
    assert {r["opcode"] for r in per_op["ops"]} >= {"CONV_2D", "FULLY_CONNECTED"}


def test_a_build_writes_a_self_contained_report_html_with_every_figure(staged_build):
    page = (staged_build.out / "report.html").read_text(encoding="utf-8")
    errors = staged_build.report["validation"]["errors"]
    assert errors > 0  # a four-epoch model on 16-pixel digits: the grid has something to show
    assert _figures(page) == BUILD_FIGURES[:3] + ["mistakes"] + BUILD_FIGURES[3:]
    assert "<script" not in page and not re.search(r'(src|href)="(?!data:|#)', page)
    assert "default-src 'none'" in page
    assert str(staged_build.out) not in page  # no scratch-folder path leaks into the notes


def test_edgekit_report_renders_again_from_report_json_and_escapes_what_the_data_named(staged_build, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(staged_build.out, copy)
    (copy / "report.html").unlink()
    report = json.loads((copy / "report.json").read_text())
    # A class folder may be called anything: one name reaches the SVG plots, one a caption.
    report["data"]["classes"][0] = "<i>zero</i>"
    report["validation"]["mistakes"][0]["true"] = "<img src=x onerror=alert(1)>"
    (copy / "report.json").write_text(json.dumps(report))
    result = CliRunner().invoke(cli, ["report", str(copy), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["report"] == str(copy / "report.html")
    page = (copy / "report.html").read_text()
    assert "<i>zero" not in page and "&lt;i&gt;zero&lt;/i&gt;" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert _figures(page) == BUILD_FIGURES[:3] + ["mistakes"] + BUILD_FIGURES[3:]


def test_a_build_page_says_how_many_ops_its_latency_estimate_leaves_out(staged_build, tmp_path):
    from edgekit.latency import estimate

    copy = tmp_path / "copy"
    shutil.copytree(staged_build.out, copy)
    report = json.loads((copy / "report.json").read_text())
    estimated = estimate(copy / "model.tflite", "rpi4").to_dict()
    assert estimated["left_out"] == 0
    report["latency"]["estimate"] = {**estimated, "left_out": 2}  # as a profile without CPU coefficients gives
    (copy / "report.json").write_text(json.dumps(report))
    assert CliRunner().invoke(cli, ["report", str(copy)]).exit_code == 0
    page = (copy / "report.html").read_text()
    assert f"It leaves out 2 of {len(estimated['ops'])} ops, which the cost model has no coefficients for" in page


def test_a_conversion_writes_a_report_html_with_its_verification(conversion):
    page = (conversion.out / "report.html").read_text(encoding="utf-8")
    assert _figures(page) == ["snr", "weights", "placement", "timings"]
    assert "scores" in page and "value" in page and "<script" not in page
    assert conversion.report["kind"] == "convert" and conversion.report["versions"]["tensorflow"]
    # Both inputs' samples feed the bias correction of all four weight ops.
    assert conversion.report["bias_correction"] == {"corrected": 4, "weight_ops": 4, "samples": 64}
    assert "biases of 4 of its 4 convolution and fully connected ops were corrected" in page


def test_profile_html_shows_each_distribution_and_the_comparison_under_distinct_names(profile_page):
    page_path, measurements = profile_page
    page = page_path.read_text(encoding="utf-8")
    assert _figures(page) == ["comparison", "latency-0", "latency-1"]
    assert "a/model.tflite" in page and "b/model.tflite" in page
    assert [len(m["samples_ms"]) for m in measurements] == [50, 50]
    for m in measurements:  # samples are kept to 10 ns
        assert min(m["samples_ms"]) == pytest.approx(m["latency_ms"]["min"], abs=1e-5)
        assert np.median(m["samples_ms"]) == pytest.approx(m["latency_ms"]["p50"], abs=1e-5)


def test_mistakes_are_ordered_by_confidence_and_capped():
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3], [0.05, 0.95]])
    truth = np.array([0, 0, 0, 1, 0])
    shown = mistakes(scores, truth, ["cat", "dog"], ["a", "b", "c", "d", "e"], limit=3)
    assert [m["source"] for m in shown] == ["e", "b", "d"]
    assert shown[0] == {"index": 4, "source": "e", "true": "cat", "predicted": "dog", "score": 0.95,
                        "true_score": 0.05}


def test_report_of_a_folder_without_a_report_is_one_line_and_exit_1(tmp_path):
    result = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert result.exit_code == 1 and "report.json does not exist" in result.stderr
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1
    (tmp_path / "report.json").write_text('{"kind": "build", "tflite": {}}')
    result = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert result.exit_code == 1 and "not a complete build report" in result.stderr
    assert not (tmp_path / "report.html").exists()


def test_profile_html_into_a_missing_folder_fails_before_measuring(tmp_path):
    result = CliRunner().invoke(cli, ["profile", str(tmp_path / "nothing.tflite"), "--html",
                                      str(tmp_path / "no" / "page.html")])
    assert result.exit_code == 2 and "--html" in result.stderr and "does not exist" in result.stderr
