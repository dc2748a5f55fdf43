"""``convert()``: a model someone else trained -> a verified .tflite for a target, as named steps.

:func:`preflight` (cheap checks), :func:`load` (the source model and its samples),
:func:`to_target` (export with the target's batch, convert with calibration),
:func:`verify_outputs` (the .tflite against the source model on held-back samples,
output by output), the target check, and the output folder written in one step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit.analyze import check
from edgekit.conversion.config import ConvertConfig
from edgekit.conversion.samples import Samples, load_samples, split
from edgekit.conversion.source import Source, load_source, source_from_model
from edgekit.conversion.target import to_target
from edgekit.errors import ConfigError, ConversionError, DataError
from edgekit.files import atomic_output_dir, check_output_dir
from edgekit.options import action_config
from edgekit.progress import Progress, resolve
from edgekit.recipe import dump_recipe, recipe_dict
from edgekit.report import write_html
from edgekit.report.header import report_header
from edgekit.targets import TargetProfile, load_target
from edgekit.timings import Timings
from edgekit.verification import Verification, closer_hint, gate, measure


@dataclass(frozen=True)
class ConvertResult:
    out: Path
    tflite_path: Path
    report_path: Path
    report: dict


def convert(model: Any, target: Any = None, /, *, calibration: Any, config: ConvertConfig | None = None,
            **options: Any) -> ConvertResult:
    """Convert ``model`` (a path to .keras, .h5 or a SavedModel folder, or a Keras model) for
    ``target``, calibrated on ``calibration`` (a folder of images, .npy/.npz, arrays, a
    dict of arrays by input name, or a tf.data.Dataset), verified against the source
    model on held-back samples; ``options`` override ``config`` by name."""
    config = action_config(ConvertConfig(), target, config, options)
    say = resolve(config.output.progress)
    timings = Timings()
    with timings.step("preflight"):
        profile = preflight(model, calibration, config)
    with atomic_output_dir(config.output.out) as work:
        with timings.step("load"):
            source, samples = load(model, calibration, config, profile, say)
            calibrate, held_back = split(samples, _held_back(samples, config.calibration.verify_samples))
        with timings.step("convert"):
            converted = to_target(source, calibrate, profile, work / "model.tflite", say,
                                  metadata=source_metadata(source, calibration, config),
                                  bias_correction=config.conversion.bias_correction,
                                  float_front_end=config.conversion.float_front_end)
            tflite_path = converted.path
        with timings.step("verify"):
            verification = verify_outputs(source, tflite_path, held_back, profile, config, say)
        with timings.step("check"):
            target_check = check(tflite_path, profile, compiled_dir=work, name=tflite_path.name)
            say.log(f"check: {target_check.summary()}")
            if not (target_check.fully_supported or config.target.allow_cpu_fallback):
                raise ConversionError(f"model.tflite does not run fully on {target_check.target} "
                                      "(pass --allow-cpu-fallback to accept that):\n"
                                      + target_check.table(causes_only=True))
        report = {
            **report_header("convert", profile, converted, verification, config.gates, target_check),
            "source": {**_source_summary(source), "trust_model_code": config.trust_model_code},
            "recipe": recipe_dict(config),
            "calibration": {"data": str(calibration) if isinstance(calibration, (str, Path)) else
                            type(calibration).__name__, "calibrated_on": _count(calibrate),
                            "verified_on": _count(held_back)},
            "timings_seconds": timings.rounded(),
            "wall_seconds": timings.wall(),
        }
        (work / "report.json").write_text(json.dumps(report, indent=2, default=_plain) + "\n", encoding="utf-8")
        (work / "recipe.toml").write_text(
            dump_recipe(config, replay="edgekit convert MODEL --calibration DATA --recipe recipe.toml"),
            encoding="utf-8")
        say.log("rendering report.html")
        write_html(work)
    out = Path(config.output.out)
    say.log(f"wrote {out}/model.tflite ({report['tflite']['bytes']:,} bytes) in {report['wall_seconds']:.1f}s")
    return ConvertResult(out, out / "model.tflite", out / "report.json", report)


def preflight(model: Any, calibration: Any, config: ConvertConfig) -> TargetProfile:
    """What can be told wrong without TensorFlow: the paths, the output folder, the target."""
    if isinstance(model, (str, Path)) and not Path(model).exists():
        raise ConfigError(f"model {model} does not exist")
    if isinstance(calibration, (str, Path)) and not Path(calibration).exists():
        raise DataError(f"calibration data {calibration} does not exist")
    check_output_dir(config.output.out)
    if config.calibration.labels is not None:
        from edgekit.files import read_labels

        read_labels(config.calibration.labels)
    return load_target(config.target.target)


def load(model: Any, calibration: Any, config: ConvertConfig, profile: TargetProfile,
         say: Progress) -> tuple[Source, Samples]:
    source = (load_source(model, trust_model_code=config.trust_model_code) if isinstance(model, (str, Path))
              else source_from_model(model))
    say.log(f"model: {source.kind} with inputs "
            + ", ".join(f"{p.name} {list(p.shape)}" for p in source.inputs)
            + " and outputs " + ", ".join(f"{p.name} {list(p.shape)}" for p in source.outputs))
    scaled = (config.calibration.mean, config.calibration.std) != (0.0, 1.0)
    if source.preprocessing and scaled and isinstance(calibration, (str, Path)) and Path(calibration).is_dir():
        raise ConfigError(f"the model scales its own pixels (layer {source.preprocessing}): leave --mean and --std "
                          "out and give 0-255 images")
    limit = profile.convert.representative_samples + config.calibration.verify_samples
    samples = load_samples(calibration, source.inputs, mean=config.calibration.mean, std=config.calibration.std,
                           limit=limit)
    return source, samples


def source_metadata(source: Source, calibration: Any, config: ConvertConfig) -> Any:
    """The metadata a converted model carries: its names, each input (an image input with
    the normalisation --mean/--std describe) and output by name, class names if given."""
    from edgekit.files import read_labels
    from edgekit.metadata import ModelInfo, TensorInfo

    images = isinstance(calibration, (str, Path)) and Path(calibration).is_dir()
    labels = tuple(read_labels(config.calibration.labels)) if config.calibration.labels else ()
    inputs = []
    for port in source.inputs:
        image = images and len(port.shape) == 4 and port.shape[-1] in (1, 3)
        channels = port.shape[-1] if image else 0
        inputs.append(TensorInfo(
            name=port.name, color_space=("RGB" if channels == 3 else "GRAYSCALE") if image else None,
            size=(port.shape[2], port.shape[1]) if image and None not in port.shape[1:3] else None,
            mean=(config.calibration.mean,) * channels if image else None,
            std=(config.calibration.std,) * channels if image else None))
    outputs = []
    for port in source.outputs:
        named = labels if labels and port.shape and port.shape[-1] == len(labels) and len(source.outputs) == 1 else ()
        outputs.append(TensorInfo(name=port.name, labels=named))
    if labels and not any(o.labels for o in outputs):
        raise ConfigError(f"--labels {config.calibration.labels}: {len(labels)} names, but the model's outputs are "
                          + ", ".join(f"{p.name} {list(p.shape)}" for p in source.outputs))
    stem = Path(source.path).stem if source.path != "<in memory>" else "model"
    return ModelInfo(name=config.metadata.model_name or stem, description=config.metadata.model_description or
                     f"{stem} ({source.kind}) converted by edgekit", version=config.metadata.model_version,
                     author=config.metadata.model_author, license=config.metadata.model_license, inputs=tuple(inputs),
                     outputs=tuple(outputs))


def verify_outputs(source: Source, tflite_path: Path, held_back: Samples, profile: TargetProfile,
                   config: ConvertConfig, say: Progress) -> Verification:
    """Each output of the .tflite against the source model's on samples it was not calibrated on."""
    from edgekit.inference import run_signature

    verification = measure(source(held_back), run_signature(tflite_path, held_back))
    for line in verification.lines():
        say.log(line)
    gate(verification, profile.convert.quantization, min_snr=config.gates.min_snr,
         min_agreement=config.gates.min_agreement, hint=closer_hint(profile))
    return verification


def _held_back(samples: Samples, wanted: int) -> int:
    count = len(next(iter(samples.values())))
    return max(1, min(wanted, count // 5 if count < 500 else wanted))


def _count(samples: Samples) -> int:
    return len(next(iter(samples.values())))


def _source_summary(source: Source) -> dict:
    return {
        "path": source.path,
        "kind": source.kind.value,
        "inputs": [{"name": p.name, "shape": list(p.shape), "dtype": p.dtype} for p in source.inputs],
        "outputs": [{"name": p.name, "shape": list(p.shape), "dtype": p.dtype} for p in source.outputs],
        "preprocessing": source.preprocessing,
    }


def _plain(value: Any) -> Any:
    import dataclasses

    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    return str(value)
