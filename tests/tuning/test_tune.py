"""edgekit tune on a small real set: limits, the search, and best/ as a build that replays."""

from __future__ import annotations

import csv
import json

import pytest

from edgekit import build, load_recipe, tune
from edgekit.errors import ConfigError
from tests.tuning.conftest import FIXED


def test_limits_nothing_can_meet_fail_before_training_with_the_fastest_and_smallest(three_digits, space_file,
                                                                                      tmp_path):
    out = tmp_path / "tune"
    with pytest.raises(ConfigError) as caught:
        tune(three_digits, "rpi4", max_latency_ms=0.001, max_size_kb=1, trials=2, space=str(space_file), out=str(out),
             progress=False, **FIXED)
    message = str(caught.value)
    assert message.startswith("nothing in the search space can meet --max-latency-ms 0.001 and --max-size-kb 1 on rpi4")
    assert "the fastest candidate, small_cnn 0.5@12, is " in message and "ms estimated (band" in message
    assert "the smallest, small_cnn 0.5@12, is " in message and "bytes" in message
    assert not out.exists()


def test_a_detection_search_is_refused_in_one_line_before_anything_is_written(three_digits, tmp_path):
    with pytest.raises(ConfigError, match="tune searches classifiers; --task detect is built with edgekit build"):
        tune(three_digits, "rpi4", task="detect", max_latency_ms=5, trials=1, out=str(tmp_path / "t"),
             progress=False)
    assert not (tmp_path / "t").exists()


def test_a_candidate_is_rejected_when_even_the_fast_end_of_its_band_misses_a_limit():
    from edgekit.tuning.candidates import Sized, rejection

    sized = Sized(key="k", bytes=500_000, fully_supported=True, check="9 of 9 ops", estimated_ms=1.2, low_ms=1.05,
                  high_ms=1.35)
    assert rejection(sized, max_latency_ms=1.1, max_bytes=None, allow_cpu_fallback=False, target="rpi4") is None
    assert rejection(sized, max_latency_ms=1.0, max_bytes=None, allow_cpu_fallback=False, target="rpi4") == \
        "latency: 1.200 ms estimated (band 1.050-1.350) > 1 ms"
    assert rejection(sized, max_latency_ms=2, max_bytes=400_000, allow_cpu_fallback=False, target="rpi4") == \
        "size: 500,000 bytes > 400,000"
    unsupported = Sized(key="k", bytes=1, fully_supported=False, check="8 of 9 ops run on edgetpu")
    assert rejection(unsupported, max_latency_ms=2, max_bytes=None, allow_cpu_fallback=False, target="edgetpu") == \
        "does not run fully on edgetpu: 8 of 9 ops run on edgetpu"
    assert rejection(unsupported, max_latency_ms=2, max_bytes=None, allow_cpu_fallback=True, target="edgetpu") is None


def test_a_target_without_a_cost_model_says_how_to_get_one(three_digits, space_file, tmp_path):
    with pytest.raises(ConfigError, match="edgekit calibrate .* or give --remote user@host"):
        tune(three_digits, "cpu", max_latency_ms=5, trials=2, space=str(space_file), out=str(tmp_path / "t"),
             progress=False)
    assert not (tmp_path / "t").exists()


