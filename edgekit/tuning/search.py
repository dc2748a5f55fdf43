"""``tune()``: the most accurate model that meets a device's latency and size limits.

A short sequence of named steps: :func:`preflight` (cheap checks, no TensorFlow),
:func:`size_space` (the cheapest architecture of each backbone converted untrained,
priced and sized: backbones the target cannot run leave the space, and limits nothing
can meet fail here), :func:`enqueue_baselines`, :func:`run_trials` (Optuna draws, each
candidate is priced before it trains, each trial is an ``edgekit build`` that
successive halving may stop early), :func:`measure_finalists` (``--remote``),
:func:`write_outputs` (trials.csv, summary, report.html and best/).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from edgekit.errors import ConfigError, DataError, EdgekitError, first_line
from edgekit.files import atomic_output_dir, atomic_write
from edgekit.models.backbones import DEFAULT_IMAGE_SIZE, Backbone
from edgekit.options import action_config
from edgekit.progress import Progress, resolve
from edgekit.targets import TargetProfile, load_target
from edgekit.tuning.config import TuneConfig
from edgekit.tuning.results import TrialRow, TrialState, chosen, counts, front, rejected_reasons, rows_of, to_csv
from edgekit.tuning.space import (
    DEFAULT_DROPOUT,
    DEFAULT_LEARNING_RATE,
    Architecture,
    Choice,
    SearchSpace,
    default_space,
    load_space,
    narrowed,
)

SUMMARY = "tune.json"
# Rejected draws in a row after which the space is taken as exhausted for these limits.
_MAX_REJECTED_IN_A_ROW = 40


@dataclass(frozen=True)
class TuneResult:
    out: Path
    # The chosen trial's row and its full build in out/best (None when nothing met the limits).
    best: TrialRow | None
    best_dir: Path | None
    front: tuple[TrialRow, ...]
    trials: tuple[TrialRow, ...]
    summary: dict

    def to_dict(self) -> dict:
        return self.summary


@dataclass(frozen=True)
class Plan:
    config: TuneConfig
    profile: TargetProfile
    space: SearchSpace
    classes: int
    out: Path
    # The target is this machine (a calibration made here): the build's measurement is on it.
    here: bool
    dropped: tuple[tuple[str, str], ...] = ()
    # The profiler's SshSettings for --remote (None: its defaults).
    ssh: Any = None


def tune(data: Any, target: Any = None, /, *, config: TuneConfig | None = None, ssh: Any = None,
         **options: Any) -> TuneResult:
    """Search backbones, widths, input sizes, recipes and stages for the most accurate model
    on ``data`` that meets ``max_latency_ms`` (and ``max_size_kb``) on ``target``; see the
    README. Every build option given is fixed for every trial. Returns the trials, the
    Pareto front and the chosen model, built in full in ``out/best``. ``ssh``: the
    profiler's SshSettings for ``remote``."""
    config = action_config(TuneConfig(), target, config, options)
    say = resolve(config.output.progress)
    # --time-budget counts the whole command: the pre-flight and the sizing too.
    started = time.time()
    plan = dataclasses.replace(preflight(data, config), ssh=ssh)
    from edgekit.tuning.study import Clock, open_study, retry_abandoned, storage_for, worker_id

    fresh = not plan.out.exists()
    if config.search.storage is None:
        plan.out.mkdir(parents=True, exist_ok=True)
    try:
        storage = storage_for(config.search.storage, plan.out)
        worker = worker_id()
        study = open_study(storage, config.search.study, seed=config.build.training.seed,
                           screen_epochs=config.search.screen_epochs)
        clock = Clock(study, config.search.time_budget, worker).start(at=started)
        plan = size_space(plan, say)
    except EdgekitError:
        # Limits nothing can meet, or a storage that cannot be opened: nothing was searched,
        # so nothing is left behind.
        if fresh:
            shutil.rmtree(plan.out, ignore_errors=True)
        raise
    for number in retry_abandoned(study):
        say.log(f"trial {number} was interrupted: it runs again")
    enqueue_baselines(study, plan, say)
    run_trials(data, study, plan, clock, worker, say)
    device_ms = measure_finalists(study, plan, say)
    clock.mark()
    result = write_outputs(data, study, plan, device_ms, say, clock)
    say.log(f"search done in {time.time() - started:.1f}s here ({clock.spent():.1f}s in all)")
    return result


