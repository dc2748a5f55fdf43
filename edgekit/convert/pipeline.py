"""``convert()``: a model someone else trained -> a verified .tflite for a target, as named steps.

:func:`preflight` (cheap checks), :func:`load` (the source model and its samples),
:func:`to_target` (export with the target's batch, convert with calibration),
:func:`verify_outputs` (the .tflite against the source model on held-back samples,
output by output), the target check, and the output folder written in one step.
"""

from __future__ import annotations

import datetime as _dt
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgekit._version import __version__
from edgekit.analyze import check
from edgekit.analyze.weights import kernel_stats
from edgekit.convert.bias_correction import Correction
from edgekit.convert.config import ConvertConfig
from edgekit.convert.float_front_end import FrontEnd
from edgekit.convert.samples import Samples, load_samples, split
from edgekit.convert.source import Source, load_source, source_from_model
from edgekit.errors import ConfigError, ConversionError, DataError
from edgekit.files import atomic_output_dir, check_output_dir, file_facts
from edgekit.progress import Progress, resolve
from edgekit.provenance import versions
from edgekit.recipe import dump_recipe, recipe_dict
from edgekit.report import write_html
from edgekit.targets import Quantization, TargetKind, TargetProfile, load_target
from edgekit.timings import Timings
from edgekit.verify import OutputAgreement, compare_output


@dataclass(frozen=True)
class Converted:
    """What :func:`to_target` wrote, and what it did beyond the converter's defaults."""

    path: Path
    bias_correction: Correction | None
    front_end: FrontEnd | None
    # float16 conversions: the constants left float32 (see convert.float16_constants).
    float16_kept_float32: int | None


@dataclass(frozen=True)
class ConvertResult:
    out: Path
    tflite_path: Path
    report_path: Path
    report: dict


def convert(model: Any, config: ConvertConfig | None = None, /, *, calibration: Any,
            **options: Any) -> ConvertResult:
    """Convert ``model`` (a path to .keras, .h5 or a SavedModel folder, or a Keras model) for
    the target, calibrated on ``calibration`` (a folder of images, .npy/.npz, arrays, a
    dict of arrays by input name, or a tf.data.Dataset), verified against the source
    model on held-back samples; ``options`` override ``config`` by name."""
    config = (config if config is not None else ConvertConfig()).replace(**options)
    say = resolve(config.progress)
    timings = Timings()
    with timings.step("preflight"):
        profile = preflight(model, calibration, config)
    with atomic_output_dir(config.out) as work:
        with timings.step("load"):
            source, samples = load(model, calibration, config, profile, say)
            calibrate, held_back = split(samples, _held_back(samples, config.verify_samples))
        with timings.step("convert"):
            converted = to_target(source, calibrate, profile, work / "model.tflite", say,
                                  metadata=source_metadata(source, calibration, config),
                                  bias_correction=config.bias_correction, float_front_end=config.float_front_end)
            tflite_path = converted.path
        with timings.step("verify"):
            agreements = verify_outputs(source, tflite_path, held_back, profile, config, say)
        with timings.step("check"):
            target_check = check(tflite_path, profile, compiled_dir=work, name=tflite_path.name)
            say.log(f"check: {target_check.summary()}")
            if not (target_check.fully_supported or config.allow_cpu_fallback):
                raise ConversionError(f"model.tflite does not run fully on {target_check.target} "
                                      "(pass --allow-cpu-fallback to accept that):\n"
                                      + target_check.table(causes_only=True))
        report = {
            "kind": "convert",
            "edgekit_version": __version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "source": {**_source_summary(source), "trust_model_code": config.trust_model_code},
            "target": json.loads(json.dumps(profile, default=_plain)),
            "recipe": recipe_dict(config),
            "calibration": {"data": str(calibration) if isinstance(calibration, (str, Path)) else
                            type(calibration).__name__, "calibrated_on": _count(calibrate),
                            "verified_on": _count(held_back)},
            "verification": {"min_snr_db": config.min_snr_for(profile.convert.quantization),
                             "min_agreement": config.min_agreement,
                             "outputs": [a.to_dict() for a in agreements]},
            "bias_correction": converted.bias_correction.to_dict() if converted.bias_correction else None,
            "float_front_end": converted.front_end.to_dict() if converted.front_end else None,
            "float16_kept_float32": converted.float16_kept_float32,
            "tflite": {"file": tflite_path.name, "quantization": profile.convert.quantization.value,
                       **_io_summary(tflite_path), **file_facts(tflite_path)},
            "weights": [k.to_dict() for k in kernel_stats(tflite_path)],
            "check": target_check.to_dict(),
            "versions": versions(),
            "timings_seconds": timings.rounded(),
            "wall_seconds": timings.wall(),
        }
        (work / "report.json").write_text(json.dumps(report, indent=2, default=_plain) + "\n", encoding="utf-8")
        (work / "recipe.toml").write_text(
            dump_recipe(config, replay="edgekit convert MODEL --calibration DATA --recipe recipe.toml"),
            encoding="utf-8")
        say.log("rendering report.html")
        write_html(work)
    out = Path(config.out)
    say.log(f"wrote {out}/model.tflite ({report['tflite']['bytes']:,} bytes) in {report['wall_seconds']:.1f}s")
    return ConvertResult(out, out / "model.tflite", out / "report.json", report)


