"""``build()``: data -> trained Keras model -> .tflite for a target -> verified report.

Only a composition of the other modules; the CLI's ``edgekit build`` calls this and
nothing else, so a pipeline calling Python gets exactly what the terminal gets.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import json
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from edgekit._version import __version__
from edgekit.analyze import check
from edgekit.analyze.weights import kernel_stats
from edgekit.data import Augmentation, Flip, LabelledImages, from_arrays, load_image_folder, stratified_split
from edgekit.errors import ConfigError, ConversionError
from edgekit.files import atomic_output_dir, file_facts
from edgekit.models.backbones import DEFAULT_IMAGE_SIZE, Backbone, WeightsKind, WeightsSpec, saved_model_image_size
from edgekit.models.strategy import is_chief
from edgekit.models.training import TrainConfig
from edgekit.optimize.distill import Distill
from edgekit.optimize.stages import QAT, Cluster, Prune, Stage, stage_config, stage_from_config, validate_stages
from edgekit.progress import Progress, resolve
from edgekit.recipe import dump_recipe
from edgekit.targets import Quantization, TargetProfile, load_target

DataSource = str | Path | LabelledImages | tuple


@dataclass(frozen=True)
class BuildResult:
    out: Path
    tflite_path: Path
    keras_path: Path
    labels_path: Path
    report_path: Path
    report: dict


def build(
    data: DataSource,
    *,
    target: str | Path | TargetProfile = "cpu",
    out: str | Path = "build",
    backbone: str | Backbone = Backbone.MOBILENET_V2,
    weights: str | Path | None = None,
    image_size: int | tuple[int, int] | None = None,
    alpha: float = 1.0,
    epochs: int = 40,
    fine_tune_epochs: int = 20,
    fine_tune_layers: int = 20,
    learning_rate: float = 1e-3,
    fine_tune_learning_rate: float | None = None,
    batch_size: int = 32,
    dropout: float = 0.2,
    patience: int = 6,
    cache_features: bool = True,
    val_split: float = 0.2,
    val_dir: str | Path | None = None,
    # Measured on four real data sets (tools/bench_accuracy.py): training to convergence
    # without augmentation scored higher on every one than with the light default set.
    augment: str | Augmentation | None = "none",
    seed: int = 0,
    strict: bool = False,
    max_accuracy_drop: float = 0.05,
    allow_cpu_fallback: bool = False,
    stages: Sequence[Stage | dict] = (),
    distill: Distill | dict | None = None,
    strategy: str = "default",
    progress: bool | Progress = True,
) -> BuildResult:
    """Train a classifier on ``data`` and convert it for ``target``; see the README for each option.

    ``data``: a folder with one sub-folder per class, ``(images, labels)`` arrays, or
    a :class:`~edgekit.data.LabelledImages`. Raises :class:`~edgekit.errors.EdgekitError`
    subclasses for anything the caller can fix, before training where possible.
    """
    started = time.perf_counter()
    say = resolve(progress)
    profile = load_target(target)
    stages = [s if isinstance(s, (Prune, Cluster, QAT)) else stage_from_config(s) for s in stages]
    validate_stages(stages)
    if isinstance(distill, dict):
        distill = Distill(**distill)
    if distill is not None:
        distill.validate()
        if distill.teacher == "self" and not stages:
            raise ConfigError("distillation from 'self' teaches the optimisation stages: give at least one stage")
    backbone = _choice(Backbone, backbone, "backbone")
    if weights is None:
        weights = "none" if backbone == Backbone.SMALL_CNN else "imagenet"
    weight_spec = WeightsSpec.parse(weights)
    if isinstance(augment, dict):
        augment = Augmentation(**{**augment, "flip": Flip(augment.get("flip", Flip.HORIZONTAL))})
    augmentation = augment if isinstance(augment, Augmentation) else Augmentation.parse(augment)
    config = TrainConfig(
        epochs=epochs,
        learning_rate=learning_rate,
        fine_tune_epochs=fine_tune_epochs,
        fine_tune_layers=fine_tune_layers,
        fine_tune_learning_rate=fine_tune_learning_rate if fine_tune_learning_rate is not None else learning_rate / 10,
        batch_size=batch_size,
        dropout=dropout,
        patience=patience,
        cache_features=cache_features,
    )
    config.validate()
    if not 0.0 <= max_accuracy_drop <= 1.0:
        raise ConfigError(f"max_accuracy_drop must be in [0, 1], got {max_accuracy_drop}")
    size = _image_size(image_size, backbone, weight_spec)
    if not 0 < alpha <= 2:
        raise ConfigError(f"alpha must be in (0, 2], got {alpha}")
    if val_dir is None and not 0 < val_split < 1:
        raise ConfigError(f"val_split must be between 0 and 1, got {val_split}")
    recipe = {
        "target": profile.id if profile.source.startswith("targets/") else profile.source,
        "backbone": backbone.value,
        "weights": str(weight_spec),
        "image_size": list(size),
        "alpha": alpha,
        **dataclasses.asdict(config),
        "val_split": val_split,
        "val_dir": str(val_dir) if val_dir is not None else None,
        "augment": {k: str(v) if isinstance(v, str) else v for k, v in dataclasses.asdict(augmentation).items()},
        "seed": seed,
        "strict": strict,
        "max_accuracy_drop": max_accuracy_drop,
        "allow_cpu_fallback": allow_cpu_fallback,
        "distill": dataclasses.asdict(distill) if distill else None,
        "stages": [stage_config(stage) for stage in stages],
        "strategy": strategy,
    }

    writes_output = is_chief(strategy)
    with contextlib.ExitStack() as stack:
        if writes_output:
            tmp = stack.enter_context(atomic_output_dir(out))
        else:
            # Another worker of a multiworker cluster: it trains and converts in step with
            # the chief, which alone writes the output (out may be a shared folder).
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="edgekit-worker-")))
        from edgekit._tf import keras_module, tensorflow
        from edgekit.convert import to_tflite
        from edgekit.data.pipeline import to_tf_dataset
        from edgekit.inference import predict
        from edgekit.models import build_backbone, build_classifier, train
        from edgekit.models.head import head_phase, int8_head_phase
        from edgekit.models.strategy import describe, make_strategy
        from edgekit.models.training import epoch_shape
        from edgekit.optimize.distill import distiller, load_teacher
        from edgekit.optimize.run import run_stages
        from edgekit.runtime import find_runtime

        timings: dict[str, float] = {}
        tick = time.perf_counter()
        tf, keras = tensorflow(), keras_module()
        # Fresh layer-name counters: a second build in one process (a pipeline building
        # for several targets) would otherwise name its layers conv0_1..., and the same
        # recipe would give different bytes.
        keras.backend.clear_session()
        keras.utils.set_random_seed(seed)
        distribution = make_strategy(strategy)
        # Every model built and compiled from here on lives under the strategy; the
        # scope closes before the output folder is published.
        stack.enter_context(distribution.scope())
        # Before the data: a missing download or a mismatched weights file fails in
        # seconds, not after decoding thousands of images.
        features = build_backbone(backbone, size, alpha=alpha, weights=weight_spec)
        timings["backbone"] = time.perf_counter() - tick

        tick = time.perf_counter()
        _preflight(features, profile, dropout, allow_cpu_fallback, say)
        timings["preflight"] = time.perf_counter() - tick

        tick = time.perf_counter()
        train_data, val_data, all_data = _load_data(data, size, val_split, val_dir, seed, strict, say)
        timings["load_data"] = time.perf_counter() - tick

        tick = time.perf_counter()
        model = build_classifier(features, len(train_data.class_names), dropout=dropout,
                                 frozen_batchnorm=weight_spec.pretrained)
        say.log(f"model: {backbone} ({weight_spec} weights) {size[0]}x{size[1]}, {model.count_params():,} parameters")
        train_ds = to_tf_dataset(train_data, batch_size=batch_size, training=True, augmentation=augmentation, seed=seed)
        val_ds = to_tf_dataset(val_data, batch_size=batch_size, training=False)
        wrap = None
        if distill is not None and distill.teacher != "self":
            teacher = load_teacher(distill.teacher, train_data.class_names)
            say.log(f"distilling from {distill.teacher} (temperature {distill.temperature:g}, alpha {distill.alpha:g})")
            wrap = lambda student: distiller(student, teacher, distill)  # noqa: E731
        # The teacher of a distillation needs the images, so its head phase is not cached.
        head = None
        if config.cache_features and wrap is None:
            head = lambda: head_phase(model, train_data, val_data, config, augmentation, seed, say)  # noqa: E731
        phases = train(model, train_ds, val_ds, config, pretrained=weight_spec.pretrained, progress=say,
                       examples=len(train_data), wrap=wrap, head=head)
        calibration = _calibration_images(train_data, profile.convert.representative_samples, seed)
        # A pretrained backbone's features move under int8 post-training quantisation; the
        # head learns the ones the .tflite computes. Stages and a teacher train the whole
        # model after this point (QAT handles quantisation itself), so not with them.
        if profile.convert.quantization == Quantization.INT8 and weight_spec.pretrained and not stages \
                and distill is None:
            phases.append(int8_head_phase(model, train_data, val_data, profile.convert, calibration, config, seed,
                                          say))
        timings["train"] = time.perf_counter() - tick

        keras_scores = model.predict(val_ds, verbose=0)
        keras_pred = keras_scores.argmax(axis=1)
        keras_accuracy = float(np.mean(keras_pred == val_data.labels))
        say.log(f"keras validation accuracy {keras_accuracy:.4f} on {len(val_data)} images")
        learned = [{"after": "training", **_require_learned(keras_accuracy, val_data, "training", _TRAINING_ADVICE)}]
        # The float model, before any stage: stages share its layers and change its weights.
        keras_path = tmp / "model.keras"
        model.save(keras_path)
        keras_facts = file_facts(keras_path)

        stage_results = []
        if stages:
            tick = time.perf_counter()
            stage_wrap = None
            if distill is not None and distill.teacher == "self":
                teacher = keras.models.clone_model(model)
                teacher.set_weights(model.get_weights())
                teacher.trainable = False
                stage_wrap = lambda student: distiller(student, teacher, distill)  # noqa: E731
            model, stage_results = run_stages(
                model, stages, train_ds, val_ds, val_data.labels,
                shape=epoch_shape(len(train_data), batch_size), patience=patience,
                progress=say, wrap=stage_wrap,
                check=lambda accuracy, name: learned.append({"after": f"stage {name}", **_require_learned(
                    accuracy, val_data, f"stage {name}", _STAGE_ADVICE)}))
            timings["stages"] = time.perf_counter() - tick

        tick = time.perf_counter()
        say.log(f"converting for {profile.id}: {profile.convert.quantization}, "
                f"{profile.convert.input_type} input, {profile.convert.output_type} output")
        tflite_bytes = to_tflite(model, profile.convert, batch_size=profile.limits.batch_size,
                                 representative=calibration)
        tflite_path = tmp / "model.tflite"
        tflite_path.write_bytes(tflite_bytes)
        timings["convert"] = time.perf_counter() - tick

        tick = time.perf_counter()
        runtime = find_runtime()
        say.log(f"verifying model.tflite with {runtime.name} {runtime.version} on {len(val_data)} validation images")
        tflite_scores = predict(tflite_path, val_data.images, runtime=runtime)
        tflite_pred = tflite_scores.argmax(axis=1)
        # Scores compared within a tolerance, as well as argmax: a float16 conversion that
        # flips a near-tie is fine, one that moves every score by 0.1 is not.
        max_score_difference = float(np.max(np.abs(tflite_scores - keras_scores)))
        tflite_accuracy = float(np.mean(tflite_pred == val_data.labels))
        agreement = float(np.mean(tflite_pred == keras_pred))
        timings["verify"] = time.perf_counter() - tick
        say.log(f"tflite accuracy {tflite_accuracy:.4f}, top-1 agreement with keras {agreement:.4f}")
        # Judged on accuracy, not agreement: an undertrained model's near-uniform scores
        # flip their argmax under any rounding without the conversion being wrong.
        if keras_accuracy - tflite_accuracy > max_accuracy_drop:
            raise ConversionError(
                f"{profile.convert.quantization} conversion lost {keras_accuracy - tflite_accuracy:.1%} accuracy "
                f"(keras {keras_accuracy:.4f}, tflite {tflite_accuracy:.4f}; limit {max_accuracy_drop:.1%}); "
                "more representative images or a quantization-friendlier backbone may help"
            )
        tick = time.perf_counter()
        target_check = check(tflite_path, profile, compiled_dir=tmp, name="model.tflite")
        timings["check"] = time.perf_counter() - tick
        say.log(f"check: {target_check.summary()}")
        _require_target(target_check, allow_cpu_fallback, "model.tflite")
        if profile.limits.max_model_bytes and len(tflite_bytes) > profile.limits.max_model_bytes:
            raise ConversionError(
                f"model.tflite is {len(tflite_bytes):,} bytes, "
                f"over {profile.id}'s limit of {profile.limits.max_model_bytes:,}"
            )

        tick = time.perf_counter()
        (tmp / "labels.txt").write_text("".join(f"{name}\n" for name in train_data.class_names), encoding="utf-8")
        timings["save"] = time.perf_counter() - tick

        report = {
            "edgekit_version": __version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "target": _target_summary(profile),
            "recipe": recipe,
            "data": _data_summary(all_data, train_data, val_data, val_dir),
            "model": {
                "backbone": backbone.value,
                "weights": str(weight_spec),
                "parameters": int(model.count_params()),
                "input_size": list(size),
            },
            "training": {"phases": [dataclasses.asdict(p) for p in phases], "strategy": describe(distribution),
                         "learned": learned},
            "stages": [dataclasses.asdict(r) for r in stage_results],
            "keras": {"accuracy": keras_accuracy, "file": "model.keras", **keras_facts},
            "tflite": {
                "file": "model.tflite",
                "quantization": profile.convert.quantization.value,
                "accuracy": tflite_accuracy,
                "agreement": agreement,
                "max_abs_score_difference": max_score_difference,
                "accuracy_drop": keras_accuracy - tflite_accuracy,
                "evaluated_on": len(val_data),
                "runtime": f"{runtime.name} {runtime.version}",
                **_io_summary(tflite_path, runtime),
                **file_facts(tflite_path),
            },
            "weights": [k.to_dict() for k in kernel_stats(tflite_path)],
            "check": target_check.to_dict(),
            "versions": _versions(tf, keras, runtime),
            "timings_seconds": {k: round(v, 2) for k, v in timings.items()},
        }
        report["wall_seconds"] = round(time.perf_counter() - started, 2)
        (tmp / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        (tmp / "recipe.toml").write_text(dump_recipe(recipe), encoding="utf-8")

    out = Path(out)
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


def _preflight(features: Any, profile: TargetProfile, dropout: float, allow_cpu_fallback: bool,
               say: Progress) -> None:
    """Convert the untrained model once and check it, so an impossible backbone/target
    pair fails in seconds rather than after training."""
    import tempfile

    from edgekit.convert import to_tflite
    from edgekit.models import build_classifier

    probe = build_classifier(features, 2, dropout=dropout)
    # Random pixels calibrate well enough to learn which ops the target gets.
    pixels = np.random.default_rng(0).uniform(0, 255, (4, *probe.input_shape[1:])).astype(np.float32)
    data = to_tflite(probe, profile.convert, batch_size=profile.limits.batch_size, representative=pixels)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "preflight.tflite"
        path.write_bytes(data)
        report = check(path, profile, compile=False, name="the untrained model")
    say.log(f"pre-flight check for {profile.id}: {report.summary()}")
    _require_target(report, allow_cpu_fallback, "pre-flight: the untrained model")


def _require_target(report: Any, allow_cpu_fallback: bool, what: str) -> None:
    if report.fully_supported or allow_cpu_fallback:
        return
    raise ConversionError(
        f"{what} does not run fully on {report.target} (pass --allow-cpu-fallback to accept that):\n"
        + report.table(causes_only=True)
    )


def _choice(enum: Any, value: Any, what: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        raise ConfigError(f"unknown {what} {value!r}: use one of {', '.join(m.value for m in enum)}") from None


def _image_size(image_size: Any, backbone: Backbone, weights: WeightsSpec) -> tuple[int, int]:
    if weights.kind == WeightsKind.MODEL:
        from_model = saved_model_image_size(weights.path)
        if image_size is None:
            return from_model
    if image_size is None:
        side = DEFAULT_IMAGE_SIZE[backbone]
        return side, side
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
        raise ConfigError(f"image_size must be a positive int or (height, width), got {image_size!r}")
    return size


def _load_data(data, size, val_split, val_dir, seed, strict, say: Progress):
    """(train, validation, everything read): the last carries the skipped-file list for the report."""
    if isinstance(data, LabelledImages):
        everything = data if data.image_size == size else from_arrays(
            data.images, data.labels, class_names=data.class_names, image_size=size)
    elif isinstance(data, tuple):
        if len(data) != 2:
            raise ConfigError("array data must be a pair (images, labels)")
        everything = from_arrays(data[0], data[1], image_size=size)
    else:
        say.log(f"reading images from {data} at {size[0]}x{size[1]}")
        everything = load_image_folder(
            data, size, strict=strict, progress=lambda done, total: say.count("decoded", done, total))
    if val_dir is None:
        train_set, val = stratified_split(everything, val_split, seed)
    else:
        say.log(f"reading validation images from {val_dir}")
        train_set = everything
        val = load_image_folder(val_dir, size, strict=strict, class_names=everything.class_names)
        everything = dataclasses.replace(
            everything, skipped=everything.skipped + val.skipped, ignored=everything.ignored + val.ignored)
    for skipped in everything.skipped:
        say.log(f"skipped {skipped.path}: {skipped.reason}")
    say.log(f"{len(everything.class_names)} classes, {len(train_set)} training and {len(val)} validation images")
    return train_set, val, everything


def _calibration_images(train: LabelledImages, count: int, seed: int) -> np.ndarray:
    # Drawn across the whole training split (not its first N files, which sort by class)
    # so every class contributes to the activation ranges.
    rng = np.random.default_rng(seed)
    take = rng.permutation(len(train))[: max(1, min(count, len(train)))]
    return train.images[np.sort(take)].astype(np.float32)


def _data_summary(all_data: LabelledImages, train: LabelledImages, val: LabelledImages, val_dir) -> dict:
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


def _target_summary(profile: TargetProfile) -> dict:
    summary = dataclasses.asdict(profile)
    return json.loads(json.dumps(summary, default=str))


def _io_summary(path: Path, runtime: Any) -> dict:
    interpreter = runtime.interpreter(model_path=path)

    def describe(detail: dict) -> dict:
        scale, zero_point = detail["quantization"]
        return {
            "dtype": np.dtype(detail["dtype"]).name,
            "shape": [int(d) for d in detail["shape_signature"]],
            "scale": float(scale),
            "zero_point": int(zero_point),
        }

    return {
        "input": describe(interpreter.get_input_details()[0]),
        "output": describe(interpreter.get_output_details()[0]),
    }


def _versions(tf: Any, keras: Any, runtime: Any) -> dict:
    from importlib import metadata

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "tensorflow": tf.__version__,
        "tf_keras": keras.__version__,
        "tensorflow_model_optimization": version("tensorflow-model-optimization"),
        "runtime": f"{runtime.name} {runtime.version}",
        "pillow": version("pillow"),
        "platform": platform.platform(),
    }