def preflight(data: Any, config: TuneConfig) -> Plan:
    """Every check that needs no TensorFlow: limits and budget, the tune folder, the target and
    its cost model, the space file, and the build options with the data (build's pre-flight)."""
    from edgekit.builder import _check_data_source
    from edgekit.builder import preflight as build_preflight

    config.require_limits()
    if config.build.model.task != "classify":
        raise ConfigError("tune searches classifiers; --task detect is built with edgekit build for now")
    out = Path(config.output.out)
    _check_tune_dir(out)
    profile = load_target(config.target.target)
    remote = config.search.remote
    if profile.cost_model is None and remote is None:
        raise ConfigError(
            f"target {profile.id} has no [cost_model], so candidates' latency could only be guessed: run "
            f"'edgekit calibrate --out {profile.id}-here.toml' on the device (or here, for this machine) and give "
            "that file as --target, or give --remote user@host to measure candidates on the device")
    if remote is not None:
        from edgekit.profiler.remote import RemoteHost

        RemoteHost.parse(remote)
    space = default_space()
    if config.search.space is not None:
        space = load_space(config.search.space, space)
    build = config.build.replace(target=profile, allow_cpu_fallback=config.target.allow_cpu_fallback)
    space = narrowed(space, build.replace(image_size=build.model.image_size), config.fixed)
    if "weights" not in config.fixed:
        # ImageNet weights when they can be had (tried once, before training).
        space = dataclasses.replace(space, pretrained="imagenet")
    build_preflight(data, build.replace(out=str(out / "best")))
    classes = _class_count(data, _check_data_source(data))
    if not space.models():
        raise ConfigError("the search space holds no model: check 'backbones' in the space file")
    # A calibration of this very machine: a build here measures the target's latency. The
    # same calibration file copied from a Pi is estimated, although its source also says
    # "edgekit calibrate on this machine".
    here = profile.cost_model is not None and profile.cost_model.calibrated_here()
    return Plan(dataclasses.replace(config, build=build), profile, space, classes, out, here and remote is None)


def size_space(plan: Plan, say: Progress) -> Plan:
    """The cheapest architecture of each model converted untrained, checked, sized and priced.
    A backbone the target cannot run leaves the space; limits that not even the fastest and
    smallest candidates meet fail here, before any training."""
    from edgekit.tuning.candidates import SizeCache, imagenet_unavailable, rejection

    config, space = plan.config, plan.space
    if space.pretrained == "imagenet":
        first = next((m for m in space.models() if m.endswith("+imagenet")), None)
        reason = imagenet_unavailable(space.cheapest(first)) if first else "no backbone with ImageNet weights"
        if reason is not None:
            if "weights" in config.fixed:
                raise ConfigError(f"--weights imagenet: {reason}")
            say.log(f"ImageNet weights: {reason}; searching from scratch (give --weights FILE for a pretrained "
                    "backbone)")
            space = dataclasses.replace(space, pretrained=None)
    plan.out.mkdir(parents=True, exist_ok=True)
    cache = SizeCache(plan.out / "candidates.json", plan.profile, plan.classes)
    limits = config.limits
    dropped, cheapest = [], {}
    for model in space.models():
        # A pretrained twin has its scratch twin's ops, size and latency: judged once, by it.
        if model.endswith("+imagenet"):
            continue
        sized = cache.get(space.cheapest(model), config.build, remote=config.search.remote, ssh=plan.ssh, say=say)
        if not sized.fully_supported and not config.target.allow_cpu_fallback:
            say.log(f"{model} leaves the space: {plan.profile.id} cannot run it ({sized.check})")
            dropped.append((model, sized.check))
            space = space.without(model)
            continue
        cheapest[model] = sized
    if not cheapest:
        raise ConfigError(f"no backbone of the space runs fully on {plan.profile.id}: "
                          + "; ".join(f"{m}: {why}" for m, why in dropped))
    misses = {m: rejection(s, max_latency_ms=limits.max_latency_ms, max_bytes=limits.max_bytes,
                           allow_cpu_fallback=True, target=plan.profile.id) for m, s in cheapest.items()}
    if all(misses.values()):
        fastest = min(cheapest.items(), key=lambda kv: kv[1].fastest_ms or 0)
        smallest = min(cheapest.items(), key=lambda kv: kv[1].bytes)
        size_limit = "" if limits.max_size_kb is None else f" and --max-size-kb {limits.max_size_kb:g}"
        raise ConfigError(
            f"nothing in the search space can meet --max-latency-ms {limits.max_latency_ms:g}{size_limit} on "
            f"{plan.profile.id}: the fastest candidate, {space.cheapest(fastest[0]).describe()}, is "
            f"{fastest[1].latency_text()}; the smallest, {space.cheapest(smallest[0]).describe()}, is "
            f"{smallest[1].bytes:,} bytes")
    # Latency and size grow with width and input size: a model that misses the limits at its
    # narrowest and smallest misses them everywhere, so it leaves the space untrained.
    for model, why in misses.items():
        if why is not None:
            say.log(f"{model} leaves the space: even {space.cheapest(model).describe()} misses the limits ({why})")
            dropped.append((model, f"even at its smallest, {why}"))
            space = space.without(model)
    return dataclasses.replace(plan, space=space, dropped=tuple(dropped))