def preflight(model: Any, calibration: Any, config: ConvertConfig) -> TargetProfile:
    """What can be told wrong without TensorFlow: the paths, the output folder, the target."""
    if isinstance(model, (str, Path)) and not Path(model).exists():
        raise ConfigError(f"model {model} does not exist")
    if isinstance(calibration, (str, Path)) and not Path(calibration).exists():
        raise DataError(f"calibration data {calibration} does not exist")
    check_output_dir(config.out)
    if config.labels is not None:
        from edgekit.files import read_labels

        read_labels(config.labels)
    return load_target(config.target)


def load(model: Any, calibration: Any, config: ConvertConfig, profile: TargetProfile,
         say: Progress) -> tuple[Source, Samples]:
    source = (load_source(model, trust_model_code=config.trust_model_code) if isinstance(model, (str, Path))
              else source_from_model(model))
    say.log(f"model: {source.kind} with inputs "
            + ", ".join(f"{p.name} {list(p.shape)}" for p in source.inputs)
            + " and outputs " + ", ".join(f"{p.name} {list(p.shape)}" for p in source.outputs))
    scaled = (config.mean, config.std) != (0.0, 1.0)
    if source.preprocessing and scaled and isinstance(calibration, (str, Path)) and Path(calibration).is_dir():
        raise ConfigError(f"the model scales its own pixels (layer {source.preprocessing}): leave --mean and --std "
                          "out and give 0-255 images")
    limit = profile.convert.representative_samples + config.verify_samples
    samples = load_samples(calibration, source.inputs, mean=config.mean, std=config.std, limit=limit)
    return source, samples


def source_metadata(source: Source, calibration: Any, config: ConvertConfig) -> Any:
    """The metadata a converted model carries: its names, each input (an image input with
    the normalisation --mean/--std describe) and output by name, class names if given."""
    from edgekit.files import read_labels
    from edgekit.metadata import ModelInfo, TensorInfo

    images = isinstance(calibration, (str, Path)) and Path(calibration).is_dir()
    labels = tuple(read_labels(config.labels)) if config.labels else ()
    inputs = []
    for port in source.inputs:
        image = images and len(port.shape) == 4 and port.shape[-1] in (1, 3)
        channels = port.shape[-1] if image else 0
        inputs.append(TensorInfo(
            name=port.name, color_space=("RGB" if channels == 3 else "GRAYSCALE") if image else None,
            size=(port.shape[2], port.shape[1]) if image and None not in port.shape[1:3] else None,
            mean=(config.mean,) * channels if image else None, std=(config.std,) * channels if image else None))
    outputs = []
    for port in source.outputs:
        named = labels if labels and port.shape and port.shape[-1] == len(labels) and len(source.outputs) == 1 else ()
        outputs.append(TensorInfo(name=port.name, labels=named))
    if labels and not any(o.labels for o in outputs):
        raise ConfigError(f"--labels {config.labels}: {len(labels)} names, but the model's outputs are "
                          + ", ".join(f"{p.name} {list(p.shape)}" for p in source.outputs))
    stem = Path(source.path).stem if source.path != "<in memory>" else "model"
    return ModelInfo(name=config.model_name or stem, description=config.model_description or
                     f"{stem} ({source.kind}) converted by edgekit", version=config.model_version,
                     author=config.model_author, license=config.model_license, inputs=tuple(inputs),
                     outputs=tuple(outputs))


