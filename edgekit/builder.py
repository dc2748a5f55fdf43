"""``build()``: data -> trained Keras model -> .tflite for a target -> verified report.

A short sequence of named steps, each a function that can be called alone:
:func:`preflight` (cheap checks, no TensorFlow), :func:`probe_target` (the untrained
model converted and checked), :func:`load_data`, :func:`train_model`,
:func:`optimise`, :func:`convert`, :func:`verify`, :func:`check_target`,
:func:`measure_latency` and :func:`write_outputs`. The CLI's ``edgekit build`` calls
``build()`` and nothing else, so a pipeline calling Python gets exactly what the
terminal gets.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from edgekit.analyze import check
from edgekit.config import BuildConfig, Task
from edgekit.conversion.target import Converted, keras_to_target, to_target
from edgekit.data import LabelledImages
from edgekit.data.dataset import scan_image_folder
from edgekit.errors import ConfigError, ConversionError, DataError
from edgekit.files import atomic_output_dir, check_output_dir, file_facts, weight_facts, write_labels
from edgekit.model_files import refuse_code
from edgekit.models.backbones import (
    DEFAULT_IMAGE_SIZE,
    Backbone,
    WeightsKind,
    WeightsSpec,
    check_request,
    saved_model_image_size,
)
from edgekit.models.strategy import Strategy, is_chief
from edgekit.optimization.stages import validate_stages
from edgekit.options import action_config
from edgekit.progress import Progress, resolve
from edgekit.recipe import dump_recipe, recipe_dict
from edgekit.report.header import report_header
from edgekit.targets import Quantization, TargetProfile, load_target
from edgekit.tasks import classification as task
from edgekit.tasks.classification import DataSource, Split
from edgekit.timings import Timings
from edgekit.verification import Change, Verification, compare, gate, require_stages_kept


@dataclass(frozen=True)
class BuildResult:
    out: Path
    tflite_path: Path
    keras_path: Path
    labels_path: Path
    report_path: Path
    report: dict


@dataclass(frozen=True)
class Plan:
    """What pre-flight settled: the configuration with every default resolved, and what it names."""

    config: BuildConfig
    profile: TargetProfile
    weights: WeightsSpec
    # refit_from's recorded first run: what the refit replays and the held-out figures.
    first_run: tuple | None = None

    @property
    def image_size(self) -> tuple[int, int]:
        return self.config.model.image_size

    @property
    def backbone(self) -> Backbone:
        return self.config.model.backbone

    @property
    def detects(self) -> bool:
        return self.config.model.task == Task.DETECT


@dataclass(frozen=True)
class Trained:
    model: Any
    phases: list
    scores: np.ndarray
    accuracy: float
    calibration: np.ndarray
    distribution: Any
    learned: list
    # The batched training and validation sets, which the stages go on with.
    train_ds: Any = None
    val_ds: Any = None


@dataclass(frozen=True)
class Verified:
    verification: Verification
    runtime: Any
    # The .tflite's scores on the validation images.
    scores: np.ndarray


@dataclass(frozen=True)
class Optimised:
    model: Any
    stage_results: list
    scores: np.ndarray
    # None without stages: nothing changed the trained model.
    change: Change | None
    # One per stage, each against the model the stage was given.
    stage_changes: tuple[Change, ...] = ()


def build(data: DataSource, target: Any = None, /, *, config: BuildConfig | None = None,
          **options: Any) -> BuildResult:
    """Train a classifier on ``data`` and convert it for ``target``; see the README for each option.

    ``data``: a folder with one sub-folder per class, ``(images, labels)`` arrays, or
    a :class:`~edgekit.data.LabelledImages`. ``target``: a target id or profile.
    ``config``: a :class:`~edgekit.config.BuildConfig` (e.g. from
    :func:`~edgekit.recipe.load_recipe`); ``options`` override it by name (``epochs=10``,
    ``out="build/tpu"``). Raises :class:`~edgekit.errors.EdgekitError` subclasses for
    anything the caller can fix, before training where possible.
    """
    config = action_config(BuildConfig(), target, config, options)
    say = resolve(config.output.progress)
    timings = Timings()
    with timings.step("preflight"):
        plan = preflight(data, config)
    writes_output = is_chief(config.training.strategy)
    with _work_folder(config.output.out, writes_output) as work:
        from edgekit._tf import keras_module
        from edgekit.models.strategy import make_strategy

        keras = keras_module()
        # Fresh layer-name counters: a second build in one process (a pipeline building
        # for several targets) would otherwise name its layers conv0_1..., and the same
        # recipe would give different bytes.
        keras.backend.clear_session()
        keras.utils.set_random_seed(config.training.seed)
        distribution = make_strategy(config.training.strategy)
        # Every model built and compiled from here on lives under the strategy; the
        # scope closes before the output folder is published.
        with distribution.scope():
            with timings.step("preflight"):
                plan, features = probe_target(plan, say)
            if plan.detects:
                report = detect_steps(data, features, plan, work, timings, say)
            else:
                report = classify_steps(data, features, plan, work, distribution, timings, say)

    out = Path(config.output.out)
    if writes_output:
        say.log(f"wrote {out}/model.tflite ({report['tflite']['bytes']:,} bytes) in {report['wall_seconds']:.1f}s")
    else:
        say.log(f"built in {report['wall_seconds']:.1f}s; the chief worker writes {out}")
    return BuildResult(
        out=out,
        tflite_path=out / "model.tflite",
        keras_path=out / "model.keras",
        labels_path=out / "labels.txt",
        report_path=out / "report.json",
        report=report,
    )


def classify_steps(data: DataSource, features: Any, plan: Plan, work: Path, distribution: Any, timings: Timings,
                   say: Progress) -> dict:
    """A classifier's steps after pre-flight; returns the report."""
    config = plan.config
    with timings.step("load_data"):
        split = task.read_data(data, plan, say)
    replays, held_out = plan.first_run or (None, None)
    if replays is not None:
        say.log(f"refit: replaying {config.training.refit_from}'s training ({replays.describe()})")
    else:
        with timings.step("train"):
            trained = train_model(features, split, plan, distribution, say)
            if not config.training.refit:
                keras_facts = _save_float_model(trained.model, work / "model.keras")
        with timings.step("optimise"):
            optimised = optimise(trained, split, plan, say)
    if config.training.refit:
        with timings.step("refit"):
            if held_out is None:
                replays, held_out = hold_out(trained, optimised, split, plan, say)
            trained = refit_model(split, plan, replays, distribution, say)
            keras_facts = _save_float_model(trained.model, work / "model.keras")
            optimised = optimise(trained, split, plan, say, replays=replays.stages)
    with timings.step("convert"):
        converted = convert(optimised.model, plan, trained.calibration, work / "model.tflite", say,
                            metadata=task.metadata(plan, split))
        tflite_path = converted.path
    with timings.step("verify"):
        verified = verify(tflite_path, optimised, split, plan, say)
    with timings.step("check"):
        target_check = check_target(tflite_path, plan, work, say)
    with timings.step("latency"):
        latency = measure_latency(tflite_path, plan, say)
    with timings.step("write"):
        return write_outputs(work, build_report(
            plan, split, trained, optimised, converted, verified, target_check, latency, keras_facts,
            timings, held_out), plan, split, say)