def baselines(plan: Plan) -> list[tuple[str, Choice]]:
    """What picking by hand gives: the default recipe, then each backbone at width 1.0 and its
    standard input size, pretrained where the space has weights for it."""
    build, space = plan.config.build, plan.space
    model = build.model
    weights = "imagenet" if space.pretrained == "imagenet" else ("none" if space.pretrained is None
                                                                 else space.pretrained)
    default_size = model.image_size[0] if model.image_size is not None else DEFAULT_IMAGE_SIZE[model.backbone]
    default_weights = weights if (weights != "imagenet" or model.backbone != Backbone.SMALL_CNN) else "none"
    if space.pretrained not in (None, "imagenet") and model.backbone != space.pretrained_backbone:
        default_weights = "none"
    out = [("default recipe", Choice(Architecture(model.backbone, model.alpha, default_size, default_weights),
                                     build.training.learning_rate, model.dropout, augment=space.no_augment))]
    for backbone, _ in space.backbones:
        pretrained = "imagenet" if space.pretrained == "imagenet" and backbone != Backbone.SMALL_CNN else "none"
        if space.pretrained not in (None, "imagenet") and backbone == space.pretrained_backbone:
            pretrained = space.pretrained
        arch = Architecture(backbone, 1.0 if pretrained in ("none", "imagenet") else space.pretrained_alpha,
                            DEFAULT_IMAGE_SIZE[backbone], pretrained)
        out.append((f"{backbone.value} {arch.alpha:g}@{arch.image_size}",
                    Choice(arch, DEFAULT_LEARNING_RATE, DEFAULT_DROPOUT, augment=space.no_augment)))
    seen, unique = set(), []
    for name, choice in out:
        if choice.architecture.key not in seen:
            seen.add(choice.architecture.key)
            unique.append((name, choice))
    return unique


def enqueue_baselines(study: Any, plan: Plan, say: Progress) -> None:
    """The baselines that may fit the limits, queued ahead of the search (once per study), the
    cheapest first. A baseline not sized yet is sized when its trial comes, like any other
    candidate, and rejected there if it misses the limits: sizing seven 224-pixel baselines
    up front took 206 s of a 4-minute search on 2 cores, before anything trained."""
    from edgekit.tuning.candidates import SizeCache, rejection

    config = plan.config
    if not config.search.baselines or study.user_attrs.get("baselines_queued"):
        return
    cache = SizeCache(plan.out / "candidates.json", plan.profile, plan.classes)
    limits = config.limits
    fitting = []
    for name, choice in baselines(plan):
        if not plan.space.contains(choice):
            say.log(f"baseline {name}: outside the search space, not trained")
            continue
        sized = cache.known(choice.architecture)
        if sized is not None:
            why = rejection(sized, max_latency_ms=limits.max_latency_ms, max_bytes=limits.max_bytes,
                            allow_cpu_fallback=config.target.allow_cpu_fallback, target=plan.profile.id)
            if why is not None:
                say.log(f"baseline {name}: {why}; not trained")
                continue
        cost = _cost(sized) if sized is not None else _scaled(choice.architecture, plan, cache, "latency")
        fitting.append((name, choice, float("inf") if cost is None else cost))
    # The cheapest first: a short budget then ends with complete baselines rather than one
    # 224-pixel model cut part-way (on 2 cores a MobileNetV2 at 224 from scratch outlasted
    # a 4-minute budget and left no complete trial at all).
    fitting.sort(key=lambda item: item[2])
    queued = []
    for name, choice, _ in fitting:
        study.enqueue_trial(plan.space.params(choice), user_attrs={"baseline": name}, skip_if_exists=True)
        queued.append(name)
    study.set_user_attr("baselines_queued", queued)
    if queued:
        say.log(f"baselines first: {', '.join(queued)}")


def _cost(sized: Any) -> float:
    """A candidate's inference time, which tracks its training time: measured or estimated."""
    for value in (sized.measured_ms, sized.estimated_ms):
        if value is not None:
            return float(value)
    return float("inf")