@pytest.mark.slow
def test_a_four_trial_search_writes_its_trials_and_a_best_build_that_replays_to_the_same_bytes(
        three_digits, space_file, tmp_path):
    out = tmp_path / "tune"
    result = tune(three_digits, "rpi4", max_latency_ms=1.0, trials=4, space=str(space_file), out=str(out),
                  progress=False, **FIXED)
    trained = [r for r in result.trials if r.state.value not in ("rejected before training",)]
    assert len(trained) == 4
    # The hand-picked baseline in this space trains first, in full.
    assert result.trials[0].baseline == "small_cnn 1@32" and result.trials[0].state.value == "complete"
    # Every candidate was priced before it trained. MobileNetV2 exceeds 1 ms on rpi4 even at
    # its narrowest and smallest, so it left the space before any trial.
    for row in result.trials:
        assert row.estimated_ms is not None and row.size_bytes > 0
        assert row.backbone == "small_cnn"
    dropped = {d["model"]: d["why"] for d in result.summary["dropped"]}
    assert list(dropped) == ["mobilenet_v2"] and dropped["mobilenet_v2"].startswith("even at its smallest, latency: ")
    best = result.best
    assert best is not None and best.meets_limits and best.latency_kind == "estimated"
    complete = [r for r in result.trials if r.state.value == "complete"]
    assert best.val_accuracy == max(r.val_accuracy for r in complete if r.meets_limits)
    # best/ is that trial's recipe refit on every image: its held-out figures are the trial's,
    # and its recipe (which trains the first run itself) replays it byte for byte.
    best_report = json.loads((out / "best" / "report.json").read_text())
    trial_report = json.loads((out / best.folder / "report.json").read_text())
    held, data = best_report["refit"]["held_out"], trial_report["data"]
    assert held["tflite_accuracy"] == best.val_accuracy == trial_report["tflite"]["accuracy"]
    assert best_report["refit"]["images"] == data["train_images"] + data["validation_images"]
    assert best_report["recipe"] == {**trial_report["recipe"], "refit": True}
    replay = build(three_digits, config=load_recipe(out / "best" / "recipe.toml"), out=str(tmp_path / "replay"),
                   progress=False)
    assert replay.tflite_path.read_bytes() == (out / "best" / "model.tflite").read_bytes()
    # trials.csv has one row per trial, tune.json the summary, report.html the front.
    with open(out / "trials.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["number"]) for r in rows] == [r.number for r in result.trials]
    assert {"state", "fidelity", "val_accuracy", "estimated_ms", "size_bytes", "wall_seconds"} <= set(rows[0])
    summary = json.loads((out / "tune.json").read_text())
    assert summary["best"]["number"] == best.number
    page = (out / "report.html").read_text()
    assert 'data-figure="pareto"' in page and "Backbones dropped from the space before any trial" in page
    assert "even at its smallest, latency: " in page
    # The same command again on the finished search keeps best/ as it is.
    written = (out / "best" / "model.tflite").stat().st_mtime_ns
    again = tune(three_digits, "rpi4", max_latency_ms=1.0, trials=4, space=str(space_file), out=str(out),
                 progress=False, **FIXED)
    assert again.best.number == best.number and again.summary["best"]["refit"]
    assert (out / "best" / "model.tflite").stat().st_mtime_ns == written


@pytest.mark.slow
def test_with_remote_the_finalists_are_measured_on_the_device_and_judged_by_that(three_digits, space_file,
                                                                                   tmp_path, sshd):
    remote, settings = sshd
    out = tmp_path / "tune"
    result = tune(three_digits, "rpi4", max_latency_ms=1.0, trials=2, finalists=1, remote=remote, ssh=settings,
                  space=str(space_file), out=str(out), progress=False, **FIXED)
    measured = [r for r in result.trials if r.measured_on == remote]
    assert len(measured) == 1 and measured[0].measured_ms > 0 and measured[0].estimated_ms is not None
    assert result.best.number == measured[0].number and result.best.latency_kind == f"measured on {remote}"
    assert json.loads((out / "tune.json").read_text())["finalists"][0]["number"] == measured[0].number
    assert "Estimate against measurement" in (out / "report.html").read_text()


def _complete_row(number: int, wall_seconds: float):
    from edgekit.tuning.results import TrialRow, TrialState

    return TrialRow(number=number, state=TrialState.COMPLETE, baseline=None, model="small_cnn 1@32",
                    backbone="small_cnn", weights="none", alpha=1.0, image_size=32, learning_rate=1e-3, dropout=0.2,
                    augment="none", stages="none", fidelity="full: 3 epochs", val_accuracy=0.9, keras_accuracy=0.9,
                    estimated_ms=0.02, measured_ms=None, measured_on=None, size_bytes=1000, meets_limits=True,
                    wall_seconds=wall_seconds, reason=None, folder="trials/0000", worker="w")


def test_best_is_refit_and_a_trial_goes_on_only_when_the_time_budget_left_covers_them():
    import time

    import optuna

    from edgekit.tuning.search import refit_decision
    from edgekit.tuning.study import Clock

    study = optuna.create_study(direction="maximize")
    # A 100 s budget begun 95 s ago: 5 s left.
    clock = Clock(study, 100.0, "w").start(at=time.time() - 95)
    assert refit_decision(_complete_row(3, 2.0), True, clock).refit
    late = refit_decision(_complete_row(3, 30.0), True, clock)
    assert not late.refit and "trial 3" in late.skipped and "30 s" in late.skipped
    assert not refit_decision(_complete_row(3, 2.0), False, clock).refit
    # A trial whose conversion would outlast what is left is stopped at an epoch's end.
    assert not clock.out_of_time() and clock.out_of_time(extra=10.0)
    # --trials without --time-budget: nothing to overrun.
    assert refit_decision(_complete_row(3, 30.0), True, Clock(study, None, "w").start()).refit


def test_a_candidate_is_not_trained_when_its_first_epochs_would_take_over_a_quarter_of_the_time_left():
    import time

    import optuna

    from edgekit.tuning.search import epoch_seconds_per_mmac, too_slow_to_screen
    from edgekit.tuning.study import Clock

    study = optuna.create_study(direction="maximize")
    assert epoch_seconds_per_mmac(study) is None
    # Two trials on the same images: 2 s an epoch for 4 MMACs, 3 s for 10. The slower rate counts.
    for seconds, macs in ((2.0, 4_000_000), (3.0, 10_000_000)):
        trial = study.ask()
        trial.set_user_attr("epoch_seconds", seconds)
        trial.set_user_attr("macs", macs)
        study.tell(trial, 0.5)
    rate = epoch_seconds_per_mmac(study)
    assert rate == 0.5
    # 400 s left: a quarter is 100 s. Three epochs of 40 MMACs take 60 s; of 100 MMACs, 150 s.
    clock = Clock(study, 500.0, "w").start(at=time.time() - 100)
    assert too_slow_to_screen(40e6, rate, clock, 3) is None
    why = too_slow_to_screen(100e6, rate, clock, 3)
    assert why is not None and "about 150 s" in why and "25% of the 400 s left" in why
    # The refit's reserve is not the search's to spend.
    clock.reserve = 200.0
    assert too_slow_to_screen(40e6, rate, clock, 3) is not None
    # Before any trial has trained an epoch, or without a time budget, nothing is refused.
    assert too_slow_to_screen(1e12, None, clock, 3) is None
    assert too_slow_to_screen(1e12, rate, Clock(study, None, "w").start(), 3) is None
    # The trials table counts such a candidate apart from those cut while training.
    from edgekit.tuning.results import TrialState, counts, rows_of

    skipped = study.ask()
    skipped.set_user_attr("too_slow", why)
    study.tell(skipped, state=optuna.trial.TrialState.PRUNED)
    rows = rows_of(study, max_latency_ms=1.0, max_bytes=None)
    assert rows[-1].state == TrialState.TOO_SLOW and rows[-1].reason == why
    assert counts(rows) == {"complete": 2, "too slow for the time left": 1}