def detect_steps(data: DataSource, features: Any, plan: Plan, work: Path, timings: Timings, say: Progress) -> dict:
    """A detector's steps after pre-flight (tasks.detection supplies what differs); returns the report."""
    from edgekit.runtime import find_runtime
    from edgekit.tasks import detection

    config = plan.config
    with timings.step("load_data"):
        split = detection.read_data(data, plan.image_size, val_split=config.data.val_split,
                                    seed=config.training.seed, strict=config.data.strict, say=say,
                                    val_dir=config.data.val_dir)
    with timings.step("train"):
        trained = detection.train(features, split, plan, say)
        keras_facts = _save_float_model(trained.model, work / "model.keras")
    with timings.step("optimise"):
        trained = detection.optimise(trained, split, plan, say)
    with timings.step("convert"):
        converted = to_target(detection.source(trained.model, trained.anchors, trained.post),
                              {"image": trained.calibration}, plan.profile, work / "model.tflite", say,
                              metadata=detection.metadata(plan, split),
                              bias_correction=config.conversion.bias_correction,
                              float_front_end=config.conversion.float_front_end)
    with timings.step("verify"):
        verification, lite, found = detection.verify(converted.path, trained, split, config.accuracy.max_map_drop,
                                                     say)
        gate(verification, plan.profile.convert.quantization, min_snr=config.gates.min_snr, default_snr=False)
    with timings.step("check"):
        target_check = check_target(converted.path, plan, work, say)
    with timings.step("latency"):
        latency = measure_latency(converted.path, plan, say)
    with timings.step("write"):
        runtime = find_runtime()
        header = report_header("build", plan.profile, converted, verification, config.gates, target_check, runtime,
                               default_snr=False)
        sections = detection.report_sections(split, trained, lite, config.data.val_dir)
        sections["validation"]["images"] = detection.write_detection_images(work, split, found)
        report = {
            **header,
            "task": "detect",
            "recipe": recipe_dict(config),
            "data": sections["data"],
            "model": {"backbone": plan.backbone.value, "weights": str(plan.weights),
                      "trust_model_code": config.trust_model_code,
                      "parameters": int(trained.model.count_params()), "input_size": list(plan.image_size)},
            "training": {"phases": [_measured(dataclasses.asdict(p)) for p in trained.phases], "strategy": "default",
                         "learned": [{"after": "training", "map50": trained.keras.map50,
                                      "trivial_map50": trained.trivial.map50, "learned": True}]},
            "stages": [_measured(dataclasses.asdict(r)) for r in trained.stage_results],
            "keras": {**({"map": trained.keras.map, "map50": trained.keras.map50} if trained.before_stages is None
                         else {"map": trained.before_stages.map, "map50": trained.before_stages.map50,
                               "staged_map": trained.keras.map, "staged_map50": trained.keras.map50}),
                      "accuracy": (trained.before_stages or trained.keras).map50, "file": "model.keras",
                      **keras_facts},
            # Both on mAP@[.5:.95], as the gates judge them.
            "changes": [*([Change(step="stages", before=trained.before_stages.map, after=trained.keras.map,
                                  limit=config.accuracy.max_stage_drop).to_dict()] if trained.before_stages else []),
                        verification.accuracy.to_dict()],
            "tflite": {**header["tflite"], "map": lite.map, "map50": lite.map50, "accuracy": lite.map50,
                       "evaluated_on": len(split.val), "runtime": f"{runtime.name} {runtime.version}",
                       "compared_with": "keras"},
            "validation": sections["validation"],
            "detection": sections["detection"],
            "refit": None,
            "latency": latency,
            "timings_seconds": timings.rounded(),
        }
        report["wall_seconds"] = timings.wall()
        write_labels(work / "labels.txt", split.train.class_names)
        (work / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        (work / "recipe.toml").write_text(dump_recipe(config), encoding="utf-8")
        from edgekit.report import write_html

        say.log("rendering report.html")
        write_html(work)
    return report


def preflight(data: DataSource, config: BuildConfig) -> Plan:
    """Every check that needs no TensorFlow, download or decode: the data and validation
    folders, the output folder, the target, the weights file, the stages and the teacher.
    Returns the plan with each default resolved (weights, image size, fine-tuning rate)."""
    if config.model.task == Task.DETECT:
        class_names = _check_detection_source(data, config)
    else:
        class_names = _check_data_source(data)
    if config.data.val_dir is not None and config.model.task == Task.DETECT:
        from edgekit.data.boxes import detect_format

        detect_format(config.data.val_dir)
    elif config.data.val_dir is not None:
        _check_folder(config.data.val_dir, "validation folder (--val-dir)")
        scan_image_folder(config.data.val_dir, class_names)
    check_output_dir(config.output.out)
    profile = load_target(config.target.target)
    is_chief(config.training.strategy)  # multiworker: TF_CONFIG must describe this worker
    model = config.model
    weights = WeightsSpec.parse(model.resolved_weights)
    size = model.image_size
    if size is None and weights.kind != WeightsKind.MODEL:
        size = (DEFAULT_IMAGE_SIZE[model.backbone],) * 2
    if size is not None:
        check_request(model.backbone, size, alpha=model.alpha, weights=weights)
    if weights.kind in (WeightsKind.FILE, WeightsKind.MODEL):
        refuse_code(weights.path, trust=config.trust_model_code, role="--weights")
    validate_stages(config.stages)
    distill = config.distill
    if distill is not None:
        distill.validate()
        if distill.teacher != "self":
            refuse_code(distill.teacher, trust=config.trust_model_code, role="--distill-from")
        if distill.teacher == "self" and not config.stages:
            raise ConfigError("distillation from 'self' teaches the optimisation stages: give at least one stage")
    resolved = config.replace(weights=str(weights), image_size=size,
                              fine_tune_learning_rate=config.training.fine_tune_rate)
    first_run = None
    if config.training.refit_from is not None:
        from edgekit.refit import from_build

        if not config.training.refit:
            raise ConfigError("refit_from replays a first run for a refit: set refit=True as well")
        first_run = from_build(config.training.refit_from, recipe_dict(resolved))
    return Plan(config=resolved, profile=profile, weights=weights, first_run=first_run)


def probe_target(plan: Plan, say: Progress) -> tuple[Plan, Any]:
    """Build the backbone (the ImageNet download, or the weights file read) and convert the
    untrained model once, so an impossible backbone/target pair fails in seconds rather
    than after training. Returns the plan with a .keras backbone's own image size."""
    from edgekit.models import build_backbone

    model = plan.config.model
    if model.image_size is None:
        plan = dataclasses.replace(plan, config=plan.config.replace(
            image_size=saved_model_image_size(plan.weights.path, trust=plan.config.trust_model_code)))
    features = build_backbone(model.backbone, plan.image_size, alpha=model.alpha, weights=plan.weights,
                              trust_model_code=plan.config.trust_model_code)
    _probe_conversion(features, plan, say)
    return plan, features


def train_model(features: Any, split: Split, plan: Plan, distribution: Any, say: Progress) -> Trained:
    """The classifier trained to convergence (head, fine-tuning or from scratch), checked to have learned."""
    trained = _fit(features, split.train, split.val, plan, say)
    accuracy = float(np.mean(trained.scores.argmax(axis=1) == split.val.labels))
    say.log(f"keras validation accuracy {accuracy:.4f} on {len(split.val)} images")
    learned = [{"after": "training", **_require_learned(accuracy, split.val, "training", _TRAINING_ADVICE)}]
    return dataclasses.replace(trained, accuracy=accuracy, distribution=distribution, learned=learned)


def hold_out(trained: Trained, optimised: Optimised, split: Split, plan: Plan, say: Progress) -> tuple[Any, Any]:
    """Before a refit: the first run converted and scored on the validation images it never saw
    (the figures that estimate accuracy on new images), and the epochs it chose."""
    from edgekit.inference import predict
    from edgekit.progress import Progress as Silent
    from edgekit.refit import HeldOut, Replays

    with tempfile.TemporaryDirectory() as scratch:
        path = convert(optimised.model, plan, trained.calibration, Path(scratch) / "held_out.tflite", Silent()).path
        scores = predict(path, split.val.images)
    tflite_accuracy = float(np.mean(scores.argmax(axis=1) == split.val.labels))
    staged = optimised.change.after if optimised.change is not None else trained.accuracy
    held = HeldOut(images=len(split.val), keras_accuracy=trained.accuracy, staged_accuracy=staged,
                   tflite_accuracy=tflite_accuracy, source="this build's first run on the split")
    replays = Replays.of(trained.phases, optimised.stage_results)
    say.log(f"held out: keras {trained.accuracy:.4f}, tflite {tflite_accuracy:.4f} on {len(split.val)} "
            f"validation images; refitting on all {len(split.train) + len(split.val)} images "
            f"({replays.describe()})")
    return replays, held


def refit_model(split: Split, plan: Plan, replays: Any, distribution: Any, say: Progress) -> Trained:
    """A fresh model trained on training plus validation images as ``replays`` say, from the same
    seed and layer names as a first model (so a recipe replay gives the same bytes)."""
    from edgekit._tf import keras_module
    from edgekit.models import build_backbone

    keras = keras_module()
    keras.backend.clear_session()
    keras.utils.set_random_seed(plan.config.training.seed)
    features = build_backbone(plan.backbone, plan.image_size, alpha=plan.config.model.alpha, weights=plan.weights,
                              trust_model_code=plan.config.trust_model_code)
    everything = _joined(split.train, split.val)
    trained = _fit(features, everything, None, plan, say, replays=replays.phases, scored_on=split.val)
    # Measured on images the refit trained on: the conversion's check, not an estimate.
    accuracy = float(np.mean(trained.scores.argmax(axis=1) == split.val.labels))
    say.log(f"refit: keras accuracy {accuracy:.4f} on the {len(split.val)} validation images it trained on")
    return dataclasses.replace(trained, accuracy=accuracy, distribution=distribution, learned=[])


def _fit(features: Any, train_data: LabelledImages, val_data: LabelledImages | None, plan: Plan, say: Progress,
         replays: dict | None = None, scored_on: LabelledImages | None = None) -> Trained:
    """Head, phases and the int8 head on ``train_data``, judged on ``val_data``; in a refit,
    ``val_data`` is None, ``replays`` fix each phase's epochs and the scores are on ``scored_on``."""
    from edgekit.data.pipeline import to_tf_dataset
    from edgekit.models import train
    from edgekit.models.head import head_phase, int8_head_phase
    from edgekit.optimization.distill import distiller, load_teacher

    config, training = plan.config, plan.config.training
    model = task.head(features, len(train_data.class_names), dropout=config.model.dropout,
                      frozen_batchnorm=plan.weights.pretrained)
    say.log(f"model: {plan.backbone} ({plan.weights} weights) {plan.image_size[0]}x{plan.image_size[1]}, "
            f"{model.count_params():,} parameters")
    train_ds = to_tf_dataset(train_data, batch_size=training.batch_size, training=True,
                             augmentation=config.augment, seed=training.seed)
    val_ds = None if val_data is None else to_tf_dataset(val_data, batch_size=training.batch_size, training=False)
    wrap = None
    distill = config.distill
    if distill is not None and distill.teacher != "self":
        teacher = load_teacher(distill.teacher, train_data.class_names, trust=config.trust_model_code)
        say.log(f"distilling from {distill.teacher} (temperature {distill.temperature:g}, alpha {distill.alpha:g})")
        wrap = lambda student: distiller(student, teacher, distill)  # noqa: E731
    # The teacher of a distillation needs the images, so its head phase is not cached.
    head = None
    if training.cache_features and wrap is None:
        head = lambda replay: head_phase(model, train_data, val_data, training, config.augment,  # noqa: E731
                                         training.seed, say, replay=replay)
    phases = train(model, train_ds, val_ds, training, pretrained=plan.weights.pretrained, progress=say,
                   examples=len(train_data), wrap=wrap, head=head, replays=replays)
    calibration = _calibration_images(train_data, plan.profile.convert.representative_samples, training.seed)
    # A pretrained backbone's features move under int8 post-training quantisation; the
    # head learns the ones the .tflite computes. Stages and a teacher train the whole
    # model after this point (QAT handles quantisation itself), so not with them.
    if plan.profile.convert.quantization == Quantization.INT8 and plan.weights.pretrained and not config.stages \
            and distill is None and (replays is None or "int8_head" in replays):
        phases.append(int8_head_phase(model, train_data, val_data, plan.profile, calibration, training,
                                      training.seed, say, conversion=config.conversion,
                                      replay=None if replays is None else replays["int8_head"]))
    scored = val_ds if val_data is not None else to_tf_dataset(scored_on, batch_size=training.batch_size,
                                                                  training=False)
    scores = model.predict(scored, verbose=0)
    return Trained(model, phases, scores, float("nan"), calibration, None, [], train_ds, val_ds)


def optimise(trained: Trained, split: Split, plan: Plan, say: Progress, replays: Sequence[Any] | None = None
             ) -> Optimised:
    """Run the stages (prune, cluster, QAT) on the trained model; the change they made
    together is measured against the trained model and gated by ``max_stage_drop``. In a
    refit, ``replays`` fix each stage's epochs and nothing is judged: the first run was."""
    config = plan.config
    if not config.stages:
        return Optimised(trained.model, [], trained.scores, None)
    from edgekit.data.pipeline import to_tf_dataset
    from edgekit.models.training import epoch_shape
    from edgekit.optimization.distill import distiller, frozen_copy
    from edgekit.optimization.run import run_stages

    training = config.training
    train_ds, val_ds = trained.train_ds, trained.val_ds
    stage_wrap = None
    if config.distill is not None and config.distill.teacher == "self":
        teacher = frozen_copy(trained.model)
        stage_wrap = lambda student: distiller(student, teacher, config.distill)  # noqa: E731
    examples = len(split.train) + (len(split.val) if replays is not None else 0)
    model, results = run_stages(
        trained.model, config.stages, train_ds, val_ds, split.val.labels,
        shape=epoch_shape(examples, training.batch_size), patience=training.patience,
        progress=say, wrap=stage_wrap, replays=replays,
        check=lambda accuracy, name: trained.learned.append({"after": f"stage {name}", **_require_learned(
            accuracy, split.val, f"stage {name}", _STAGE_ADVICE)}))
    scored = val_ds if val_ds is not None else to_tf_dataset(split.val, batch_size=training.batch_size,
                                                             training=False)
    scores = model.predict(scored, verbose=0)
    if replays is not None:
        return Optimised(model, results, scores, None)
    change = compare("stages", trained.scores, scores, split.val.labels, limit=config.accuracy.max_stage_drop)
    names = [stage.name for stage in config.stages]
    say.log(f"stages {', '.join(names)}: validation accuracy {change.before:.4f} -> {change.after:.4f}")
    require_stages_kept(change, names)
    befores = [trained.accuracy] + [r.val_accuracy for r in results[:-1]]
    each = tuple(Change(step=f"stage {r.name}", before=before, after=r.val_accuracy)
                 for r, before in zip(results, befores))
    return Optimised(model, results, scores, change, each)


def convert(model: Any, plan: Plan, calibration: np.ndarray, path: Path, say: Progress,
            metadata: Any = None) -> Converted:
    """The model converted as the target profile says, by the one conversion every .tflite
    goes through (conversion.target), written to ``path`` with the task's ``metadata``."""
    return keras_to_target(model, calibration, plan.profile, path, say, output=task.OUTPUT,
                           options=plan.config.conversion, metadata=metadata)


def verify(tflite_path: Path, optimised: Optimised, split: Split, plan: Plan, say: Progress) -> Verified:
    """The .tflite run on the validation images and judged against the Keras model it was
    converted from (after any stages), by the one verification every conversion gets;
    gated by ``max_accuracy_drop``, ``min_snr`` and ``min_agreement``."""
    from edgekit.inference import predict
    from edgekit.runtime import find_runtime

    runtime = find_runtime()
    say.log(f"verifying {tflite_path.name} with {runtime.name} {runtime.version} on {len(split.val)} "
            "validation images")
    scores = predict(tflite_path, split.val.images, runtime=runtime)
    config = plan.config
    verification = task.verify(optimised.scores, scores, split.val, max_accuracy_drop=config.accuracy.max_accuracy_drop)
    for line in verification.lines():
        say.log(line)
    # With labels, accuracy is the gate; an SNR floor only when asked for. A transfer-learned
    # MobileNetV2 on 30 photos of solar cells kept its test accuracy in int8 with class
    # scores 8.1 dB from the float model's (tools/bench_accuracy.py, elpv 30-shot): its
    # scores are near-ties, which rounding moves far without changing the answer.
    gate(verification, plan.profile.convert.quantization, min_snr=config.gates.min_snr,
         min_agreement=config.gates.min_agreement, default_snr=False)
    return Verified(verification, runtime, scores)


def check_target(tflite_path: Path, plan: Plan, work: Path, say: Progress) -> Any:
    """Op by op, where the .tflite runs on the target; fails on CPU fallback unless allowed."""
    report = check(tflite_path, plan.profile, compiled_dir=work, name=tflite_path.name)
    say.log(f"check: {report.summary()}")
    _require_target(report, plan.config.target.allow_cpu_fallback, tflite_path.name)
    return report


def measure_latency(tflite_path: Path, plan: Plan, say: Progress) -> dict:
    """The .tflite timed on this machine's CPU, whole and op by op, with the threads, warm-up
    and runs of the target's [profile] (its delegate or accelerator is the device's, not
    this machine's); and, when the target carries a cost model, its estimate on the target."""
    from edgekit.profiler import profile

    settings = plan.profile.profile
    threads = settings.threads or 1
    measured = profile(tflite_path, threads=threads, warmup=settings.warmup, runs=settings.runs, per_op=True)
    say.log(f"latency on this machine: p50 {measured.latency_ms.p50:.3f} ms ({threads} thread(s))")
    latency = {
        "measured_on": "the build machine's CPU (XNNPACK), not the target",
        "threads": threads,
        "warmup": settings.warmup,
        "runs": settings.runs,
        "p50_ms": measured.latency_ms.p50,
        "p90_ms": measured.latency_ms.p90,
        "per_op": measured.per_op,
        "estimate": None,
    }
    if plan.profile.cost_model is not None:
        from edgekit.latency import estimate

        estimated = estimate(tflite_path, plan.profile)
        say.log(f"estimated: {estimated.summary(f'on {plan.profile.id}')}, from its cost model")
        latency["estimate"] = estimated.to_dict()
    return latency


def write_outputs(work: Path, report: dict, plan: Plan, split: Split, say: Progress) -> dict:
    """labels.txt, report.json, recipe.toml, the misclassified images and report.html
    beside the models; returns the report."""
    from edgekit.report import write_html

    write_labels(work / "labels.txt", split.train.class_names)
    task.write_mistake_images(work, report["validation"]["mistakes"], split.val.images)
    (work / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (work / "recipe.toml").write_text(dump_recipe(plan.config), encoding="utf-8")
    say.log("rendering report.html")
    write_html(work)
    return report


def build_report(plan: Plan, split: Split, trained: Trained, optimised: Optimised, converted: Converted,
                 verified: Verified, target_check: Any, latency: dict, keras_facts: dict, timings: Timings,
                 held_out: Any = None) -> dict:
    from edgekit.models.strategy import describe

    config, profile = plan.config, plan.profile
    conversion, runtime = verified.verification.accuracy, verified.runtime
    changes = [*optimised.stage_changes, *(c for c in (optimised.change, conversion) if c is not None)]
    header = report_header("build", profile, converted, verified.verification, config.gates, target_check, runtime,
                           default_snr=False)
    io = header["tflite"]
    report = {
        **header,
        "recipe": recipe_dict(config),
        "data": _data_summary(split, config.data.val_dir),
        "model": {
            "backbone": plan.backbone.value,
            "weights": str(plan.weights),
            "trust_model_code": config.trust_model_code,
            "parameters": int(optimised.model.count_params()),
            "input_size": list(plan.image_size),
        },
        "training": {"phases": [_measured(dataclasses.asdict(p)) for p in trained.phases],
                     "strategy": describe(trained.distribution), "learned": trained.learned},
        "stages": [_measured(dataclasses.asdict(r)) for r in optimised.stage_results],
        # The figures that estimate accuracy on new images when the shipped model was refit
        # on every image: the first run's, on validation images it never trained on.
        "refit": None if held_out is None else {
            "images": len(split.train) + len(split.val),
            "held_out": held_out.to_dict(),
            "shipped_measured_on": "the validation images, which the refit trained on: a check of the conversion, "
                                   "not of accuracy on new images",
        },
        "keras": {"accuracy": trained.accuracy, "file": "model.keras", **keras_facts},
        # Each step against the model it was given: the stages against the trained model,
        # the conversion against the model it converted.
        "changes": [c.to_dict() for c in changes],
        "tflite": {
            **io,
            # The one input and output of an edgekit classifier, as earlier reports gave them.
            "input": _unnamed(io["inputs"][0]),
            "output": _unnamed(io["outputs"][0]),
            "accuracy": conversion.after,
            "agreement": conversion.agreement,
            "max_abs_score_difference": conversion.max_abs_score_difference,
            "accuracy_drop": conversion.drop,
            "compared_with": "keras after stages" if optimised.change is not None else "keras",
            "evaluated_on": len(split.val),
            "runtime": f"{runtime.name} {runtime.version}",
        },
        # The .tflite on the validation images: what the app will get.
        "validation": task.validation_results(verified.scores, split.val),
        "latency": latency,
        "timings_seconds": timings.rounded(),
    }
    report["wall_seconds"] = timings.wall()
    return report


@contextlib.contextmanager
def _work_folder(out: str, writes_output: bool) -> Iterator[Path]:
    if writes_output:
        with atomic_output_dir(out) as work:
            yield work
    else:
        # Another worker of a multiworker cluster: it trains and converts in step with
        # the chief, which alone writes the output (out may be a shared folder).
        with tempfile.TemporaryDirectory(prefix="edgekit-worker-") as scratch:
            yield Path(scratch)


def _save_float_model(model: Any, path: Path) -> dict:
    # The float model, before any stage: stages share its layers and change its weights.
    model.save(path)
    return {**file_facts(path), "weights": weight_facts(model)}


def _check_data_source(data: Any) -> Sequence[str] | None:
    """The class names of a folder, listed without decoding an image; None for arrays."""
    if isinstance(data, LabelledImages):
        return data.class_names
    if isinstance(data, tuple):
        if len(data) != 2:
            raise ConfigError("array data must be a pair (images, labels)")
        return None
    if not isinstance(data, (str, Path)):
        raise ConfigError(f"data must be a folder, an (images, labels) pair or LabelledImages, "
                          f"not {type(data).__name__}")
    names, _, _ = scan_image_folder(data)
    return names


def _check_detection_source(data: Any, config: BuildConfig) -> None:
    """A detection folder's format, recognised without decoding an image; and the options
    detection does not take yet, refused before anything is read."""
    from edgekit.data.boxes import detect_format

    if not isinstance(data, (str, Path)):
        raise ConfigError("--task detect reads a COCO, Pascal VOC or YOLO folder, not "
                          f"{type(data).__name__} data")
    detect_format(data)
    unsupported = [name for name, given in (
        ("--refit", config.training.refit),
        ("--strategy", config.training.strategy != Strategy.DEFAULT)) if given]
    if unsupported:
        raise ConfigError(f"--task detect does not take {unsupported[0]} yet")


def _check_folder(path: str | Path, what: str) -> None:
    path = Path(path)
    if not path.exists():
        raise DataError(f"{what} {path} does not exist")
    if not path.is_dir():
        raise DataError(f"{what} {path} is not a folder (it needs one sub-folder of images per class)")


_TRAINING_ADVICE = (
    "Check that each class folder holds images of that class; then try more --epochs, another "
    "--learning-rate, a pretrained backbone (--weights), or a larger --image-size."
)
_STAGE_ADVICE = "Try a lower --prune sparsity, more --cluster clusters, or more epochs for the stage in a recipe."


def _require_learned(accuracy: float, val: LabelledImages, after: str, advice: str) -> dict:
    from edgekit.models.learned import check_learned, require_learned

    result = check_learned(accuracy, val.labels)
    require_learned(result, after, advice)
    return result.to_dict()


def _probe_conversion(features: Any, plan: Plan, say: Progress) -> None:
    """Convert the untrained model once, by the same conversion as the final one, and check
    it, so an impossible backbone/target pair fails in seconds rather than after training."""
    from edgekit.progress import Progress as Silent

    profile = plan.profile
    # Random pixels calibrate well enough to learn which ops the target gets.
    pixels = np.random.default_rng(0).uniform(0, 255, (4, *features.input_shape[1:])).astype(np.float32)
    # Bias correction changes bias values, never which ops there are: the probe, which asks
    # only where each op runs, skips its float conversion and sample runs (2 s a build).
    options = dataclasses.replace(plan.config.conversion, bias_correction=False)
    if plan.detects:
        from edgekit.tasks import detection

        probe = detection.probe_source(features, plan)
    else:
        probe = task.head(features, 2, dropout=plan.config.model.dropout)
    if not plan.config.preflight_conversion:
        # The probe model is built all the same: its layers draw from the seeded initialisers,
        # so the trained model is the one a checked build of this recipe gives, byte for byte.
        return
    with tempfile.TemporaryDirectory() as scratch:
        where = Path(scratch) / "preflight.tflite"
        if plan.detects:
            path = to_target(probe, {"image": pixels}, profile, where, Silent(),
                             bias_correction=False, float_front_end=options.float_front_end).path
        else:
            path = keras_to_target(probe, pixels, profile, where, Silent(), output=task.OUTPUT,
                                   options=options).path
        report = check(path, profile, compile=False, name="the untrained model")
    say.log(f"pre-flight check for {profile.id}: {report.summary()}")
    _require_target(report, plan.config.target.allow_cpu_fallback, "pre-flight: the untrained model")


def _require_target(report: Any, allow_cpu_fallback: bool, what: str) -> None:
    if report.fully_supported or allow_cpu_fallback:
        return
    raise ConversionError(
        f"{what} does not run fully on {report.target} (pass --allow-cpu-fallback to accept that):\n"
        + report.table(causes_only=True)
    )


def _joined(train: LabelledImages, val: LabelledImages) -> LabelledImages:
    return LabelledImages(images=np.concatenate([train.images, val.images]),
                          labels=np.concatenate([train.labels, val.labels]), class_names=train.class_names,
                          sources=train.sources + val.sources, root=train.root)


def _calibration_images(train: LabelledImages, count: int, seed: int) -> np.ndarray:
    from edgekit.conversion.samples import calibration_draw

    return calibration_draw(train.images, count, seed)


def _data_summary(split: Split, val_dir: str | None) -> dict:
    all_data, train, val = split.everything, split.train, split.val
    return {
        "source": all_data.root or "arrays",
        "validation": str(val_dir) if val_dir is not None else "stratified split",
        "classes": list(train.class_names),
        "train_counts": train.counts(),
        "validation_counts": val.counts(),
        "train_images": len(train),
        "validation_images": len(val),
        "skipped": [dataclasses.asdict(s) for s in all_data.skipped],
        "ignored_non_image_files": all_data.ignored,
    }


def _measured(result: dict) -> dict:
    # A refit's phases and stages have no held-out images: their accuracy is not a number.
    accuracy = result.get("val_accuracy")
    return {**result, "val_accuracy": None if accuracy is None or accuracy != accuracy else accuracy}


def _unnamed(port: dict) -> dict:
    return {k: v for k, v in port.items() if k != "name"}