def _scaled(arch: Any, plan: Plan, cache: Any, what: str) -> float | None:
    """An unsized architecture's latency (``what`` "latency") or multiply-adds ("macs"), from
    its model's cheapest architecture's (sized by size_space) scaled by pixels and by width
    squared, as a MobileNet's multiply-adds scale: an order to train in and a guess of
    training time, never a limit."""
    try:
        cheapest = plan.space.cheapest(arch.backbone.value)
    except (KeyError, ValueError):
        return None
    known = cache.known(dataclasses.replace(cheapest, weights="none"))
    if known is None:
        return None
    scale = (arch.alpha / cheapest.alpha) ** 2
    if arch.image_size and cheapest.image_size:
        scale *= (arch.image_size / cheapest.image_size) ** 2
    value = _cost(known) if what == "latency" else known.macs
    return None if value is None else value * scale


# A candidate whose screening rung (its first --screen-epochs epochs) would take more than this
# share of the time left is not trained. On 2 cores, from scratch on 1,575 images at 224 px, a
# screening rung took 35 s for MobileNetV3-small-minimalistic, and one EfficientNet-B0 epoch
# took 63 s (a rung of 3, about 190 s); the baselines alone, screened, filled a 10-minute
# search. A quarter leaves room for at least four trials in what is left.
SCREEN_SHARE = 0.25


def epoch_seconds_per_mmac(study: Any) -> float | None:
    """Seconds a training epoch takes per million multiply-adds of the candidate's inference,
    the largest among this search's trials (all train on the same images); None before any
    trial has trained an epoch. Training time tracks inference work, on any target."""
    rates = [t.user_attrs["epoch_seconds"] / (t.user_attrs["macs"] / 1e6)
             for t in study.get_trials(deepcopy=False)
             if t.user_attrs.get("epoch_seconds") and t.user_attrs.get("macs")]
    return max(rates) if rates else None


def too_slow_to_screen(macs: float | None, rate: float | None, clock: Any, screen_epochs: int) -> str | None:
    """Why a candidate of ``macs`` multiply-adds should not be trained in what is left of the
    time budget (its screening rung would take more than SCREEN_SHARE of it), or None."""
    left = clock.left()
    if rate is None or left is None or not macs:
        return None
    screening = screen_epochs * rate * macs / 1e6
    room = left - clock.reserve
    if screening <= SCREEN_SHARE * room:
        return None
    return (f"time budget: its first {screen_epochs} epochs would take about {screening:.0f} s, more than "
            f"{SCREEN_SHARE:.0%} of the {max(0.0, room):.0f} s left")


# A trained build's work after its last epoch, as a multiple of its architecture's sizing time.
# Measured on 2 cores: a 224-pixel MobileNetV3-small sized in 7.8 s, and its trained build
# spent 26 s after its last epoch (19 s converting on the build's calibration samples, then
# verification, latency and the report).
FINISH_PER_SIZING = 3.5