def to_target(source: Source, calibrate: Samples, profile: TargetProfile, path: Path, say: Progress,
              metadata: Any = None, bias_correction: bool = True,
              float_front_end: bool = True) -> Converted:
    """Export with the target's batch (static where it needs one), convert as it says
    (int8 off the Edge TPU: a LOG's inputs computed in float, see convert.float_front_end;
    float16: the constants it cannot hold kept float32, see convert.float16_constants),
    correct the biases of a calibrated conversion for its weights' rounding, and attach
    ``metadata`` (a metadata.ModelInfo)."""
    from edgekit.convert import saved_model_to_tflite
    from edgekit.convert.bias_correction import correct_biases
    from edgekit.convert.float16_constants import restore_float32_constants
    from edgekit.metadata import attach
    from edgekit.targets import ConvertSettings

    settings = profile.convert
    say.log(f"converting for {profile.id}: {settings.quantization}, {settings.input_type} input, "
            f"{settings.output_type} output, batch {profile.limits.batch_size or 'dynamic'}")
    take = {name: value[: settings.representative_samples] for name, value in calibrate.items()}
    # The Edge TPU runs no float op: the compiler would leave all that follows one to the CPU.
    keep_float = float_front_end and settings.quantization == Quantization.INT8 and profile.kind != TargetKind.EDGETPU
    correction = front = restored = None
    with tempfile.TemporaryDirectory() as scratch:
        folder = source.export(Path(scratch) / "saved_model", profile.limits.batch_size)
        data = saved_model_to_tflite(folder, settings, take if settings.quantization.calibrated else None,
                                     float_front_end=keep_float)
        if settings.quantization == Quantization.FLOAT16:
            data, restored = restore_float32_constants(data, saved_model_to_tflite(folder, ConvertSettings()),
                                                       front_end=float_front_end)
            if restored:
                say.log(f"float16: {restored} constant(s) kept float32")
        if float_front_end and (keep_float or settings.quantization == Quantization.FLOAT16):
            front = _front_end(data, say)
        if bias_correction and settings.quantization.calibrated:
            data, correction = correct_biases(data, saved_model_to_tflite(folder, ConvertSettings()), take)
            say.log(f"bias correction: {correction.corrected} of {correction.weight_ops} convolution and fully "
                    f"connected ops, from {correction.samples} calibration samples")
    if metadata is not None:
        data = attach(data, metadata)
    path.write_bytes(data)
    return Converted(path, correction, front, restored)


def _front_end(data: bytes, say: Progress) -> FrontEnd:
    from edgekit.convert.float_front_end import front_end

    front = front_end(data)
    if front.ops:
        say.log(f"float front end: {front.ops} of {front.total} ops compute the input of {front.logs} LOG op(s) "
                f"in float32, from {front.constants} float32 constant(s)")
    return front


def verify_outputs(source: Source, tflite_path: Path, held_back: Samples, profile: TargetProfile,
                   config: ConvertConfig, say: Progress) -> list[OutputAgreement]:
    """Each output of the .tflite against the source model's on samples it was not calibrated on."""
    from edgekit.inference import run_signature

    expected = source(held_back)
    got = run_signature(tflite_path, held_back)
    agreements = [compare_output(name, expected[name], got[name]) for name in expected]
    least_snr = config.min_snr_for(profile.convert.quantization)
    for a in agreements:
        top1 = "" if a.top1_agreement is None else f", top-1 agreement {a.top1_agreement:.4f}"
        say.log(f"output {a.name}: SNR {a.snr_db:.1f} dB, cosine {a.cosine:.4f}, max abs error "
                f"{a.max_abs_error:.4g}{top1}")
    for a in agreements:
        if a.snr_db < least_snr:
            raise ConversionError(
                f"output {a.name} of the {profile.convert.quantization} .tflite is {a.snr_db:.1f} dB from the source "
                f"model on {_count(held_back)} held-back samples (least allowed {least_snr:g}, --min-snr); check "
                f"that the calibration data is scaled as the model expects (--mean/--std){_closer(profile)}")
        if a.top1_agreement is not None and a.top1_agreement < config.min_agreement:
            raise ConversionError(f"output {a.name}: top-1 agreement {a.top1_agreement:.4f} with the source model, "
                                  f"below --min-agreement {config.min_agreement:g}{_closer(profile)}")
    return agreements


def _closer(profile: TargetProfile) -> str:
    """Where int8 on a CPU is not close enough, the way to closer (and slower) results."""
    if profile.kind != TargetKind.CPU or profile.convert.quantization != Quantization.INT8:
        return ""
    if profile.id == "cpu":
        return "; or convert with --target cpu-int16x8 (16-bit activations: closer to the source model, slower)"
    return (f"; or convert with a target file that inherits {profile.id!r} and sets [convert] quantization = "
            '"int16x8" and allow_float_ops = true (16-bit activations: closer to the source model, slower)')


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


def _io_summary(path: Path) -> dict:
    from edgekit.runtime import find_runtime

    runner = find_runtime().interpreter(model_path=path).get_signature_runner()

    def describe(details: dict) -> list:
        return [{"name": name, "dtype": np.dtype(d["dtype"]).name, "shape": [int(x) for x in d["shape_signature"]],
                 "scale": float(d["quantization"][0]), "zero_point": int(d["quantization"][1])}
                for name, d in details.items()]

    return {"inputs": describe(runner.get_input_details()), "outputs": describe(runner.get_output_details())}


def _plain(value: Any) -> Any:
    import dataclasses

    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    return str(value)
