"""A transform judged against the model it came from, on the same validation images.

Training gives a float model; the optimisation stages change it; the converter turns
the result into a .tflite. Each change is measured against its own input, so a loss
is blamed on the step that caused it and each limit gates one step.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from edgekit.errors import ConversionError, TrainingError


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


def require_conversion_kept(change: Change, quantization: str) -> None:
    # Judged on accuracy, not agreement: an undertrained model's near-uniform scores
    # flip their argmax under any rounding without the conversion being wrong.
    if change.limit is not None and change.drop > change.limit:
        raise ConversionError(
            f"{quantization} conversion lost {change.drop:.1%} accuracy (keras {change.before:.4f}, "
            f"tflite {change.after:.4f}; limit {change.limit:.1%}); more representative images or a "
            "quantization-friendlier backbone may help"
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