class TrialProgress(Progress):
    """A trial's progress: its lines under its number, and each epoch's validation accuracy
    reported to Optuna, which may stop the trial there (successive halving), as may the
    time budget. Baselines are screened too: one trained in full whatever it shows
    (MobileNetV3-small at 224 px from scratch, 150 s on 2 cores for 0.79 against small_cnn's
    0.83 in 18 s) held a 5-minute search to its baselines. Screening them also records
    their rungs, which the trials after them are compared with."""

    def __init__(self, trial: Any, say: Progress, clock: Any, *, finish_seconds: float = 0.0) -> None:
        self.trial, self.say, self.clock = trial, say, clock
        # What the build still spends after its last epoch (conversion, verification): a
        # trial that could not finish before the budget's reserve is stopped at an epoch's end.
        self.finish_seconds = finish_seconds
        self.epochs = 0
        self.seconds: list[float] = []
        self.best = 0.0

    def log(self, message: str) -> None:
        self.say.log(f"trial {self.trial.number}: {message}")

    def count(self, what: str, done: int, total: int) -> None:
        self.say.count(f"trial {self.trial.number}: {what}", done, total)

    def epoch(self, phase: str, epoch: int, epochs: int, **metrics: float | None) -> None:
        import optuna

        self.say.epoch(f"trial {self.trial.number}: {phase}", epoch, epochs, **metrics)
        self.epochs += 1
        if metrics.get("seconds"):
            self.seconds.append(float(metrics["seconds"]))
            # The first epoch also builds the training graph: the later ones are the rate.
            steady = self.seconds[1:] or self.seconds
            self.trial.set_user_attr("epoch_seconds", round(sorted(steady)[len(steady) // 2], 3))
        accuracy = metrics.get("val_accuracy")
        if accuracy is None:
            return
        # The best epoch so far, not the last: a build ends on its best epoch's weights, and
        # one epoch's figure swings (small_cnn on elpv: 0.68 at epoch 2, 0.80 at epoch 3).
        self.best = accuracy = max(float(accuracy), self.best)
        self.trial.set_user_attr("last_val_accuracy", accuracy)
        self.trial.set_user_attr("fidelity", f"stopped after {self.epochs} epochs")
        if self.clock.out_of_time(extra=self.finish_seconds):
            self.trial.set_user_attr("stopped", f"time budget spent after {self.epochs} epochs")
            raise optuna.TrialPruned("time budget")
        self.trial.report(accuracy, self.epochs)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"screened out after {self.epochs} epochs")


def run_trials(data: Any, study: Any, plan: Plan, clock: Any, worker: str, say: Progress) -> None:
    """Draw and run trials until the trial count or the time budget is reached."""
    from edgekit.tuning.candidates import SizeCache

    config = plan.config
    cache = SizeCache(plan.out / "candidates.json", plan.profile, plan.classes)
    search = config.search
    rejected_in_a_row = too_slow_in_a_row = 0
    budget_spent = False

    def objective(trial: Any) -> float:
        nonlocal rejected_in_a_row, too_slow_in_a_row, budget_spent
        trial.set_user_attr("worker", worker)
        choice = plan.space.sample(trial)
        arch = choice.architecture
        options = choice.build_options()
        if not plan.space.search_stages:
            options.pop("stages")
        _describe(trial, choice, options, config.build)
        from edgekit.tuning.candidates import rejection

        rate = epoch_seconds_per_mmac(study)
        # Judged before sizing where the candidate is not sized yet (a 224-pixel EfficientNet
        # takes 28 s to size): by its backbone's smallest, scaled by pixels and width.
        slow = None
        if cache.known(arch) is None:
            slow = too_slow_to_screen(_scaled(arch, plan, cache, "macs"), rate, clock, search.screen_epochs)
        if slow is None:
            sized = cache.get(arch, config.build, remote=search.remote, ssh=plan.ssh, say=say)
            trial.set_user_attr("size_bytes", sized.bytes)
            if sized.macs:
                trial.set_user_attr("macs", sized.macs)
            if sized.estimated_ms is not None:
                trial.set_user_attr("estimated_ms", sized.estimated_ms)
            why = rejection(sized, max_latency_ms=config.limits.max_latency_ms, max_bytes=config.limits.max_bytes,
                            allow_cpu_fallback=config.target.allow_cpu_fallback, target=plan.profile.id)
            if why is not None:
                rejected_in_a_row += 1
                _not_trained(trial, say, "rejected", why, "none: rejected before training",
                             f"rejected before training ({why})")
            slow = too_slow_to_screen(sized.macs, rate, clock, search.screen_epochs)
        if slow is not None:
            too_slow_in_a_row += 1
            _not_trained(trial, say, "too_slow", slow, "none: not trained", f"not trained ({slow})")
        finish = FINISH_PER_SIZING * (sized.seconds or 0.0)
        if clock.out_of_time(extra=finish):
            # Not even its conversion would end before the refit's reserve: a 224-pixel
            # baseline begun with 35 s left was cut after one epoch and took the refit's time.
            # The search ends here rather than draw until a cheap one comes.
            budget_spent = True
            _not_trained(trial, say, "stopped", "time budget: too little left to train it",
                         "none: the time budget was spent", "not trained: too little of the time budget is left")
        rejected_in_a_row = too_slow_in_a_row = 0
        trial.set_user_attr("trained", True)
        folder = Path("trials") / f"{trial.number:04d}"
        trial.set_user_attr("build_options", json.dumps(_plain(options)))
        baseline = trial.user_attrs.get("baseline")
        say.log(f"trial {trial.number}{f' (baseline: {baseline})' if baseline else ''}: {arch.describe()}, "
                f"lr {choice.learning_rate:.2g}, dropout {choice.dropout:.2f}, augment "
                f"{trial.user_attrs['augment']}, stages {_stages_text(options)}")
        progress = TrialProgress(trial, say, clock, finish_seconds=finish)
        start = time.perf_counter()
        try:
            from edgekit.builder import build

            # Sizing converted and checked this architecture on the target by the build's own
            # conversion: the build's pre-flight would do it again.
            result = build(data, config=config.build.replace(**options, out=str(plan.out / folder),
                                                             progress=progress, preflight_conversion=False))
        except EdgekitError as exc:
            trial.set_user_attr("error", first_line(exc))
            trial.set_user_attr("fidelity", f"failed after {progress.epochs} epochs")
            say.log(f"trial {trial.number}: failed: {first_line(exc)}")
            raise
        except KeyboardInterrupt:
            trial.set_user_attr("interrupted", True)
            raise
        finally:
            trial.set_user_attr("wall_seconds", round(time.perf_counter() - start, 1))
        report = result.report
        _record(trial, report, plan, progress.epochs)
        trial.set_user_attr("folder", str(folder))
        return float(report["tflite"]["accuracy"])

    while True:
        # The next trial may first size its candidate (a rejected 224-pixel one still costs
        # 10-14 s on 2 cores): three of them in a row ate the refit's reserve.
        if budget_spent or clock.out_of_time(extra=cache.longest_seconds()):
            say.log("time budget spent")
            break
        if search.trials is not None and trained(study) >= search.trials:
            break
        if rejected_in_a_row >= _MAX_REJECTED_IN_A_ROW:
            say.log(f"{rejected_in_a_row} candidates in a row were rejected before training: the space left for "
                    "these limits looks exhausted")
            break
        if too_slow_in_a_row >= _MAX_REJECTED_IN_A_ROW:
            say.log(f"{too_slow_in_a_row} candidates in a row were too slow to train in the time left: the search "
                    "ends here")
            break
        before = trained(study)
        study.optimize(objective, n_trials=1, catch=(EdgekitError,))
        clock.mark()
        rows = _rows(study, plan)
        best = chosen(rows)
        if search.refit and best is not None and best.wall_seconds:
            # The refit replays the chosen trial's epochs up to its best one, on a quarter more
            # images, without the search's checks: about the trial's own time.
            clock.reserve = best.wall_seconds
        if trained(study) != before:
            # A candidate rejected or skipped untrained has said so in its own line.
            _progress_line(rows, study, plan, clock, say)
        atomic_write(plan.out / "trials.csv", to_csv(rows))


def _not_trained(trial: Any, say: Progress, key: str, why: str, fidelity: str, told: str) -> NoReturn:
    """End ``trial`` untrained: ``why`` under ``key`` (which rows_of reads as its state), its
    fidelity, and one line saying so."""
    import optuna

    trial.set_user_attr(key, why)
    trial.set_user_attr("fidelity", fidelity)
    say.log(f"trial {trial.number}: {trial.user_attrs['model']} {told}")
    raise optuna.TrialPruned(why)


def trained(study: Any) -> int:
    """Trials that trained or are training, of every worker (a retried one counts once)."""
    from edgekit.tuning.study import abandoned_trials

    abandoned = abandoned_trials(study)
    return sum(1 for t in study.get_trials(deepcopy=False)
               if t.user_attrs.get("trained") and t.number not in abandoned and not t.user_attrs.get("interrupted"))


def _describe(trial: Any, choice: Choice, options: dict, build: Any) -> None:
    arch = choice.architecture
    trial.set_user_attr("model", arch.describe())
    trial.set_user_attr("backbone", arch.backbone.value)
    trial.set_user_attr("weights", arch.weights)
    trial.set_user_attr("alpha", arch.alpha)
    trial.set_user_attr("image_size", arch.image_size)
    trial.set_user_attr("learning_rate", choice.learning_rate)
    trial.set_user_attr("dropout", choice.dropout)
    trial.set_user_attr("augment", choice.augment if choice.augment is not None else "fixed")
    trial.set_user_attr("stages", _stages_text(options) if "stages" in options else
                        _stages_text({"stages": [s for s in _plain(build.stages)]}))


def _stages_text(options: dict) -> str:
    stages = options.get("stages") or []
    parts = []
    for stage in stages:
        stage = stage if isinstance(stage, dict) else _plain(stage)
        kind = stage.get("kind")
        if kind == "prune":
            parts.append(f"prune {stage.get('sparsity', stage.get('m_by_n'))}")
        elif kind == "cluster":
            parts.append(f"cluster {stage.get('clusters')}")
        else:
            parts.append(str(kind))
    return " + ".join(parts) if parts else "none"


def _plain(value: Any) -> Any:
    from edgekit.optimization.stages import stage_config

    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [stage_config(v) if dataclasses.is_dataclass(v) else _plain(v) for v in value]
    return getattr(value, "value", value)


def _record(trial: Any, report: dict, plan: Plan, epochs: int) -> None:
    latency = report["latency"]
    estimate = latency.get("estimate")
    trial.set_user_attr("fidelity", f"full: {epochs} epochs")
    trial.set_user_attr("keras_accuracy", report["keras"]["accuracy"])
    trial.set_user_attr("size_bytes", report["tflite"]["bytes"])
    if estimate is not None:
        trial.set_user_attr("estimated_ms", estimate["estimated_ms"])
    if plan.here:
        trial.set_user_attr("measured_ms", latency["p50_ms"])
        trial.set_user_attr("measured_on", "this machine")


def _rows(study: Any, plan: Plan, device_ms: dict | None = None) -> list[TrialRow]:
    limits = plan.config.limits
    return rows_of(study, max_latency_ms=limits.max_latency_ms, max_bytes=limits.max_bytes,
                   device_ms=device_ms, device=plan.config.search.remote)


def _progress_line(rows: list[TrialRow], study: Any, plan: Plan, clock: Any, say: Progress) -> None:
    best = chosen(rows)
    done = trained(study)
    of = f"/{plan.config.search.trials}" if plan.config.search.trials else ""
    left = clock.left()
    best_text = ("none meets the limits yet" if best is None else
                 f"best so far trial {best.number} ({best.model}): {best.val_accuracy:.4f} at "
                 f"{best.latency_ms:.3f} ms {best.latency_kind}")
    time_text = "" if left is None else f", {max(0.0, left) / 60:.1f} min left"
    say.log(f"trials trained {done}{of}; {best_text}{time_text}")


def measure_finalists(study: Any, plan: Plan, say: Progress) -> dict[int, float]:
    """With --remote: the most accurate complete trials that meet the limits by estimate,
    measured on the device. Measurements are kept in the study, so a resumed search and
    other workers reuse them."""
    remote = plan.config.search.remote
    if remote is None:
        return {}
    from edgekit.tuning.candidates import measure_on_device

    known = {int(k): float(v) for k, v in study.user_attrs.get("device_ms", {}).items()}
    rows = sorted((r for r in _rows(study, plan) if r.state == TrialState.COMPLETE and r.meets_limits),
                  key=lambda r: -(r.val_accuracy or 0))
    for row in rows[: plan.config.search.finalists]:
        path = plan.out / (row.folder or "") / "model.tflite"
        if row.number in known or not path.is_file():
            continue
        say.log(f"measuring trial {row.number} on {remote}")
        known[row.number] = measure_on_device(path, plan.profile, remote, plan.ssh)
        say.log(f"trial {row.number}: {known[row.number]:.3f} ms on {remote} "
                f"(estimated {row.estimated_ms if row.estimated_ms is not None else float('nan'):.3f} ms)")
    study.set_user_attr("device_ms", {str(k): v for k, v in known.items()})
    return known


def write_outputs(data: Any, study: Any, plan: Plan, device_ms: dict[int, float], say: Progress,
                  clock: Any = None) -> TuneResult:
    """trials.csv, tune.json, report.html, and the chosen trial's build in best/."""
    rows = _rows(study, plan, device_ms)
    best = chosen(rows)
    best_dir, refit = None, None
    if best is not None:
        refit = refit_decision(best, plan.config.search.refit, clock)
        kept = _kept_best(plan, best, refit)
        if kept is not None:
            # The same command run again on a finished search: its budget is spent, so a
            # refit would now be skipped and a refit best/ replaced by the bare trial.
            refit, best_dir = kept, plan.out / "best"
            say.log(f"best/ already holds trial {best.number}'s build: kept")
        else:
            best_dir = _publish_best(data, best, study, plan, say, refit)
    summary = _summary(rows, best, plan, study, refit)
    atomic_write(plan.out / "trials.csv", to_csv(rows))
    atomic_write(plan.out / SUMMARY, json.dumps(summary, indent=2) + "\n")
    from edgekit.report.tune_page import Search, write_tune_html

    limits = plan.config.limits
    write_tune_html(plan.out, Search(
        target=plan.profile.id, latency=summary["target"]["latency"], max_latency_ms=limits.max_latency_ms,
        max_size_kb=limits.max_size_kb, spent_seconds=summary["budget"]["spent_seconds"],
        rejected=rejected_reasons(rows), dropped=plan.dropped, space=plan.space.to_dict(),
        best=None if best is None else best.number), rows)
    if best is None:
        say.log("no complete trial meets the limits: nothing in best/")
    else:
        say.log(f"best: trial {best.number}, {best.model}, validation accuracy {best.val_accuracy:.4f}, "
                f"{best.latency_ms:.3f} ms {best.latency_kind}, {best.size_bytes:,} bytes -> {best_dir}")
    return TuneResult(out=plan.out, best=best, best_dir=best_dir, front=tuple(front(rows)), trials=tuple(rows),
                      summary=summary)


@dataclass(frozen=True)
class RefitDecision:
    refit: bool
    # Why best/ is not refit although --refit asked for it (the time budget), or None.
    skipped: str | None = None


def refit_decision(best: TrialRow, asked: bool, clock: Any) -> RefitDecision:
    """Refit best/ when asked and when what is left of --time-budget covers it: a refit takes
    about the chosen trial's own wall time (it replays the trial's epochs up to its best one, on
    a quarter more images). A search that overran its budget by the refit's length is a
    broken promise; the trial's own build, verified as every build is, is kept instead."""
    if not asked:
        return RefitDecision(False)
    left = None if clock is None else clock.left()
    needed = best.wall_seconds or 0.0
    if left is not None and left < needed:
        return RefitDecision(False, f"the time budget has {max(0.0, left):.0f} s left and the refit takes about "
                                    f"{needed:.0f} s (trial {best.number}'s own build)")
    return RefitDecision(True)


def _kept_best(plan: Plan, best: TrialRow, decision: RefitDecision) -> RefitDecision | None:
    """What best/ already holds, when it is ``best``'s build at least as refit as ``decision``
    would make it; None when it must be published."""
    try:
        previous = json.loads((plan.out / SUMMARY).read_text(encoding="utf-8")).get("best") or {}
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if previous.get("number") != best.number or not (plan.out / "best" / "report.json").is_file():
        return None
    if decision.refit and not previous.get("refit"):
        return None
    if not plan.config.search.refit and previous.get("refit"):
        return None
    return RefitDecision(bool(previous.get("refit")), previous.get("refit_skipped"))


def _publish_best(data: Any, best: TrialRow, study: Any, plan: Plan, say: Progress,
                  decision: RefitDecision) -> Path:
    """best/: the chosen trial's recipe refit on every image (replaying the trial's recorded
    training when its folder is here), or with --no-refit the trial's own build (the same
    bytes a replay of its recipe gives). A trial built on another machine is built here."""
    from edgekit.builder import build

    source = plan.out / (best.folder or "")
    target = plan.out / "best"
    here = (source / "report.json").is_file()
    refit = decision.refit
    if decision.skipped:
        say.log(f"best/ is not refit: {decision.skipped}")
    if here and not refit:
        with atomic_output_dir(target) as work:
            shutil.rmtree(work)
            shutil.copytree(source, work)
        return target
    trial = next(t for t in study.get_trials(deepcopy=False) if t.number == best.number)
    options = json.loads(trial.user_attrs["build_options"])
    if refit:
        say.log(f"refitting trial {best.number}'s recipe on training plus validation images into {target}")
        options.update(refit=True, refit_from=str(source) if here else None)
    else:
        say.log(f"trial {best.number} was built on another machine: building it here in {target}")
    build(data, config=plan.config.build.replace(**options, out=str(target), progress=say))
    return target


def _summary(rows: list[TrialRow], best: TrialRow | None, plan: Plan, study: Any,
             refit: RefitDecision | None = None) -> dict:
    from edgekit.report.header import SCHEMA_VERSION
    from edgekit.tuning.study import _sessions, _union, redacted

    config = plan.config
    storage = config.search.storage
    return {
        "schema_version": SCHEMA_VERSION,
        "action": "tune",
        "target": {"id": plan.profile.id, "description": plan.profile.description,
                   "latency": ("measured on this machine" if plan.here else
                               f"estimated, measured on {config.search.remote} for finalists"
                               if config.search.remote else "estimated from the target's cost model")},
        "limits": {"max_latency_ms": config.limits.max_latency_ms, "max_size_kb": config.limits.max_size_kb},
        "budget": {"trials": config.search.trials, "time_budget_seconds": config.search.time_budget,
                   "spent_seconds": round(_union(_sessions(study, exclude="")), 1)},
        "storage": redacted(storage) if storage else str(plan.out / "study.journal"),
        "study": config.search.study,
        "space": plan.space.to_dict(),
        "dropped": [{"model": m, "why": why} for m, why in plan.dropped],
        "fixed": {name: _plain(value) for name, value, _ in config.build.options() if name in config.fixed},
        "counts": counts(rows),
        "rejected_before_training": rejected_reasons(rows),
        "best": None if best is None else {**best.to_dict(), "folder": "best", "refit": bool(refit and refit.refit),
                                           **({"refit_skipped": refit.skipped} if refit and refit.skipped else {})},
        "front": [r.to_dict() for r in front(rows)],
        "baselines": [r.to_dict() for r in rows if r.baseline],
        "finalists": [r.to_dict() for r in rows if r.measured_on and r.measured_on != "this machine"],
        "trials": len(rows),
    }


def _check_tune_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output {out} exists and is not a folder: choose another --out")
    if out.is_dir() and any(out.iterdir()) and not ((out / "candidates.json").exists() or (out / SUMMARY).exists()
                                                     or (out / "study.journal").exists()):
        raise ConfigError(f"output folder {out} is not empty and holds no edgekit search: choose another --out")


def _class_count(data: Any, names: Any) -> int:
    if names is not None:
        return len(names)
    import numpy as np

    labels = np.asarray(data[1])
    count = len(np.unique(labels))
    if count < 2:
        raise DataError("the labels hold fewer than 2 classes")
    return count
